using System;
using System.Collections.Generic;
using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// The lives of processes as the kernel's process events connector told them (fork, exec, exit), shared by every
/// watch of the module. A second queue beside each fanotify group's: its order relative to a group's events is not
/// known, so a responder uses it only to tell what cannot be ambiguous (which parent a fork-only child has, how many
/// times a process exec'd, whether its pid was reused), never to place an event in time.
/// </summary>
/// <remarks>
/// One writer (the listener, which applies messages in the order it reads them) and many readers, under one lock:
/// readers are responders on a miss, so the lock is taken rarely and held for microseconds.
/// Bounded: a life is forgotten once it has exited and every consumer has drained its fanotify queue past the exit
/// (<see cref="MarkDrained"/>); beyond <see cref="MaxLives"/> the oldest ended lives go first, and that is a loss.
/// </remarks>
internal sealed class ProcessHistory
{
    internal const int MaxLives = 65536;

    private readonly object _lock = new();
    private readonly Dictionary<int, List<ProcessLife>> _lives = new(1024);
    private readonly List<long> _drained = [];   // per consumer: every fanotify event read after this sequence was queued after it
    private long _sequence;
    private long _lostCount;
    private long _firstLossSequence;
    private int _lifeCount;

    /// <summary>Messages applied so far; a consumer notes it before it reads its group.</summary>
    public long Sequence => Interlocked.Read(ref _sequence);

    private const int LastForkMask = (1 << 16) - 1;
    private readonly long[] _lastFork = new long[LastForkMask + 1];

    /// <summary>
    /// The sequence of the last fork of a pid that shares its low 16 bits with <paramref name="processId"/>: a
    /// responder's check, without the lock, that no process took the pid since it learned who has it.
    /// </summary>
    public long LastForkOf(int processId) => Volatile.Read(ref _lastFork[processId & LastForkMask]);

    /// <summary>Times the connector said messages were lost (ENOBUFS), or a life was forgotten to stay bounded.</summary>
    public long LostCount => Interlocked.Read(ref _lostCount);

    /// <summary>The sequence at the first loss (0: none): a life that overlaps it may lack an event.</summary>
    public long FirstLossSequence => Interlocked.Read(ref _firstLossSequence);

    public int LifeCount
    {
        get
        {
            lock (_lock)
            {
                return _lifeCount;
            }
        }
    }

    public void OnFork(int parentProcessId, int processId, ulong timestampNs)
    {
        lock (_lock)
        {
            long sequence = ++_sequence;
            List<ProcessLife> lives = LivesOf(processId);
            if (lives.Count > 0 && lives[^1].ExitSequence == 0)
            {
                // A new life under a pid whose exit we never heard of: an exit was lost.
                lives[^1].ExitSequence = sequence;
                NoteLoss(sequence);
            }

            lives.Add(new ProcessLife(sequence, parentProcessId, timestampNs));
            Volatile.Write(ref _lastFork[processId & LastForkMask], sequence);
            _lifeCount++;
            CurrentLife(parentProcessId, sequence).RunningChildren++;
            if (_lifeCount > MaxLives)
            {
                ForgetOldest();
            }
        }
    }

    public void OnExec(int processId)
    {
        lock (_lock)
        {
            long sequence = ++_sequence;
            CurrentLife(processId, sequence).Execs.Add(sequence);
        }
    }

    /// <summary>The process changed its user ids (setuid(), setresuid()): from here on its effective uid is <paramref name="userId"/>.</summary>
    public void OnIdChange(int processId, int userId)
    {
        lock (_lock)
        {
            long sequence = ++_sequence;
            ProcessLife life = CurrentLife(processId, sequence);
            life.IdChangeSequence = sequence;
            life.UserIdAfterChange = userId;
        }
    }

    public void OnExit(int processId)
    {
        lock (_lock)
        {
            long sequence = ++_sequence;
            ProcessLife life = CurrentLife(processId, sequence);
            life.ExitSequence = sequence;
            if (life.ForkSequence != 0 && _lives.TryGetValue(life.ParentProcessId, out List<ProcessLife>? parentLives))
            {
                ProcessLife? parent = parentLives.FindLast(p => p.FirstSequence <= life.ForkSequence);
                if (parent is not null && parent.RunningChildren > 0)
                {
                    parent.RunningChildren--;
                }
            }
        }
    }

    /// <summary>The connector lost messages (ENOBUFS): some lives lack a fork, an exec or an exit.</summary>
    public void OnLoss()
    {
        lock (_lock)
        {
            NoteLoss(++_sequence);
        }
    }

    /// <summary>The lives of pid that had not ended by <paramref name="since"/>, oldest first (a copy).</summary>
    public ProcessLife[] LivesSince(int processId, long since)
    {
        lock (_lock)
        {
            if (!_lives.TryGetValue(processId, out List<ProcessLife>? lives))
            {
                return [];
            }

            int first = lives.FindIndex(life => life.ExitSequence == 0 || life.ExitSequence > since);
            if (first < 0)
            {
                return [];
            }

            var copy = new ProcessLife[lives.Count - first];
            for (int i = first; i < lives.Count; i++)
            {
                copy[i - first] = lives[i].Copy();
            }

            return copy;
        }
    }

