using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Management.Automation;
using System.Threading;
using FanotifyPS.Watching;

namespace FanotifyPS;

/// <summary>
/// A background watch as a PowerShell job: Get-Job lists it, Receive-Job reads the Output that Get-FanotifyEvent
/// reads, Stop-Job and Remove-Job end it. Its engine (groups, marks, responders, pump) is a <see cref="Watcher"/>,
/// which sets the job's final state on its pump, never on a responder thread.
/// </summary>
public sealed class FanotifyWatch : Job2
{
    /// <summary>Events that arrive with an open fd (and every permission event): an fd-reporting group.</summary>
    internal const FanotifyEventType FileDescriptorEvents =
        FanotifyEventType.Access | FanotifyEventType.Modify | FanotifyEventType.Close | FanotifyEventType.Open |
        FanotifyEventType.OpenExec | FanotifyRule.PermissionEvents;

    /// <summary>Events that arrive with file handles: a FAN_REPORT_DFID_NAME | FAN_REPORT_FID group.</summary>
    internal const FanotifyEventType FileHandleEvents =
        FanotifyEventType.Attrib | FanotifyEventType.Move | FanotifyEventType.Create | FanotifyEventType.Delete |
        FanotifyEventType.DeleteSelf | FanotifyEventType.MoveSelf | FanotifyEventType.FsError | FanotifyEventType.Rename;

    /// <summary>Directory-entry events: they need a directory to mark.</summary>
    internal const FanotifyEventType EntryEvents =
        FanotifyEventType.Move | FanotifyEventType.Create | FanotifyEventType.Delete | FanotifyEventType.Rename;

    private readonly Watcher _watcher;

    // EventArrived's subscribers: changed under the lock (which then takes Output's, never the other way round),
    // read by the pump without it.
    private readonly object _subscribersLock = new();
    private EventHandler<FanotifyEventArrivedEventArgs>? _eventArrived;
    private int _subscriberFailed;

    private FanotifyWatch(WatchSpec spec)
        : base(spec.CommandText, null)
    {
        Name = spec.Name ?? $"FanotifyWatch{Id}";
        PSJobTypeName = nameof(FanotifyWatch);
        Path = spec.Paths;
        Event = spec.Events;
        Rules = spec.Policy?.Rules ?? [];
        AuditOnly = spec.AuditOnly;
        SpinMicroseconds = spec.SpinMicroseconds;
        StartTime = DateTime.Now;

        // Readers of a job's streams must never block (Receive-Job enumerates them).
        Output = new PSDataCollection<PSObject> { EnumeratorNeverBlocks = true };
        Error = new PSDataCollection<ErrorRecord> { EnumeratorNeverBlocks = true };
        Warning = new PSDataCollection<WarningRecord> { EnumeratorNeverBlocks = true };
        _watcher = new Watcher(this, spec);
    }

    /// <summary>The paths marked with Scope.</summary>
    public string[] Path { get; }

    public FanotifyScope Scope => _watcher.Scope;

    /// <summary>Started without CAP_SYS_ADMIN: inode marks only, and no process named for others' events.</summary>
    internal bool Unprivileged => _watcher.Unprivileged;

    public FanotifyEventType Event { get; }

    /// <summary>Running, then Stopped (by Stop-FanotifyWatch, Stop-Job or Remove-Job) or Failed (see FailureReason).</summary>
    public JobState State => JobStateInfo.State;

    public DateTime StartTime { get; }

    public DateTime? StopTime => _watcher.StopTime;

    /// <summary>The permission policy, in the order the rules are checked.</summary>
    public FanotifyRule[] Rules { get; }

    /// <summary>Rules are evaluated, but every event is allowed (matches are marked WouldDeny).</summary>
    public bool AuditOnly { get; }

    /// <summary>How long a responder keeps reading after a batch before it sleeps (0: not at all).</summary>
    public int SpinMicroseconds { get; }

    /// <summary>Records produced for the pipeline (events and overflow records), buffered or dropped.</summary>
    public long EventCount => _watcher.EventCount;

    /// <summary>Records the buffer refused because the consumer was too slow.</summary>
    public long DroppedCount => _watcher.DroppedCount;

    /// <summary>Kernel queue overflows: events the kernel discarded before the watcher could read them.</summary>
    public long OverflowCount => _watcher.OverflowCount;

