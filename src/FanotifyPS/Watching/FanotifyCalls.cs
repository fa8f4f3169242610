using System.Management.Automation;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>fanotify_init and fanotify_mark, with every errno turned into an error that says what to do.</summary>
internal static class FanotifyCalls
{
    private const string MaxUserGroups = "/proc/sys/fs/fanotify/max_user_groups";
    private const string MaxUserMarks = "/proc/sys/fs/fanotify/max_user_marks";

    /// <summary>
    /// Opens a group, trying the optional reporting flags first and dropping them where the kernel refuses.
    /// A permission group (FAN_CLASS_CONTENT, or FAN_CLASS_PRE_CONTENT for deny-with-errno) gets
    /// FAN_UNLIMITED_QUEUE: a full queue would otherwise drop permission events and let them through. A
    /// notification group keeps the kernel's bounded queue, whose overflow is reported as an Overflow event,
    /// and gets FAN_REPORT_PIDFD (5.15+) for race-free process attribution, except an unprivileged one (the kernel
    /// refuses it with EPERM, and names no other process anyway).
    /// </summary>
    public static FileDescriptorHandle Open(GroupKind kind, bool permissionEvents, bool denyErrno, bool threadIds,
        out uint flagsUsed, bool privileged = true)
    {
        uint flags = Fanotify.FAN_CLOEXEC | Fanotify.FAN_NONBLOCK;
        uint optional = 0;
        if (kind == GroupKind.FileHandle)
        {
            flags |= Fanotify.FAN_CLASS_NOTIF | Fanotify.FAN_REPORT_DFID_NAME | Fanotify.FAN_REPORT_FID;
            optional |= Fanotify.FAN_REPORT_TARGET_FID;
        }
        else if (permissionEvents)
        {
            flags |= (denyErrno ? Fanotify.FAN_CLASS_PRE_CONTENT : Fanotify.FAN_CLASS_CONTENT) | Fanotify.FAN_UNLIMITED_QUEUE;
        }

        if (threadIds)
        {
            flags |= Fanotify.FAN_REPORT_TID;
        }
        else if (!permissionEvents && privileged)
        {
            // Permission events need no pidfd (the process is held while we look), and each costs an fd.
            optional |= Fanotify.FAN_REPORT_PIDFD;
        }

        // Try with every optional flag, then drop them one at a time (decided by trying, not by version).
        int fd = Init(flags | optional);
        for (uint bit = 0x1; fd < 0 && Marshal.GetLastPInvokeError() == Errno.EINVAL && bit != 0 && optional != 0; bit <<= 1)
        {
            if ((optional & bit) != 0)
            {
                optional &= ~bit;
                fd = Init(flags | optional);
            }
        }

        if (fd < 0 && Marshal.GetLastPInvokeError() == Errno.EINVAL && denyErrno)
        {
            // No FAN_CLASS_PRE_CONTENT here: deny with EPERM (the caller warns).
            flags = (flags & ~Fanotify.FAN_CLASS_PRE_CONTENT) | Fanotify.FAN_CLASS_CONTENT;
            fd = Init(flags | optional);
        }

        if (fd >= 0)
        {
            flagsUsed = flags | optional;
            return new FileDescriptorHandle(fd);
        }

        int errno = Marshal.GetLastPInvokeError();
        throw errno switch
        {
            Errno.EPERM => new WatchException(
                "This watch needs root or the CAP_SYS_ADMIN capability. Run pwsh as root (sudo pwsh) or grant it CAP_SYS_ADMIN. " +
                UnprivilegedWatch.WhatIsAllowed,
                ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied),
            Errno.ENOSYS => new WatchException(
                "This kernel has no fanotify support (CONFIG_FANOTIFY is off).",
                ErrorIds.FanotifyNotSupported, ErrorCategory.NotImplemented),
            Errno.EINVAL when threadIds => new WatchException(
                $"This kernel refused FAN_REPORT_TID (Linux 4.20+){(kind == GroupKind.FileHandle ? " with file-handle reporting" : string.Empty)}: {KernelRelease()} cannot report thread ids. Start the watch without -ThreadId.",
                ErrorIds.FeatureNotSupported, ErrorCategory.NotImplemented),
            Errno.EINVAL when kind == GroupKind.FileHandle => new WatchException(
                $"This kernel ({KernelRelease()}) has no file-handle reporting (FAN_REPORT_DFID_NAME, Linux 5.9), which the " +
                "directory-entry events (Create, Delete, Move, Rename, Attrib, DeleteSelf, MoveSelf, FsError) need. Watch Open, Modify, Close and the permission events instead.",
                ErrorIds.FeatureNotSupported, ErrorCategory.NotImplemented),
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

    /// <summary>
    /// Whether the group takes FAN_DENY_ERRNO responses (Linux 6.14, pre-content groups only): answered for an
    /// event that does not exist, a kernel that knows the response fails the lookup (ENOENT); one that does not
    /// rejects the response itself (EINVAL). Older kernels have pre-content groups but not this response.
    /// </summary>
    public static unsafe bool AcceptsDenyErrno(int groupFd)
    {
        var response = new Fanotify.fanotify_response { fd = 9999, response = Fanotify.FAN_DENY | (1u << Fanotify.FAN_ERRNO_SHIFT) };
        return Libc.write(groupFd, &response, sizeof(Fanotify.fanotify_response)) < 0 && Marshal.GetLastPInvokeError() == Errno.ENOENT;
    }

    // O_CLOEXEC on event fds: FAN_CLOEXEC covers only the group fd. O_LARGEFILE is forced by the kernel.
    private static int Init(uint flags) => Fanotify.fanotify_init(flags, Libc.O_RDONLY | Libc.O_CLOEXEC);

    internal static string KernelRelease()
    {
        try
        {
            return "Linux " + System.IO.File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (System.IO.IOException)
        {
            return "this kernel";
        }
    }

    /// <summary>Adds a mark; returns 0 or the errno, so that the caller can fall back (Filesystem to Mount).</summary>
    public static int TryMark(FileDescriptorHandle group, string path, FanotifyScope scope, ulong mask)
    {
        uint flags = Fanotify.FAN_MARK_ADD | scope switch
        {
            FanotifyScope.Filesystem or FanotifyScope.Tree => Fanotify.FAN_MARK_FILESYSTEM,
            FanotifyScope.Mount => Fanotify.FAN_MARK_MOUNT,
            _ => 0u,   // an inode mark
        };
        return Fanotify.fanotify_mark(group.Fd, flags, mask, Libc.AT_FDCWD, path) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    /// <summary>An ignore mark on one inode, so that the kernel does not even queue its events.</summary>
    public static int TryIgnore(FileDescriptorHandle group, string path, ulong mask) =>
        Fanotify.fanotify_mark(group.Fd, Fanotify.FAN_MARK_ADD | Fanotify.FAN_MARK_IGNORED_MASK | Fanotify.FAN_MARK_IGNORED_SURV_MODIFY,
            mask, Libc.AT_FDCWD, path) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static WatchException MarkError(int errno, string path, FanotifyScope scope, FanotifyEventType events)
    {
        bool permissionEvents = (events & FanotifyRule.PermissionEvents) != 0;
        return errno switch
        {
            Errno.ENOTDIR => new WatchException(
                $"Cannot watch '{path}' ({scope}) for {events}: the kernel needs a directory there.",
                ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, path),
            Errno.ENOENT => new WatchException(
                $"Cannot watch '{path}' because it does not exist.", ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path),
            Errno.EACCES => new WatchException(
                $"Cannot watch '{path}': this user cannot read it, and fanotify marks only what the watcher may read (root may mark anything).",
                ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied, path),
            Errno.EPERM => new WatchException(
                $"Cannot watch '{path}': fanotify {scope} marks need root or the CAP_SYS_ADMIN capability. {UnprivilegedWatch.WhatIsAllowed}",
                ErrorIds.FanotifyNeedsCapSysAdmin, ErrorCategory.PermissionDenied, path),
            Errno.ENOSPC => new WatchException(
                $"Cannot watch '{path}': the per-user limit of fanotify marks ({MaxUserMarks} = {ReadSysctl(MaxUserMarks)}) is reached. " +
                "Stop other watches, or raise the limit.",
                ErrorIds.FanotifyMarkLimit, ErrorCategory.LimitsExceeded, path),
            Errno.ENODEV or Errno.EXDEV or Errno.EOPNOTSUPP => new WatchException(
                $"Cannot watch '{path}': its filesystem does not support fanotify {scope} marks ({Errno.Describe(errno)}).",
                ErrorIds.FileSystemNotSupported, ErrorCategory.InvalidOperation, path),
            Errno.EINVAL when permissionEvents => new WatchException(
                $"Cannot watch '{path}': {KernelRelease()} refused a {scope} mark for {events}. This kernel or filesystem may not support " +
                "these permission events; start a watch without them, for example -Event Open, CloseWrite.",
                ErrorIds.PermissionEventsNotSupported, ErrorCategory.NotImplemented, path),
            Errno.EINVAL => new WatchException(
                $"Cannot watch '{path}': {KernelRelease()} refused a {scope} mark for {events}. Some events need a newer kernel " +
                "(Rename and FsError: 5.17 and 5.16) or another scope (FsError: Filesystem). Get-FanotifyCapability shows what this kernel supports.",
                ErrorIds.FeatureNotSupported, ErrorCategory.NotImplemented, path),
            _ => new WatchException(
                $"fanotify_mark on '{path}' ({scope}) failed: {Errno.Describe(errno)}.",
                ErrorIds.FanotifyMarkFailed, ErrorCategory.InvalidOperation, path),
        };
    }

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
