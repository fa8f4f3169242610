namespace FanotifyPS;

/// <summary>
/// What the running kernel's fanotify supports, and what the current user may use of it, found by trying each
/// feature (Get-FanotifyCapability). Without CAP_SYS_ADMIN the features only root may use cannot be tried: they are
/// null (not probed), never False, which says the kernel lacks them.
/// </summary>
public sealed class FanotifyCapability
{
    public string KernelRelease { get; internal set; } = string.Empty;

    /// <summary>
    /// The directory probed: -Path, or the temporary directory. The filesystem-dependent features (file handles,
    /// FsError, permission events) are those of its filesystem, the mount mark that of its mount.
    /// </summary>
    public string Path { get; internal set; } = string.Empty;

    /// <summary>This process may use all of fanotify (CAP_SYS_ADMIN); False: only what an unprivileged user may (Linux 5.13+).</summary>
    public bool Privileged { get; internal set; }

    /// <summary>The scopes this user may watch here.</summary>
    public FanotifyScope[] AvailableScopes { get; internal set; } = [];

    /// <summary>The events this user may watch here (each tried on an inode mark of the probe directory; FsError on a filesystem mark).</summary>
    public FanotifyEventType AvailableEvents { get; internal set; }

    /// <summary>Events name the process that caused them; False without CAP_SYS_ADMIN (the kernel reports none but the watcher's own).</summary>
    public bool ReportsProcesses { get; internal set; }

    public bool Fanotify { get; internal set; }
    public bool? PermissionEvents { get; internal set; }
    public bool OpenExecEvents { get; internal set; }
    public bool? OpenExecPermission { get; internal set; }
    public bool? FilesystemMark { get; internal set; }
    public bool? MountMark { get; internal set; }
    public bool? UnlimitedQueue { get; internal set; }
    public bool FileHandleReporting { get; internal set; }
    public bool DirectoryEntryNames { get; internal set; }
    public bool TargetFileHandle { get; internal set; }
    public bool RenameEvents { get; internal set; }
    public bool? FsErrorEvents { get; internal set; }
    public bool? PidFd { get; internal set; }
    public bool? ThreadId { get; internal set; }
    public bool IgnoreMarks { get; internal set; }
    public bool? PreContentClass { get; internal set; }
    public bool? DenyErrno { get; internal set; }

    /// <summary>The kernel's process events connector answers: processes gone before their events are read are named. Null: not used without root.</summary>
    public bool? ProcessEvents { get; internal set; }

    /// <summary>Why the process events connector is not available; empty when it is.</summary>
    public string ProcessEventsReason { get; internal set; } = string.Empty;
    public long MaxQueuedEvents { get; internal set; } = -1;
    public long MaxUserGroups { get; internal set; } = -1;
    public long MaxUserMarks { get; internal set; } = -1;
}