    /// <summary>Events the kernel could not hand over because no file descriptor was left (EMFILE/ENFILE).</summary>
    public long LostCount => _watcher.LostCount;

    /// <summary>Events read but not reported: outside a Tree, or left out by a filter.</summary>
    public long FilteredCount => _watcher.FilteredCount;

    /// <summary>Permission events allowed, the watcher's own included (would-deny ones are in WouldDenyCount).</summary>
    public long AllowedCount => _watcher.AllowedCount;

    public long DeniedCount => _watcher.DeniedCount;

    public long WouldDenyCount => _watcher.WouldDenyCount;

    public int BufferedCount => _watcher.Output.Count;

    public int BufferSize => _watcher.Capacity;

    /// <summary>Why the watch failed; empty unless State is Failed. The job's Error stream has it as an ErrorRecord.</summary>
    public string FailureReason => _watcher.FailureReason;

    public override bool HasMoreData => BufferedCount > 0 || Error.Count > 0 || Warning.Count > 0;

    /// <summary>The watch runs in this process.</summary>
    public override string Location => "localhost";

    public override string StatusMessage => $"{EventCount} events, {DroppedCount} dropped, {BufferedCount} buffered";

    /// <summary>Events of this pwsh process: allowed at once and not reported (unless -IncludeSelf).</summary>
    public long OwnEventCount => _watcher.OwnEventCount;

    /// <summary>Exec events (every filesystem's) and program closes (the program directories') read only to name processes, not reported.</summary>
    public long ExecEventCount => _watcher.ExecEventCount;

    /// <summary>Times the process events connector lost messages since the watch started; each makes attribution say less, never wrongly.</summary>
    public long ProcessEventLossCount => _watcher.ProcessEventLossCount;

    /// <summary>
    /// Raised once for each event (and overflow record) as it enters the job's Output, in Output's order, as
    /// FileSystemWatcher raises Changed: Register-ObjectEvent -InputObject $watch -EventName EventArrived -Action
    /// { $EventArgs.Event } reacts to each. It takes nothing from Output: Receive-Job and Get-FanotifyEvent still get
    /// every event (read them, or the buffer fills and new events are dropped). Events dropped for a full buffer
    /// never enter Output and are not raised. Raised on the watch's pump thread, never on a thread that answers
    /// permission events; a subscriber that throws is reported once as an error in the job's Error stream, and
    /// the watch and the other subscribers go on.
    /// </summary>
    public event EventHandler<FanotifyEventArrivedEventArgs>? EventArrived
    {
        add
        {
            lock (_subscribersLock)
            {
                _eventArrived += value;
                _watcher.Output.CollectArrivals(_eventArrived is not null);
            }
        }

        remove
        {
            lock (_subscribersLock)
            {
                _eventArrived -= value;
                _watcher.Output.CollectArrivals(_eventArrived is not null);
            }
        }
    }

    /// <summary>
    /// Set when events have arrived since it was read, or the watch has ended: a reader reads it, then
    /// <see cref="IsEnded"/>, then takes, and waits on it only if it took nothing. Every waiting reader wakes.
    /// </summary>
    internal WaitHandle DataAvailable => _watcher.Output.DataAvailable;

    /// <summary>As <see cref="DataAvailable"/>, for any watch of the process: for a reader of more watches than one wait takes.</summary>
    internal static WaitHandle AnyDataAvailable => JobOutput.AnyDataAvailable;

    /// <summary>The watch has ended, every event is in Output and the job has its final state.</summary>
    internal bool IsEnded => _watcher.IsEnded;

    /// <summary>Takes events from the front of Output (see <see cref="JobOutput.Take"/>).</summary>
    internal PSObject[] TakeEvents(int max, Func<FanotifyEvent, bool>? filter) => _watcher.Output.Take(max, filter);

    /// <summary>Returns events after <paramref name="after"/> and leaves them in Output (see <see cref="JobOutput.Peek"/>).</summary>
    internal PSObject[] PeekEvents(int max, Func<FanotifyEvent, bool>? filter, ref long after) => _watcher.Output.Peek(max, filter, ref after);

    /// <summary>
    /// Creates the groups, starts and warms up their responders, places the marks, and starts the pump.
    /// </summary>
    internal static FanotifyWatch Start(WatchSpec spec, Action<string> writeWarning)
    {
        var watch = new FanotifyWatch(spec);
        watch._watcher.Start(spec, writeWarning);

        // Running before the pump starts: a responder that failed already makes the pump set Failed at once.
        watch.SetJobState(JobState.Running);
        watch._watcher.StartPump();
        return watch;
    }

