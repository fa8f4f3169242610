using System.Linq;
using System.Management.Automation;
using System.Threading;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Creates a rule for Start-FanotifyWatch -Rule.</summary>
[Cmdlet(VerbsCommon.New, "FanotifyRule")]
[OutputType(typeof(FanotifyRule))]
public sealed class NewFanotifyRuleCommand : PSCmdlet
{
    private static int s_nextRule;

    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    [Parameter]
    public FanotifyRuleAction Action { get; set; } = FanotifyRuleAction.Deny;

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Exe { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string[]? User { get; set; }

    /// <summary>The permission events the rule applies to (default: all of them).</summary>
    [Parameter]
    [ValidateSet(nameof(FanotifyEventType.OpenPerm), nameof(FanotifyEventType.OpenExecPerm), nameof(FanotifyEventType.AccessPerm))]
    public string[]? Event { get; set; }

    /// <summary>The errno a denied call fails with (Linux 6.14+; EPERM elsewhere).</summary>
    [Parameter]
    [ValidateSet("EPERM", "EIO", "EAGAIN", "EBUSY", "ETXTBSY", "ENOSPC", "EDQUOT")]
    public string? Errno { get; set; }

    protected override void ProcessRecord()
    {
        FanotifyEventType events = Event is null
            ? FanotifyRule.PermissionEvents
            : Event.Aggregate(FanotifyEventType.None, (all, e) => all | System.Enum.Parse<FanotifyEventType>(e, ignoreCase: true));
        var rule = new FanotifyRule(Name ?? $"Rule{Interlocked.Increment(ref s_nextRule)}", Action,
            FanotifyRule.Clean(Path), FanotifyRule.Clean(Exe), FanotifyRule.Clean(User), events, Errno?.ToUpperInvariant() ?? string.Empty);
        try
        {
            _ = PermissionPolicy.Compile([rule]);   // unknown users fail here, not at Start-FanotifyWatch
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
        }

        WriteObject(rule);
    }
}
