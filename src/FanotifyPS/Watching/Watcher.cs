using System;
using System.Collections.Generic;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>The states of a watcher, in the one order it goes through them (it may skip some, never go back).</summary>
internal enum WatcherState
{
    /// <summary>Opening its groups, warming up their responders, placing the marks.</summary>
    Starting,

    /// <summary>Marked, answering, and the pump moving events into Output.</summary>
    Running,

    /// <summary>Asked to stop, or a responder failed: every responder is told to end.</summary>
    Stopping,

    /// <summary>Every responder has ended (every group is closed): the pump moves the last events.</summary>
    Draining,

    /// <summary>Every event is in Output, and the job has its final state.</summary>
    Ended,
}

/// <summary>
/// The engine of one watch, started and stopped as one unit: its fanotify groups (one per <see cref="GroupKind"/>
/// it needs), their marks, the mount fds that file handles are opened by, a responder thread per group, the stop
/// eventfd they share, the hand-off queue, the pump and the job's Output, and the stop-signal guard of a permission
/// watch. <see cref="FanotifyWatch"/> is its PowerShell job and delegates to it.
///
/// Implementation notes:
/// - One direction: responders and the pump tell the watcher (<see cref="OnResponderEnded"/>, <see cref="OnPumped"/>,
///   <see cref="OnPumpEnded"/>); the watcher moves <see cref="State"/> forward, under its state lock; readers
///   look at <see cref="IsEnded"/> and wait on <see cref="JobOutput.DataAvailable"/>. Nothing calls back into a reader.
/// - Fd ownership: each responder closes its own group fd as it ends (close() from another thread would not wake
///   its poll()); the watcher closes the stop eventfd and the mount fds, once every responder has ended.
/// - Lock order: the state lock, the loss lock and Output's SyncRoot are never held together; nobody waits while
///   holding one.
/// </summary>
internal sealed partial class Watcher : IDisposable
{
    /// <summary>How long Stop waits for each responder to end.</summary>
    private static readonly TimeSpan s_stopTimeout = TimeSpan.FromSeconds(1);

    /// <summary>How long Stop waits for the pump to move the last events and set the final state.</summary>
    private static readonly TimeSpan s_finishTimeout = TimeSpan.FromSeconds(5);

    private readonly FanotifyWatch _job;
    private readonly HandOffQueue _queue;
    private readonly EventPump _pump;
    private readonly LossWarnings _losses;
    private readonly List<Responder> _responders = [];
    private readonly List<FileDescriptorHandle> _mountFds = [];
    private ProgramFileSystems? _programs;
    private ProcessEventsListener? _listener;
    private ProcessHistory? _history;
    private long _historyLossesAtStart;
    private readonly object _stateLock = new();
    private FileDescriptorHandle? _stopEvent;
    private StopSignalGuard? _stopGuard;
    private volatile WatcherState _state;
    private int _running;
    private string _failureReason = string.Empty;
    private DateTime? _stopTime;

    public Watcher(FanotifyWatch job, WatchSpec spec)
    {
        _job = job;
        Scope = spec.Scope;
        _queue = new HandOffQueue(spec.BufferSize);
        Output = new JobOutput(job.Output, _queue);
        _pump = new EventPump(_queue, Output, this);
        _losses = new LossWarnings(job.Id, spec.BufferSize);
    }

    public WatcherState State => _state;

    /// <summary>Every event is in Output and the job has its final state: a reader that sees it has read the last.</summary>
    public bool IsEnded => _state == WatcherState.Ended;

    public JobOutput Output { get; }

    public int Capacity => _queue.Capacity;

    /// <summary>
    /// Started without CAP_SYS_ADMIN: inode marks of one file-handle group, no process of others' events named, the
    /// kernel's bounded queue, paths only through the marked inodes (see <see cref="UnprivilegedWatch"/>).
    /// </summary>
    public bool Unprivileged { get; private set; }

    /// <summary>The scope marked: Filesystem becomes Mount where the kernel has no filesystem marks.</summary>
    public FanotifyScope Scope { get; private set; }

    public DateTime? StopTime
    {
        get
        {
            lock (_stateLock)
            {
                return _stopTime;
            }
        }
    }

    /// <summary>Why a responder failed; empty unless one did.</summary>
    public string FailureReason
    {
        get
        {
            lock (_stateLock)
            {
                return _failureReason;
            }
        }
    }

    public long EventCount => Sum(r => r.EventCount);

    public long DroppedCount => Sum(r => r.DroppedCount);

    public long OverflowCount => Sum(r => r.OverflowCount);

    public long LostCount => Sum(r => r.LostCount);

    public long FilteredCount => Sum(r => r.FilteredCount);

    public long AllowedCount => Sum(r => r.AllowedCount);

    public long DeniedCount => Sum(r => r.DeniedCount);

    public long WouldDenyCount => Sum(r => r.WouldDenyCount);

    public long OwnEventCount => Sum(r => r.OwnEventCount);

    public long ExecEventCount => Sum(r => r.ExecEventCount);

    /// <summary>Times the process connector lost messages since this watch started (each makes attribution say less).</summary>
    public long ProcessEventLossCount => _history is { } history ? history.LostCount - _historyLossesAtStart : 0;

    /// <summary>Of FilteredCount: left out by -Exe/-ExcludeExe because the process had exited before it could be named.</summary>
    public long UnnamedCount => Sum(r => r.UnnamedCount);

    private long Sum(Func<Responder, long> counter)
    {
        long total = 0;
        foreach (Responder responder in _responders)
        {
            total += counter(responder);
        }

        return total;
    }