    /// <summary>
    /// Stops the responders (each closes its group; pending permission events are allowed) and waits for the
    /// pump to move the last events and set the final state. Idempotent.
    /// </summary>
    internal void Stop() => _watcher.Stop();

    /// <summary>Turns new drops and losses into (at most one unread) warning each in the Warning stream.</summary>
    internal void PublishLosses() => _watcher.PublishLosses();

    /// <summary>
    /// On the pump: EventArrived for each of <paramref name="arrived"/>, to each subscriber in turn. A subscriber
    /// that throws does not keep the others from the event, nor the pump from its work.
    /// </summary>
    internal void RaiseEventArrived(List<FanotifyEvent> arrived)
    {
        if (arrived.Count == 0 || Volatile.Read(ref _eventArrived) is not { } subscribers)
        {
            return;
        }

        Delegate[] each = subscribers.GetInvocationList();
        foreach (FanotifyEvent item in arrived)
        {
            var args = new FanotifyEventArrivedEventArgs(item);
            foreach (Delegate subscriber in each)
            {
                try
                {
                    ((EventHandler<FanotifyEventArrivedEventArgs>)subscriber)(this, args);
                }
#pragma warning disable CA1031 // A subscriber's failure, whatever it is, must not end the pump: it is reported as data.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    ReportSubscriberFailure(e);
                }
            }
        }
    }

    /// <summary>The first failure of an EventArrived subscriber, as an error in the job's Error stream; later ones are not reported.</summary>
    private void ReportSubscriberFailure(Exception failure)
    {
        if (Interlocked.Exchange(ref _subscriberFailed, 1) != 0)
        {
            return;
        }

        var error = new InvalidOperationException(
            $"A subscriber of the EventArrived event of watch {Id} failed (the watch goes on; later failures are not reported): {failure.Message}", failure);
        Error.Add(new ErrorRecord(error, ErrorIds.EventHandlerFailed, ErrorCategory.InvalidOperation, this));
    }

    /// <summary>The watcher's last act, on its pump, once every event is in Output: the job's final state, and its error if it failed.</summary>
    internal void End(string failureReason)
    {
        if (failureReason.Length == 0)
        {
            SetJobState(JobState.Stopped);
            return;
        }

        var failure = new InvalidOperationException($"Watch {Id} failed: {failureReason}");
        Error.Add(new ErrorRecord(failure, ErrorIds.WatchFailed, ErrorCategory.InvalidResult, this));
        SetJobState(JobState.Failed);
    }

    public override void StopJob() => Stop();

    public override void StopJob(bool force, string reason) => Stop();

    /// <summary>Stop-Job waits for OnStopJobCompleted; without it, Stop-Job would not return.</summary>
    public override void StopJobAsync()
    {
        Stop();
        OnStopJobCompleted(new AsyncCompletedEventArgs(null, false, null));
    }

    public override void StopJobAsync(bool force, string reason) => StopJobAsync();

    public override void StartJob() => throw NotSupported("started by Start-FanotifyWatch");

    public override void StartJobAsync() => StartJob();

    public override void SuspendJob() => throw NotSupported("suspended");

    public override void SuspendJob(bool force, string reason) => SuspendJob();

    public override void SuspendJobAsync() => SuspendJob();

    public override void SuspendJobAsync(bool force, string reason) => SuspendJob();

    public override void ResumeJob() => throw NotSupported("resumed");

    public override void ResumeJobAsync() => ResumeJob();

    public override void UnblockJob() => throw NotSupported("unblocked");

    public override void UnblockJobAsync() => UnblockJob();

    private static NotSupportedException NotSupported(string what) =>
        new($"A fanotify watch cannot be {what}. Stop it with Stop-FanotifyWatch or Stop-Job, and start a new one with Start-FanotifyWatch.");

    /// <summary>Remove-Job disposes: the watch stops (it has left the job repository, so Get-FanotifyWatch too).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Stop();
            _watcher.Dispose();
        }

        base.Dispose(disposing);
    }

    public override string ToString() => $"{Name} ({Id}): {State}, {Scope} of {string.Join(", ", Path)}";
}
