using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;
using FanotifyPS.Watching;

namespace FanotifyPS;

/// <summary>A background watch: up to two fanotify groups, a responder thread each, and one event buffer.</summary>
public sealed class FanotifyWatch
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

    internal static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(10);
    private static int s_nextId;

    private readonly List<Responder> _responders = [];
    private readonly List<FileDescriptorHandle> _mountFds = [];
    private readonly object _stateLock = new();
    private FileDescriptorHandle? _stopEvent;
    private FanotifyWatchState _state = FanotifyWatchState.Running;
    private int _running;
    private long _droppedReported;
    private long _readErrorsReported;

    private FanotifyWatch(int id, WatchSpec spec)
    {
        Id = id;
        Name = spec.Name ?? $"FanotifyWatch{id}";
        Path = spec.Paths;
        Scope = spec.Scope;
        Event = spec.Events;
        Buffer = new EventBuffer(spec.BufferSize);
        IsAdHoc = spec.IsAdHoc;
        Rules = spec.Policy?.Rules ?? [];
        AuditOnly = spec.AuditOnly;
        StartTime = DateTime.Now;
    }

    public int Id { get; }

    public string Name { get; }

    /// <summary>The paths marked with Scope.</summary>
    public string[] Path { get; }

    public FanotifyScope Scope { get; private set; }

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

    /// <summary>The permission policy, in the order the rules are checked.</summary>
    public FanotifyRule[] Rules { get; }

    /// <summary>Rules are evaluated, but every event is allowed (matches are marked WouldDeny).</summary>
    public bool AuditOnly { get; }

    /// <summary>Records produced for the pipeline (events and overflow records), buffered or dropped.</summary>
    public long EventCount => Sum(r => r.EventCount);

    /// <summary>Records the buffer refused because the consumer was too slow.</summary>
    public long DroppedCount => Sum(r => r.DroppedCount);

    /// <summary>Kernel queue overflows: events the kernel discarded before the watcher could read them.</summary>
    public long OverflowCount => Sum(r => r.OverflowCount);

    /// <summary>Events the kernel could not hand over because no file descriptor was left (EMFILE/ENFILE).</summary>
    public long LostCount => Sum(r => r.ReadErrorCount);

    /// <summary>Events read but not reported: outside a Tree, or left out by a filter.</summary>
    public long FilteredCount => Sum(r => r.FilteredCount);

    /// <summary>Permission events allowed, the watcher's own included (would-deny ones are in WouldDenyCount).</summary>
    public long AllowedCount => Sum(r => r.AllowedCount);

    public long DeniedCount => Sum(r => r.DeniedCount);

    public long WouldDenyCount => Sum(r => r.WouldDenyCount);

    public int BufferedCount => Buffer.Count;

    public int BufferSize => Buffer.Capacity;

    /// <summary>Why the watch failed; empty unless State is Failed.</summary>
    public string Error { get; private set; } = string.Empty;

    internal EventBuffer Buffer { get; }

    /// <summary>Started by Get-FanotifyEvent for its own stream; not listed by Get-FanotifyWatch.</summary>
    internal bool IsAdHoc { get; }

    /// <summary>Events of this pwsh process: allowed at once and not reported (unless -IncludeSelf).</summary>
    public long OwnEventCount => Sum(r => r.OwnEventCount);

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
    /// </summary>
    internal static FanotifyWatch Start(WatchSpec spec, Action<string> writeWarning)
    {
        var watch = new FanotifyWatch(Interlocked.Increment(ref s_nextId), spec);
        try
        {
            watch.Open(spec, writeWarning);
        }
        catch
        {
            watch.Stop();
            throw;
        }

        WatchRegistry.Add(watch);
        return watch;
    }

    private void Open(WatchSpec spec, Action<string> writeWarning)
    {
        FanotifyEventType fdEvents = spec.Events & FileDescriptorEvents;
        FanotifyEventType handleEvents = spec.Events & FileHandleEvents;
        bool permission = (spec.Events & FanotifyRule.PermissionEvents) != 0;

        int stopFd = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (stopFd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new WatchException($"Cannot create the watcher's eventfd: {Errno.Describe(errno)}.",
                ErrorIds.WatcherStartFailed, errno == Errno.EMFILE ? ErrorCategory.LimitsExceeded : ErrorCategory.ResourceUnavailable);
        }

        _stopEvent = new FileDescriptorHandle(stopFd);
        var groups = new List<(FileDescriptorHandle Group, FanotifyEventType Events, GroupKind Kind)>();
        if (fdEvents != FanotifyEventType.None)
        {
            bool denyErrno = spec.Policy?.NeedsErrno == true && !spec.AuditOnly;
            FileDescriptorHandle group = FanotifyGroup.Open(GroupKind.FileDescriptor, permission, denyErrno, spec.ThreadIds, out uint flags);
            if (denyErrno && (flags & Fanotify.FAN_CLASS_PRE_CONTENT) == 0)
            {
                writeWarning($"{FanotifyGroup.KernelRelease()} has no pre-content fanotify groups, which denying with a chosen errno needs: denied calls fail with EPERM.");
            }

            groups.Add((group, fdEvents, GroupKind.FileDescriptor));
            StartResponder(group, GroupKind.FileDescriptor, spec, null);
        }

        if (handleEvents != FanotifyEventType.None)
        {
            FileDescriptorHandle group = FanotifyGroup.Open(GroupKind.FileHandle, false, false, spec.ThreadIds, out _);
            groups.Add((group, handleEvents, GroupKind.FileHandle));
            StartResponder(group, GroupKind.FileHandle, spec, new HandleResolver(OpenMountFds(spec.Paths)));
        }

        foreach ((FileDescriptorHandle group, FanotifyEventType events, GroupKind kind) in groups)
        {
            foreach (string path in spec.Paths)
            {
                Mark(group, kind, path, spec, events, writeWarning);
            }

            // -ExcludePath without wildcards: an ignore mark, so that the kernel does not even queue those
            // events. Not where a rule may deny: an ignored permission event never reaches the policy.
            if (spec.Policy is null)
            {
                foreach (string excluded in spec.Filter.ExcludePath.Where(p => !Glob.HasWildcards(p) && System.IO.Path.Exists(p)))
                {
                    _ = FanotifyGroup.TryIgnore(group, excluded, (ulong)events);
                }
            }
        }
    }

    private void StartResponder(FileDescriptorHandle group, GroupKind kind, WatchSpec spec, HandleResolver? handles)
    {
        var responder = new Responder(group, _stopEvent!, Buffer, new ResponderSettings
        {
            WatchId = Id,
            Kind = kind,
            Filter = spec.Filter,
            Policy = kind == GroupKind.FileDescriptor ? spec.Policy : null,
            AuditOnly = spec.AuditOnly,
            IncludeSelf = spec.IncludeSelf,
            ThreadIds = spec.ThreadIds,
            Handles = handles,
        });
        _responders.Add(responder);
        Interlocked.Increment(ref _running);
        responder.Finished += () => OnResponderFinished(responder);
        if (!responder.Start(s_startTimeout))
        {
            throw new WatchException($"The watcher thread could not start: {(responder.Failure ?? "it did not become ready in time").TrimEnd('.')}." +
                (System.Environment.GetEnvironmentVariable("FANOTIFYPS_DEBUG") is null ? string.Empty : $" {responder.Exception}"),
                ErrorIds.WatcherStartFailed, ErrorCategory.ResourceUnavailable, spec.Paths);
        }
    }

    /// <summary>
    /// Descriptors of the watched directories (a file's parent), keyed by fsid, for open_by_handle_at, which
    /// refuses O_PATH descriptors. Opened before any mark exists, so they raise no event.
    /// </summary>
    private unsafe (ulong FsId, int Fd, string Path)[] OpenMountFds(string[] paths)
    {
        var mounts = new List<(ulong, int, string)>();
        byte* statfs = stackalloc byte[Libc.StatfsSize];
        foreach (string path in paths)
        {
            string directory = Directory.Exists(path) ? path : System.IO.Path.GetDirectoryName(path) ?? "/";
            int fd = Libc.open(directory, Libc.O_RDONLY | Libc.O_CLOEXEC);
            if (fd < 0)
            {
                continue;
            }

            _mountFds.Add(new FileDescriptorHandle(fd));
            ulong fsid = Libc.fstatfs(fd, statfs) == 0 ? *(ulong*)(statfs + Libc.StatfsFsidOffset) : 0;
            mounts.Add((fsid, fd, directory));
        }

        return mounts.ToArray();
    }

    private void Mark(FileDescriptorHandle group, GroupKind kind, string path, WatchSpec spec, FanotifyEventType events,
        Action<string> writeWarning)
    {
        FanotifyScope scope = spec.Scope;
        ulong mask = (ulong)events;
        bool isDirectory = Directory.Exists(path);
        if (kind == GroupKind.FileHandle)
        {
            if (isDirectory)
            {
                mask |= Fanotify.FAN_ONDIR;   // report directories too; IsDirectory tells them apart
            }
            else
            {
                mask &= ~(ulong)EntryEvents;   // a file has no entries
                if (mask == 0)
                {
                    return;
                }
            }
        }

        if (scope == FanotifyScope.Directory)
        {
            mask |= Fanotify.FAN_EVENT_ON_CHILD;
        }

        int errno = FanotifyGroup.TryMark(group, path, scope, mask);
        if (errno == Errno.EINVAL && scope == FanotifyScope.Filesystem && kind == GroupKind.FileDescriptor)
        {
            // Decided by trying: kernels before 4.20 have no filesystem marks.
            if (FanotifyGroup.TryMark(group, path, FanotifyScope.Mount, mask) == 0)
            {
                writeWarning($"The kernel refused a filesystem mark on '{path}'; watching its mount only (-Scope Mount). " +
                    "Writes through other mounts of the same filesystem (bind mounts) are not seen.");
                Scope = FanotifyScope.Mount;
                errno = 0;
            }
        }

        if (errno != 0)
        {
            throw FanotifyGroup.MarkError(errno, path, scope, events);
        }
    }

    /// <summary>Stops the responders (each closes its group; pending permission events are allowed). Idempotent.</summary>
    internal void Stop()
    {
        lock (_stateLock)
        {
            if (_state == FanotifyWatchState.Running)
            {
                _state = FanotifyWatchState.Stopped;
                StopTime = DateTime.Now;
            }
            else if (_stopEvent is null || _stopEvent.IsClosed)
            {
                return;
            }
        }

        bool allEnded = true;
        foreach (Responder responder in _responders)
        {
            allEnded &= responder.Stop(StopTimeout);
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
        }

        if (_responders.Count == 0)
        {
            Buffer.Complete();
        }
    }

    /// <summary>On a responder thread, as it ends: state changes only. A failed group takes the watch down.</summary>
    private void OnResponderFinished(Responder responder)
    {
        string? failure = responder.Failure;
        bool stopOthers = false;
        lock (_stateLock)
        {
            if (_state == FanotifyWatchState.Running && failure is not null)
            {
                _state = FanotifyWatchState.Failed;
                StopTime = DateTime.Now;
                Error = failure;
                stopOthers = true;
            }
        }

        if (stopOthers && _stopEvent is { IsClosed: false } stopEvent)
        {
            unsafe
            {
                ulong one = 1;
                _ = Libc.write(stopEvent.Fd, &one, sizeof(ulong));
            }
        }

        if (Interlocked.Decrement(ref _running) == 0)
        {
            Buffer.Complete();
        }
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

    public override string ToString() => $"{Name} ({Id}): {State}, {Scope} of {string.Join(", ", Path)}";
}

/// <summary>Everything a watch is started with, validated by the cmdlet.</summary>
internal sealed class WatchSpec
{
    public required string[] Paths { get; init; }
    public FanotifyScope Scope { get; init; }
    public required FanotifyEventType Events { get; init; }
    public string? Name { get; init; }
    public int BufferSize { get; init; } = EventBuffer.DefaultCapacity;
    public bool IsAdHoc { get; init; }
    public ReportFilter Filter { get; init; } = new();
    public PermissionPolicy? Policy { get; init; }
    public bool AuditOnly { get; init; }
    public bool IncludeSelf { get; init; }
    public bool ThreadIds { get; init; }
}
