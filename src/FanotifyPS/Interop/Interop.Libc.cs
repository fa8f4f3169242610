using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// The few libc calls the watcher needs. All blittable: no marshalling allocation on the responder thread.
#pragma warning disable CS8981 // kernel struct names kept verbatim
internal static unsafe partial class Libc
{
    internal const int O_RDONLY = 0x0;
    internal const int O_CLOEXEC = 0x80000;   // same value on x86_64 and arm64

    internal const int EFD_CLOEXEC = 0x80000;
    internal const int EFD_NONBLOCK = 0x800;

    internal const short POLLIN = 0x001;
    internal const short POLLERR = 0x008;
    internal const short POLLHUP = 0x010;
    internal const short POLLNVAL = 0x020;

    internal const int AT_FDCWD = -100;
    internal const int AT_EMPTY_PATH = 0x1000;
    internal const uint STATX_NLINK = 0x4;

    /* struct pollfd { int fd; short events; short revents; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct pollfd
    {
        public int fd;
        public short events;
        public short revents;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint read(int fd, byte* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint write(int fd, void* buf, nint count);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint pread(int fd, byte* buf, nint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int poll(pollfd* fds, nuint nfds, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int eventfd(uint initval, int flags);

    internal const int RLIMIT_NOFILE = 7;   // same value on x86_64 and arm64

    /* struct rlimit { rlim_t rlim_cur; rlim_t rlim_max; }; rlim_t is 64-bit on 64-bit Linux. */
    [StructLayout(LayoutKind.Sequential)]
    internal struct rlimit
    {
        public ulong rlim_cur;
        public ulong rlim_max;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int getrlimit(int resource, rlimit* rlim);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint readlink(byte* pathname, byte* buf, nint bufsiz);

    // open(2) is variadic; with no O_CREAT the mode is never read, and x86_64/arm64 pass it alike.
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int open(byte* pathname, int flags);

    // statx rather than fstat: one struct layout on every architecture.
    // struct statx: stx_mask u32 @0, stx_blksize u32 @4, stx_attributes u64 @8, stx_nlink u32 @16, ... 256 bytes.
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int statx(int dirfd, byte* pathname, int flags, uint mask, byte* statxbuf);

    internal const int O_PATH = 0x200000;       // same value on x86_64 and arm64

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int open_by_handle_at(int mount_fd, byte* handle, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int open(string pathname, int flags);

    /* struct statfs: f_fsid is at offset 56 on 64-bit Linux (after f_type, f_bsize, 5 counters). */
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int fstatfs(int fd, byte* buf);

    internal const int StatfsSize = 120;
    internal const int StatfsFsidOffset = 56;

    internal const int StatxSize = 256;
    internal const int StatxNlinkOffset = 16;

    // struct statx: stx_mode u16 @28 (after stx_uid u32 @20 and stx_gid u32 @24).
    internal const uint STATX_TYPE = 0x1;
    internal const uint STATX_MODE = 0x2;
    internal const int StatxModeOffset = 28;
    internal const int S_IFMT = 0xF000;    // 0170000
    internal const int S_IFIFO = 0x1000;   // 0010000

    internal const int STDOUT_FILENO = 1;
}
