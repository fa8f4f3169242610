using System;
using System.Management.Automation;
using System.Threading;
using FanotifyPS.Interop;
using FanotifyPS.Watching;

namespace FanotifyPS;

/// <summary>A background watch: one fanotify group, its responder thread and its event buffer.</summary>
public sealed class FanotifyWatch
{
    internal const ulong PermissionEvents = (ulong)(FanotifyEventType.OpenPerm | FanotifyEventType.AccessPerm | FanotifyEventType.OpenExecPerm);

    /// <summary>The events this version can mark; the directory-entry events need file-handle groups (not yet).</summary>
    internal const FanotifyEventType SupportedEvents =
        FanotifyEventType.OpenPerm | FanotifyEventType.Open | FanotifyEventType.CloseWrite |
        FanotifyEventType.CloseNoWrite | FanotifyEventType.Access | FanotifyEventType.Modify;

    internal static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(10);
    private static int s_nextId;

    private readonly Responder _responder;
    private readonly object _stateLock = new();
    private FanotifyWatchState _state = FanotifyWatchState.Running;
    private long _droppedReported;
    private long _readErrorsReported;

    private FanotifyWatch(int id, string name, string path, FanotifyScope scope, FanotifyEventType eventType,
        EventBuffer buffer, Responder responder, bool isAdHoc)
    {
        Id = id;
        Name = name;
        Path = path;
        Scope = scope;
        Event = eventType;
        Buffer = buffer;
        _responder = responder;
        IsAdHoc = isAdHoc;
        StartTime = DateTime.Now;
    }

    public int Id { get; }

    public string Name { get; }

    /// <summary>The directory (or file) whose filesystem or mount is marked.</summary>
    public string Path { get; }

    public FanotifyScope Scope { get; }

    public FanotifyEventType Event { get; }

    public FanotifyWatchState State
    {
        get
        {
            lock (_stateLock)
            {
                return _state;
            }
        }
    }

    public DateTime StartTime { get; }

    public DateTime? StopTime { get; private set; }

    /// <summary>Records produced for the pipeline (events and overflow records), buffered or dropped.</summary>
    public long EventCount => _responder.EventCount;

    /// <summary>Records the buffer refused because the consumer was too slow.</summary>
    public long DroppedCount => _responder.DroppedCount;

    /// <summary>Kernel queue overflows: events the kernel discarded before the watcher could read them.</summary>
    public long OverflowCount => _responder.OverflowCount;

    /// <summary>Events the kernel could not hand over because no file descriptor was left (EMFILE/ENFILE).</summary>
    public long LostCount => _responder.ReadErrorCount;

    public int BufferedCount => Buffer.Count;

    public int BufferSize => Buffer.Capacity;

    /// <summary>Why the watch failed; empty unless State is Failed.</summary>
    public string Error { get; private set; } = string.Empty;

    internal EventBuffer Buffer { get; }

    /// <summary>Started by Get-FanotifyEvent for its own stream; not listed by Get-FanotifyWatch.</summary>
    internal bool IsAdHoc { get; }

    internal long OwnEventCount => _responder.OwnEventCount;

    /// <summary>
    /// Creates the group, starts and warms up the responder, then places the mark. The order matters: the
    /// responder answers from the moment the mark exists, and it has already run everything it will run.
    /// </summary>
    internal static FanotifyWatch Start(string path, FanotifyScope scope, FanotifyEventType events, string? name,
        int bufferSize, bool isAdHoc, Action<string> writeWarning)
    {
        ulong mask = (ulong)events;
        bool permissionEvents = (mask & PermissionEvents) != 0;
        FileDescriptorHandle group = FanotifyGroup.Open(permissionEvents);

        int stopFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (stopFd < 0)
        {
            int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            group.Dispose();
            throw new WatchException($"Cannot create the watcher's eventfd: {Errno.Describe(errno)}.",
                ErrorIds.WatcherStartFailed, errno == Errno.EMFILE ? ErrorCategory.LimitsExceeded : ErrorCategory.ResourceUnavailable);
        }

        int id = Interlocked.Increment(ref s_nextId);
        var buffer = new EventBuffer(bufferSize);
        var responder = new Responder(group, new FileDescriptorHandle(stopFd), buffer, id);
        if (!responder.Start(s_startTimeout))
        {
            string reason = responder.Failure ?? "it did not become ready in time";
            responder.Stop(StopTimeout);
            responder.Dispose();
            throw new WatchException($"The watcher thread could not start: {reason}.",
                ErrorIds.WatcherStartFailed, ErrorCategory.ResourceUnavailable, path);
        }

        int markErrno = FanotifyGroup.TryMark(group, path, scope, mask);
        if (markErrno == Errno.EINVAL && scope == FanotifyScope.Filesystem)
        {
            // Decided by trying: kernels before 4.20 have no filesystem marks.
            if (FanotifyGroup.TryMark(group, path, FanotifyScope.Mount, mask) == 0)
            {
                writeWarning($"The kernel refused a filesystem mark on '{path}'; watching its mount only (-Scope Mount). " +
                    "Writes through other mounts of the same filesystem (bind mounts) are not seen.");
                scope = FanotifyScope.Mount;
                markErrno = 0;
            }
        }

        if (markErrno != 0)
        {
            responder.Stop(StopTimeout);
            responder.Dispose();
            throw FanotifyGroup.MarkError(markErrno, path, scope, permissionEvents);
        }

        var watch = new FanotifyWatch(id, name ?? $"FanotifyWatch{id}", path, scope, events, buffer, responder, isAdHoc);
        responder.Finished += watch.OnResponderFinished;
        if (responder.IsFinished)
        {
            watch.OnResponderFinished();
        }

        WatchRegistry.Add(watch);
        return watch;
    }

    /// <summary>Stops the responder (it closes the group; pending permission events are allowed). Idempotent.</summary>
    internal void Stop()
    {
        lock (_stateLock)
        {
            if (_state != FanotifyWatchState.Running)
            {
                return;
            }

            _state = FanotifyWatchState.Stopped;
            StopTime = DateTime.Now;
        }

        _responder.Stop(StopTimeout);
        _responder.Dispose();
        Buffer.Complete();
    }

    /// <summary>On the responder thread, as it ends: only state changes here, no I/O.</summary>
    private void OnResponderFinished()
    {
        string? failure = _responder.Failure;
        lock (_stateLock)
        {
            if (_state == FanotifyWatchState.Running && failure is not null)
            {
                _state = FanotifyWatchState.Failed;
                StopTime = DateTime.UtcNow.ToLocalTime();
                Error = failure;
            }
        }

        Buffer.Complete();
    }

    /// <summary>Drops counted since the last call; the consumer turns them into a warning.</summary>
    internal long TakeNewDrops() => TakeNew(DroppedCount, ref _droppedReported);

    /// <summary>Events lost to EMFILE/ENFILE since the last call.</summary>
    internal long TakeNewLost() => TakeNew(LostCount, ref _readErrorsReported);

    private static long TakeNew(long current, ref long reported)
    {
        long previous = Interlocked.Exchange(ref reported, current);
        return current - previous;
    }

    public override string ToString() => $"{Name} ({Id}): {State}, {Scope} of {Path}";
}