    /// <summary>Registers a consumer (a responder) whose fanotify queue may still hold events of ended lives.</summary>
    public int AddConsumer()
    {
        lock (_lock)
        {
            int free = _drained.IndexOf(-1);
            if (free >= 0)
            {
                _drained[free] = _sequence;
                return free;
            }

            _drained.Add(_sequence);
            return _drained.Count - 1;
        }
    }

    public void RemoveConsumer(int consumer)
    {
        lock (_lock)
        {
            _drained[consumer] = -1;
        }
    }

    /// <summary>
    /// The consumer's queue was empty after a read that began at <paramref name="sequence"/>: every event of a life
    /// that ended before it has been read, and the lives no consumer needs any more are forgotten.
    /// </summary>
    public void MarkDrained(int consumer, long sequence)
    {
        lock (_lock)
        {
            _drained[consumer] = Math.Max(_drained[consumer], sequence);
            long oldest = long.MaxValue;
            foreach (long drained in _drained)
            {
                if (drained >= 0)
                {
                    oldest = Math.Min(oldest, drained);
                }
            }

            if (oldest == long.MaxValue || _lifeCount == 0)
            {
                return;
            }

            List<int>? empty = null;
            foreach ((int pid, List<ProcessLife> lives) in _lives)
            {
                // A parent is kept while a child it forked runs: the child's events are named after it.
                _lifeCount -= lives.RemoveAll(life => life.ExitSequence != 0 && life.ExitSequence < oldest && life.RunningChildren == 0);
                if (lives.Count == 0)
                {
                    (empty ??= []).Add(pid);
                }
            }

            foreach (int pid in empty ?? [])
            {
                _lives.Remove(pid);
            }
        }
    }

    private List<ProcessLife> LivesOf(int processId)
    {
        if (!_lives.TryGetValue(processId, out List<ProcessLife>? lives))
        {
            lives = new List<ProcessLife>(1);
            _lives[processId] = lives;
        }

        return lives;
    }

    /// <summary>The running life of pid; one begun before the listener (no fork seen) if there is none.</summary>
    private ProcessLife CurrentLife(int processId, long sequence)
    {
        List<ProcessLife> lives = LivesOf(processId);
        if (lives.Count == 0 || lives[^1].ExitSequence != 0)
        {
            lives.Add(new ProcessLife(0, 0, 0) { FirstSequence = sequence });
            _lifeCount++;
        }

        return lives[^1];
    }

    private void NoteLoss(long sequence)
    {
        _lostCount++;
        if (_firstLossSequence == 0)
        {
            _firstLossSequence = sequence;
        }
    }

    private void ForgetOldest()
    {
        int oldestPid = 0;
        long oldestExit = long.MaxValue;
        foreach ((int pid, List<ProcessLife> lives) in _lives)
        {
            if (lives[0].ExitSequence != 0 && lives[0].ExitSequence < oldestExit && lives[0].RunningChildren == 0)
            {
                oldestExit = lives[0].ExitSequence;
                oldestPid = pid;
            }
        }

        if (oldestExit == long.MaxValue)
        {
            return;
        }

        List<ProcessLife> oldest = _lives[oldestPid];
        oldest.RemoveAt(0);
        _lifeCount--;
        if (oldest.Count == 0)
        {
            _lives.Remove(oldestPid);
        }

        NoteLoss(_sequence);
    }
}

/// <summary>One life of a pid: from its fork (or from when the listener first heard of it) to its exit.</summary>
internal sealed class ProcessLife
{
    public ProcessLife(long forkSequence, int parentProcessId, ulong forkTimeNs)
    {
        ForkSequence = forkSequence;
        FirstSequence = forkSequence;
        ParentProcessId = parentProcessId;
        ForkTimeNs = forkTimeNs;
    }

    /// <summary>The fork's sequence; 0 when the process began before the listener heard of it.</summary>
    public long ForkSequence { get; }

    /// <summary>The first message of this life (its fork, or its first exec or exit).</summary>
    public long FirstSequence { get; init; }

    /// <summary>The parent at the fork (0 when no fork was seen).</summary>
    public int ParentProcessId { get; }

    /// <summary>CLOCK_MONOTONIC of the fork, in ns (0 when no fork was seen).</summary>
    public ulong ForkTimeNs { get; }

    /// <summary>The sequences of its execs, in order.</summary>
    public List<long> Execs { get; private init; } = [];

    /// <summary>The exit's sequence; 0 while it runs.</summary>
    public long ExitSequence { get; set; }

    /// <summary>Children it forked that have not exited.</summary>
    public int RunningChildren { get; set; }

    /// <summary>The sequence of its last change of user ids (setuid()...); 0 if none was heard of.</summary>
    public long IdChangeSequence { get; set; }

    /// <summary>The effective uid that change set.</summary>
    public int UserIdAfterChange { get; set; } = -1;

    public ProcessLife Copy() => new(ForkSequence, ParentProcessId, ForkTimeNs)
    {
        FirstSequence = FirstSequence,
        Execs = [.. Execs],
        ExitSequence = ExitSequence,
        RunningChildren = RunningChildren,
        IdChangeSequence = IdChangeSequence,
        UserIdAfterChange = UserIdAfterChange,
    };
}
