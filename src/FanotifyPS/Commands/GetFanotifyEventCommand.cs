using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using FanotifyPS.Interop;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// Streams events: from a watch of its own (Path set: started here, stopped when the command ends for any
/// reason), or from running watches (Watch and Id sets: what is buffered, and with -Wait what follows).
/// </summary>
[Cmdlet(VerbsCommon.Get, "FanotifyEvent", DefaultParameterSetName = ParameterSets.Path)]
[OutputType(typeof(FanotifyEvent))]
public sealed class GetFanotifyEventCommand : WatchStartCommandBase, IDisposable
{
    /// <summary>How often a stream into a pipe looks whether the pipe still has a reader, also while no event comes.</summary>
    private const int PipeCheckMilliseconds = 250;

    /// <summary>The exit code of a program killed by SIGPIPE, as a shell reports it (128 + 13).</summary>
    private const int ClosedPipeExitCode = 141;

    private readonly CancellationTokenSource _stopping = new();
    private readonly List<FanotifyWatch> _watches = [];
    /// <summary>With -Keep: the last event of each watch this command has looked at, and the messages it has written.</summary>
    private readonly Dictionary<FanotifyWatch, long> _keptUpTo = [];
    private readonly HashSet<object> _keptMessages = new(ReferenceEqualityComparer.Instance);
    private long _written;
    private bool _watchStandardOutput;
    private bool _standardOutputClosed;

    /// <summary>
    /// Path set: what to watch (from the pipeline by value only: an event's Path must not bind here, its WatchId binds
    /// -Id). Watch and Id sets: return only the events whose path matches any of these wildcards.
    /// </summary>
    [Parameter(Position = 0, ValueFromPipeline = true, ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.Watch)]
    [Parameter(ParameterSetName = ParameterSets.Id)]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public override string[]? Path { get; set; }

    /// <summary>Path sets: the events to watch. Watch and Id sets: return only the events that have any of these flags.</summary>
    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    [Parameter(ParameterSetName = ParameterSets.Watch)]
    [Parameter(ParameterSetName = ParameterSets.Id)]
    [ValidateNotNullOrEmpty]
    public FanotifyEventType[] Event { get; set; } = WatchParameters.DefaultEvents;

