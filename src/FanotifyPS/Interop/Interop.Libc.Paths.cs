using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// Paths and file identities: realpath for the roots and rules a watch starts with, name_to_handle_at and statx
// for judging an open file by its place on the watched mount and by its inode.
#pragma warning disable CS8981 // kernel struct names kept verbatim
internal static unsafe partial class Libc
{
    internal const int PATH_MAX = 4096;
    internal const int MAX_HANDLE_SZ = 128;

    /* struct file_handle { unsigned int handle_bytes; int handle_type; unsigned char f_handle[]; }; */
    internal const int FileHandleHeaderSize = 8;
    internal const int FileHandleBufferSize = FileHandleHeaderSize + MAX_HANDLE_SZ;
    internal const int AT_SYMLINK_FOLLOW = 0x400;
    internal const int AT_HANDLE_FID = 0x200;   // 6.5: a handle to compare (as fanotify reports it), not to open

    internal const uint STATX_INO = 0x100;
    internal const uint STATX_MNT_ID = 0x1000;

    // struct statx: stx_ino u64 @32, stx_dev_major u32 @136, stx_dev_minor u32 @140, stx_mnt_id u64 @144.
    internal const int StatxInoOffset = 32;
    internal const int StatxDevMajorOffset = 136;
    internal const int StatxDevMinorOffset = 140;
    internal const int StatxMntIdOffset = 144;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial nint realpath(string path, byte* resolved_path);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int name_to_handle_at(int dirfd, byte* pathname, byte* handle, int* mount_id, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int statx(int dirfd, string pathname, int flags, uint mask, byte* statxbuf);
}
