using System;

namespace FanotifyPS.Watching;

/// <summary>What the watcher knows of a process, read once from /proc and cached.</summary>
internal sealed class ProcessInfo
{
    public static readonly ProcessInfo Unknown = new([], string.Empty, string.Empty, string.Empty, 0, -1, 0);

    public ProcessInfo(byte[] link, string exe, string name, string commandLine, int parentProcessId, int userId, int processId)
    {
        Link = link;
        Exe = exe;
        Name = name;
        CommandLine = commandLine;
        ParentProcessId = parentProcessId;
        UserId = userId;
        ProcessId = processId;
    }

    public byte[] Link { get; }
    public string Exe { get; }
    public string Name { get; }
    public string CommandLine { get; }
    public int ParentProcessId { get; }
    public int UserId { get; }

    /// <summary>The thread group id (differs from the event's pid only when the watch reports threads); 0 when unknown.</summary>
    public int ProcessId { get; }

    /// <summary>The audit login uid (/proc/PID/loginuid): who logged in, through sudo and su; -1 when unset or unknown.</summary>
    public int LoginUserId { get; init; } = -1;

    /// <summary>The audit session (/proc/PID/sessionid); -1 when unset or unknown.</summary>
    public long SessionId { get; init; } = -1;

    /// <summary>When the process started (UTC), from /proc/PID/stat; default when unknown. With the pid, its identity.</summary>
    public DateTime StartTime { get; init; }

    /// <summary>The cgroup v2 path; empty when unknown or on a host without cgroup v2.</summary>
    public string Cgroup { get; init; } = string.Empty;

    /// <summary>The 64-hex id of the container whose cgroup the process is in; empty on the host.</summary>
    public string ContainerId { get; init; } = string.Empty;

    /// <summary>The process's /proc files were read (its stat at least): LoginUserId, Cgroup... are facts, not defaults.</summary>
    public bool HasFacts => StartTime != default;

    /// <summary>PermissionPolicy.MatchMask of this process, once <see cref="HasRuleMask"/>; kept by the responder that owns it.</summary>
    internal ulong RuleMask;

    /// <summary>RuleMask has been judged (a mask of 0 is an answer too: no rule can match this process).</summary>
    internal bool HasRuleMask;
}
