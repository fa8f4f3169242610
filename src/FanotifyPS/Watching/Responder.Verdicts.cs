using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

// Pass 1 of a batch: the verdict of each permission event, written before any other work on the batch.
internal sealed unsafe partial class Responder
{
    /// <summary>Evaluates and writes the verdict of one permission event.</summary>
    private void Decide(int groupFd, in FanotifyEventRecord record, ref Slot slot)
    {
        if (record.Pid == _ownPid)
        {
            slot.Verdict = FanotifyResponse.Allow;
            Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
            _allowedCount++;
            return;
        }

        PermissionPolicy? policy = _settings.Policy;
        ReportFilter filter = _settings.Filter;
        ulong mask = record.Mask;
        if ((policy is not null && (mask & policy.ProcessMask) != 0) || !_processes.Knows(record.Pid))
        {
            slot.Process = _processes.ResolvePermission(record.Pid, held: true, out slot.IsGone, out slot.ProcessIsFresh);
        }

        // Without the process, no rule for this event names one: those rules match any process.
        bool mayMatch = policy is not null && (mask & policy.EventMask) != 0 &&
            (slot.Process is null || (RuleMask(policy, slot.Process) & mask) != 0);
        // Rules and the Tree judge the file by its path under the watched mount: a bind mount elsewhere is the
        // same file under another name. Path stays as the file was opened.
        string? judged = null;
        if ((mayMatch && (mask & policy!.PathMask) != 0) || filter.HasTree)
        {
            slot.Path = ResolvePath(record.Fd, out slot.IsDeleted);
            judged = slot.JudgedPath = _settings.Mounts is { } mounts ? mounts.OnWatchedMount(record.Fd, slot.Path) : slot.Path;
        }

        if (judged is not null && !filter.InScope(judged))
        {
            // Outside the Tree: answered at once, never reported.
            slot.OutOfScope = true;
        }
        else if (mayMatch)
        {
            FileId file = (mask & policy!.FileMask) != 0 ? ReadFileId(record.Fd) : default;
            slot.Rule = policy.Evaluate(mask, judged, slot.Process?.Exe ?? string.Empty, slot.Process?.UserId ?? -1, slot.Process?.LoginUserId ?? -1, file);
        }

        if (policy is not null && policy.Denies(slot.Rule))
        {
            if (_settings.AuditOnly)
            {
                slot.Verdict = FanotifyResponse.WouldDeny;
                _wouldDenyCount++;
                Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
            }
            else
            {
                slot.Verdict = FanotifyResponse.Deny;
                _deniedCount++;
                uint response = _settings.DenyWithErrno ? policy.DenyResponse(slot.Rule) : Fanotify.FAN_DENY;
                if (Respond(groupFd, record.Fd, response) == Errno.EINVAL && response != Fanotify.FAN_DENY)
                {
                    // FAN_DENY_ERRNO refused although the start probe took it: a plain deny (EPERM) still denies.
                    Respond(groupFd, record.Fd, Fanotify.FAN_DENY);
                }
            }

            return;
        }

        slot.Verdict = FanotifyResponse.Allow;
        _allowedCount++;
        Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
    }

    /// <summary>The events some rule could match for this process, judged once per process and kept with it.</summary>
    private static ulong RuleMask(PermissionPolicy policy, ProcessInfo process)
    {
        if (!process.HasRuleMask)
        {
            process.RuleMask = policy.MatchMask(process.Exe, process.UserId, process.LoginUserId);
            process.HasRuleMask = true;
        }

        return process.RuleMask;
    }

    /// <summary>Writes a response; returns 0 or the errno (a failed write leaves nothing to retry but a refused errno).</summary>
    private static int Respond(int groupFd, int eventFd, uint response)
    {
        var answer = new Fanotify.fanotify_response { fd = eventFd, response = response };
        return Libc.write(groupFd, &answer, sizeof(Fanotify.fanotify_response)) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }
}
