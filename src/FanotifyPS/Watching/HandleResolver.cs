using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Turns the file handles of a file-handle group into paths: open_by_handle_at(O_PATH) against a descriptor of
/// the watched mount with the same fsid, then readlink of /proc/self/fd/N. O_PATH opens raise no fanotify
/// event, so this never waits on a permission watch. A handle that no longer resolves (the object is gone)
/// falls back to the path it was last seen at, else to a readable placeholder.
/// Without CAP_DAC_READ_SEARCH open_by_handle_at fails (EPERM): an unprivileged watch names only the inodes it
/// marked itself, by the handles it took of them at the start, while their paths still lead to them, and says
/// "(unresolved)" for anything else (a new place is not reported to an inode mark).
/// </summary>
internal sealed unsafe class HandleResolver : IDisposable
{
    internal const string Unresolved = "(unresolved)";
    private const int MaxRemembered = 4096;

    private readonly (ulong FsId, int Fd, string Path)[] _mounts;
    private readonly (ulong FsId, int Fd, string Path)[] _programMounts;
    private readonly Dictionary<string, string> _lastSeen = new(StringComparer.Ordinal);
    private readonly LinkBuffer _links = new();
    private readonly Dictionary<string, MarkedInode> _marked = new(StringComparer.Ordinal);
    private byte* _handle;

    /// <param name="mounts">Descriptors of the watched directories, owned by the watch, with their fsids.</param>
    /// <param name="programMounts">Descriptors of every filesystem programs may live on, for exec events.</param>
    /// <param name="marked">The watched paths, for a watch that cannot open handles: their handles are taken now.</param>
    public HandleResolver((ulong FsId, int Fd, string Path)[] mounts, (ulong FsId, int Fd, string Path)[]? programMounts = null,
        string[]? marked = null)
    {
        _mounts = mounts;
        _programMounts = programMounts ?? [];
        CanOpenHandles = marked is null;
        if (marked is not null)
        {
            _handle = (byte*)NativeMemory.Alloc(Libc.FileHandleBufferSize);
            foreach (string path in marked)
            {
                if (MarkedInode.Take(path, _handle) is { } inode)
                {
                    _marked[inode.Key] = inode;
                }
            }
        }
    }

    /// <summary>False for an unprivileged watch: only the marked inodes are named (see the class comment).</summary>
    public bool CanOpenHandles { get; }

    /// <summary>
    /// The path a marked inode was watched at, if the record names one, and, when <paramref name="verified"/>, only
    /// while that path still leads to it (checked now: a rename of it, or of a directory above it, is not reported to
    /// an inode mark).
    /// </summary>
    public string? MarkedPath(ReadOnlySpan<byte> batch, int fidOffset, bool verified = true)
    {
        if (_marked.Count == 0 || !_marked.TryGetValue(Key(batch, fidOffset), out MarkedInode? inode))
        {
            return null;
        }

        return !verified || inode.IsStillAt(_handle) ? inode.Path : null;
    }

    /// <summary>A watched path, the handle its inode had at the start, and the mount it was on.</summary>
    private sealed class MarkedInode
    {
        private readonly byte[] _pathBytes;   // NUL-terminated
        private readonly byte[] _handleBytes;
        private readonly int _mountId;
        private readonly int _flags;

        private MarkedInode(string path, string key, byte[] pathBytes, byte[] handleBytes, int mountId, int flags)
        {
            Path = path;
            Key = key;
            _pathBytes = pathBytes;
            _handleBytes = handleBytes;
            _mountId = mountId;
            _flags = flags;
        }

        public string Path { get; }

        /// <summary>Its fsid and handle as a FID record carries them (see <see cref="HandleResolver.Key"/>).</summary>
        public string Key { get; }

        /// <summary>
        /// The inode's handle as fanotify encodes it: name_to_handle_at with AT_HANDLE_FID (6.5) where the kernel
        /// has it, else without (the same bytes on filesystems that can export handles); null if it cannot be taken.
        /// </summary>
        public static MarkedInode? Take(string path, byte* handle)
        {
            byte[] pathBytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
            byte* statfs = stackalloc byte[Libc.StatfsSize];
            int fd = Libc.open(path, Libc.O_PATH | Libc.O_CLOEXEC);   // O_PATH: no fanotify event
            if (fd < 0)
            {
                return null;
            }

            bool hasFsId = Libc.fstatfs(fd, statfs) == 0;
            _ = Libc.close(fd);
            int mountId = 0;
            int flags = Libc.AT_SYMLINK_FOLLOW | Libc.AT_HANDLE_FID;
            if (!hasFsId || !TryHandle(pathBytes, handle, flags, &mountId) && !TryHandle(pathBytes, handle, flags &= ~Libc.AT_HANDLE_FID, &mountId))
            {
                return null;
            }

            byte[] handleBytes = new ReadOnlySpan<byte>(handle, Libc.FileHandleHeaderSize + (int)*(uint*)handle).ToArray();
            string key = Convert.ToHexString(new ReadOnlySpan<byte>(statfs + Libc.StatfsFsidOffset, 8)) + Convert.ToHexString(handleBytes);
            return new MarkedInode(path, key, pathBytes, handleBytes, mountId, flags);
        }

