using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// Streams events: from a watch of its own (Path set: started here, stopped when the command ends for any
/// reason), or from running watches (Watch and Id sets: what is buffered, and with -Wait what follows).
/// </summary>
[Cmdlet(VerbsCommon.Get, "FanotifyEvent", DefaultParameterSetName = PathSet)]
[OutputType(typeof(FanotifyEvent))]
public sealed class GetFanotifyEventCommand : FanotifyFilterCommandBase, IDisposable
{
    private const string PathSet = "Path";
    private const string WatchSet = "Watch";
    private const string IdSet = "Id";

    private readonly CancellationTokenSource _stopping = new();
    private readonly AutoResetEvent _moved = new(false);
    private readonly List<FanotifyWatch> _watches = [];
    private long _written;

    [Parameter(Position = 0, ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public string[]? Path { get; set; }

    [Parameter(ParameterSetName = PathSet)]
    public FanotifyScope Scope { get; set; } = FanotifyScope.Filesystem;

    [Parameter(ParameterSetName = PathSet)]
    [ValidateNotNullOrEmpty]
    public FanotifyEventType[] Event { get; set; } = WatchParameters.DefaultEvents;

    [Parameter(ParameterSetName = PathSet)]
    [ValidateRange(1, 16 * 1024 * 1024)]
    public int BufferSize { get; set; } = EventBuffer.DefaultCapacity;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = WatchSet)]
    [ValidateNotNullOrEmpty]
    public FanotifyWatch[] Watch { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = IdSet)]
    [Alias("WatchId")]
    [ArgumentCompleter(typeof(WatchIdCompleter))]
    public int[] Id { get; set; } = [];

    /// <summary>Keep streaming new events until -Count, -Timeout, Ctrl+C, or the watches end.</summary>
    [Parameter(ParameterSetName = WatchSet)]
    [Parameter(ParameterSetName = IdSet)]
    public SwitchParameter Wait { get; set; }

    [Parameter]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; }

    /// <summary>Seconds to stream; for a running watch it implies -Wait.</summary>
    [Parameter]
    [ValidateRange(0.0, 2147483.0)]
    public double Timeout { get; set; }

    /// <summary>Report the thread of each event (FAN_REPORT_TID) in ThreadId.</summary>
    [Parameter(ParameterSetName = PathSet)]
    public SwitchParameter ThreadId { get; set; }

    /// <summary>
    /// After a batch of events, keep reading for this many microseconds before sleeping: the next event of a busy
    /// watch may come sooner than a sleep and a wake-up take. Adaptive (a spin that finds nothing makes the next
    /// ones rarer); 0 turns it off. Not given: 20 when verdicts wait for a read (rules, Tree scope), else 0.
    /// </summary>
    [Parameter(ParameterSetName = PathSet)]
    [ValidateRange(0, 1000)]
    public int SpinMicroseconds { get; set; } = Responder.AutomaticSpin;

    private ReportFilter? _streamFilter;

    protected override void ProcessRecord()
    {
        if (ParameterSetName == PathSet)
        {
            return;
        }

        _watches.AddRange(WatchSelector.Select(this, ParameterSetName, Watch, Id, []));
    }

    protected override void EndProcessing()
    {
        if (ParameterSetName != PathSet)
        {
            // A running watch already applied its own filters; these narrow what this command returns.
            try
            {
                _streamFilter = HasFilter ? BuildFilter() : null;
            }
            catch (WatchException e)
            {
                ThrowTerminatingError(e.ToErrorRecord());   // a malformed wildcard
            }

            bool wait = Wait || MyInvocation.BoundParameters.ContainsKey(nameof(Timeout));
            Stream(_watches.Distinct().ToList(), wait);
            return;
        }

        FanotifyWatch watch;
        try
        {
            WatchSpec spec = WatchParameters.BuildSpec(this, Path, Scope, Event, BufferSize, "Get-FanotifyEvent", isAdHoc: true,
                policy: null, auditOnly: false, IncludeSelf, ThreadId, SpinMicroseconds, WriteWarning);
            watch = FanotifyWatch.Start(spec, WriteWarning);
            WriteInformation(new HostInformationMessage { Message = StartMessage.For(watch) }, ["PSHOST"]);
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
            WatchRegistry.Forget(watch);
        }
    }

    protected override void StopProcessing() => _stopping.Cancel();

    public void Dispose()
    {
        _stopping.Dispose();
        _moved.Dispose();
    }

    private void Stream(List<FanotifyWatch> watches, bool wait)
    {
        // Runs on a watch's pump, which may have taken this handler just before the finally below removed it and
        // call it after Dispose: then there is nobody left to wake, and an exception there would end the process.
        Action signal = () =>
        {
            try
            {
                _moved.Set();
            }
            catch (ObjectDisposedException)
            {
            }
        };
        foreach (FanotifyWatch watch in watches)
        {
            watch.Buffer.Moved += signal;
        }

        try
        {
            StreamUntilDone(watches, wait);
        }
        finally
        {
            foreach (FanotifyWatch watch in watches)
            {
                watch.Buffer.Moved -= signal;
            }
        }
    }

    private void StreamUntilDone(List<FanotifyWatch> watches, bool wait)
    {
        var deadline = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout))
            ? Stopwatch.StartNew()
            : null;
        var open = new List<FanotifyWatch>(watches);
        WaitHandle[] wakeUps = [_moved, _stopping.Token.WaitHandle];

        while (true)
        {
            for (int i = open.Count - 1; i >= 0; i--)
            {
                // Read before taking: a watch that has finished has all its events in Output by then.
                bool finished = open[i].Buffer.IsFinished;

                // The stream filter consumes what it leaves out, so with -Count this may take more than one pass.
                foreach (PSObject item in open[i].Buffer.Take(Count > 0 ? (int)(Count - _written) : 0))
                {
                    if (_streamFilter is not null && !_streamFilter.Reports((FanotifyEvent)item.BaseObject))
                    {
                        continue;
                    }

                    WriteObject(item);
                    if (Count > 0 && ++_written >= Count)
                    {
                        WriteMessages(watches);
                        return;
                    }
                }

                if (finished && open[i].Buffer.Count == 0)
                {
                    open.RemoveAt(i);
                }
            }

            WriteMessages(watches);
            if (!wait || open.Count == 0)
            {
                return;
            }

            int waitMilliseconds = System.Threading.Timeout.Infinite;
            if (deadline is not null)
            {
                double remaining = (Timeout * 1000.0) - deadline.Elapsed.TotalMilliseconds;
                if (remaining <= 0)
                {
                    return;
                }

                waitMilliseconds = (int)Math.Ceiling(remaining);
            }

            // A kernel wait, set by the pumps: no thread-pool hop and no spinning between bursts.
            if (WaitHandle.WaitAny(wakeUps, waitMilliseconds) == 1)
            {
                return;   // Ctrl+C
            }
        }
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
            foreach (WarningRecord warning in watch.Warning.ReadAll())
            {
                WriteWarning(warning.Message);
            }

            foreach (ErrorRecord error in watch.Error.ReadAll())
            {
                WriteError(error);
            }
        }
    }
}
