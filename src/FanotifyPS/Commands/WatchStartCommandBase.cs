using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// The parameters that start a watch, shared by Start-FanotifyWatch and Get-FanotifyEvent, and the watch they
/// describe. They belong to the Path set: Get-FanotifyEvent's other sets read running watches, which were started
/// with their own (Start-FanotifyWatch has no other set). Each command declares -Path itself, as only
/// Start-FanotifyWatch takes it from the pipeline.
/// </summary>
public abstract class WatchStartCommandBase : FanotifyFilterCommandBase
{
    /// <summary>The directories (or, with -Scope File, files) to watch; none: the current directory.</summary>
    public abstract string[]? Path { get; set; }

    [Parameter(ParameterSetName = ParameterSets.Path)]
    public FanotifyScope Scope { get; set; } = FanotifyScope.Filesystem;

    [Parameter(ParameterSetName = ParameterSets.Path)]
    [ValidateNotNullOrEmpty]
    public FanotifyEventType[] Event { get; set; } = WatchParameters.DefaultEvents;

    [Parameter(ParameterSetName = ParameterSets.Path)]
    [ValidateRange(1, 16 * 1024 * 1024)]
    public int BufferSize { get; set; } = WatchSpec.DefaultBufferSize;

    /// <summary>Report the thread of each event (FAN_REPORT_TID) in ThreadId.</summary>
    [Parameter(ParameterSetName = ParameterSets.Path)]
    public SwitchParameter ThreadId { get; set; }

    /// <summary>
    /// After a batch of events, keep reading for this many microseconds before sleeping: the next event of a busy
    /// watch may come sooner than a sleep and a wake-up take. Adaptive (a spin that finds nothing makes the next
    /// ones rarer); 0 turns it off. Not given: 20 when verdicts wait for a read (rules, Tree scope), else 0.
    /// </summary>
    [Parameter(ParameterSetName = ParameterSets.Path)]
    [ValidateRange(0, 1000)]
    public int SpinMicroseconds { get; set; } = SpinPolicy.Automatic;

    /// <summary>
    /// Validates the parameters and puts the watch together: what it marks, reports and decides. What differs
    /// between the commands is passed in: the watch's name, whether the command owns it (ad hoc: not listed,
    /// stopped when the command ends), and its permission policy.
    /// </summary>
    internal WatchSpec BuildSpec(string? name, PermissionPolicy? policy, bool auditOnly)
    {
        string[] resolved = WatchParameters.ResolvePaths(this, Path, Scope);
        FanotifyEventType combined = WatchParameters.CombineEvents(Event, Scope);
        if (policy is not null && (combined & FanotifyRule.PermissionEvents & policy.Events) == 0)
        {
            throw new WatchException(
                $"The rules apply to {policy.Events}, and the watch has none of these events ({combined}). Add -Event OpenPerm (or OpenExecPerm to control execution).",
                ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, combined);
        }

        FanotifyEventType entries = combined & FanotifyWatch.EntryEvents;
        if (Scope == FanotifyScope.File && entries != FanotifyEventType.None && Event?.Contains(FanotifyEventType.All) != true &&
            resolved.FirstOrDefault(p => !System.IO.Directory.Exists(p)) is { } file)
        {
            throw new WatchException(
                $"'{file}' is a file, and {entries} report changes to the entries of a directory: -Scope File would never report them. " +
                "Watch its directory (-Scope Directory), or the file's own DeleteSelf and MoveSelf.", ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, file);
        }

        if (policy is not null)
        {
            WatchParameters.WarnAboutRulesOutside(policy, resolved, Scope, WriteWarning);
        }

        if (auditOnly && policy is null)
        {
            throw new WatchException("-AuditOnly needs rules to audit: add -DenyPath, -DenyExe, -DenyUser or -Rule.",
                ErrorIds.InvalidRule, ErrorCategory.InvalidArgument);
        }

        if ((combined & FanotifyEventType.AccessPerm) != 0 && Scope is FanotifyScope.Filesystem or FanotifyScope.Mount or FanotifyScope.Tree)
        {
            WriteWarning("AccessPerm on a whole filesystem or mount stops every read() there for a verdict: small reads " +
                "become about 170 times slower. Prefer OpenPerm, or a Directory or File scope.");
        }

        return new WatchSpec
        {
            Paths = resolved,
            Scope = Scope,
            Events = combined,
            Name = name,
            BufferSize = BufferSize,
            Filter = BuildFilter(Scope == FanotifyScope.Tree ? resolved : null),
            Policy = policy,
            AuditOnly = auditOnly,
            IncludeSelf = IncludeSelf,
            ThreadIds = ThreadId,
            SpinMicroseconds = SpinPolicy.Choose(SpinMicroseconds, (combined & FanotifyRule.PermissionEvents) != 0, policy,
                Scope == FanotifyScope.Tree),
            CommandText = $"{MyInvocation.MyCommand.Name} -Path {string.Join(", ", resolved.Select(p => $"'{p}'"))} " +
                $"-Scope {Scope} -Event {combined}" + (policy is null ? string.Empty : $" ({policy.Rules.Length} rules)"),
        };
    }

    /// <summary>Starts the watch and says, on the Information stream, what it covers.</summary>
    internal FanotifyWatch StartWatch(WatchSpec spec)
    {
        FanotifyWatch watch = FanotifyWatch.Start(spec, WriteWarning);
        StartMessage.Write(this, watch);
        return watch;
    }
}
