using System;
using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

/// <summary>
/// The native buffers for reading a /proc link: the NUL-terminated path of the link, and what it names
/// (<see cref="ProcPath.LinkCapacity"/> bytes). Allocated once by its owner; a read allocates nothing, and a
/// link read stays valid until the next. Single-threaded: one owner, on one thread at a time.
/// </summary>
internal sealed unsafe class LinkBuffer : IDisposable
{
    private byte* _path = (byte*)NativeMemory.Alloc(ProcPath.PathCapacity);
    private byte* _link = (byte*)NativeMemory.Alloc(ProcPath.LinkCapacity);

    /// <summary>The path to read (<see cref="ProcPath.PathCapacity"/> bytes), written with <see cref="ProcPath"/>; it may name other /proc files too.</summary>
    public byte* Path => _path;

    /// <summary>readlink(Path); false when it is no link (or no longer exists).</summary>
    public bool TryReadLink(out ReadOnlySpan<byte> link)
    {
        nint length = Libc.readlink(_path, _link, ProcPath.LinkCapacity);
        link = length < 0 ? default : new ReadOnlySpan<byte>(_link, (int)length);
        return length >= 0;
    }

    /// <summary>readlink("/proc/self/fd/FD"): the path of an open file as the kernel names it.</summary>
    public bool TryReadFdLink(int fd, out ReadOnlySpan<byte> link)
    {
        ProcPath.WriteFdPath(_path, fd);
        return TryReadLink(out link);
    }

    /// <summary>The decoded path of an open file, or null when it cannot be read.</summary>
    public string? FdPath(int fd) => TryReadFdLink(fd, out ReadOnlySpan<byte> link) ? PathText.Decode(link) : null;

    /// <summary>
    /// The path of a file handle (struct file_handle) opened against a mount: open_by_handle_at with O_PATH, which
    /// raises no fanotify event, then readlink. Null when the handle no longer resolves there.
    /// </summary>
    public string? HandlePath(int mountFd, byte* handle)
    {
        int fd = Libc.open_by_handle_at(mountFd, handle, Libc.O_PATH | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return null;
        }

        string? path = FdPath(fd);
        _ = Libc.close(fd);
        return path;
    }

    public void Dispose()
    {
        NativeMemory.Free(_path);
        NativeMemory.Free(_link);
        _path = _link = null;
    }
}
