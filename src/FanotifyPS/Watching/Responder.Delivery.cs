using System;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

// Pass 2 of a batch: each event resolved (file, process), filtered, its fds closed, and handed to the HandOffQueue.
internal sealed unsafe partial class Responder
{
    private const ulong EventBits = ~(Fanotify.FAN_ONDIR | Fanotify.FAN_EVENT_ON_CHILD);

    /// <summary>Resolves, filters and hands off one event, and closes the fds it came with.</summary>
    private void Deliver(ReadOnlySpan<byte> batch, in FanotifyEventRecord record, ref Slot slot)
    {
        DateTime now = DateTime.UtcNow;
        if ((record.Mask & Fanotify.FAN_Q_OVERFLOW) != 0)
        {
            _overflowCount++;
            Publish(new FanotifyEvent(now, FanotifyEventType.Overflow, string.Empty, false,
                0, string.Empty, false, FanotifyResponse.None, _settings.WatchId));
            return;
        }

        // A record with an impossible length ends the walk; what was read before it stays valid, and a pidfd
        // found there must still be closed.
        FanotifyEventInfo info = FanotifyEventInfo.Empty;
        if (record.MetadataLength < record.EventLength)
        {
            _ = FanotifyInfoReader.TryRead(batch, record, out info);
        }

        if (record.Pid == _ownPid && !_settings.IncludeSelf)
        {
            if (!_settings.Unprivileged && (record.Mask & Fanotify.FAN_CLOSE_NOWRITE) != 0)
            {
                // Reading /proc/PID/exe can make a dying process's exit (its program's last close) this process's.
                _processes.OnClose(record.Pid, record.Fd >= 0 ? slot.Path ??= ResolvePath(record.Fd, out slot.IsDeleted) : ResolveProgram(batch, info));
            }

            CloseFd(record.Fd);
            CloseFd(info.PidFd);
            _ownEventCount++;
            return;
        }

        if (slot.OutOfScope)
        {
            CloseFd(record.Fd);
            _filteredCount++;
            return;
        }

        // A pidfd record with FAN_NOPIDFD: the process was reaped before the read, and its pid may be another's now.
        int pidFd = info.HasPidFd && info.PidFd == Fanotify.FAN_NOPIDFD ? Fanotify.FAN_EPIDFD : info.PidFd;

        // An exec: who the process is from here on in this queue; the close of a program file: maybe its exit. Each is
        // reported only where the user's own marks ask for it.
        ulong mask = record.Mask;
        if (!_settings.Unprivileged && (mask & (Fanotify.FAN_OPEN_EXEC | Fanotify.FAN_CLOSE_NOWRITE)) != 0)
        {
            string program;
            if (record.Fd >= 0)
            {
                program = slot.Path ??= ResolvePath(record.Fd, out slot.IsDeleted);   // the event's path too, read once
            }
            else
            {
                program = ResolveProgram(batch, info);
            }

            if ((mask & Fanotify.FAN_OPEN_EXEC) != 0)
            {
                _processes.OnExec(record.Pid, record.Fd, program, pidFd);
            }
            else
            {
                _processes.OnClose(record.Pid, program);
            }

            if (_settings.AttributionScope is not { } scope || !scope.Reports(record.Fd, program, _statx))
            {
                mask &= ~(Fanotify.FAN_OPEN_EXEC | Fanotify.FAN_CLOSE_NOWRITE);
            }

            if ((mask & _settings.RequestedEvents) == 0)
            {
                CloseFd(record.Fd);
                CloseFd(info.PidFd);
                _execEventCount++;
                return;
            }
        }

        // The file.
        string path;
        bool isDeleted = slot.IsDeleted;
        string directoryPath = string.Empty, name = string.Empty, oldPath = string.Empty, newPath = string.Empty;
        string? judged = slot.JudgedPath;
        if (record.Fd >= 0)
        {
            path = slot.Path ?? ResolvePath(record.Fd, out isDeleted);
            if (judged is null && _settings.Filter.HasTree && _settings.Mounts is { } mounts)
            {
                judged = mounts.OnWatchedMount(record.Fd, path);
            }

            CloseFd(record.Fd);
        }
        else
        {
            path = ResolveHandles(batch, record, info, out directoryPath, out name, out oldPath, out newPath, out isDeleted);
        }

        if (_settings.Unprivileged && (mask & Fanotify.FAN_ONDIR) != 0)
        {
            // One group holds every event, marked with FAN_ONDIR for the entry events: a directory's own opens,
            // reads and closes are not reported, as a privileged watch's fd group (marked without it) does not.
            mask &= ~(ulong)FanotifyWatch.FileDescriptorEvents;
            if ((mask & _settings.RequestedEvents) == 0)
            {
                _filteredCount++;
                return;
            }
        }

        // The process: known if the verdict needed it; else read now (checked against the pidfd, if any).
        ProcessInfo process;
        bool isGone;
        if (slot.Process is not null)
        {
            process = slot.Process;
            isGone = slot.IsGone;
            if (slot.ProcessIsFresh)
            {
                process = _processes.Record(record.Pid, process);   // read in pass 1, recorded here, in queue order
            }
        }
        else if ((mask & Fanotify.FAN_ALL_PERM_EVENTS) != 0)
        {
            process = _processes.ResolvePermission(record.Pid, held: false, out isGone, out bool fresh);
            if (fresh)
            {
                process = _processes.Record(record.Pid, process);
            }
        }
        else if (record.Pid == 0)
        {
            // The kernel names no process: an unprivileged group's event of another process, or one of a process
            // outside this pid namespace. /proc/0 is nobody's.
            process = ProcessInfo.Unknown;
            isGone = false;
        }
        else
        {
            process = ResolveProcess(record.Pid, pidFd, (record.Mask & Fanotify.FAN_OPEN_EXEC) != 0, out isGone);
        }

        CloseFd(info.PidFd);
        if (_settings.Descriptions is { } descriptions)
        {
            process = descriptions.Describe(record.Pid, process);
        }

        int processId = record.Pid;
        int? threadId = null;
        if (_settings.ThreadIds)
        {
            threadId = record.Pid;
            processId = process.ProcessId > 0 ? process.ProcessId : record.Pid;
        }

        if (!_settings.Filter.Reports(judged ?? path, oldPath, processId, process.Exe, process.LoginUserId, process.ContainerId, process.UserId))
        {
            _filteredCount++;
            if (isGone && _settings.Filter.LeftOutWithoutExe(judged ?? path, oldPath, processId, process.Exe,
                process.LoginUserId, process.ContainerId, process.UserId, process.HasFacts))
            {
                _unnamedCount++;   // the watch says so: nobody could tell whether it was the program asked for
            }

            return;
        }

        var item = new FanotifyEvent(now, (FanotifyEventType)(mask & (_settings.RequestedEvents | Fanotify.FAN_ONDIR) & EventBits), path, isDeleted,
            processId, process.Exe, isGone, slot.Verdict, _settings.WatchId)
        {
            DirectoryPath = directoryPath,
            Name = name,
            OldPath = oldPath,
            NewPath = newPath,
            IsDirectory = (record.Mask & Fanotify.FAN_ONDIR) != 0,
            ThreadId = threadId,
            ProcessName = process.Name,
            CommandLine = process.CommandLine,
            ParentProcessId = process.ParentProcessId,
            UserId = process.UserId >= 0 ? process.UserId : null,
            ProcessSource = process.Source,
            LoginUserId = process.LoginUserId >= 0 ? process.LoginUserId : null,
            SessionId = process.SessionId >= 0 ? process.SessionId : null,
            ProcessStartTimeUtc = process.HasFacts ? process.StartTime : null,
            Cgroup = process.Cgroup,
            ContainerId = process.ContainerId,
            LifeKey = process.LifeKey,
            Rule = slot.Rule >= 0 ? _settings.Policy!.Rules[slot.Rule].Name : string.Empty,
        };
        if (info.HasError)
        {
            item.FsErrorCode = info.Error;
            item.FsErrorCount = info.ErrorCount;
        }

        Publish(item);
    }