    /// <summary>
    /// Creates the groups, starts and warms up their responders, then places the marks. The order matters:
    /// a responder answers from the moment its mark exists, and it has already run everything it will run.
    /// On failure it stops what it started, and throws.
    /// </summary>
    public void Start(WatchSpec spec, Action<string> writeWarning)
    {
        // Before anything is opened: what an unprivileged user cannot have is refused as a whole.
        Unprivileged = UnprivilegedWatch.IsUnprivileged();
        if (Unprivileged)
        {
            UnprivilegedWatch.Check(spec);
        }

        try
        {
            // Before the first mark: from then on a stopped process would hold every opener.
            _stopGuard = (spec.Events & FanotifyRule.PermissionEvents) != 0 ? StopSignalGuard.Acquire(writeWarning) : null;
            Open(spec, writeWarning);
        }
        catch
        {
            Stop();
            throw;
        }
    }

    /// <summary>After <see cref="Start"/>, once the job is Running: a responder that failed already makes the pump end it at once.</summary>
    public void StartPump()
    {
        lock (_stateLock)
        {
            _ = AdvanceLocked(WatcherState.Running);
        }

        LiveWatchers.Add(this);
        _pump.Start($"fanotify pump {_job.Id}");
    }

    /// <summary>
    /// Stops the responders (each closes its group; pending permission events are allowed) and waits for the
    /// pump to move the last events and set the final state. Idempotent.
    /// </summary>
    public void Stop()
    {
        bool stoppedBefore;
        lock (_stateLock)
        {
            stoppedBefore = !RequestStopLocked() && (_stopEvent is null || _stopEvent.IsClosed);
        }

        if (stoppedBefore)
        {
            WaitEnded();   // outside the lock: the pump takes it as it ends
            return;
        }

        bool allEnded = true;
        foreach (Responder responder in _responders)
        {
            allEnded &= responder.Stop(s_stopTimeout);
        }

        foreach (Responder responder in _responders)
        {
            responder.Dispose();
        }

        if (allEnded)
        {
            _stopEvent?.Dispose();
            foreach (FileDescriptorHandle fd in _mountFds)
            {
                fd.Dispose();
            }

            _programs?.Dispose();
            ProcessEventsListener.Release(Interlocked.Exchange(ref _listener, null));

            Interlocked.Exchange(ref _stopGuard, null)?.Dispose();
        }

        if (_responders.Count == 0)
        {
            Drain();   // no responder will
        }

        WaitEnded();
        if (allEnded)
        {
            LiveWatchers.Remove(this);   // nothing of it is left to stop
        }
    }

    private void WaitEnded() => _ = _pump.Join(s_finishTimeout);

    /// <summary>Turns new drops and losses into (at most one unread) warning each in the job's Warning stream.</summary>
    public void PublishLosses() => _losses.Publish(this, _job.Warning);

    /// <summary>On a responder thread, as it ends (its group is closed): bookkeeping only. A failed group takes the watch down.</summary>
    private void OnResponderEnded(Responder responder)
    {
        string? failure = responder.Failure;
        bool stopOthers = false;
        lock (_stateLock)
        {
            if (failure is not null && RequestStopLocked())
            {
                _failureReason = failure;
                stopOthers = true;
            }
        }

        if (stopOthers)
        {
            SignalStop();
        }

        if (Interlocked.Decrement(ref _running) == 0)
        {
            Interlocked.Exchange(ref _stopGuard, null)?.Dispose();   // every group is closed: nothing left to answer
            Drain();
        }
    }

    /// <summary>Every responder has ended: nothing more will be written, and the pump ends once it has moved the rest.</summary>
    private void Drain()
    {
        lock (_stateLock)
        {
            _ = AdvanceLocked(WatcherState.Draining);
        }

        _queue.Close();
    }

    /// <summary>On the pump, after each pass: EventArrived for the events that entered Output since the last.</summary>
    internal void RaiseEventArrived() => _job.RaiseEventArrived(Output.TakeArrivals());

    /// <summary>On the pump, after each pass (which re-counts Output).</summary>
    internal void OnPumped() => PublishLosses();

    /// <summary>On the pump, as its last act, once every event is in Output.</summary>
    internal void OnPumpEnded()
    {
        PublishLosses();   // the responders' counters are final
        _job.End(FailureReason);   // before Ended: a reader that sees Ended sees the job's final state and its error
        lock (_stateLock)
        {
            _ = AdvanceLocked(WatcherState.Ended);
        }

        Output.AnnounceEnd();
    }

    /// <summary>To Stopping, and the stop time; true for the first request (Stop, or a failed responder). The caller holds the state lock.</summary>
    private bool RequestStopLocked()
    {
        _ = AdvanceLocked(WatcherState.Stopping);
        if (_stopTime is not null)
        {
            return false;
        }

        _stopTime = DateTime.Now;
        return true;
    }

    /// <summary>Moves the state forward to <paramref name="to"/>; false if it is there or beyond. The caller holds the state lock.</summary>
    private bool AdvanceLocked(WatcherState to)
    {
        if (_state >= to)
        {
            return false;
        }

        _state = to;
        return true;
    }

    /// <summary>Wakes every responder of the watch (they share the eventfd); each then closes its group and ends.</summary>
    private unsafe void SignalStop()
    {
        if (_stopEvent is { IsClosed: false } stopEvent)
        {
            ulong one = 1;
            _ = Libc.write(stopEvent.Fd, &one, sizeof(ulong));
        }
    }

    /// <summary>Once ended: what the responders and the pump waited on.</summary>
    public void Dispose()
    {
        if (IsEnded)
        {
            _queue.Dispose();
        }
    }
}