        /// <summary>The path still leads to this inode, on the same mount.</summary>
        public bool IsStillAt(byte* handle)
        {
            int mountId;
            return TryHandle(_pathBytes, handle, _flags, &mountId) && mountId == _mountId &&
                new ReadOnlySpan<byte>(handle, Libc.FileHandleHeaderSize + (int)*(uint*)handle).SequenceEqual(_handleBytes);
        }

        private static bool TryHandle(byte[] pathBytes, byte* handle, int flags, int* mountId)
        {
            *(uint*)handle = Libc.MAX_HANDLE_SZ;
            fixed (byte* path = pathBytes)
            {
                return Libc.name_to_handle_at(Libc.AT_FDCWD, path, handle, mountId, flags) == 0;
            }
        }
    }

    /// <summary>The directory of an exec event's program (on any filesystem), or null when it cannot be resolved.</summary>
    public string? TryResolveProgram(ReadOnlySpan<byte> batch, int fidOffset)
    {
        ulong fsId = FanotifyInfoReader.FsId(batch, fidOffset);
        int mountFd = -1;
        foreach ((ulong id, int fd, _) in _programMounts)
        {
            if (id == fsId)
            {
                mountFd = fd;
                break;
            }
        }

        if (mountFd < 0)
        {
            return null;   // never another filesystem's descriptor: a handle could name an unrelated file there
        }

        fixed (byte* handle = FanotifyInfoReader.FileHandle(batch, fidOffset))
        {
            return _links.HandlePath(mountFd, handle);
        }
    }

    /// <summary>The path of the object behind a FID record, or null when it cannot be resolved.</summary>
    public string? TryResolve(ReadOnlySpan<byte> batch, int fidOffset)
    {
        if (!CanOpenHandles)
        {
            return MarkedPath(batch, fidOffset);
        }

        int mountFd = MountFor(FanotifyInfoReader.FsId(batch, fidOffset));
        if (mountFd < 0)
        {
            return null;
        }

        fixed (byte* handle = FanotifyInfoReader.FileHandle(batch, fidOffset))
        {
            return _links.HandlePath(mountFd, handle);
        }
    }

    /// <summary>The path of a FID record's object, from the kernel or from memory.</summary>
    public string Resolve(ReadOnlySpan<byte> batch, int fidOffset)
    {
        string? path = TryResolve(batch, fidOffset);
        string key = Key(batch, fidOffset);
        if (path is not null)
        {
            Remember(key, path);
            return path;
        }

        // Not where handles cannot be opened: what was last seen there may have moved unseen since.
        return CanOpenHandles && _lastSeen.TryGetValue(key, out string? last) ? last : Unresolved;
    }

    /// <summary>Notes where an object was seen (from a directory-entry event), for when it is gone.</summary>
    public void Remember(ReadOnlySpan<byte> batch, int fidOffset, string path) => Remember(Key(batch, fidOffset), path);

    private void Remember(string key, string path)
    {
        if (_lastSeen.Count >= MaxRemembered)
        {
            _lastSeen.Clear();
        }

        _lastSeen[key] = path;
    }

    private static string Key(ReadOnlySpan<byte> batch, int fidOffset) =>
        Convert.ToHexString(batch.Slice(fidOffset + 4, 8)) + Convert.ToHexString(FanotifyInfoReader.FileHandle(batch, fidOffset));

    private int MountFor(ulong fsId)
    {
        foreach ((ulong id, int fd, _) in _mounts)
        {
            if (id == fsId)
            {
                return fd;
            }
        }

        return _mounts.Length == 1 ? _mounts[0].Fd : -1;
    }

    /// <summary>The watched directory on the filesystem of a FID record (an FsError about the whole filesystem has no object).</summary>
    public string MountPath(ReadOnlySpan<byte> batch, int fidOffset)
    {
        ulong fsId = FanotifyInfoReader.FsId(batch, fidOffset);
        foreach ((ulong id, _, string path) in _mounts)
        {
            if (id == fsId)
            {
                return path;
            }
        }

        return _mounts.Length == 1 ? _mounts[0].Path : Unresolved;
    }

    public void Dispose()
    {
        _marked.Clear();
        NativeMemory.Free(_handle);
        _handle = null;
        _lastSeen.Clear();
        _lastSeen.TrimExcess();
        _links.Dispose();
    }
}