    /// <summary>
    /// A notification event's process, from the table (see <see cref="ProcessTable"/>). With FAN_REPORT_PIDFD, a
    /// process already gone (FAN_EPIDFD) is not looked up in /proc, where its pid may now belong to another.
    /// </summary>
    private ProcessInfo ResolveProcess(int pid, int pidFd, bool isExec, out bool isGone) => _processes.Resolve(pid, pidFd, isExec, out isGone);

    /// <summary>
    /// The rest of the batch, after the event being delivered, holds pid's last close of the program of
    /// <paramref name="facts"/> before any exec of pid: the exit of the process that runs it is still ahead in the queue.
    /// </summary>
    private bool ExitAhead(int pid, ProcessInfo facts)
    {
        var rest = new ReadOnlySpan<byte>(_batchStart + _aheadOffset, _batchLength - _aheadOffset);
        var reader = new FanotifyEventReader(rest);
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            if (record.Pid != pid || (record.Mask & (Fanotify.FAN_OPEN_EXEC | Fanotify.FAN_CLOSE_NOWRITE)) == 0)
            {
                continue;
            }

            if ((record.Mask & Fanotify.FAN_OPEN_EXEC) != 0)
            {
                return false;
            }

            if (record.Fd >= 0)
            {
                if (_links.TryReadFdLink(record.Fd, out ReadOnlySpan<byte> link) && link.SequenceEqual(facts.Link))
                {
                    return true;
                }
            }
            else if (record.MetadataLength < record.EventLength && FanotifyInfoReader.TryRead(rest, record, out FanotifyEventInfo info) &&
                string.Equals(ResolveProgram(rest, info), facts.Exe, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A file-handle group's exec event: the program by its directory's handle and its name.</summary>
    private string ResolveProgram(ReadOnlySpan<byte> batch, in FanotifyEventInfo info)
    {
        if (_settings.Handles is not { } handles || info.DfidNameOffset < 0)
        {
            return string.Empty;
        }

        string? directory = handles.TryResolveProgram(batch, info.DfidNameOffset);
        return directory is null ? string.Empty : Join(directory, FanotifyInfoReader.Name(batch, info.DfidNameOffset), out _, out _);
    }

    /// <summary>The paths of a file-handle group's event: entry events give a directory and a name.</summary>
    private string ResolveHandles(ReadOnlySpan<byte> batch, in FanotifyEventRecord record, in FanotifyEventInfo info,
        out string directoryPath, out string name, out string oldPath, out string newPath, out bool isDeleted)
    {
        HandleResolver handles = _settings.Handles!;
        directoryPath = name = oldPath = newPath = string.Empty;
        isDeleted = (record.Mask & Fanotify.FAN_DELETE_SELF) != 0;

        if (!handles.CanOpenHandles && info.FidOffset >= 0 && (record.Mask & (Fanotify.FAN_DELETE_SELF | Fanotify.FAN_MOVE_SELF)) != 0 &&
            handles.MarkedPath(batch, info.FidOffset, verified: false) is { } watched)
        {
            // A watched inode itself was deleted (at the path it was watched at, or unseen since), or moved: to
            // where, an inode mark is not told.
            if ((record.Mask & Fanotify.FAN_DELETE_SELF) != 0)
            {
                return watched;
            }

            oldPath = watched;
            return HandleResolver.Unresolved;
        }

        if (info.OldDfidNameOffset >= 0)
        {
            oldPath = Join(handles.Resolve(batch, info.OldDfidNameOffset), FanotifyInfoReader.Name(batch, info.OldDfidNameOffset), out _, out _);
        }

        int entry = info.NewDfidNameOffset >= 0 ? info.NewDfidNameOffset : info.DfidNameOffset;
        string path;
        if (entry >= 0)
        {
            path = Join(handles.Resolve(batch, entry), FanotifyInfoReader.Name(batch, entry), out directoryPath, out name);
            if (info.NewDfidNameOffset >= 0)
            {
                newPath = path;
            }

            if (!handles.CanOpenHandles && info.FidOffset >= 0 && path.StartsWith(HandleResolver.Unresolved, StringComparison.Ordinal) &&
                handles.MarkedPath(batch, info.FidOffset) is { } file)
            {
                // -Scope File without root: the file's directory is not marked, the file is.
                path = file;
                bool sameName = name.Length != 0 && file.AsSpan(file.LastIndexOf('/') + 1).SequenceEqual(name.AsSpan());
                directoryPath = sameName ? file.Substring(0, Math.Max(1, file.LastIndexOf('/'))) : string.Empty;
                name = sameName ? name : string.Empty;
            }

            if (info.FidOffset >= 0 && (record.Mask & Fanotify.FAN_DELETE) == 0)
            {
                handles.Remember(batch, info.FidOffset, path);   // names the object if it is gone later (DeleteSelf)
            }
        }
        else if (info.FidOffset >= 0)
        {
            path = handles.Resolve(batch, info.FidOffset);
            if (info.HasError && ReferenceEquals(path, HandleResolver.Unresolved))
            {
                path = handles.MountPath(batch, info.FidOffset);   // an error of the filesystem itself (abort, shutdown)
            }
        }
        else if (info.DfidOffset >= 0)
        {
            path = handles.Resolve(batch, info.DfidOffset);
        }
        else
        {
            path = HandleResolver.Unresolved;
        }

        return path;
    }

    /// <summary>directory + "/" + name; a name of "." (an event on the directory itself) gives the directory.</summary>
    private static string Join(string directory, ReadOnlySpan<byte> nameBytes, out string directoryPath, out string name)
    {
        if (nameBytes.IsEmpty || nameBytes.SequenceEqual("."u8))
        {
            directoryPath = string.Empty;
            name = string.Empty;
            return directory;
        }

        directoryPath = directory;
        name = PathText.Decode(nameBytes);
        return directory.Length == 1 ? "/" + name : string.Concat(directory, "/", name);
    }

    private void Publish(FanotifyEvent item)
    {
        _eventCount++;
        if (!_buffer.TryWrite(item))
        {
            _droppedCount++;
        }
    }

    private static void CloseFd(int fd)
    {
        if (fd >= 0)
        {
            _ = Libc.close(fd);
        }
    }

    /// <summary>readlink("/proc/self/fd/N"); strips " (deleted)" when the file really has no links left.</summary>
    private string ResolvePath(int fd, out bool isDeleted)
    {
        isDeleted = false;
        if (!_links.TryReadFdLink(fd, out ReadOnlySpan<byte> link))
        {
            return string.Empty;
        }

        if (link.EndsWith(ProcPath.DeletedSuffix) && HasNoLinks(fd))
        {
            isDeleted = true;
            link = link.Slice(0, link.Length - ProcPath.DeletedSuffix.Length);
        }

        return PathText.Decode(link);
    }

    /// <summary>The open file's device and inode (for -File rules); default, which no rule holds, if statx fails.</summary>
    private FileId ReadFileId(int fd) => FileId.OfOpenFile(fd, _statx);

    private bool HasNoLinks(int fd)
    {
        byte emptyPath = 0;
        if (Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_NLINK, _statx) != 0)
        {
            return false;
        }

        return *(uint*)(_statx + Libc.StatxNlinkOffset) == 0;
    }
}
