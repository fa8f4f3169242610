using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// The parameters that start a watch, shared by Start-FanotifyWatch and Get-FanotifyEvent, and the watch they
/// describe. They belong to the Path and LiteralPath sets: Get-FanotifyEvent's other sets read running watches,
/// which were started with their own. Each command declares -Path and -Event itself: in Get-FanotifyEvent they are
/// read filters in the other sets too, and only Start-FanotifyWatch takes -Path from the pipeline by property name.
/// </summary>
/// <remarks>
/// Paths may come down the pipeline, one ProcessRecord each: the commands collect them (<see cref="CollectPaths"/>)
/// and start one watch of them all in EndProcessing, as `-Path a, b` does. A path that cannot be watched is a
/// non-terminating error there, and the watch goes on with the others; with none left it is a terminating one.
/// </remarks>
public abstract class WatchStartCommandBase : FanotifyFilterCommandBase
{
    private readonly List<string> _paths = [];
    private readonly List<WatchException> _pathErrors = [];
    private bool _pathGiven;

    /// <summary>The directories (or, with -Scope File, files) to watch, with wildcards; none: the current directory.</summary>
    public abstract string[]? Path { get; set; }

    /// <summary>As -Path, taken as written (no wildcards); Get-Item's output binds to it by its PSPath.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.LiteralPath)]
    [Alias("PSPath")]
    [ValidateNotNullOrEmpty]
    public string[]? LiteralPath { get; set; }

    /// <summary>-Event of the command: the events to watch (declared by each command, for its own sets).</summary>
    internal abstract FanotifyEventType[] WatchedEvents { get; }

    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    public FanotifyScope Scope { get; set; } = FanotifyScope.Filesystem;

    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    [ValidateRange(1, 16 * 1024 * 1024)]
    public int BufferSize { get; set; } = WatchSpec.DefaultBufferSize;

    /// <summary>Report the thread of each event (FAN_REPORT_TID) in ThreadId.</summary>
    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    public SwitchParameter ThreadId { get; set; }

    /// <summary>
    /// After a batch of events, keep reading for this many microseconds before sleeping: the next event of a busy
    /// watch may come sooner than a sleep and a wake-up take. Adaptive (a spin that finds nothing makes the next
    /// ones rarer); 0 turns it off. Not given: 20 when verdicts wait for a read (rules, Tree scope), else 0.
    /// </summary>
    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    [ValidateRange(0, 1000)]
    public int SpinMicroseconds { get; set; } = SpinPolicy.Automatic;

    /// <summary>The command reads paths to watch (Path or LiteralPath set), rather than running watches.</summary>
    internal bool StartsWatch => ParameterSetName is ParameterSets.Path or ParameterSets.LiteralPath;

    /// <summary>
    /// Resolves the paths bound for this input (-Path with wildcards, -LiteralPath as written) and keeps them for the
    /// watch; what cannot be watched is kept as an error, written when the watch starts.
    /// </summary>
    internal void CollectPaths()
    {
        bool literal = ParameterSetName == ParameterSets.LiteralPath;
        string[]? given = literal ? LiteralPath : Path;
        if (given is null)
        {
            return;
        }

        _pathGiven = true;
        foreach (string path in given)
        {
            try
            {
                _paths.AddRange(WatchParameters.ResolveWatchPath(this, path, literal));
            }
            catch (WatchException e)
            {
                _pathErrors.Add(e);
            }
        }
    }

    /// <summary>
    /// The paths to watch: those collected, each error written (non-terminating); none given, the current directory.
    /// No path left to watch is a terminating error.
    /// </summary>
    private string[] WatchPaths()
    {
        if (!_pathGiven)
        {
            if (MyInvocation.ExpectingInput)
            {
                // An empty pipeline (Get-ChildItem of nothing) must not become a watch of the current directory.
                throw new WatchException("No path came down the pipeline: there is nothing to watch.",
                    ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound);
            }

            return [WatchParameters.ResolvePath(this, ".")];
        }

        if (_paths.Count == 0 && _pathErrors.Count == 1)
        {
            throw _pathErrors[0];
        }

        foreach (WatchException error in _pathErrors)
        {
            WriteError(error.ToErrorRecord());
        }

        if (_paths.Count == 0)
        {
            throw new WatchException($"None of the {_pathErrors.Count} paths given can be watched (each has its error).",
                ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, _pathErrors.Select(e => e.Target).ToArray());
        }

        return _paths.Distinct(System.StringComparer.Ordinal).ToArray();
    }

    /// <summary>
    /// Validates the parameters and puts the watch together: what it marks, reports and decides. What differs
    /// between the commands is passed in: the watch's name, whether the command owns it (ad hoc: not listed,
    /// stopped when the command ends), and its permission policy.
    /// </summary>
    internal WatchSpec BuildSpec(string? name, PermissionPolicy? policy, bool auditOnly)
    {
        string[] resolved = WatchParameters.CheckScope(WatchPaths(), Scope);
        policy = policy?.Within(WatchParameters.RuleArea(resolved, Scope));
        FanotifyEventType combined = WatchParameters.CombineEvents(WatchedEvents, Scope);
        if (policy is not null && (combined & FanotifyRule.PermissionEvents & policy.Events) == 0)
        {
            throw new WatchException(
                $"The rules apply to {policy.Events}, and the watch has none of these events ({combined}). Add -Event OpenPerm (or OpenExecPerm to control execution).",
                ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, combined);
        }

        FanotifyEventType entries = combined & FanotifyWatch.EntryEvents;
        if (Scope == FanotifyScope.File && entries != FanotifyEventType.None && WatchedEvents?.Contains(FanotifyEventType.All) != true &&
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
        StartMessage.Write(this, watch, spec.Policy);
        return watch;
    }
}
