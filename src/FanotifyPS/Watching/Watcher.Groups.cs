using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>A watcher's start: the stop eventfd, the mount fds, the groups and their responders, then the marks.</summary>
internal sealed partial class Watcher
{
    private static readonly TimeSpan s_startTimeout = TimeSpan.FromSeconds(10);

    private void Open(WatchSpec spec, Action<string> writeWarning)
    {
        // Unprivileged: one file-handle group takes every event (an fd group needs CAP_SYS_ADMIN), and nothing of the
        // attribution, which needs root and would name nobody (the kernel reports pid 0 for others' events).
        bool unprivileged = Unprivileged;
        FanotifyEventType fdEvents = unprivileged ? FanotifyEventType.None : spec.Events & FanotifyWatch.FileDescriptorEvents;
        FanotifyEventType handleEvents = unprivileged ? spec.Events : spec.Events & FanotifyWatch.FileHandleEvents;
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

        // Attribution: the programs' filesystems (their descriptors before any mark), then the processes running now.
        _programs = unprivileged ? null : ProgramFileSystems.Find();
        if (handleEvents != FanotifyEventType.None)
        {
            _programs?.OpenDescriptors();
        }

        ProcessEventsListener? listener = unprivileged ? null : ProcessEventsListener.Acquire();
        if (listener is null && !unprivileged)
        {
            ProcessEventsListener.WarnOnce(writeWarning);
        }

        _listener = listener;
        ProcessHistory? history = _history = listener?.History;
        _historyLossesAtStart = history?.LostCount ?? 0;
        Action? drainHistory = listener is null ? null : () => _ = listener.Drain();
        long startSequence = history?.Sequence ?? 0;
        Dictionary<int, ProcessInfo> running = unprivileged ? [] : ProcessTable.ScanRunning();
        _programs?.FindProgramDirectories(running.Values.Select(p => p.Exe));
        AttributionScope? attributionScope = (spec.Events & (FanotifyEventType.OpenExec | FanotifyEventType.CloseNoWrite)) != 0 ? new AttributionScope(spec.Scope, spec.Paths) : null;
        ProcessTable NewTable() => new(history, drainHistory, startSequence, running);
        // Two groups: what one reads of a process is on the other's events of that process too.
        ProcessDescriptions? descriptions = fdEvents != FanotifyEventType.None && handleEvents != FanotifyEventType.None ? new() : null;
        Output.Descriptions = descriptions;
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
            StartResponder(group, GroupKind.FileDescriptor, spec, null, denyWithErrno, flags, translator, NewTable(), attributionScope, history, fdEvents, descriptions);
        }

        if (handleEvents != FanotifyEventType.None)
        {
            FileDescriptorHandle group = FanotifyCalls.Open(GroupKind.FileHandle, false, false, spec.ThreadIds, out uint flags, privileged: !unprivileged);
            groups.Add((group, handleEvents, GroupKind.FileHandle));
            HandleResolver handles = unprivileged ? new HandleResolver(mounts, marked: spec.Paths) : new HandleResolver(mounts, _programs!.Descriptors);
            StartResponder(group, GroupKind.FileHandle, spec, handles, false, flags, null, NewTable(), null, history, handleEvents, descriptions);
        }

        bool execEvents = true;
        var programDirectories = new Dictionary<FileDescriptorHandle, HashSet<string>>();
        foreach ((FileDescriptorHandle group, FanotifyEventType events, GroupKind kind) in groups)
        {
            foreach (string path in spec.Paths)
            {
                Mark(group, kind, path, spec, events, writeWarning);
            }

            // Exits in the queue tell apart the lives of a reused pid, which only the exec events name.
            bool marked = !unprivileged && MarkPrograms(group, writeWarning);
            execEvents &= marked;
            programDirectories.Add(group, marked ? _programs!.MarkProgramDirectories(group) : []);

            // -ExcludePath without wildcards: an ignore mark, so that the kernel does not even queue those
            // events. Not where a rule may deny: an ignored permission event never reaches the policy.
            if (spec.Policy is null)
            {
                foreach (string excluded in spec.Filter.ExcludePath.Patterns.Where(p => !Glob.HasWildcards(p) && Path.Exists(p)))
                {
                    _ = FanotifyCalls.TryIgnore(group, excluded, (ulong)events);
                }
            }
        }

