namespace FanotifyPS;

/// <summary>What the running kernel's fanotify supports, found by trying each feature (Get-FanotifyCapability).</summary>
public sealed class FanotifyCapability
{
    public string KernelRelease { get; internal set; } = string.Empty;

    /// <summary>
    /// The directory probed: -Path, or the temporary directory. The filesystem-dependent features (file handles,
    /// FsError, permission events) are those of its filesystem, the mount mark that of its mount.
    /// </summary>
    public string Path { get; internal set; } = string.Empty;

    public bool Fanotify { get; internal set; }
    public bool PermissionEvents { get; internal set; }
    public bool OpenExecEvents { get; internal set; }
    public bool OpenExecPermission { get; internal set; }
    public bool FilesystemMark { get; internal set; }
    public bool MountMark { get; internal set; }
    public bool UnlimitedQueue { get; internal set; }
    public bool FileHandleReporting { get; internal set; }
    public bool DirectoryEntryNames { get; internal set; }
    public bool TargetFileHandle { get; internal set; }
    public bool RenameEvents { get; internal set; }
    public bool FsErrorEvents { get; internal set; }
    public bool PidFd { get; internal set; }
    public bool ThreadId { get; internal set; }
    public bool IgnoreMarks { get; internal set; }
    public bool PreContentClass { get; internal set; }
    public bool DenyErrno { get; internal set; }

    /// <summary>The kernel's process events connector answers: processes gone before their events are read are named.</summary>
    public bool ProcessEvents { get; internal set; }

    /// <summary>Why the process events connector is not available; empty when it is.</summary>
    public string ProcessEventsReason { get; internal set; } = string.Empty;
    public long MaxQueuedEvents { get; internal set; } = -1;
    public long MaxUserGroups { get; internal set; } = -1;
    public long MaxUserMarks { get; internal set; } = -1;
}
