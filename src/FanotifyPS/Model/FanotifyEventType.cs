using System;

namespace FanotifyPS;

/// <summary>fanotify event bits; every value is the kernel's FAN_* value.</summary>
[Flags]
#pragma warning disable CA1028 // The kernel mask is a u64: the enum mirrors it.
#pragma warning disable CA1711 // "Event" is not an event handler suffix here.
public enum FanotifyEventType : ulong
#pragma warning restore CA1711
#pragma warning restore CA1028
{
    None = 0,
    Access = 0x00000001,        // FAN_ACCESS
    Modify = 0x00000002,        // FAN_MODIFY
    Attrib = 0x00000004,        // FAN_ATTRIB
    CloseWrite = 0x00000008,    // FAN_CLOSE_WRITE
    CloseNoWrite = 0x00000010,  // FAN_CLOSE_NOWRITE
    Open = 0x00000020,          // FAN_OPEN
    MovedFrom = 0x00000040,     // FAN_MOVED_FROM
    MovedTo = 0x00000080,       // FAN_MOVED_TO
    Create = 0x00000100,        // FAN_CREATE
    Delete = 0x00000200,        // FAN_DELETE
    DeleteSelf = 0x00000400,    // FAN_DELETE_SELF
    MoveSelf = 0x00000800,      // FAN_MOVE_SELF
    OpenExec = 0x00001000,      // FAN_OPEN_EXEC
    Overflow = 0x00004000,      // FAN_Q_OVERFLOW
    FsError = 0x00008000,       // FAN_FS_ERROR
    OpenPerm = 0x00010000,      // FAN_OPEN_PERM
    AccessPerm = 0x00020000,    // FAN_ACCESS_PERM
    OpenExecPerm = 0x00040000,  // FAN_OPEN_EXEC_PERM
    Rename = 0x10000000,        // FAN_RENAME

    // Shorthands for -Event (the kernel's FAN_CLOSE and FAN_MOVE, and every non-permission event).
    Close = CloseWrite | CloseNoWrite,
    Move = MovedFrom | MovedTo,
    All = Access | Modify | Attrib | Close | Open | Move | Create | Delete | DeleteSelf | MoveSelf | OpenExec | FsError | Rename,
}

// The enums below are 64-bit like FanotifyEventType: ConvertTo-Json writes 64-bit enums by name and others as
// numbers, so "Response":"Deny" reads like "Event":"OpenPerm" without -EnumsAsStrings.
#pragma warning disable CA1028

/// <summary>The verdict written back for a permission event.</summary>
public enum FanotifyResponse : long
{
    None = 0,
    Allow = 1,
    Deny = 2,
    /// <summary>-AuditOnly: a rule would have denied it; it was allowed.</summary>
    WouldDeny = 3,
}

/// <summary>What a rule does with the permission events it matches.</summary>
public enum FanotifyRuleAction : long
{
    Deny = 0,
    Allow = 1,
}

/// <summary>What a watch marks for each -Path.</summary>
public enum FanotifyScope : long
{
    /// <summary>The whole filesystem behind the path, through every mount of it (FAN_MARK_FILESYSTEM).</summary>
    Filesystem = 0,
    /// <summary>The mount the path is on (FAN_MARK_MOUNT).</summary>
    Mount = 1,
    /// <summary>The directory and everything below it at any depth (a filesystem mark, filtered).</summary>
    Tree = 2,
    /// <summary>The directory itself and its direct children (an inode mark with FAN_EVENT_ON_CHILD).</summary>
    Directory = 3,
    /// <summary>One file (an inode mark).</summary>
    File = 4,
}

/// <summary>Where an event's process facts (Exe, ProcessName, ...) came from.</summary>
public enum ProcessSource : long
{
    /// <summary>Nothing sure is known: Exe and ProcessName are empty rather than possibly wrong.</summary>
    Unknown = 0,
    /// <summary>Read from /proc while the process ran (a permission event holds it; or it still ran when read).</summary>
    Live = 1,
    /// <summary>From the process's exec, seen in the same queue before the event: the program file itself.</summary>
    Exec = 2,
    /// <summary>A fork that did not exec: its parent's program at the fork (the process connector told the parent).</summary>
    Inherited = 3,
}
#pragma warning restore CA1028
