using System;
using System.Linq;

namespace FanotifyPS;

/// <summary>
/// One rule of a permission policy. A rule matches a permission event when every part it gives matches
/// (Path, Exe, User, LoginUser and File each match if any of their values does); rules are checked in order, the first match
/// decides, and an event no rule matches is allowed.
/// </summary>
public sealed class FanotifyRule
{
    internal const FanotifyEventType PermissionEvents =
        FanotifyEventType.OpenPerm | FanotifyEventType.AccessPerm | FanotifyEventType.OpenExecPerm;

    internal FanotifyRule(string name, FanotifyRuleAction action, string[] path, string[] exe, string[] user,
        FanotifyEventType eventType, string errno, string[]? file = null)
    {
        Name = name;
        Action = action;
        Path = path;
        Exe = exe;
        User = user;
        File = file ?? [];
        Event = eventType;
        Errno = errno;
    }

    public string Name { get; }

    public FanotifyRuleAction Action { get; }

    /// <summary>Wildcards matched against the file's path (case-sensitive); empty matches any.</summary>
    public string[] Path { get; }

    /// <summary>Wildcards matched against the program's path (case-sensitive); empty matches any.</summary>
    public string[] Exe { get; }

    /// <summary>
    /// Files matched by identity (device and inode, taken when the watch starts): every name of the file, hard
    /// links and later renames included. Empty matches any.
    /// </summary>
    public string[] File { get; }

    /// <summary>User names or numeric ids, matched against the process's effective uid; empty matches any.</summary>
    public string[] User { get; }

    /// <summary>
    /// User names or numeric ids, matched against the process's audit login uid (/proc/PID/loginuid): the user who
    /// logged in, through sudo and su. A process no login started has none and matches no value. Empty matches any.
    /// </summary>
    public string[] LoginUser { get; init; } = [];

    /// <summary>The permission events the rule applies to.</summary>
    public FanotifyEventType Event { get; }

    /// <summary>The errno a denied call fails with (FAN_DENY_ERRNO, Linux 6.14+); empty for EPERM, the kernel's default.</summary>
    public string Errno { get; }

    public override string ToString()
    {
        var parts = new System.Collections.Generic.List<string>();
        if (Path.Length != 0)
        {
            parts.Add($"Path {string.Join(", ", Path)}");
        }

        if (Exe.Length != 0)
        {
            parts.Add($"Exe {string.Join(", ", Exe)}");
        }

        if (User.Length != 0)
        {
            parts.Add($"User {string.Join(", ", User)}");
        }

        if (LoginUser.Length != 0)
        {
            parts.Add($"LoginUser {string.Join(", ", LoginUser)}");
        }

        if (File.Length != 0)
        {
            parts.Add($"File {string.Join(", ", File)}");
        }

        string what = parts.Count == 0 ? "everything" : string.Join(" and ", parts);
        string errno = Errno.Length == 0 ? string.Empty : $" with {Errno}";
        return $"{Name}: {Action}{errno} {what} ({Event})";
    }

    /// <summary>The rule gives no condition: it matches every permission event of its kinds.</summary>
    internal bool HasNoCondition => Path.Length == 0 && Exe.Length == 0 && User.Length == 0 && File.Length == 0 && LoginUser.Length == 0;

    internal static string[] Clean(string[]? values) =>
        values is null ? [] : values.Where(v => !string.IsNullOrEmpty(v)).ToArray();
}
