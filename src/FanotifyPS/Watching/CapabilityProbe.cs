using System;
using System.IO;
using System.Management.Automation;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Probes fanotify by trying each flag on a throwaway group. Marks go on a fresh, private directory, or, where
/// none can be made (a read-only filesystem, procfs, sysfs), on the given directory itself: marks need no write
/// access. Either way no process can wait on a probe: the permission marks are inode marks on that directory
/// without FAN_ONDIR and without FAN_EVENT_ON_CHILD, so the kernel makes no event of opening the directory (a
/// mark without FAN_ONDIR skips directory events) nor of its entries, even if another process lists it while
/// the group lives; and each group is closed at once, which would allow anything pending. Filesystem- and
/// mount-wide marks are probed with notification events only.
/// </summary>
internal static class CapabilityProbe
{
    private const ulong FAN_OPEN = Fanotify.FAN_OPEN;

    /// <param name="directory">The directory whose filesystem is probed; null for the temporary directory.</param>
    /// <param name="writeVerbose">Told where the marks went when no private directory could be made.</param>
    public static FanotifyCapability Run(string? directory, Action<string>? writeVerbose = null)
    {
        string probed = directory ?? Path.TrimEndingDirectorySeparator(Path.GetTempPath());
        var result = new FanotifyCapability { KernelRelease = FanotifyCalls.KernelRelease(), Path = probed };
        // Without CAP_SYS_ADMIN only a file-handle group may be had (5.13+): probe what this user may do.
        bool privileged = !UnprivilegedWatch.IsUnprivileged();
        uint groupClass = privileged ? Fanotify.FAN_CLASS_NOTIF : Fanotify.FAN_CLASS_NOTIF | Fanotify.FAN_REPORT_FID;
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | groupClass, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0 && !privileged && Marshal.GetLastPInvokeError() == Errno.EPERM)
        {
            throw new WatchException(
                $"{FanotifyCalls.KernelRelease()} lets only root or a process with the CAP_SYS_ADMIN capability use fanotify (unprivileged watches need Linux 5.13). " +
                "Run pwsh as root (sudo pwsh) or grant it CAP_SYS_ADMIN.",
                ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied);
        }

        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();

            if (errno is Errno.EMFILE or Errno.ENFILE or Errno.ENOMEM)
            {
                throw GroupLimitError(errno);   // says nothing about fanotify: Fanotify False would be false
            }

