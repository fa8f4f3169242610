using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// What the kernel says about a path when a watch starts: its real path (symlinks resolved, as event paths are),
/// its file identity (device and inode), and the mount it is on, from /proc/self/mountinfo. Called on the
/// cmdlet's thread, never on a responder.
/// </summary>
internal static unsafe class FileSystemFacts
{
    /// <summary>The real path of an existing path (realpath(3)), or null if it cannot be resolved.</summary>
    public static string? RealPath(string path)
    {
        byte* buffer = stackalloc byte[Libc.PATH_MAX];
        if (Libc.realpath(path, buffer) == 0)
        {
            return null;
        }

        return PathText.Decode(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(buffer));
    }

    /// <summary>
    /// The path with the symlinks of its deepest existing ancestor resolved; the part that does not exist yet is
    /// kept as given. "/data/link/new.txt" becomes "/data/real/new.txt" when /data/link points at /data/real.
    /// </summary>
    public static string RealPathOfExistingPart(string absolutePath)
    {
        string existing = absolutePath;
        string rest = string.Empty;
        while (true)
        {
            if (RealPath(existing) is { } real)
            {
                return rest.Length == 0 ? real : Path.Join(real, rest);
            }

            int slash = existing.LastIndexOf('/');
            if (slash <= 0)
            {
                return absolutePath;
            }

            rest = rest.Length == 0 ? existing.Substring(slash + 1) : string.Concat(existing.AsSpan(slash + 1), "/", rest);
            existing = existing.Substring(0, slash);
        }
    }

    /// <summary>The path itself if it exists, else its nearest ancestor that does ("/" at worst).</summary>
    public static string DeepestExisting(string path)
    {
        while (!Directory.Exists(path) && !File.Exists(path) && path.Length > 1)
        {
            path = Path.GetDirectoryName(path) ?? "/";
        }

        return path;
    }

    /// <summary>The device and inode of an existing path (symlinks followed), or null.</summary>
    public static FileId? Identify(string path)
    {
        byte* statx = stackalloc byte[Libc.StatxSize];
        if (Libc.statx(Libc.AT_FDCWD, path, 0, Libc.STATX_INO, statx) != 0)
        {
            return null;
        }

        return FileId.FromStatx(statx);
    }

    /// <summary>The id of the mount a path is on (as in /proc/self/mountinfo), or -1.</summary>
    public static long MountId(string path)
    {
        byte* statx = stackalloc byte[Libc.StatxSize];
        if (Libc.statx(Libc.AT_FDCWD, path, 0, Libc.STATX_MNT_ID, statx) != 0 ||
            (*(uint*)statx & Libc.STATX_MNT_ID) == 0)
        {
            return -1;
        }

        return *(long*)(statx + Libc.StatxMntIdOffset);
    }

    /// <summary>The mount a path is on, and the other mounts of its filesystem; null if /proc/self/mountinfo says nothing.</summary>
    public static MountFacts? MountOf(string path)
    {
        long id = MountId(path);
        List<MountFacts> mounts = ReadMountInfo();
        MountFacts? mount = id >= 0 ? mounts.Find(m => m.Id == id) : null;
        if (mount is null)
        {
            // No STATX_MNT_ID (before Linux 5.8): the longest mount point that holds the path.
            foreach (MountFacts candidate in mounts)
            {
                if (IsUnder(path, candidate.MountPoint) && (mount is null || candidate.MountPoint.Length >= mount.MountPoint.Length))
                {
                    mount = candidate;
                }
            }
        }

        if (mount is null)
        {
            return null;
        }

        mount.OtherMountPoints = mounts.FindAll(m => m.Device == mount.Device && m.Id != mount.Id).ConvertAll(m => m.MountPoint).ToArray();
        return mount;
    }

