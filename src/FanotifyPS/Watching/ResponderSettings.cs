namespace FanotifyPS.Watching;

/// <summary>What a responder is told about its group and its watch.</summary>
internal sealed class ResponderSettings
{
    public required int WatchId { get; init; }
    public required GroupKind Kind { get; init; }
    public required ReportFilter Filter { get; init; }
    public PermissionPolicy? Policy { get; init; }
    public bool AuditOnly { get; init; }
    /// <summary>The group takes FAN_DENY_ERRNO (probed at the start); else every deny is FAN_DENY (EPERM).</summary>
    public bool DenyWithErrno { get; init; }
    public bool IncludeSelf { get; init; }
    public bool ThreadIds { get; init; }
    public int SpinMicroseconds { get; init; }
    /// <summary>The fds the kernel opens for each event a read returns: the event's, and a pidfd.</summary>
    public int FdsPerEvent { get; init; }
    public HandleResolver? Handles { get; init; }
    /// <summary>Where rules and the Tree judge a file opened through another mount; null for Mount scope (or no file handles).</summary>
    public MountTranslator? Mounts { get; init; }

    /// <summary>The events the user asked this group for; any other bit (the exec marks' FAN_OPEN_EXEC) is not reported.</summary>
    public ulong RequestedEvents { get; init; }

    /// <summary>An unprivileged group: pid 0 for others' events, no exec marks, paths from the marked inodes only.</summary>
    public bool Unprivileged { get; init; }

    /// <summary>Who each process is: fed by the exec events of this group's queue. Owned by the responder.</summary>
    public required ProcessTable Processes { get; init; }

    /// <summary>Which FAN_OPEN_EXEC and FAN_CLOSE_NOWRITE events the user's own marks ask for (null: the user asked for neither).</summary>
    public AttributionScope? AttributionScope { get; init; }

    /// <summary>The process connector's history, whose sequence a read notes before it starts; null without one.</summary>
    public ProcessHistory? History { get; init; }

    /// <summary>The facts the watch's groups read of each process life, shared by them (null for one group, or without root).</summary>
    public ProcessDescriptions? Descriptions { get; init; }
}

internal enum GroupKind
{
    /// <summary>Events carry an open fd: open, access, modify, close, exec and the permission events.</summary>
    FileDescriptor,
    /// <summary>Events carry file handles (FAN_REPORT_DFID_NAME | FAN_REPORT_FID): directory entries, attrib, self events, fs errors.</summary>
    FileHandle,
}
