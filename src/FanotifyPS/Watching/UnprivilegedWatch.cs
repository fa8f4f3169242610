using System.Collections.Generic;
using System.Management.Automation;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// What fanotify lets a process without CAP_SYS_ADMIN do (Linux 5.13+, fs/notify/fanotify/fanotify_user.c): a
/// notification group with file-handle reporting (no fd, no FAN_REPORT_PIDFD, FAN_REPORT_TID, FAN_UNLIMITED_*, no
/// permission class), inode marks only, on files and directories the user can read. The kernel reports pid 0 for
/// every event but the listener's own, and open_by_handle_at needs CAP_DAC_READ_SEARCH: paths come only from the
/// handles of the marked inodes themselves.
/// </summary>
internal static class UnprivilegedWatch
{
    /// <summary>The events the kernel takes on an unprivileged inode mark (each tried on Linux 6.18).</summary>
    internal const FanotifyEventType Events =
        FanotifyEventType.Access | FanotifyEventType.Modify | FanotifyEventType.Attrib | FanotifyEventType.Close |
        FanotifyEventType.Open | FanotifyEventType.Move | FanotifyEventType.Create | FanotifyEventType.Delete |
        FanotifyEventType.DeleteSelf | FanotifyEventType.MoveSelf | FanotifyEventType.OpenExec | FanotifyEventType.Rename;

    internal const string WhatIsAllowed =
        "Without root, fanotify lets a user watch only -Scope Directory or -Scope File, on a directory or file that user can read, " +
        "for Create, Delete, MovedFrom, MovedTo, Rename, Attrib, Modify, Open, Access, CloseWrite, CloseNoWrite, OpenExec, DeleteSelf and MoveSelf " +
        "(Linux 5.13+), and it does not tell which process caused an event. For example: Start-FanotifyWatch -Path ~/dir -Scope Directory -Event Create, Delete, Move, CloseWrite.";

    /// <summary>
    /// Whether this process may open an fd-reporting group, as fanotify_init decides it (CAP_SYS_ADMIN in the initial
    /// user namespace; a capability in a user namespace is not enough). False only for EPERM: any other failure is
    /// reported by the watch itself.
    /// </summary>
    public static bool IsUnprivileged()
    {
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | Fanotify.FAN_CLASS_NOTIF, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            _ = Libc.close(fd);
            return false;
        }

        return System.Runtime.InteropServices.Marshal.GetLastPInvokeError() == Errno.EPERM;
    }

    /// <summary>Refuses, before any group is opened, what an unprivileged watch cannot do or could never match.</summary>
    public static void Check(WatchSpec spec)
    {
        var refused = new List<string>();
        FanotifyEventType permission = spec.Events & FanotifyRule.PermissionEvents;
        if (permission != FanotifyEventType.None)
        {
            refused.Add($"the permission events ({permission})");
        }

        if (spec.Policy is not null && permission == FanotifyEventType.None)
        {
            refused.Add("rules (-Rule, -DenyPath, -DenyExe, -DenyUser, -DenyFile)");
        }

        if (spec.Scope is not (FanotifyScope.Directory or FanotifyScope.File))
        {
            refused.Add($"-Scope {spec.Scope}{(spec.Scope == FanotifyScope.Filesystem ? " (the default)" : string.Empty)}");
        }

        if ((spec.Events & FanotifyEventType.FsError) != 0)
        {
            refused.Add("FsError (a filesystem mark)");
        }

        if (spec.ThreadIds)
        {
            refused.Add("-ThreadId");
        }

        ReportFilter filter = spec.Filter;
        var processFilters = new List<string>();
        AddIf(processFilters, filter.ProcessId.Length != 0, "-ProcessId");
        AddIf(processFilters, filter.ExcludeProcessId.Length != 0, "-ExcludeProcessId");
        AddIf(processFilters, filter.Exe.Count != 0, "-Exe");
        AddIf(processFilters, filter.ExcludeExe.Count != 0, "-ExcludeExe");
        AddIf(processFilters, filter.LoginUserId.Length != 0, "-LoginUser");
        AddIf(processFilters, filter.ContainerId.Count != 0, "-ContainerId");
        AddIf(processFilters, filter.UserId.Length != 0, "-User");
        if (processFilters.Count != 0)
        {
            refused.Add($"{string.Join(", ", processFilters)} (the kernel names no process to an unprivileged watcher, so the filter could never match)");
        }

        if (refused.Count != 0)
        {
            throw new WatchException(
                $"{Capitalize(string.Join("; ", refused))}: {(refused.Count == 1 ? "this needs" : "these need")} root or the CAP_SYS_ADMIN capability " +
                $"(run pwsh as root: sudo pwsh). {WhatIsAllowed}",
                ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied, spec.Paths);
        }
    }

    private static void AddIf(List<string> list, bool condition, string item)
    {
        if (condition)
        {
            list.Add(item);
        }
    }

    private static string Capitalize(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text.Substring(1);
}
