using System;
using System.Collections.Generic;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Turns the file handles of a file-handle group into paths: open_by_handle_at(O_PATH) against a descriptor of
/// the watched mount with the same fsid, then readlink of /proc/self/fd/N. O_PATH opens raise no fanotify
/// event, so this never waits on a permission watch. A handle that no longer resolves (the object is gone)
/// falls back to the path it was last seen at, else to a readable placeholder.
/// </summary>
internal sealed unsafe class HandleResolver : IDisposable
{
    internal const string Unresolved = "(unresolved)";
    private const int MaxRemembered = 4096;

    private readonly (ulong FsId, int Fd, string Path)[] _mounts;
    private readonly (ulong FsId, int Fd, string Path)[] _programMounts;
    private readonly Dictionary<string, string> _lastSeen = new(StringComparer.Ordinal);
    private readonly LinkBuffer _links = new();

    /// <param name="mounts">Descriptors of the watched directories, owned by the watch, with their fsids.</param>
    /// <param name="programMounts">Descriptors of every filesystem programs may live on, for exec events.</param>
    public HandleResolver((ulong FsId, int Fd, string Path)[] mounts, (ulong FsId, int Fd, string Path)[]? programMounts = null)
    {
        _mounts = mounts;
        _programMounts = programMounts ?? [];
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

        return _lastSeen.TryGetValue(key, out string? last) ? last : Unresolved;
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
        _lastSeen.Clear();
        _lastSeen.TrimExcess();
        _links.Dispose();
    }
}
