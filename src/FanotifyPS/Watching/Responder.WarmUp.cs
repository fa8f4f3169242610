using System;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

// The dry run of everything the responder thread runs, before the first mark.
internal sealed unsafe partial class Responder
{
    /// <summary>
    /// Runs every path of the responder once on synthetic batches, on this thread, before any mark exists:
    /// permission events (answered to the group, which refuses the unknown fd) of a live process, of our own
    /// pid and of a pid that does not exist, notification events, an overflow record, and a file-handle event
    /// with every kind of info record (resolved against nothing).
    /// </summary>
    private void WarmUp()
    {
        int groupFd = _group.Fd;
        _ = _processes.ResolvePermission(_ownPid, held: true, out _, out _);
        ProcessInfo own = _processes.Record(_ownPid, _processes.ResolvePermission(_ownPid, held: false, out _, out _));   // a live process: the full read of its facts
        _ = _settings.Descriptions?.Describe(int.MaxValue, own.Copy(ProcessSource.Live, 0, lifeKey: 1));
        _ = _settings.Descriptions?.Describe(int.MaxValue, own.Copy(ProcessSource.Exec, 0, isRead: false, lifeKey: 1));
        _ = _processes.Resolve(_ownPid, Fanotify.FAN_NOPIDFD, isExec: false, out _);
        _ = _processes.Resolve(int.MaxValue, Fanotify.FAN_EPIDFD, isExec: false, out _);   // gone, never seen: the history's paths

        if (_settings.Kind == GroupKind.FileDescriptor)
        {
            // Pid 1 twice: read before its first verdict, answered first the second time.
            Span<byte> batch = stackalloc byte[Fanotify.FAN_EVENT_METADATA_LEN * 8];
            int[] fds = [Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC),
                Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC)];
            SyntheticEvents.WriteRecord(batch, 0, Fanotify.FAN_OPEN_PERM, fds[0], 1);
            SyntheticEvents.WriteRecord(batch, 1, Fanotify.FAN_OPEN_EXEC_PERM, fds[1], _ownPid);
            SyntheticEvents.WriteRecord(batch, 2, Fanotify.FAN_CLOSE_WRITE, fds[2], 0);
            SyntheticEvents.WriteRecord(batch, 3, Fanotify.FAN_OPEN, fds[3], int.MaxValue);
            SyntheticEvents.WriteRecord(batch, 4, Fanotify.FAN_Q_OVERFLOW, Fanotify.FAN_NOFD, 0);
            SyntheticEvents.WriteRecord(batch, 5, Fanotify.FAN_OPEN_PERM, fds[4], 1);
            // An exec (its program unreadable: an eventfd) of a pid that does not exist, then its next exec and a file event.
            SyntheticEvents.WriteRecord(batch, 6, Fanotify.FAN_OPEN_EXEC, fds[5], int.MaxValue);
            SyntheticEvents.WriteRecord(batch, 7, Fanotify.FAN_OPEN_EXEC | Fanotify.FAN_OPEN, fds[6], int.MaxValue);
            HandleBatch(batch, groupFd);
            _ = ProgramImage.ScriptInterpreter("/bin/sh -e\n"u8);

            // A reused pid's exit looked for in the rest of a batch: a close of another file, then an exec.
            int closed = Libc.eventfd(0, Libc.EFD_CLOEXEC);
            SyntheticEvents.WriteRecord(batch, 0, Fanotify.FAN_CLOSE_NOWRITE, closed, int.MaxValue);
            SyntheticEvents.WriteRecord(batch, 1, Fanotify.FAN_OPEN_EXEC, Fanotify.FAN_NOFD, int.MaxValue);
            WarmUpExitAhead(batch.Slice(0, 2 * Fanotify.FAN_EVENT_METADATA_LEN));
            _ = Libc.close(closed);
        }
        else
        {
            // A file-handle event with every kind of info record, its handles resolving to nothing.
            Span<byte> fid = stackalloc byte[256];
            int length = SyntheticEvents.FidEvent(fid, Fanotify.FAN_RENAME | Fanotify.FAN_ONDIR, 1);
            HandleBatch(fid.Slice(0, length), groupFd);
            length = SyntheticEvents.FidEvent(fid, Fanotify.FAN_DELETE_SELF, int.MaxValue);
            HandleBatch(fid.Slice(0, length), groupFd);
            length = SyntheticEvents.FidEvent(fid, Fanotify.FAN_OPEN_EXEC, int.MaxValue);
            HandleBatch(fid.Slice(0, length), groupFd);
            HandleBatch(fid.Slice(0, length), groupFd);
            _ = ProgramImage.IsElfInterpreterName("ld-linux-x86-64.so.2");
            length = SyntheticEvents.FidEvent(fid, Fanotify.FAN_CLOSE_NOWRITE, int.MaxValue);
            WarmUpExitAhead(fid.Slice(0, length));
        }

        // The deny path (with and without an errno) and the policy matcher, against an fd the group does not know.
        if (_settings.Policy is { } policy)
        {
            _ = RuleMask(policy, new ProcessInfo([], "/", "/", "/", 0, 0, 0));
            _ = policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/", "/", 0, 0, ReadFileId(groupFd));
            _ = policy.InArea("/");   // a rule confined to the watch's paths (an OpenExecPerm one is not judged above)
            for (int rule = 0; rule < policy.Rules.Length; rule++)
            {
                _ = Respond(groupFd, -1, policy.DenyResponse(rule));
            }
        }

        _ = PathText.Decode([0x2f, 0xff, 0x61]);   // a name that is not UTF-8
        _ = _settings.Filter.Reports("/", "/", 0, "/", 0, "/", 0);
        _ = _settings.Filter.LeftOutWithoutExe("/", "/", 0, string.Empty, -1, string.Empty, -1, false);
        _ = _settings.Filter.InScope("/");
        _ = HasNoLinks(groupFd);
        _ = _links.FdPath(groupFd);   // how HandleResolver and MountTranslator name a reopened file
        _settings.Mounts?.WarmUp();
        _ = ProcessTable.HasExited(groupFd);
        _ = Marshal.GetLastPInvokeError();
        _processes.QueueDrained(0);
        _processes.Forget(int.MaxValue);
        _buffer.DiscardPending();

        _eventCount = _droppedCount = _overflowCount = _ownEventCount = _filteredCount = _unnamedCount = _execEventCount = 0;
        _allowedCount = _deniedCount = _wouldDenyCount = 0;
        Volatile.Write(ref _failureWhat, null);
    }

    private void WarmUpExitAhead(ReadOnlySpan<byte> batch)
    {
        _batchStart = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetReference(batch));
        _batchLength = batch.Length;
        _aheadOffset = 0;
        _ = ExitAhead(int.MaxValue, ProcessInfo.Unknown);
        _batchStart = null;
        _batchLength = 0;
    }
}
