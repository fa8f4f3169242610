using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Starts a background watch, with an optional permission policy, and returns it.</summary>
[Cmdlet(VerbsLifecycle.Start, "FanotifyWatch", SupportsShouldProcess = true, DefaultParameterSetName = ParameterSets.Path)]
[OutputType(typeof(FanotifyWatch))]
public sealed class StartFanotifyWatchCommand : WatchStartCommandBase
{
    /// <summary>Whether this runspace has been told that its own events pass every rule (once is enough).</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<System.Management.Automation.Runspaces.Runspace, object> s_toldAboutSelf = [];

    [Parameter(Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Path)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public override string[]? Path { get; set; }

    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    [ValidateNotNullOrEmpty]
    public FanotifyEventType[] Event { get; set; } = WatchParameters.DefaultEvents;

    internal override FanotifyEventType[] WatchedEvents => Event;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    /// <summary>Deny permission events on paths matching these wildcards (with -DenyExe/-DenyUser: all must match).</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? DenyPath { get; set; }

    /// <summary>Deny permission events of programs matching these wildcards.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? DenyExe { get; set; }

    /// <summary>Deny permission events of processes running as these users (names or uids).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(UserNameCompleter))]
    public string[]? DenyUser { get; set; }

    /// <summary>Deny permission events on these files, matched by device and inode: hard links and renames are covered.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? DenyFile { get; set; }

    /// <summary>Start a watch whose rules deny every open of a whole filesystem or mount, or the dynamic loader or C library, without asking.</summary>
    [Parameter]
    public SwitchParameter Force { get; set; }

    /// <summary>Rules from New-FanotifyRule, checked in order after the -Deny* rule; the first match decides.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public FanotifyRule[]? Rule { get; set; }

    /// <summary>Evaluate the rules but allow everything; matching events are marked WouldDeny.</summary>
    [Parameter]
    public SwitchParameter AuditOnly { get; set; }

    /// <summary>Each path that comes down the pipeline is kept: one watch of them all starts in EndProcessing.</summary>
    protected override void ProcessRecord() => CollectPaths();

    protected override void EndProcessing()
    {
        try
        {
            WatchSpec spec = BuildSpec(Name, BuildPolicy(), AuditOnly);
            string target = string.Join(", ", spec.Paths);
            string rules = spec.Policy is null ? string.Empty :
                $" with {(AuditOnly ? "audited " : string.Empty)}rules: {string.Join("; ", spec.Policy.Rules.Select(r => r.ToString()))}" +
                (spec.Policy.AreaRules.Length == 0 ? string.Empty : $"; rules without a path apply under {string.Join(", ", spec.Policy.Area)} only");
            if (!ShouldProcess(target, $"Start a fanotify watch ({spec.Events}, {spec.Scope} scope){rules}") || !ConfirmSweepingRules(spec, target))
            {
                return;
            }

            FanotifyWatch watch = StartWatch(spec);
            if (spec.Policy is not null)
            {
                WarnAboutOwnEvents();
            }

            JobRepository.Add(watch);   // Get-Job, Receive-Job, Wait-Job, Stop-Job, Remove-Job
            WriteVerbose($"Started watch {watch.Id} ({watch.Scope}) on '{target}' for {spec.Events}" +
                (watch.Rules.Length == 0 ? "." : $" with {watch.Rules.Length} rules{(AuditOnly ? " (audit only)" : string.Empty)}."));
            WriteObject(watch);
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
        }
    }

    /// <summary>
    /// The events of this pwsh pass every rule, by design (a rule could otherwise deny the watcher its own files): a rule
    /// tried with Get-Content from this shell looks broken. Said once per runspace, at the first watch with rules.
    /// </summary>
    private void WarnAboutOwnEvents()
    {
        if (System.Management.Automation.Runspaces.Runspace.DefaultRunspace is not { } runspace || s_toldAboutSelf.TryGetValue(runspace, out _))
        {
            return;
        }

        s_toldAboutSelf.AddOrUpdate(runspace, true);
        WriteWarning($"The rules never apply to this pwsh (pid {System.Environment.ProcessId}): its own opens are always allowed, so that " +
            "the watcher cannot block itself. Try a rule from another process, such as sh -c 'cat FILE' or Start-Job, not with " +
            "Get-Content from this shell. (Said once per session.)");
    }

    /// <summary>
    /// A deny rule that matches every open of a whole filesystem or mount cuts off every process but this one
    /// (-DenyPath '*', -DenyUser root, a rule with no condition); one that reaches the dynamic loader or the C library
    /// keeps the programs it matches from starting at all (-DenyExe on a watch of /, a -DenyPath '/usr/*'). Either
    /// needs -Force, or a yes at a prompt.
    /// </summary>
    private bool ConfirmSweepingRules(WatchSpec spec, string target)
    {
        if (Force || AuditOnly || spec.Policy is null)
        {
            return true;
        }

        string[] sweeping = spec.Scope is FanotifyScope.Filesystem or FanotifyScope.Mount ? spec.Policy.SweepingRules() : [];
        var libraries = LibraryRules.Find(spec, SystemLibraries.Find());
        var said = new List<string>();
        if (sweeping.Length != 0)
        {
            said.Add($"The rule{(sweeping.Length == 1 ? string.Empty : "s")} {string.Join(", ", sweeping.Select(n => $"'{n}'"))} " +
                $"den{(sweeping.Length == 1 ? "ies" : "y")} every open of {(spec.Scope == FanotifyScope.Mount ? "the mount" : "the whole filesystem")} " +
                $"of {target} to every process but this pwsh");
        }

        if (libraries.Count != 0)
        {
            string[] files = libraries.SelectMany(l => l.Files).Distinct(System.StringComparer.Ordinal).ToArray();
            bool one = libraries.Count == 1;
            said.Add($"The rule{(one ? string.Empty : "s")} {string.Join(", ", libraries.Select(l => $"'{l.Rule}'"))} " +
                $"den{(one ? "ies" : "y")} the dynamic loader or the C library ({string.Join(", ", files)}) to the processes {(one ? "it matches" : "they match")}: " +
                "a dynamically linked program among them cannot even start while the watch runs");
        }

        if (said.Count == 0)
        {
            return true;
        }

        string what = string.Join(". ", said);
        try
        {
            return ShouldContinue($"{what}. Start the watch anyway?", sweeping.Length != 0 ? "Deny everything?" : "Deny the system's libraries?");
        }
        catch (System.Exception e) when (e is PSInvalidOperationException or System.Management.Automation.Host.HostException or System.NotImplementedException)
        {
            throw new WatchException($"{what}, and this host cannot ask whether that is meant. Add -Force to start it anyway, or narrow the rule" +
                (libraries.Count == 0 ? "." : ": a watch path that does not hold the libraries, a -DenyPath of its own, or an Allow rule for them first."),
                ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, sweeping.Concat(libraries.Select(l => l.Rule)).Distinct(System.StringComparer.Ordinal).ToArray());
        }
    }

    private PermissionPolicy? BuildPolicy()
    {
        var rules = new List<FanotifyRule>();
        if (DenyPath is not null || DenyExe is not null || DenyUser is not null || DenyFile is not null)
        {
            rules.Add(new FanotifyRule("Deny", FanotifyRuleAction.Deny, PathPatterns.ResolvePaths(this, DenyPath),
                PathPatterns.ResolvePrograms(DenyExe, "-" + nameof(DenyExe)), FanotifyRule.Clean(DenyUser), FanotifyRule.PermissionEvents, string.Empty,
                WatchParameters.ResolveFiles(this, DenyFile)));
        }

        rules.AddRange(Rule ?? []);
        return rules.Count == 0 ? null : PermissionPolicy.Compile(rules);
    }
}
