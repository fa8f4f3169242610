using System.Management.Automation;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>fanotify_init and fanotify_mark, with every errno turned into an error that says what to do.</summary>
internal static class FanotifyGroup
{
    private const string MaxUserGroups = "/proc/sys/fs/fanotify/max_user_groups";
    private const string MaxUserMarks = "/proc/sys/fs/fanotify/max_user_marks";

    /// <summary>
    /// A permission group (FAN_CLASS_CONTENT) gets FAN_UNLIMITED_QUEUE: a full queue would otherwise drop
    /// permission events and let them through unanswered. A notification group keeps the kernel's bounded
    /// queue, whose overflow is reported as an Overflow event.
    /// </summary>
    public static FileDescriptorHandle Open(bool permissionEvents)
    {
        uint flags = Fanotify.FAN_CLOEXEC | Fanotify.FAN_NONBLOCK
            | (permissionEvents ? Fanotify.FAN_CLASS_CONTENT | Fanotify.FAN_UNLIMITED_QUEUE : Fanotify.FAN_CLASS_NOTIF);
        // O_CLOEXEC on event fds: FAN_CLOEXEC covers only the group fd. O_LARGEFILE is forced by the kernel.
        int fd = Fanotify.fanotify_init(flags, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd >= 0)
        {
            return new FileDescriptorHandle(fd);
        }

        int errno = Marshal.GetLastPInvokeError();
        throw errno switch
        {
            Errno.EPERM => new WatchException(
                "fanotify needs root or the CAP_SYS_ADMIN capability. Run pwsh as root (sudo pwsh) or grant it CAP_SYS_ADMIN.",
                ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied),
            Errno.ENOSYS => new WatchException(
                "This kernel has no fanotify support (CONFIG_FANOTIFY is off).",
                ErrorIds.FanotifyNotSupported, ErrorCategory.NotImplemented),
            Errno.EINVAL when permissionEvents && SupportsNotificationGroups() => new WatchException(
                "This kernel does not support fanotify permission events (CONFIG_FANOTIFY_ACCESS_PERMISSIONS is off). " +
                "Start a watch without permission events, for example -Event Open, CloseWrite.",
                ErrorIds.PermissionEventsNotSupported, ErrorCategory.NotImplemented),
            Errno.EMFILE => new WatchException(
                $"No new fanotify group can be created: the per-user limit ({MaxUserGroups} = {ReadSysctl(MaxUserGroups)}) " +
                "or this process's open file limit (ulimit -n) is reached. Stop other watches, or raise the limit.",
                ErrorIds.FanotifyGroupLimit, ErrorCategory.LimitsExceeded),
            Errno.ENFILE => new WatchException(
                "No new fanotify group can be created: the system-wide open file limit (/proc/sys/fs/file-max) is reached.",
                ErrorIds.FanotifyGroupLimit, ErrorCategory.LimitsExceeded),
            _ => new WatchException(
                $"fanotify_init failed: {Errno.Describe(errno)}.",
                ErrorIds.FanotifyInitFailed, ErrorCategory.OpenError),
        };
    }

    /// <summary>Adds a mark; returns 0 or the errno, so that the caller can fall back (Filesystem to Mount).</summary>
    public static int TryMark(FileDescriptorHandle group, string path, FanotifyScope scope, ulong mask)
    {
        uint flags = Fanotify.FAN_MARK_ADD | (scope == FanotifyScope.Filesystem ? Fanotify.FAN_MARK_FILESYSTEM : Fanotify.FAN_MARK_MOUNT);
        return Fanotify.fanotify_mark(group.Fd, flags, mask, Libc.AT_FDCWD, path) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    public static WatchException MarkError(int errno, string path, FanotifyScope scope, bool permissionEvents) => errno switch
    {
        Errno.ENOENT or Errno.ENOTDIR => new WatchException(
            $"Cannot watch '{path}' because it does not exist.", ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path),
        Errno.EPERM or Errno.EACCES => new WatchException(
            $"Cannot watch '{path}': fanotify {scope} marks need root or the CAP_SYS_ADMIN capability.",
            ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied, path),
        Errno.ENOSPC => new WatchException(
            $"Cannot watch '{path}': the per-user limit of fanotify marks ({MaxUserMarks} = {ReadSysctl(MaxUserMarks)}) is reached. " +
            "Stop other watches, or raise the limit.",
            ErrorIds.FanotifyMarkLimit, ErrorCategory.LimitsExceeded, path),
        Errno.ENODEV or Errno.EXDEV or Errno.EOPNOTSUPP => new WatchException(
            $"Cannot watch '{path}': its filesystem does not support fanotify {scope} marks ({Errno.Describe(errno)}).",
            ErrorIds.FileSystemNotSupported, ErrorCategory.InvalidOperation, path),
        Errno.EINVAL when permissionEvents => new WatchException(
            $"Cannot watch '{path}': the kernel refused the event mask. This kernel or filesystem may not support " +
            "permission events; start a watch without them, for example -Event Open, CloseWrite.",
            ErrorIds.PermissionEventsNotSupported, ErrorCategory.NotImplemented, path),
        _ => new WatchException(
            $"fanotify_mark on '{path}' ({scope}) failed: {Errno.Describe(errno)}.",
            ErrorIds.FanotifyMarkFailed, ErrorCategory.InvalidOperation, path),
    };

    private static bool SupportsNotificationGroups()
    {
        int fd = Fanotify.fanotify_init(Fanotify.FAN_CLOEXEC | Fanotify.FAN_CLASS_NOTIF, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return false;
        }

        _ = Libc.close(fd);
        return true;
    }

    private static string ReadSysctl(string path)
    {
        try
        {
            return System.IO.File.ReadAllText(path).Trim();
        }
        catch (System.IO.IOException)
        {
            return "unknown";
        }
        catch (System.UnauthorizedAccessException)
        {
            return "unknown";
        }
    }
}