    /// <summary>path is root or below it (both normalised, without a trailing '/').</summary>
    /// <summary>
    /// Opens a directory for open_by_handle_at (which refuses O_PATH descriptors); returns the fd (-1 when it cannot be
    /// opened) and the filesystem's fsid (null when fstatfs fails).
    /// </summary>
    public static unsafe int OpenForHandles(string directory, out ulong? fsId)
    {
        fsId = null;
        int fd = Libc.open(directory, Libc.O_RDONLY | Libc.O_CLOEXEC);
        byte* statfs = stackalloc byte[Libc.StatfsSize];
        if (fd >= 0 && Libc.fstatfs(fd, statfs) == 0)
        {
            fsId = *(ulong*)(statfs + Libc.StatfsFsidOffset);
        }

        return fd;
    }

    public static bool IsUnder(string path, string root) =>
        path.StartsWith(root, StringComparison.Ordinal) &&
        (path.Length == root.Length || root.Length == 1 || path[root.Length] == '/');

    internal static List<MountFacts> ReadMountInfo()
    {
        var mounts = new List<MountFacts>();
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/mountinfo");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return mounts;
        }

        foreach (string line in lines)
        {
            // 36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue
            string[] fields = line.Split(' ');
            int separator = Array.IndexOf(fields, "-", 6);
            if (fields.Length < 7 || separator < 0 || separator + 1 >= fields.Length ||
                !long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out long id))
            {
                continue;
            }

            mounts.Add(new MountFacts(id, fields[2], Unescape(fields[3]), Unescape(fields[4]), fields[separator + 1]));
        }

        return mounts;
    }

    /// <summary>mountinfo writes space, tab, newline and backslash as \040, \011, \012 and \134.</summary>
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var bytes = new List<byte>(field.Length);
        byte[] raw = Encoding.UTF8.GetBytes(field);
        for (int i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '\\' && i + 3 < raw.Length && IsOctal(raw[i + 1]) && IsOctal(raw[i + 2]) && IsOctal(raw[i + 3]))
            {
                bytes.Add((byte)(((raw[i + 1] - '0') << 6) | ((raw[i + 2] - '0') << 3) | (raw[i + 3] - '0')));
                i += 3;
            }
            else
            {
                bytes.Add(raw[i]);
            }
        }

        return PathText.Decode(bytes.ToArray());
    }

    private static bool IsOctal(byte b) => b is >= (byte)'0' and <= (byte)'7';
}

/// <summary>A file's identity: its device and inode, which every name and mount of it shares.</summary>
internal readonly record struct FileId(uint DevMajor, uint DevMinor, ulong Inode)
{
    public static unsafe FileId FromStatx(byte* statx) => new(
        *(uint*)(statx + Libc.StatxDevMajorOffset), *(uint*)(statx + Libc.StatxDevMinorOffset), *(ulong*)(statx + Libc.StatxInoOffset));

    /// <summary>The id of an open file, read into <paramref name="statx"/>; default, which no file has, if statx fails.</summary>
    public static unsafe FileId OfOpenFile(int fd, byte* statx)
    {
        byte emptyPath = 0;
        return Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_INO, statx) == 0 ? FromStatx(statx) : default;
    }
}

/// <summary>One line of /proc/self/mountinfo.</summary>
internal sealed record MountFacts(long Id, string Device, string Root, string MountPoint, string FileSystemType)
{
    /// <summary>The device as statx gives it (stx_dev_major, stx_dev_minor).</summary>
    public (uint Major, uint Minor) DeviceNumber { get; } = ParseDevice(Device);

    /// <summary>The other mount points of the same filesystem (bind mounts, other mounts of the device).</summary>
    public string[] OtherMountPoints { get; set; } = [];

    private static (uint, uint) ParseDevice(string device)
    {
        int colon = device.IndexOf(':', StringComparison.Ordinal);
        return colon > 0 &&
            uint.TryParse(device.AsSpan(0, colon), NumberStyles.None, CultureInfo.InvariantCulture, out uint major) &&
            uint.TryParse(device.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out uint minor)
            ? (major, minor) : (uint.MaxValue, uint.MaxValue);
    }
}
