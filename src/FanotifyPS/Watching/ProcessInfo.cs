using System;

namespace FanotifyPS.Watching;

/// <summary>What the watcher knows of a process, read once from /proc and cached.</summary>
internal sealed class ProcessInfo
{
    public static readonly ProcessInfo Unknown = new([], string.Empty, string.Empty, string.Empty, 0, -1, 0) { Source = ProcessSource.Unknown };

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

    /// <summary>Where these facts came from; Unknown only for <see cref="Unknown"/>.</summary>
    public ProcessSource Source { get; init; } = ProcessSource.Live;

    /// <summary>Field 22 of /proc/PID/stat (clock ticks since boot): with the pid, the process's identity; 0 when not read.</summary>
    public ulong StartTicks { get; init; }

    /// <summary>Read from /proc while the process ran this program (else made from an exec event, or inherited): complete.</summary>
    public bool IsRead { get; init; } = true;

    /// <summary>The history's sequence when these facts were read or made (0: no history).</summary>
    public long Sequence { get; init; }

    /// <summary>The process connector's name of the pid's life these facts are of (its first message); 0 when not known.</summary>
    public long LifeKey { get; init; }

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

    /// <summary>These facts under another source; for a fork that did not exec, the child's pid, parent and start.</summary>
    internal ProcessInfo Copy(ProcessSource source, long sequence, int? processId = null, int? parentProcessId = null, DateTime? startTime = null,
        bool? isRead = null, int? userId = null, long? lifeKey = null) =>
        new(Link, Exe, Name, CommandLine, parentProcessId ?? ParentProcessId, userId ?? UserId, processId ?? ProcessId)
        {
            LifeKey = lifeKey ?? (processId is null ? LifeKey : 0),
            Source = source,
            Sequence = sequence,
            IsRead = isRead ?? (processId is null && IsRead),
            StartTicks = processId is null ? StartTicks : 0,
            StartTime = startTime ?? (processId is null ? StartTime : default),
            LoginUserId = LoginUserId,
            SessionId = SessionId,
            Cgroup = Cgroup,
            ContainerId = ContainerId,
        };

    /// <summary>PermissionPolicy.MatchMask of this process, once <see cref="HasRuleMask"/>; kept by the responder that owns it.</summary>
    internal ulong RuleMask;

    /// <summary>RuleMask has been judged (a mask of 0 is an answer too: no rule can match this process).</summary>
    internal bool HasRuleMask;
}
