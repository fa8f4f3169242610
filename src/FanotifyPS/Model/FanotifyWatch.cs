using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;
using FanotifyPS.Watching;

namespace FanotifyPS;

/// <summary>
/// A background watch: up to two fanotify groups, a responder thread each, and one event buffer. It is a
/// PowerShell job too: Get-Job lists it, Receive-Job reads the buffer Get-FanotifyEvent reads, Stop-Job and
/// Remove-Job end it. Its state changes on the buffer's pump, never on a responder thread.
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

    internal static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long Stop waits for the buffer's pump to move the last events and set the final state.</summary>
    private static readonly TimeSpan s_finishTimeout = TimeSpan.FromSeconds(5);

    private readonly List<Responder> _responders = [];
    private readonly List<FileDescriptorHandle> _mountFds = [];
    private readonly object _stateLock = new();
    private readonly object _lossLock = new();
    private readonly LossReport _drops;
    private readonly LossReport _lost;
    private readonly LossReport _unnamed;
    private FileDescriptorHandle? _stopEvent;
    private StopSignalGuard? _stopGuard;
    private bool _stopping;
    private int _running;

    private FanotifyWatch(WatchSpec spec)
        : base(spec.CommandText, null)
    {
        Name = spec.Name ?? $"FanotifyWatch{Id}";
        PSJobTypeName = nameof(FanotifyWatch);
        Path = spec.Paths;
        Scope = spec.Scope;
        Event = spec.Events;
        IsAdHoc = spec.IsAdHoc;
        Rules = spec.Policy?.Rules ?? [];
        AuditOnly = spec.AuditOnly;
        SpinMicroseconds = spec.SpinMicroseconds;
        StartTime = DateTime.Now;

        // Readers of a job's streams must never block (Receive-Job enumerates them).
        Output = new PSDataCollection<PSObject> { EnumeratorNeverBlocks = true };
        Error = new PSDataCollection<ErrorRecord> { EnumeratorNeverBlocks = true };
        Warning = new PSDataCollection<WarningRecord> { EnumeratorNeverBlocks = true };
        Buffer = new EventBuffer(spec.BufferSize, Output) { Pumped = PublishLosses };
        _drops = new LossReport(n => $"Watch {Id} dropped {n} events: its buffer of {BufferSize} events was full. " +
            "Read the events faster, or start the watch with a larger -BufferSize.");
        _lost = new LossReport(n => $"Watch {Id} lost {n} events: the kernel could not open a file descriptor for them " +
            "(EMFILE/ENFILE; a permission event is then denied). Raise the open file limit (ulimit -n).");
        _unnamed = new LossReport(n => $"Watch {Id} left out {n} events whose process had exited before it could be named: " +
            "-Exe cannot match a program nobody knows. They are counted in FilteredCount.");
    }

    /// <summary>The paths marked with Scope.</summary>
    public string[] Path { get; }

    public FanotifyScope Scope { get; private set; }

    public FanotifyEventType Event { get; }

    /// <summary>Running, then Stopped (by Stop-FanotifyWatch, Stop-Job or Remove-Job) or Failed (see FailureReason).</summary>
    public JobState State => JobStateInfo.State;

    public DateTime StartTime { get; }

    public DateTime? StopTime { get; private set; }

    /// <summary>The permission policy, in the order the rules are checked.</summary>
    public FanotifyRule[] Rules { get; }

    /// <summary>Rules are evaluated, but every event is allowed (matches are marked WouldDeny).</summary>
    public bool AuditOnly { get; }

    /// <summary>How long a responder keeps reading after a batch before it sleeps (0: not at all).</summary>
    public int SpinMicroseconds { get; }

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

    /// <summary>Why the watch failed; empty unless State is Failed. The job's Error stream has it as an ErrorRecord.</summary>
    public string FailureReason { get; private set; } = string.Empty;

    public override bool HasMoreData => Buffer.Count > 0 || Error.Count > 0 || Warning.Count > 0;

    /// <summary>The watch runs in this process.</summary>
    public override string Location => "localhost";

    public override string StatusMessage => $"{EventCount} events, {DroppedCount} dropped, {BufferedCount} buffered";

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
        var watch = new FanotifyWatch(spec);
        try
        {
            // Before the first mark: from then on a stopped process would hold every opener.
            watch._stopGuard = (spec.Events & FanotifyRule.PermissionEvents) != 0 ? StopSignalGuard.Acquire(writeWarning) : null;
            watch.Open(spec, writeWarning);
        }
        catch
        {
            watch.Stop();
            throw;
        }

        // Running before the pump starts: a responder that failed already makes the pump set Failed at once.
        watch.SetJobState(JobState.Running);
        watch.Buffer.StartPump($"fanotify pump {watch.Id}", watch.Finish);
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
        (ulong FsId, int Fd, string Path)[] mounts = OpenMountFds(spec.Paths);
        var groups = new List<(FileDescriptorHandle Group, FanotifyEventType Events, GroupKind Kind)>();
        if (fdEvents != FanotifyEventType.None)
        {
            bool denyErrno = spec.Policy?.NeedsErrno == true && !spec.AuditOnly;
            FileDescriptorHandle group = FanotifyCalls.Open(GroupKind.FileDescriptor, permission, denyErrno, spec.ThreadIds, out uint flags);
            // Decided here, once, so that a kernel without FAN_DENY_ERRNO is a warning at the start and not a
            // silent EPERM at each deny.
            bool denyWithErrno = denyErrno && (flags & Fanotify.FAN_CLASS_PRE_CONTENT) != 0 && FanotifyCalls.AcceptsDenyErrno(group.Fd);
            if (denyErrno && !denyWithErrno)
            {
                writeWarning($"{FanotifyCalls.KernelRelease()} cannot deny with a chosen errno (FAN_DENY_ERRNO, Linux 6.14): calls denied by a rule with -Errno fail with EPERM.");
            }

            groups.Add((group, fdEvents, GroupKind.FileDescriptor));
            MountTranslator? translator = spec.Scope != FanotifyScope.Mount && (spec.Filter.HasTree || spec.Policy?.PathMask > 0)
                ? MountTranslator.Create(mounts) : null;
            StartResponder(group, GroupKind.FileDescriptor, spec, null, denyWithErrno, flags, translator);
        }

        if (handleEvents != FanotifyEventType.None)
        {
            FileDescriptorHandle group = FanotifyCalls.Open(GroupKind.FileHandle, false, false, spec.ThreadIds, out uint flags);
            groups.Add((group, handleEvents, GroupKind.FileHandle));
            StartResponder(group, GroupKind.FileHandle, spec, new HandleResolver(mounts), false, flags, null);
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
                foreach (string excluded in spec.Filter.ExcludePath.Patterns.Where(p => !Glob.HasWildcards(p) && System.IO.Path.Exists(p)))
                {
                    _ = FanotifyCalls.TryIgnore(group, excluded, (ulong)events);
                }
            }
        }
    }

    private void StartResponder(FileDescriptorHandle group, GroupKind kind, WatchSpec spec, HandleResolver? handles, bool denyWithErrno,
        uint groupFlags, MountTranslator? mounts)
    {
        var responder = new Responder(group, _stopEvent!, Buffer, new ResponderSettings
        {
            WatchId = Id,
            Kind = kind,
            Filter = spec.Filter,
            Policy = kind == GroupKind.FileDescriptor ? spec.Policy : null,
            AuditOnly = spec.AuditOnly,
            DenyWithErrno = denyWithErrno,
            IncludeSelf = spec.IncludeSelf,
            ThreadIds = spec.ThreadIds,
            SpinMicroseconds = spec.SpinMicroseconds,
            FdsPerEvent = (kind == GroupKind.FileDescriptor ? 1 : 0) + ((groupFlags & Fanotify.FAN_REPORT_PIDFD) != 0 ? 1 : 0),
            Handles = handles,
            Mounts = mounts,
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

        int errno = FanotifyCalls.TryMark(group, path, scope, mask);
        if (errno == Errno.EINVAL && scope is FanotifyScope.Filesystem or FanotifyScope.Tree && kind == GroupKind.FileDescriptor)
        {
            // Decided by trying: kernels before 4.20 have no filesystem marks. A Tree stays a Tree (its paths
            // are filtered either way); a Filesystem watch becomes a Mount watch, and says so.
            if (FanotifyCalls.TryMark(group, path, FanotifyScope.Mount, mask) == 0)
            {
                writeWarning($"The kernel refused a filesystem mark on '{path}'; watching {(scope == FanotifyScope.Tree ? "the tree through its mount" : "its mount only (-Scope Mount)")}. " +
                    "Access through other mounts of the same filesystem (bind mounts) is not seen.");
                if (scope == FanotifyScope.Filesystem)
                {
                    Scope = FanotifyScope.Mount;
                }

                errno = 0;
            }
        }

        if (errno != 0)
        {
            throw FanotifyCalls.MarkError(errno, path, scope, events);
        }
    }

    /// <summary>
    /// Stops the responders (each closes its group; pending permission events are allowed) and waits for the
    /// pump to move the last events and set the final state. Idempotent.
    /// </summary>
    internal void Stop()
    {
        lock (_stateLock)
        {
            if (!_stopping)
            {
                _stopping = true;
                StopTime = DateTime.Now;
            }
            else if (_stopEvent is null || _stopEvent.IsClosed)
            {
                WaitFinished();
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

            Interlocked.Exchange(ref _stopGuard, null)?.Dispose();
        }

        if (_responders.Count == 0)
        {
            Buffer.Complete();
        }

        WaitFinished();
    }

    private void WaitFinished() => _ = Buffer.WaitForPump(s_finishTimeout);

    /// <summary>On a responder thread, as it ends: bookkeeping only. A failed group takes the watch down.</summary>
    private void OnResponderFinished(Responder responder)
    {
        string? failure = responder.Failure;
        bool stopOthers = false;
        lock (_stateLock)
        {
            if (!_stopping && failure is not null)
            {
                _stopping = true;
                StopTime = DateTime.Now;
                FailureReason = failure;
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
            Interlocked.Exchange(ref _stopGuard, null)?.Dispose();   // every group is closed: nothing left to answer
            Buffer.Complete();
        }
    }

    /// <summary>On the pump, once every event is in Output: the job's final state, and its error if it failed.</summary>
    private void Finish()
    {
        PublishLosses();
        if (FailureReason.Length == 0)
        {
            SetJobState(JobState.Stopped);
            return;
        }

        var failure = new InvalidOperationException($"Watch {Id} failed: {FailureReason}");
        Error.Add(new ErrorRecord(failure, ErrorIds.WatchFailed, ErrorCategory.InvalidResult, this));
        SetJobState(JobState.Failed);
    }

    /// <summary>Turns new drops and losses into (at most one unread) warning each in the Warning stream.</summary>
    internal void PublishLosses()
    {
        lock (_lossLock)
        {
            _drops.Publish(DroppedCount, Warning);
            _lost.Publish(LostCount, Warning);
            _unnamed.Publish(Sum(r => r.UnnamedCount), Warning);
        }
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

    /// <summary>Remove-Job disposes: the watch stops and leaves Get-FanotifyWatch too.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Stop();
            WatchRegistry.Forget(this);
            if (Buffer.IsFinished)
            {
                Buffer.Dispose();
            }
        }

        base.Dispose(disposing);
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
    public int SpinMicroseconds { get; init; }

    /// <summary>What Get-Job shows in its Command column.</summary>
    public string CommandText { get; init; } = "Start-FanotifyWatch";
}