            return result;   // no fanotify at all
        }

        _ = Libc.close(fd);
        result.Fanotify = true;
        result.Privileged = privileged;
        result.ReportsProcesses = privileged;
        DirectoryInfo? probe = CreateProbeDirectory(directory, probed, writeVerbose);
        try
        {
            string dir = probe?.FullName ?? probed;
            // A plain notification inode mark works on every filesystem: if it fails, the path or a limit is at
            // fault, and every feature would read False for a reason that is not the feature's.
            int refused = MarkErrno(groupClass, 0, FAN_OPEN, dir);
            if (refused != 0)
            {
                throw ProbeError(refused, probed);
            }

            if (privileged)
            {
                ProbePrivileged(result, dir);
            }
            else
            {
                ProbeUnprivileged(result, dir);
            }

            result.MaxQueuedEvents = ReadLimit("max_queued_events");
            result.MaxUserGroups = ReadLimit("max_user_groups");
            result.MaxUserMarks = ReadLimit("max_user_marks");
        }
        finally
        {
            if (probe is not null)
            {
                DeleteProbeDirectory(probe);
            }
        }

        return result;
    }

    private static void ProbePrivileged(FanotifyCapability result, string dir)
    {
        const uint notif = Fanotify.FAN_CLASS_NOTIF;
        const uint fid = notif | Fanotify.FAN_REPORT_FID;
        const uint dfidName = fid | Fanotify.FAN_REPORT_DFID_NAME;

        // Permission marks: inode marks without FAN_ONDIR (see the class comment); never add FAN_ONDIR here.
        result.PermissionEvents = Mark(Fanotify.FAN_CLASS_CONTENT, 0, Fanotify.FAN_OPEN_PERM, dir);
        result.OpenExecEvents = Mark(notif, 0, Fanotify.FAN_OPEN_EXEC, dir);
        result.OpenExecPermission = Mark(Fanotify.FAN_CLASS_CONTENT, 0, Fanotify.FAN_OPEN_EXEC_PERM, dir);
        result.FilesystemMark = Mark(notif, Fanotify.FAN_MARK_FILESYSTEM, FAN_OPEN, dir);
        result.MountMark = Mark(notif, Fanotify.FAN_MARK_MOUNT, FAN_OPEN, dir);
        result.UnlimitedQueue = Init(Fanotify.FAN_CLASS_CONTENT | Fanotify.FAN_UNLIMITED_QUEUE);
        result.FileHandleReporting = Mark(fid, 0, Fanotify.FAN_CREATE, dir);
        result.DirectoryEntryNames = Mark(dfidName, 0, Fanotify.FAN_CREATE | Fanotify.FAN_ONDIR, dir);
        result.TargetFileHandle = Init(dfidName | Fanotify.FAN_REPORT_TARGET_FID);
        result.RenameEvents = Mark(dfidName, 0, Fanotify.FAN_RENAME, dir);
        result.FsErrorEvents = Mark(fid, Fanotify.FAN_MARK_FILESYSTEM, Fanotify.FAN_FS_ERROR, dir);
        result.PidFd = Init(notif | Fanotify.FAN_REPORT_PIDFD);
        result.ThreadId = Init(notif | Fanotify.FAN_REPORT_TID);
        result.IgnoreMarks = Mark(notif, Fanotify.FAN_MARK_IGNORE | Fanotify.FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN | Fanotify.FAN_ONDIR, dir);
        result.PreContentClass = Init(Fanotify.FAN_CLASS_PRE_CONTENT);
        result.DenyErrno = result.PreContentClass == true && AcceptsDenyErrno();
        ProcessEventsListener? listener = ProcessEventsListener.Acquire();
        result.ProcessEvents = listener is not null;
        result.ProcessEventsReason = listener is null ? ProcessEventsListener.UnavailableReason ?? string.Empty : string.Empty;
        ProcessEventsListener.Release(listener);

        // Each event on the group a watch would give it: the fd group, or the file-handle group.
        FanotifyEventType events = FanotifyEventType.None;
        foreach (FanotifyEventType e in EachEvent(FanotifyEventType.All & ~FanotifyEventType.FsError))
        {
            bool handles = (e & FanotifyWatch.FileHandleEvents) != 0;
            events |= Mark(handles ? dfidName : notif, 0, (ulong)e | (handles ? Fanotify.FAN_ONDIR : 0), dir) ? e : FanotifyEventType.None;
        }

        events |= result.FsErrorEvents == true ? FanotifyEventType.FsError : FanotifyEventType.None;
        events |= result.PermissionEvents == true && Mark(Fanotify.FAN_CLASS_CONTENT, 0, Fanotify.FAN_ACCESS_PERM, dir) ? FanotifyEventType.AccessPerm : FanotifyEventType.None;
        events |= result.PermissionEvents == true ? FanotifyEventType.OpenPerm : FanotifyEventType.None;
        events |= result.OpenExecPermission == true ? FanotifyEventType.OpenExecPerm : FanotifyEventType.None;
        result.AvailableEvents = events;
        result.AvailableScopes = result.MountMark == true
            ? [FanotifyScope.Filesystem, FanotifyScope.Mount, FanotifyScope.Tree, FanotifyScope.Directory, FanotifyScope.File]
            : [FanotifyScope.Directory, FanotifyScope.File];
    }

    /// <summary>
    /// Without CAP_SYS_ADMIN: what the kernel gives an unprivileged user, tried on file-handle groups and inode marks;
    /// what only root may have is left null (not probed).
    /// </summary>
    private static void ProbeUnprivileged(FanotifyCapability result, string dir)
    {
        const uint fid = Fanotify.FAN_CLASS_NOTIF | Fanotify.FAN_REPORT_FID;
        const uint dfidName = fid | Fanotify.FAN_REPORT_DFID_NAME;
        result.FileHandleReporting = Mark(fid, 0, Fanotify.FAN_CREATE, dir);
        result.DirectoryEntryNames = Mark(dfidName, 0, Fanotify.FAN_CREATE | Fanotify.FAN_ONDIR, dir);
        result.TargetFileHandle = Init(dfidName | Fanotify.FAN_REPORT_TARGET_FID);
        result.RenameEvents = Mark(dfidName, 0, Fanotify.FAN_RENAME, dir);
        result.OpenExecEvents = Mark(dfidName, 0, Fanotify.FAN_OPEN_EXEC, dir);
        result.IgnoreMarks = Mark(dfidName, Fanotify.FAN_MARK_IGNORE | Fanotify.FAN_MARK_IGNORED_SURV_MODIFY, FAN_OPEN | Fanotify.FAN_ONDIR, dir);
        result.ProcessEventsReason = "not used without root: the kernel names no other process to an unprivileged watcher";

        // A watch holds every event in one file-handle group (marked with FAN_ONDIR): try each there.
        FanotifyEventType events = FanotifyEventType.None;
        foreach (FanotifyEventType e in EachEvent(UnprivilegedWatch.Events))
        {
            events |= Mark(dfidName, 0, (ulong)e | Fanotify.FAN_ONDIR | Fanotify.FAN_EVENT_ON_CHILD, dir) ? e : FanotifyEventType.None;
        }

        result.AvailableEvents = events;
        result.AvailableScopes = result.DirectoryEntryNames ? [FanotifyScope.Directory, FanotifyScope.File] : [];
    }

    private static System.Collections.Generic.IEnumerable<FanotifyEventType> EachEvent(FanotifyEventType events)
    {
        for (uint bit = 1; bit != 0; bit <<= 1)
        {
            if (((uint)events & bit) != 0)
            {
                yield return (FanotifyEventType)bit;
            }
        }
    }

    /// <summary>
    /// The private probe directory, or null where none can be made (read-only, procfs, sysfs, a full disk):
    /// then the marks go on the directory itself.
    /// </summary>
    private static DirectoryInfo? CreateProbeDirectory(string? directory, string probed, Action<string>? writeVerbose)
    {
        try
        {
            return directory is null
                ? Directory.CreateTempSubdirectory("fanotifyps-probe-")
                : Directory.CreateDirectory(Path.Combine(directory, $"fanotifyps-probe-{Guid.NewGuid():N}"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            writeVerbose?.Invoke($"Cannot make a probe directory in '{PathText.Escape(probed)}' ({PathText.Escape(e.Message)}): probing on the directory itself.");
            return null;
        }
    }

    private static void DeleteProbeDirectory(DirectoryInfo probe)
    {
        try
        {
            probe.Delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new WatchException(
                $"Cannot remove the probe directory '{probe.FullName}': {e.Message} Remove it by hand.",
                ErrorIds.ProbeFailed, ErrorCategory.WriteError, probe.FullName);
        }
    }

    private static WatchException ProbeError(int errno, string path) => errno switch
    {
        Errno.EMFILE or Errno.ENFILE or Errno.ENOMEM => GroupLimitError(errno),
        Errno.ENOSPC => new WatchException(
            $"Cannot probe fanotify on '{path}': the per-user limit of fanotify marks (/proc/sys/fs/fanotify/max_user_marks) is reached. " +
            "Stop other watches, or raise the limit.",
            ErrorIds.FanotifyMarkLimit, ErrorCategory.LimitsExceeded, path),
        _ => new WatchException(
            $"Cannot probe fanotify on '{path}': fanotify_mark refused even a plain inode mark there ({Errno.Describe(errno)}). " +
            "Probe another directory with -Path.",
            ErrorIds.ProbeFailed, errno switch
            {
                Errno.ENOENT or Errno.ENOTDIR => ErrorCategory.ObjectNotFound,
                Errno.EPERM or Errno.EACCES => ErrorCategory.PermissionDenied,
                _ => ErrorCategory.InvalidOperation,
            }, path),
    };

    private static WatchException GroupLimitError(int errno) => new(
        $"Cannot probe fanotify: no fanotify group can be created now ({Errno.Describe(errno)}). The per-user limit " +
        "(/proc/sys/fs/fanotify/max_user_groups) or this process's open file limit (ulimit -n) is reached: stop other watches, or raise the limit.",
        ErrorIds.FanotifyGroupLimit, ErrorCategory.LimitsExceeded);

    private static bool Init(uint flags)
    {
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | flags, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return false;
        }

        _ = Libc.close(fd);
        return true;
    }

    private static bool Mark(uint initFlags, uint markFlags, ulong mask, string path) =>
        MarkErrno(initFlags, markFlags, mask, path) == 0;

    /// <summary>0 when the mark was taken; else the errno of fanotify_mark, or of fanotify_init (a flag refused).</summary>
    private static int MarkErrno(uint initFlags, uint markFlags, ulong mask, string path)
    {
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | initFlags, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }

        try
        {
            return Fanotify.fanotify_mark(fd, Fanotify.FAN_MARK_ADD | markFlags, mask, Libc.AT_FDCWD, path) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    private static bool AcceptsDenyErrno()
    {
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | Fanotify.FAN_CLASS_PRE_CONTENT, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return false;
        }

        try
        {
            return FanotifyCalls.AcceptsDenyErrno(fd);
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    private static long ReadLimit(string name)
    {
        try
        {
            return long.Parse(File.ReadAllText($"/proc/sys/fs/fanotify/{name}").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException or UnauthorizedAccessException)
        {
            return -1;
        }
    }
}
