using System;
using System.Collections.Concurrent;

namespace FanotifyPS.Watching;

/// <summary>
/// One description per process life for a watch's groups: the facts one group read from /proc while a process ran
/// are given to the other group's events of the same life and program, which that group knew only from an exec
/// event (no command line, the program file's name for comm) or not at all.
/// </summary>
/// <remarks>
/// A life is named by the process connector (<see cref="ProcessInfo.LifeKey"/>, shared by every group's table), so
/// facts are never lent across lives of a reused pid. Shared by the responders of one watch: a lock-free read per
/// event; a write (a bucket lock, never held while waiting) only when a group has read a life's facts.
/// </remarks>
internal sealed class ProcessDescriptions
{
    private const int MaxLives = 8192;
    private readonly ConcurrentDictionary<(int Pid, long Life, int Program), ProcessInfo> _read = new();

    /// <summary>The fullest description of this event's process that the watch has: facts read from /proc while it ran this program.</summary>
    public ProcessInfo Describe(int pid, ProcessInfo facts)
    {
        if (facts.LifeKey == 0 || facts.Source == ProcessSource.Unknown)
        {
            return facts;
        }

        // A life may run several programs (bash, then the cat it exec'd): one description each.
        (int, long, int) key = (pid, facts.LifeKey, StringComparer.Ordinal.GetHashCode(facts.Exe));
        if (WasRead(facts))
        {
            if (!_read.TryGetValue(key, out ProcessInfo? known) || !ReferenceEquals(known, facts))
            {
                if (_read.Count >= MaxLives)
                {
                    _read.Clear();   // lives end; what is forgotten is re-read, never guessed
                }

                _read[key] = facts;
            }

            return facts;
        }

        return _read.TryGetValue(key, out ProcessInfo? read) && string.Equals(read.Exe, facts.Exe, StringComparison.Ordinal) &&
            facts.ProcessId == read.ProcessId ? read : facts;
    }

    /// <summary>Read from /proc while the process ran this program (an exec entry read at once counts too: not yet re-read for a verdict).</summary>
    private static bool WasRead(ProcessInfo facts) => facts.StartTicks != 0 && (facts.IsRead || facts.CommandLine.Length > 0);

    /// <summary>
    /// Completes an event as it enters the job's Output (on the pump or a reader): the other group may have read the
    /// process after this event's group named it from its exec alone. Not the user: it may have changed since.
    /// </summary>
    public void Complete(FanotifyEvent item)
    {
        if (item.LifeKey == 0 || item.CommandLine.Length != 0 || item.Exe.Length == 0 ||
            !_read.TryGetValue((item.ThreadId ?? item.ProcessId, item.LifeKey, StringComparer.Ordinal.GetHashCode(item.Exe)), out ProcessInfo? read) ||
            !string.Equals(read.Exe, item.Exe, StringComparison.Ordinal))
        {
            return;
        }

        item.ProcessName = read.Name;
        item.CommandLine = read.CommandLine;
        item.ParentProcessId = item.ParentProcessId == 0 ? read.ParentProcessId : item.ParentProcessId;
        item.LoginUserId ??= read.LoginUserId >= 0 ? read.LoginUserId : null;
        item.SessionId ??= read.SessionId >= 0 ? read.SessionId : null;
        item.ProcessStartTimeUtc ??= read.HasFacts ? read.StartTime : null;
        item.Cgroup = item.Cgroup.Length == 0 ? read.Cgroup : item.Cgroup;
        item.ContainerId = item.ContainerId.Length == 0 ? read.ContainerId : item.ContainerId;
    }
}