        long marksPlaced = history?.Sequence ?? 0;
        for (int i = 0; i < _responders.Count; i++)
        {
            _responders[i].MarksPlaced(marksPlaced, execEvents, programDirectories[groups[i].Group]);
        }
    }

    /// <summary>FAN_OPEN_EXEC on every program filesystem: each exec is read in this group's queue before what the process does next.</summary>
    /// <returns>Whether the group has exec marks.</returns>
    private bool MarkPrograms(FileDescriptorHandle group, Action<string> writeWarning)
    {
        int marked = _programs!.Mark(group, out int errno);
        if (marked == 0 && errno == Errno.EINVAL)
        {
            WarnOnce(ref s_warnedNoExecEvents, writeWarning,
                $"{FanotifyCalls.KernelRelease()} has no exec events (FAN_OPEN_EXEC, Linux 4.19): processes that exit before their events are read are named less often. Names stay correct: an event whose process is not known has an empty Exe (ProcessSource Unknown).");
        }

        return marked > 0;
    }

    private static int s_warnedNoExecEvents;

    private static void WarnOnce(ref int warned, Action<string> writeWarning, string message)
    {
        if (Interlocked.Exchange(ref warned, 1) == 0)
        {
            writeWarning(message);
        }
    }

    private void StartResponder(FileDescriptorHandle group, GroupKind kind, WatchSpec spec, HandleResolver? handles, bool denyWithErrno,
        uint groupFlags, MountTranslator? mounts, ProcessTable processes, AttributionScope? attributionScope, ProcessHistory? history, FanotifyEventType requested,
        ProcessDescriptions? descriptions)
    {
        var responder = new Responder(group, _stopEvent!, _queue, new ResponderSettings
        {
            WatchId = _job.Id,
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
            Processes = processes,
            AttributionScope = attributionScope,
            History = history,
            Descriptions = descriptions,
            RequestedEvents = (ulong)requested,
            Unprivileged = Unprivileged,
        });
        _responders.Add(responder);
        Interlocked.Increment(ref _running);
        responder.Finished += () => OnResponderEnded(responder);
        if (!responder.Start(s_startTimeout))
        {
            throw new WatchException($"The watcher thread could not start: {(responder.Failure ?? "it did not become ready in time").TrimEnd('.')}." +
                (Environment.GetEnvironmentVariable("FANOTIFYPS_DEBUG") is null ? string.Empty : $" {responder.Exception}"),
                ErrorIds.WatcherStartFailed, ErrorCategory.ResourceUnavailable, spec.Paths);
        }
    }

    /// <summary>
    /// Descriptors of the watched directories (a file's parent), keyed by fsid, for open_by_handle_at, which
    /// refuses O_PATH descriptors. Opened before any mark exists, so they raise no event.
    /// </summary>
    private (ulong FsId, int Fd, string Path)[] OpenMountFds(string[] paths)
    {
        var mounts = new List<(ulong, int, string)>();
        foreach (string path in paths)
        {
            string directory = Directory.Exists(path) ? path : Path.GetDirectoryName(path) ?? "/";
            int fd = FileSystemFacts.OpenForHandles(directory, out ulong? fsId);
            if (fd < 0)
            {
                continue;
            }

            _mountFds.Add(new FileDescriptorHandle(fd));
            mounts.Add((fsId ?? 0, fd, directory));
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
                mask &= ~(ulong)FanotifyWatch.EntryEvents;   // a file has no entries
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
}