    internal override FanotifyEventType[] WatchedEvents => Event;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ParameterSets.Watch)]
    [ValidateNotNullOrEmpty]
    public FanotifyWatch[] Watch { get; set; } = [];

    /// <summary>Named only: `Get-FanotifyEvent 1` is the directory 1, as a path is the command's first position.</summary>
    [Parameter(Mandatory = true, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Id)]
    [Alias("WatchId")]
    [ArgumentCompleter(typeof(WatchIdCompleter))]
    public int[] Id { get; set; } = [];

    /// <summary>Keep streaming new events until -Count, -Timeout, Ctrl+C, or the watches end (a watch of its own always does).</summary>
    [Parameter(ParameterSetName = ParameterSets.Path)]
    [Parameter(ParameterSetName = ParameterSets.LiteralPath)]
    [Parameter(ParameterSetName = ParameterSets.Watch)]
    [Parameter(ParameterSetName = ParameterSets.Id)]
    public SwitchParameter Wait { get; set; }

    /// <summary>Return the events but leave them in the buffer, as Receive-Job -Keep does.</summary>
    [Parameter(ParameterSetName = ParameterSets.Watch)]
    [Parameter(ParameterSetName = ParameterSets.Id)]
    public SwitchParameter Keep { get; set; }

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <summary>Seconds to stream; for a running watch it implies -Wait.</summary>
    [Parameter]
    [ValidateRange(0.0, 2147483.0)]
    public double Timeout { get; set; }

    private ReportFilter? _streamFilter;
    private StreamProgress? _progress;

    /// <summary>-Event and -Path of a read of running watches (null: none given).</summary>
    private Func<FanotifyEvent, bool>? _readFilter;

    protected override void ProcessRecord()
    {
        if (StartsWatch)
        {
            CollectPaths();
            return;
        }

        _watches.AddRange(WatchSelector.Select(this, ParameterSetName, Watch, Id, []));
    }

    protected override void EndProcessing()
    {
        if (!StartsWatch)
        {
            List<FanotifyWatch> watches = _watches.Distinct().ToList();

            // A running watch already applied its own filters; these narrow what this command returns.
            try
            {
                _streamFilter = HasFilter ? BuildFilter() : null;
                _readFilter = ReadFilter(watches);
            }
            catch (WatchException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());   // a malformed wildcard, an unknown user, an event no watch has
            }

            bool wait = Wait || MyInvocation.BoundParameters.ContainsKey(nameof(Timeout));
            Stream(watches, wait);
            EndIfOutputClosed();
            return;
        }

        FanotifyWatch watch;
        try
        {
            WatchSpec spec = BuildSpec("Get-FanotifyEvent", policy: null, auditOnly: false);
            watch = StartWatch(spec);
            WriteVerbose($"Watching ({watch.Scope}) '{string.Join(", ", spec.Paths)}' for {spec.Events}; Ctrl+C stops.");
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
            return;
        }

        try
        {
            Stream([watch], wait: true);
        }
        finally
        {
            // Also reached when the pipeline stops downstream (Select-Object -First) or on Ctrl+C.
            watch.Stop();
        }

        EndIfOutputClosed();
    }

    protected override void StopProcessing() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Dispose();
    }

    /// <summary>
    /// Streams, with a progress bar while a timed or counted stream waits for events (none where nobody could see it:
    /// see <see cref="StreamProgress.CanBeSeen"/>), completed however the stream ends.
    /// </summary>
    private void Stream(List<FanotifyWatch> watches, bool wait)
    {
        bool timed = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout));
        // A read of what is buffered ends at once (-Timeout 0 too): no bar for it.
        _progress = wait && ((timed && Timeout > 0) || Count > 0) && watches.Count != 0 && StreamProgress.CanBeSeen(Host)
            ? new StreamProgress(this, Host, watches, timed ? Timeout : null, Count)
            : null;
        try
        {
            StreamEvents(watches, wait);
        }
        finally
        {
            _progress?.Complete();
        }
    }

    private void StreamEvents(List<FanotifyWatch> watches, bool wait)
    {
        const int MaxWaitHandles = 64;   // the most one WaitHandle.WaitAny takes
        // Decided once. Only pwsh's console host writes the pipeline's output to fd 1; other hosts have their own.
        _watchStandardOutput = wait && string.Equals(Host.Name, "ConsoleHost", StringComparison.Ordinal) && IsPipe(Libc.STDOUT_FILENO);
        var deadline = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout))
            ? Stopwatch.StartNew()
            : null;
        var open = new List<FanotifyWatch>(watches);
        var wakeUps = new List<WaitHandle>();

        // What the stream filter leaves out stays in the buffer, for the next reader.
        Func<FanotifyEvent, bool>? filter = (_streamFilter, _readFilter) switch
        {
            (null, null) => null,
            ({ } stream, null) => stream.Reports,
            (null, { } read) => read,
            ({ } stream, { } read) => e => stream.Reports(e) && read(e),
        };
        // The deadline has passed: one more read returns what came before it, while this thread wrote downstream
        // or drew the bar (an ad hoc watch stops after the stream: what it leaves is lost).
        bool lastRead = false;
        while (true)
        {
            // Each handle is read before its watch is read from: events that come after the read set it.
            wakeUps.Clear();
            WaitHandle anyWatch = FanotifyWatch.AnyDataAvailable;
            for (int i = open.Count - 1; i >= 0; i--)
            {
                // Read before taking: a watch that has ended has all its events in Output by then.
                FanotifyWatch watch = open[i];
                WaitHandle dataAvailable = watch.DataAvailable;
                bool ended = watch.IsEnded;
                int max = Count > 0 ? (int)(Count - _written) : 0;
                PSObject[] items;
                if (Keep)
                {
                    _keptUpTo.TryGetValue(watch, out long upTo);
                    items = watch.PeekEvents(max, filter, ref upTo);
                    _keptUpTo[watch] = upTo;
                }
                else
                {
                    items = watch.TakeEvents(max, filter);
                }

                foreach (PSObject item in items)
                {
                    WriteObject(item);
                    if (++_written >= Count && Count > 0)
                    {
                        WriteMessages(watches);
                        return;
                    }
                }

                // Everything it had that this read returns is returned: what is left is for other readers.
                if (ended)
                {
                    open.RemoveAt(i);
                }
                else
                {
                    wakeUps.Add(dataAvailable);
                }
            }

            WriteMessages(watches);
            if (lastRead)
            {
                return;
            }

            _progress?.Update(_written);
            if (!wait || open.Count == 0)
            {
                return;
            }

            // After writing, and at least every PipeCheckMilliseconds while nothing comes.
            if (_watchStandardOutput && HasNoReader(Libc.STDOUT_FILENO))
            {
                _standardOutputClosed = true;
                return;
            }

            int waitMilliseconds = System.Threading.Timeout.Infinite;
            if (deadline is not null)
            {
                double remaining = (Timeout * 1000.0) - deadline.Elapsed.TotalMilliseconds;
                if (remaining <= 0)
                {
                    lastRead = true;
                    continue;
                }

                waitMilliseconds = (int)Math.Ceiling(remaining);
            }

            if (_watchStandardOutput && (uint)waitMilliseconds > PipeCheckMilliseconds)
            {
                waitMilliseconds = PipeCheckMilliseconds;   // Infinite is -1: above any cap as unsigned
            }

            if (_progress is not null && (uint)waitMilliseconds > StreamProgress.IntervalMilliseconds)
            {
                waitMilliseconds = StreamProgress.IntervalMilliseconds;   // the elapsed time moves on while nothing comes
            }

            // More watches than one wait takes (64 handles, Ctrl+C's among them): any watch's news wakes this reader.
            if (wakeUps.Count >= MaxWaitHandles)
            {
                wakeUps.Clear();
                wakeUps.Add(anyWatch);
            }

            // A kernel wait, set by the pumps: no thread-pool hop and no spinning between bursts.
            wakeUps.Add(_stopping.Token.WaitHandle);
            if (WaitHandle.WaitAny(wakeUps.ToArray(), waitMilliseconds) == wakeUps.Count - 1)
            {
                return;   // Ctrl+C
            }
        }
    }

    /// <summary>
    /// -Event (any of its flags: a merged event, Access, Open, matches Open) and -Path (wildcards, relative ones taken
    /// against the current location as -ExcludePath's are) of a read. An -Event that no watch read reports can never
    /// match, and is an error.
    /// </summary>
    private Func<FanotifyEvent, bool>? ReadFilter(List<FanotifyWatch> watches)
    {
        FanotifyEventType events = FanotifyEventType.None;
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Event)))
        {
            events = Event.Aggregate(FanotifyEventType.None, (all, e) => all | e);
            if (events == FanotifyEventType.None)
            {
                throw new WatchException("-Event names no event. Name at least one, for example -Event Open.",
                    ErrorIds.InvalidEventSelection, ErrorCategory.InvalidArgument);
            }

            // Every watch may report an overflow, whatever it watches.
            if (watches.Count != 0 && watches.All(w => (events & (w.Event | FanotifyEventType.Overflow)) == 0))
            {
                throw new WatchException(
                    $"-Event {events} can never match: the watch{(watches.Count == 1 ? string.Empty : "es")} " +
                    $"{string.Join(", ", watches.Select(w => $"{w.Id} ({w.Event})"))} report{(watches.Count == 1 ? "s" : string.Empty)} none of these events.",
                    ErrorIds.InvalidEventSelection, ErrorCategory.InvalidArgument, events);
            }
        }

        string[] paths = Path is null ? [] : PathPatterns.ResolvePaths(this, Path);
        if (events == FanotifyEventType.None && paths.Length == 0)
        {
            return null;
        }

        var include = new GlobSet(paths);
        return e => (events == FanotifyEventType.None || (e.Event & events) != 0) &&
            (include.Count == 0 || include.IsMatchAny(e.Path) || (e.OldPath.Length != 0 && include.IsMatchAny(e.OldPath)));
    }

    /// <summary>
    /// pwsh's standard output is a pipe whose reader has gone (`pwsh -c '...' | head -2`): what the stream writes is
    /// lost, and the .NET runtime ignores SIGPIPE and its console ignores EPIPE, so nothing else would end the
    /// stream, its watch and its groups. By now the stream has ended and an ad hoc watch is stopped; pwsh ends
    /// as a native tool would on SIGPIPE, with the exit code a shell gives one (141).
    /// </summary>
    private void EndIfOutputClosed()
    {
        if (!_standardOutputClosed)
        {
            return;
        }

        WriteVerbose($"Standard output is a pipe without a reader: the stream has ended; pwsh exits with {ClosedPipeExitCode}.");
        Environment.Exit(ClosedPipeExitCode);
    }

    /// <summary>The fd is a pipe or a FIFO.</summary>
    private static unsafe bool IsPipe(int fd)
    {
        byte* statx = stackalloc byte[Libc.StatxSize];
        byte emptyPath = 0;
        if (Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_TYPE, statx) != 0)
        {
            return false;
        }

        return (*(ushort*)(statx + Libc.StatxModeOffset) & Libc.S_IFMT) == Libc.S_IFIFO;
    }

    /// <summary>The write end of a pipe has no reader left: poll() reports POLLERR, whatever events are asked.</summary>
    private static unsafe bool HasNoReader(int fd)
    {
        var pollfd = new Libc.pollfd { fd = fd, events = 0 };
        return Libc.poll(&pollfd, 1, 0) > 0 && (pollfd.revents & Libc.POLLERR) != 0;
    }

    /// <summary>
    /// The warnings (drops, losses) and errors (a failure) in the watches' job streams: whoever reads the events,
    /// this command or Receive-Job, reads these too.
    /// </summary>
    private void WriteMessages(List<FanotifyWatch> watches)
    {
        foreach (FanotifyWatch watch in watches)
        {
            watch.PublishLosses();
            foreach (WarningRecord warning in Keep ? Unseen(watch.Warning) : (IEnumerable<WarningRecord>)watch.Warning.ReadAll())
            {
                WriteWarning(warning.Message);
            }

            foreach (ErrorRecord error in Keep ? Unseen(watch.Error) : (IEnumerable<ErrorRecord>)watch.Error.ReadAll())
            {
                WriteError(error);
            }
        }
    }

    /// <summary>With -Keep: the records of a stream this command has not written yet, left in the stream.</summary>
    private List<T> Unseen<T>(PSDataCollection<T> stream)
    {
        T[] records;
        lock (((System.Collections.ICollection)stream).SyncRoot)
        {
            records = new T[stream.Count];
            stream.CopyTo(records, 0);
        }

        return records.Where(record => record is not null && _keptMessages.Add(record)).ToList();
    }
}
