using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Management.Automation;
using System.Threading;
using System.Threading.Tasks;
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
    private const int CoalesceMilliseconds = 2;

    private readonly CancellationTokenSource _stopping = new();
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
            _streamFilter = HasFilter ? BuildFilter() : null;
            bool wait = Wait || MyInvocation.BoundParameters.ContainsKey(nameof(Timeout));
            Stream(_watches.Distinct().ToList(), wait);
            return;
        }

        FanotifyWatch watch;
        try
        {
            WatchSpec spec = WatchParameters.BuildSpec(this, Path, Scope, Event, BufferSize, "Get-FanotifyEvent", isAdHoc: true,
                policy: null, auditOnly: false, IncludeSelf, ThreadId, WriteWarning);
            watch = FanotifyWatch.Start(spec, WriteWarning);
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

    public void Dispose() => _stopping.Dispose();

    private void Stream(List<FanotifyWatch> watches, bool wait)
    {
        var deadline = MyInvocation.BoundParameters.ContainsKey(nameof(Timeout))
            ? Stopwatch.StartNew()
            : null;
        var open = new List<FanotifyWatch>(watches);

        while (true)
        {
            foreach (FanotifyWatch watch in open)
            {
                while (watch.Buffer.TryRead(out FanotifyEvent item))
                {
                    if (_streamFilter is not null && !_streamFilter.Reports(item))
                    {
                        continue;
                    }

                    WriteObject(item);
                    if (Count > 0 && ++_written >= Count)
                    {
                        ReportLosses(watches);
                        return;
                    }
                }
            }

            ReportLosses(watches);
            if (!wait || open.Count == 0)
            {
                return;
            }

            int waitMilliseconds = -1;
            if (deadline is not null)
            {
                double remaining = (Timeout * 1000.0) - deadline.Elapsed.TotalMilliseconds;
                if (remaining <= 0)
                {
                    return;
                }

                waitMilliseconds = (int)Math.Ceiling(remaining);
            }

            Task<bool>[] waits = open.Select(w => w.Buffer.WaitToReadAsync(_stopping.Token).AsTask()).ToArray();
            try
            {
                if (Task.WaitAny(waits, waitMilliseconds, _stopping.Token) >= 0)
                {
                    // Let a burst gather before draining it: one wake-up per batch, not one per event. Each
                    // wake-up costs the responder a thread-pool signal and the machine two context switches.
                    _stopping.Token.WaitHandle.WaitOne(CoalesceMilliseconds);
                }
            }
            catch (OperationCanceledException)
            {
                return;
            }

            for (int i = waits.Length - 1; i >= 0; i--)
            {
                if (waits[i].IsCompletedSuccessfully && !waits[i].Result)
                {
                    // The watch ended and its buffer is drained.
                    ReportFailure(open[i]);
                    open.RemoveAt(i);
                }
            }
        }
    }

    private void ReportLosses(List<FanotifyWatch> watches)
    {
        foreach (FanotifyWatch watch in watches)
        {
            long dropped = watch.TakeNewDrops();
            if (dropped > 0)
            {
                WriteWarning($"Watch {watch.Id} dropped {dropped} events: its buffer of {watch.BufferSize} events was full. " +
                    "Read the events faster, or start the watch with a larger -BufferSize.");
            }

            long lost = watch.TakeNewLost();
            if (lost > 0)
            {
                WriteWarning($"Watch {watch.Id} lost {lost} events: the kernel could not open a file descriptor for them " +
                    "(EMFILE/ENFILE; a permission event is then denied). Raise the open file limit (ulimit -n).");
            }
        }
    }

    private void ReportFailure(FanotifyWatch watch)
    {
        if (watch.State == FanotifyWatchState.Failed)
        {
            WriteError(new ErrorRecord(new InvalidOperationException($"Watch {watch.Id} failed: {watch.Error}"),
                ErrorIds.WatchFailed, ErrorCategory.InvalidResult, watch));
        }
    }
}
