using System;
using System.IO;
using System.Management.Automation;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Probes fanotify by trying each flag on a throwaway group. Marks go on a fresh, private directory: a
/// permission mark there is an inode mark that nothing else opens, and every group is closed at once, so no
/// process can wait on a probe. Filesystem-wide marks are probed with notification events only.
/// </summary>
internal static class CapabilityProbe
{
    private const ulong FAN_OPEN = Fanotify.FAN_OPEN;

    /// <param name="directory">Where the private probe directory is made: its filesystem is the one probed.</param>
    public static FanotifyCapability Run(string? directory)
    {
        var result = new FanotifyCapability { KernelRelease = FanotifyGroup.KernelRelease() };
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | Fanotify.FAN_CLASS_NOTIF, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.EPERM)
            {
                throw new WatchException(
                    "fanotify needs root or the CAP_SYS_ADMIN capability to be probed. Run pwsh as root (sudo pwsh) or grant it CAP_SYS_ADMIN.",
                    ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied);
            }

            return result;   // no fanotify at all
        }

        _ = Libc.close(fd);
        result.Fanotify = true;
        DirectoryInfo probe = directory is null
            ? Directory.CreateTempSubdirectory("fanotifyps-probe-")
            : Directory.CreateDirectory(Path.Combine(directory, $"fanotifyps-probe-{Guid.NewGuid():N}"));
        try
        {
            string dir = probe.FullName;
            const uint notif = Fanotify.FAN_CLASS_NOTIF;
            const uint fid = notif | Fanotify.FAN_REPORT_FID;
            const uint dfidName = fid | Fanotify.FAN_REPORT_DFID_NAME;

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
            result.DenyErrno = result.PreContentClass && AcceptsDenyErrno();
            result.MaxQueuedEvents = ReadLimit("max_queued_events");
            result.MaxUserGroups = ReadLimit("max_user_groups");
            result.MaxUserMarks = ReadLimit("max_user_marks");
        }
        finally
        {
            probe.Delete();
        }

        return result;
    }

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

    private static bool Mark(uint initFlags, uint markFlags, ulong mask, string path)
    {
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | initFlags, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return false;
        }

        try
        {
            return Fanotify.fanotify_mark(fd, Fanotify.FAN_MARK_ADD | markFlags, mask, Libc.AT_FDCWD, path) == 0;
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
            return FanotifyGroup.AcceptsDenyErrno(fd);
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
