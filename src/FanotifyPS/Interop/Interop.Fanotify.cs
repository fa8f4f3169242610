using System;
using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// Kernel names kept verbatim (include/uapi/linux/fanotify.h) so the code reads like fanotify(7).
#pragma warning disable CS8981 // kernel struct names kept verbatim
internal static partial class Fanotify
{
    internal const byte FANOTIFY_METADATA_VERSION = 3;
    internal const int FAN_EVENT_METADATA_LEN = 24;
    internal const int FAN_NOFD = -1;

    // fanotify_init flags
    internal const uint FAN_CLOEXEC = 0x00000001;
    internal const uint FAN_NONBLOCK = 0x00000002;
    internal const uint FAN_CLASS_NOTIF = 0x00000000;
    internal const uint FAN_CLASS_CONTENT = 0x00000004;
    internal const uint FAN_CLASS_PRE_CONTENT = 0x00000008;
    internal const uint FAN_UNLIMITED_QUEUE = 0x00000010;
    internal const uint FAN_UNLIMITED_MARKS = 0x00000020;

    // fanotify_mark flags
    internal const uint FAN_MARK_ADD = 0x00000001;
    internal const uint FAN_MARK_REMOVE = 0x00000002;
    internal const uint FAN_MARK_DONT_FOLLOW = 0x00000004;
    internal const uint FAN_MARK_ONLYDIR = 0x00000008;
    internal const uint FAN_MARK_MOUNT = 0x00000010;
    internal const uint FAN_MARK_FLUSH = 0x00000080;
    internal const uint FAN_MARK_FILESYSTEM = 0x00000100;

    // event mask bits (u64)
    internal const ulong FAN_ACCESS = 0x00000001;
    internal const ulong FAN_MODIFY = 0x00000002;
    internal const ulong FAN_ATTRIB = 0x00000004;
    internal const ulong FAN_CLOSE_WRITE = 0x00000008;
    internal const ulong FAN_CLOSE_NOWRITE = 0x00000010;
    internal const ulong FAN_OPEN = 0x00000020;
    internal const ulong FAN_MOVED_FROM = 0x00000040;
    internal const ulong FAN_MOVED_TO = 0x00000080;
    internal const ulong FAN_CREATE = 0x00000100;
    internal const ulong FAN_DELETE = 0x00000200;
    internal const ulong FAN_DELETE_SELF = 0x00000400;
    internal const ulong FAN_MOVE_SELF = 0x00000800;
    internal const ulong FAN_OPEN_EXEC = 0x00001000;
    internal const ulong FAN_Q_OVERFLOW = 0x00004000;
    internal const ulong FAN_FS_ERROR = 0x00008000;
    internal const ulong FAN_OPEN_PERM = 0x00010000;
    internal const ulong FAN_ACCESS_PERM = 0x00020000;
    internal const ulong FAN_OPEN_EXEC_PERM = 0x00040000;
    internal const ulong FAN_ONDIR = 0x40000000;
    internal const ulong FAN_RENAME = 0x10000000;

    internal const ulong FAN_ALL_PERM_EVENTS = FAN_OPEN_PERM | FAN_ACCESS_PERM | FAN_OPEN_EXEC_PERM;

    // fanotify_response.response
    internal const uint FAN_ALLOW = 0x01;
    internal const uint FAN_DENY = 0x02;
    internal const int FAN_ERRNO_SHIFT = 24;   // FAN_DENY_ERRNO(e) = FAN_DENY | (e & 0xff) << 24

    // fanotify_init: reporting
    internal const uint FAN_REPORT_PIDFD = 0x00000080;
    internal const uint FAN_REPORT_TID = 0x00000100;
    internal const uint FAN_REPORT_FID = 0x00000200;
    internal const uint FAN_REPORT_DIR_FID = 0x00000400;
    internal const uint FAN_REPORT_NAME = 0x00000800;
    internal const uint FAN_REPORT_TARGET_FID = 0x00001000;
    internal const uint FAN_REPORT_DFID_NAME = FAN_REPORT_DIR_FID | FAN_REPORT_NAME;

    // fanotify_mark: ignore marks
    internal const uint FAN_MARK_IGNORED_MASK = 0x00000020;
    internal const uint FAN_MARK_IGNORED_SURV_MODIFY = 0x00000040;
    internal const uint FAN_MARK_IGNORE = 0x00000400;

    internal const ulong FAN_EVENT_ON_CHILD = 0x08000000;

    // info record types (struct fanotify_event_info_header.info_type)
    internal const byte FAN_EVENT_INFO_TYPE_FID = 1;
    internal const byte FAN_EVENT_INFO_TYPE_DFID_NAME = 2;
    internal const byte FAN_EVENT_INFO_TYPE_DFID = 3;
    internal const byte FAN_EVENT_INFO_TYPE_PIDFD = 4;
    internal const byte FAN_EVENT_INFO_TYPE_ERROR = 5;
    internal const byte FAN_EVENT_INFO_TYPE_OLD_DFID_NAME = 10;
    internal const byte FAN_EVENT_INFO_TYPE_NEW_DFID_NAME = 12;

    internal const int FAN_NOPIDFD = -1;
    internal const int FAN_EPIDFD = -2;

    /*
     * struct fanotify_event_metadata {
     *     __u32 event_len;     // 0
     *     __u8  vers;          // 4
     *     __u8  reserved;      // 5
     *     __u16 metadata_len;  // 6
     *     __aligned_u64 mask;  // 8
     *     __s32 fd;            // 16
     *     __s32 pid;           // 20
     * };                       // 24
     */
    [StructLayout(LayoutKind.Sequential)]
    internal struct fanotify_event_metadata
    {
        public uint event_len;
        public byte vers;
        public byte reserved;
        public ushort metadata_len;
        public ulong mask;
        public int fd;
        public int pid;
    }

    /* struct fanotify_response { __s32 fd; __u32 response; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct fanotify_response
    {
        public int fd;
        public uint response;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fanotify_init(uint flags, uint event_f_flags);

    // The glibc wrapper, not syscall(): on 32-bit ARM the u64 mask is split across registers.
    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int fanotify_mark(int fanotify_fd, uint flags, ulong mask, int dirfd, string? pathname);
}
