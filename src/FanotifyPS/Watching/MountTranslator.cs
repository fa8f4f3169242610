using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// The path of an open file under the watched mount, whatever mount it was opened through: a bind mount of the
/// watched filesystem reaches the same file by another path, and a rule on "/srv/secret/*" must still match it.
/// statx names the file's mount. On another mount of the same filesystem, the path is carried over by the two
/// mounts' roots in /proc/self/mountinfo (exact, hard links included); a mount that table cannot place (another
/// mount namespace) is reached by the file's handle, reopened against the watched mount (open_by_handle_at,
/// O_PATH: no fanotify event), which names one of the file's links. One per responder: it owns its buffers and
/// table, not the mount descriptors (the watch does).
/// </summary>
internal sealed unsafe class MountTranslator : IDisposable
{
    private const int MaxKnownMounts = 4096;

    private readonly Watched[] _watched;
    private readonly Dictionary<long, MountFacts> _mounts = [];
    private readonly HashSet<long> _unplaced = [];
    private readonly LinkBuffer _links = new();
    private byte* _handle;
    private byte* _statx;

    private MountTranslator(Watched[] watched)
    {
        _watched = watched;
        _handle = (byte*)NativeMemory.AlignedAlloc(Libc.FileHandleBufferSize, 8);
        _statx = (byte*)NativeMemory.AlignedAlloc(Libc.StatxSize, 8);
        Refresh();
    }

    /// <summary>A translator for the watched directories' descriptors; null where the kernel cannot name a file's mount (before 5.8).</summary>
    public static MountTranslator? Create((ulong FsId, int Fd, string Path)[] watched)
    {
        var mounts = new Watched[watched.Length];
        byte* statx = stackalloc byte[Libc.StatxSize];
        byte empty = 0;
        for (int i = 0; i < watched.Length; i++)
        {
            int fd = watched[i].Fd;
            if (Libc.statx(fd, &empty, Libc.AT_EMPTY_PATH, Libc.STATX_INO | Libc.STATX_MNT_ID, statx) != 0 ||
                (*(uint*)statx & Libc.STATX_MNT_ID) == 0)
            {
                return null;
            }

            mounts[i] = new Watched(*(long*)(statx + Libc.StatxMntIdOffset), FileId.FromStatx(statx), fd);
        }

        return mounts.Length == 0 ? null : new MountTranslator(mounts);
    }

    /// <summary>openedPath when the file was opened through a watched mount (or its place cannot be told), else its path there.</summary>
    public string OnWatchedMount(int fd, string openedPath)
    {
        byte empty = 0;
        if (Libc.statx(fd, &empty, Libc.AT_EMPTY_PATH, Libc.STATX_MNT_ID, _statx) != 0)
        {
            return openedPath;
        }

        long mountId = *(long*)(_statx + Libc.StatxMntIdOffset);
        foreach (Watched watched in _watched)
        {
            if (watched.MountId == mountId)
            {
                return openedPath;
            }
        }

        return Translate(mountId, openedPath) ?? Reopen(fd) ?? openedPath;
    }

    /// <summary>Runs every path once (JIT, statics) on a watched descriptor, before any mark exists.</summary>
    public void WarmUp()
    {
        _ = OnWatchedMount(_watched[0].Fd, string.Empty);
        _ = Translate(-1, "/");
        _ = Reopen(_watched[0].Fd);
        _unplaced.Clear();
        Refresh();
    }

    /// <summary>The opened path carried from its mount to a watched mount of the same filesystem, by their roots.</summary>
    private string? Translate(long mountId, string openedPath)
    {
        if (!_mounts.TryGetValue(mountId, out MountFacts? opened))
        {
            // A mount made after the start: read the table again, once per unknown mount (one of another mount
            // namespace never shows up, and must not cost a read of the table per event).
            if (_unplaced.Contains(mountId) || _unplaced.Count >= MaxKnownMounts)
            {
                return null;
            }

            Refresh();
            if (!_mounts.TryGetValue(mountId, out opened))
            {
                _ = _unplaced.Add(mountId);
                return null;
            }
        }

        if (!FileSystemFacts.IsUnder(openedPath, opened.MountPoint))
        {
            return null;
        }

        string inFileSystem = Join(opened.Root, openedPath.Substring(opened.MountPoint.Length == 1 ? 0 : opened.MountPoint.Length));
        foreach (Watched watched in _watched)
        {
            if (_mounts.TryGetValue(watched.MountId, out MountFacts? target) && target.DeviceNumber == opened.DeviceNumber &&
                FileSystemFacts.IsUnder(inFileSystem, target.Root))
            {
                return Join(target.MountPoint, inFileSystem.Substring(target.Root.Length == 1 ? 0 : target.Root.Length));
            }
        }

        return null;
    }

    private static string Join(string directory, string rest) =>
        rest.Length == 0 ? directory : directory.Length == 1 ? rest : string.Concat(directory, rest);

    private void Refresh()
    {
        _mounts.Clear();
        foreach (MountFacts mount in FileSystemFacts.ReadMountInfo())
        {
            if (_mounts.Count < MaxKnownMounts)
            {
                _mounts[mount.Id] = mount;
            }
        }
    }

    /// <summary>The file reopened by its handle against the watched mount of its filesystem.</summary>
    private string? Reopen(int fd)
    {
        byte empty = 0;
        *(uint*)_handle = Libc.MAX_HANDLE_SZ;
        int handleMountId;
        if (Libc.name_to_handle_at(fd, &empty, _handle, &handleMountId, Libc.AT_EMPTY_PATH) != 0 ||
            Libc.statx(fd, &empty, Libc.AT_EMPTY_PATH, Libc.STATX_INO, _statx) != 0)
        {
            return null;
        }

        // A handle means something only on its own filesystem: never try it against another one.
        FileId file = FileId.FromStatx(_statx);
        foreach (Watched watched in _watched)
        {
            if (watched.Device.DevMajor != file.DevMajor || watched.Device.DevMinor != file.DevMinor)
            {
                continue;
            }

            return _links.HandlePath(watched.Fd, _handle);
        }

        return null;
    }

    public void Dispose()
    {
        _mounts.Clear();
        _unplaced.Clear();
        NativeMemory.AlignedFree(_handle);
        NativeMemory.AlignedFree(_statx);
        _links.Dispose();
        _handle = _statx = null;
    }

    private readonly record struct Watched(long MountId, FileId Device, int Fd);
}
