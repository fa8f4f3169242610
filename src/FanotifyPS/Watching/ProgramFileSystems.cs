using System;
using System.Collections.Generic;
using System.Linq;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// The filesystems programs may be started from, and the FAN_OPEN_EXEC marks that make each group of a watch see
/// every exec in its own queue. A group's queue is ordered: a process's exec is read before its later file
/// events, and the exec event's file is the program, readable after the process is gone.
/// </summary>
/// <remarks>
/// Every mounted filesystem but the pseudo ones (proc, sysfs, cgroup, ...), one mount point each. FAN_OPEN_EXEC is a
/// notification event: nothing waits for it. A file-handle group names the program by a directory handle, which
/// needs a descriptor on that filesystem: those are opened here, before any mark, so they raise no event.
/// </remarks>
internal sealed unsafe class ProgramFileSystems : IDisposable
{
    /// <summary>Filesystem types that hold no programs (and some whose mount point must not be touched: autofs).</summary>
    private static readonly HashSet<string> s_pseudo = new(StringComparer.Ordinal)
    {
        "proc", "sysfs", "cgroup", "cgroup2", "devpts", "mqueue", "debugfs", "tracefs", "securityfs", "pstore",
        "bpf", "configfs", "fusectl", "hugetlbfs", "autofs", "binfmt_misc", "efivarfs", "rpc_pipefs", "nsfs",
        "selinuxfs", "devtmpfs", "nfsd", "fuse.gvfsd-fuse", "fuse.portal",
    };

    private readonly List<(ulong FsId, int Fd, string Path)> _descriptors = [];

    private ProgramFileSystems(string[] mountPoints)
    {
        MountPoints = mountPoints;
    }

    /// <summary>One mount point of each filesystem programs may live on.</summary>
    public string[] MountPoints { get; }

    /// <summary>Descriptors of those filesystems' mount points, keyed by fsid (only once <see cref="OpenDescriptors"/> ran).</summary>
    public (ulong FsId, int Fd, string Path)[] Descriptors => [.. _descriptors];

    /// <summary>The mount points that refused an exec mark, with why (for -Verbose).</summary>
    public List<string> Refused { get; } = [];

    /// <summary>
    /// The directories programs are run from: $PATH's, the usual ones, and those of the programs running now. A
    /// FAN_CLOSE_NOWRITE mark on each (for its files) makes an exit visible in the queue: a process's program file is
    /// closed for the last time when its memory is released, at its exit (or its next exec).
    /// </summary>
    public string[] ProgramDirectories { get; private set; } = [];

    /// <summary>Finds the program directories (see <see cref="ProgramDirectories"/>) among <paramref name="running"/>'s programs.</summary>
    public void FindProgramDirectories(IEnumerable<string> runningPrograms)
    {
        var directories = new SortedSet<string>(StringComparer.Ordinal);
        string path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (string directory in path.Split(':').Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
            .Concat(runningPrograms.Select(p => System.IO.Path.GetDirectoryName(p) ?? string.Empty)))
        {
            if (directory.StartsWith('/') && FileSystemFacts.RealPath(directory) is { } real && System.IO.Directory.Exists(real))
            {
                directories.Add(real);
            }
        }

        ProgramDirectories = [.. directories];
    }

    /// <summary>FAN_CLOSE_NOWRITE on the files of every program directory; returns the directories marked.</summary>
    public HashSet<string> MarkProgramDirectories(FileDescriptorHandle group)
    {
        var marked = new HashSet<string>(StringComparer.Ordinal);
        foreach (string directory in ProgramDirectories)
        {
            if (FanotifyCalls.TryMark(group, directory, FanotifyScope.Directory, Fanotify.FAN_CLOSE_NOWRITE | Fanotify.FAN_EVENT_ON_CHILD) == 0)
            {
                marked.Add(directory);
            }
        }

        return marked;
    }

    public static ProgramFileSystems Find()
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var mountPoints = new List<string>();
        foreach (MountFacts mount in FileSystemFacts.ReadMountInfo().OrderBy(m => m.MountPoint.Length))
        {
            if (!s_pseudo.Contains(mount.FileSystemType) && seen.Add(mount.Device))
            {
                mountPoints.Add(mount.MountPoint);
            }
        }

        return new ProgramFileSystems([.. mountPoints]);
    }

    /// <summary>Opens a descriptor of each mount point, for a file-handle group's open_by_handle_at.</summary>
    public void OpenDescriptors()
    {
        if (_descriptors.Count > 0)
        {
            return;
        }

        foreach (string mountPoint in MountPoints)
        {
            int fd = FileSystemFacts.OpenForHandles(mountPoint, out ulong? fsId);
            if (fsId is { } id)
            {
                _descriptors.Add((id, fd, mountPoint));
            }
            else if (fd >= 0)
            {
                _ = Libc.close(fd);
            }
        }
    }

    /// <summary>
    /// Adds FAN_OPEN_EXEC on every program filesystem to a group: a filesystem mark, or a mount mark where the kernel
    /// has none. Returns how many filesystems took one; <paramref name="errno"/> is the last refusal.
    /// </summary>
    public int Mark(FileDescriptorHandle group, out int errno)
    {
        errno = 0;
        int marked = 0;
        foreach (string mountPoint in MountPoints)
        {
            int result = FanotifyCalls.TryMark(group, mountPoint, FanotifyScope.Filesystem, Fanotify.FAN_OPEN_EXEC);
            if (result == Errno.EINVAL)
            {
                result = FanotifyCalls.TryMark(group, mountPoint, FanotifyScope.Mount, Fanotify.FAN_OPEN_EXEC);
            }

            if (result == 0)
            {
                marked++;
            }
            else
            {
                errno = result;
                Refused.Add($"{mountPoint}: {Errno.Describe(result)}");
            }
        }

        return marked;
    }

    public void Dispose()
    {
        foreach ((_, int fd, _) in _descriptors)
        {
            _ = Libc.close(fd);
        }

        _descriptors.Clear();
    }
}
