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
    [ArgumentCompleter(typeof(UserNameCompleter))]
    public string[]? User { get; set; }

    /// <summary>Users (names or ids) matched against the process's audit login uid: who logged in, through sudo and su.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(UserNameCompleter))]
    public string[]? LoginUser { get; set; }

    /// <summary>Files matched by device and inode, resolved now: every name of them (hard links, renames) is covered.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? File { get; set; }

    /// <summary>Create a rule with no condition, which matches every permission event of its kinds.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

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
        try
        {
            string name = Name ?? $"Rule{Interlocked.Increment(ref s_nextRule)}";
            if (Errno is not null && Action == FanotifyRuleAction.Allow)
            {
                throw new WatchException($"Rule '{name}': -Errno is the error a denied call fails with, and an Allow rule denies nothing. " +
                    "Remove -Errno, or use -Action Deny.", ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, Errno);
            }

            var rule = new FanotifyRule(name, Action, PathPatterns.ResolvePaths(this, Path),
                PathPatterns.ResolvePrograms(Exe, "-" + nameof(Exe)), FanotifyRule.Clean(User), events, Errno?.ToUpperInvariant() ?? string.Empty,
                WatchParameters.ResolveFiles(this, File))
            {
                LoginUser = FanotifyRule.Clean(LoginUser),
            };
            if (rule.HasNoCondition && !Force)
            {
                string effect = Action == FanotifyRuleAction.Deny
                    ? "denies every open (and every program start) under the watch's paths (all of a filesystem whose root is one)"
                    : "allows everything, so that no rule after it can ever match";
                throw new WatchException($"Rule '{name}' has no condition: it {effect}. Give -Path, -Exe, -User, -LoginUser or -File, or add -Force if that is what you mean.",
                    ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, name);
            }

            _ = PermissionPolicy.Compile([rule]);   // unknown users fail here, not at Start-FanotifyWatch
            WriteObject(rule);
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
        }
    }
}
