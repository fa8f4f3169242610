using System;
using System.Collections.Generic;
using System.IO;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Which exec and close events the user's own marks ask for, when the user asked for OpenExec or CloseNoWrite. The
/// marks of attribution (exec on every filesystem, closes in the program directories) are merged by the kernel with
/// the user's: such an event is reported only where the user's mark alone would have raised it.
/// </summary>
internal sealed unsafe class AttributionScope
{
    private readonly FanotifyScope _scope;
    private readonly string[] _paths;
    private readonly HashSet<(uint, uint)> _devices = [];
    private readonly HashSet<ulong> _mountIds = [];

    public AttributionScope(FanotifyScope scope, string[] paths)
    {
        _scope = scope;
        _paths = paths;
        foreach (string path in paths)
        {
            if (FileSystemFacts.MountOf(path) is { } mount)
            {
                _devices.Add(mount.DeviceNumber);
                _mountIds.Add((ulong)mount.Id);
            }
        }
    }

    /// <summary>The user's marks cover this file (read through the event's fd).</summary>
    public bool Reports(int fd, string path, byte* statx)
    {
        byte emptyPath = 0;
        switch (_scope)
        {
            case FanotifyScope.Filesystem:
            case FanotifyScope.Tree:   // the Tree's paths are filtered after this, as every event's are
                return fd >= 0 && Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_INO, statx) == 0 &&
                    _devices.Contains((*(uint*)(statx + Libc.StatxDevMajorOffset), *(uint*)(statx + Libc.StatxDevMinorOffset)));
            case FanotifyScope.Mount:
                return fd >= 0 && Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_MNT_ID, statx) == 0 &&
                    _mountIds.Contains(*(ulong*)(statx + Libc.StatxMntIdOffset));
            default:
                string? directory = Path.GetDirectoryName(path);
                foreach (string watched in _paths)
                {
                    if (string.Equals(watched, path, StringComparison.Ordinal) ||
                        (_scope == FanotifyScope.Directory && string.Equals(watched, directory, StringComparison.Ordinal)))
                    {
                        return true;
                    }
                }

                return false;
        }
    }
}
