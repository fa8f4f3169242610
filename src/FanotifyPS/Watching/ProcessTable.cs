using System;
using System.Collections.Generic;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Who each pid is at the current position of one group's queue: a responder's own table, fed by the exec events
/// of that queue (read in order with the file events), by /proc while a process runs, and by the process connector's
/// history (forks, reuse of a pid). It names an event's process only when it is sure; otherwise Unknown.
/// </summary>
/// <remarks>
/// Why each source can be trusted, and when not:
/// - An exec event precedes, in the same queue, everything its process did after it: an entry made from it is the
///   program for every later event of that pid, unless the pid was reused meanwhile (the history tells: one life
///   since the watch started), or the process exec'd a program on a filesystem without an exec mark (then the
///   entry is stale and nothing here can tell: see the README's "Processes: who did it").
/// - The last close of a program in a marked program directory is its process's exit, in the same queue: with a
///   reused pid, an event between the exec and that close is still of the life that exec'd.
/// - A permission event holds its process: /proc is exact then.
/// - /proc for a notification event is read after the fact: if the process exec'd since, /proc names the new
///   program. So /proc is used only where the history says the process did not exec since the watch started, or
///   its exe link still equals the entry's.
/// - A fork that did not exec has its parent's program at the fork: the parent's entry is used when the history
///   says the parent did not exec between the fork and the child's exit.
/// Without the history (no process connector, or it lost messages) a gone process is named only by a zombie whose
/// start time matches: a pid may have been reused. Facts read while a process ran carry its start time, which
/// names its life in the history.
/// Single-threaded: only the responder that owns it calls it.
/// </remarks>
internal sealed unsafe class ProcessTable : IDisposable
{
    internal const int PruneAbove = 4096;
    private const int MaxInheritanceDepth = 8;
    private const int ImageBufferSize = 4096;
    private const long DrainedMarkTicks = 100 * TimeSpan.TicksPerMillisecond;

    private readonly ProcessResolver _proc = new();
    private readonly Dictionary<int, Entry> _entries = new(1024);
    private readonly Dictionary<string, int> _unseenExits = new(StringComparer.Ordinal);
    private readonly ProcessHistory? _history;
    private readonly Action? _drain;
    private readonly int _consumer = -1;
    private readonly long _startSequence;
    private long _marksPlacedSequence = long.MaxValue;
    // The exec event being applied (set by OnExec and NewExec for ExecFacts).
    private bool _execGone;
    private ProcessLife? _execLife;
    private long _execSequence;
    private long _prunedBefore;
    private int _execPidFd = Fanotify.FAN_NOPIDFD;
    private volatile bool _execEvents = true;
    private volatile HashSet<string>? _programDirectories;
    private bool _drainedInBatch;
    private long _batchSequence = long.MaxValue;
    private long _lastDrainedMark;
    private int _pruneAbove = PruneAbove;
    private byte* _image = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc(ImageBufferSize);
    private byte* _statx = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(Libc.StatxSize, 8);

    /// <param name="history">The process connector's history, or null where it is unavailable.</param>
    /// <param name="drain">Reads what the connector has queued, so that the history holds every message sent so far.</param>
    /// <param name="running">The processes found running at the start (shared, read-only).</param>
    public ProcessTable(ProcessHistory? history, Action? drain, long startSequence, IReadOnlyDictionary<int, ProcessInfo>? running)
    {
        _history = history;
        _drain = drain;
        _startSequence = startSequence;
        if (history is not null)
        {
            _consumer = history.AddConsumer();
        }

        foreach ((int pid, ProcessInfo facts) in running ?? new Dictionary<int, ProcessInfo>())
        {
            _entries[pid] = new Entry { Facts = facts, FromScan = true, Seen = startSequence };
        }
    }

    public int Count => _entries.Count;

    /// <summary>The processes running now, read from /proc (at the start of a watch, before its exec marks).</summary>
    public static Dictionary<int, ProcessInfo> ScanRunning()
    {
        var running = new Dictionary<int, ProcessInfo>(512);
        using var proc = new ProcessResolver();
        string[] directories;
        try
        {
            directories = System.IO.Directory.GetDirectories("/proc");
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
            return running;
        }

        foreach (string directory in directories)
        {
            if (int.TryParse(System.IO.Path.GetFileName(directory), System.Globalization.NumberStyles.None,
                    System.Globalization.CultureInfo.InvariantCulture, out int pid) &&
                proc.ReadRunning(pid) is { } facts)
            {
                running[pid] = facts;
            }
        }

        return running;
    }

    /// <summary>Every exec mark is placed: an exec after this sequence raised an exec event in the queue.</summary>
    /// <param name="execEvents">The exec marks were placed (false: the kernel has no FAN_OPEN_EXEC, or refused them).</param>
    /// <param name="programDirectories">The directories whose program files' closes mark an exit in this queue.</param>
    public void MarksPlaced(long sequence, bool execEvents = true, HashSet<string>? programDirectories = null)
    {
        _execEvents = execEvents;
        _programDirectories = programDirectories;
        System.Threading.Volatile.Write(ref _marksPlacedSequence, sequence);
    }

    private bool Degraded => _history is null || (_history.FirstLossSequence != 0 && _history.FirstLossSequence > _startSequence);

    /// <summary>A new batch: the history is drained again before its first use.</summary>
    public void BeginBatch() => _drainedInBatch = false;

    /// <summary>
    /// The pid's facts were read from /proc already, and the history can tell later whether they are still its: a
    /// permission event of it may be answered before it is read again. Without the history, every one is read first.
    /// </summary>
    public bool Knows(int pid) => !Degraded && _entries.TryGetValue(pid, out Entry? entry) && entry.Facts.IsRead;

    /// <summary>
    /// The queue was empty after a read that began at <paramref name="sequence"/>: every event of a process that
    /// ended before it has been read. Lets the history forget, and forgets entries of such processes.
    /// </summary>
    public void QueueDrained(long sequence)
    {
        long now = DateTime.UtcNow.Ticks;
        if (now - _lastDrainedMark < DrainedMarkTicks)
        {
            return;
        }

        _lastDrainedMark = now;
        _history?.MarkDrained(_consumer, sequence);
        if (_entries.Count > _pruneAbove)
        {
            Prune(sequence);
            _pruneAbove = Math.Max(PruneAbove, _entries.Count * 2);   // as many processes run: do not prune at every read
        }
    }

    /// <summary>
    /// Notes a FAN_CLOSE_NOWRITE of pid: the last close of the program it runs is its exit (the memory that maps the
    /// file is released), so none of its later events in this queue is of the life that exec'd it.
    /// </summary>
    /// <remarks>
    /// Another process that holds a dying process's memory or program file (a /proc reader such as ps, or this
    /// responder's own readlink of /proc/PID/exe) makes that last close its own, under its own pid: the exit shows
    /// as a close of the program by a process that does not run it. Then some life of that program ended unseen,
    /// and no entry of it may tell a reused pid's lives apart by its exit any more.
    /// </remarks>
    public void OnClose(int pid, string path)
    {
        if (_entries.TryGetValue(pid, out Entry? entry) && entry.ExitExpected && !entry.Ended &&
            string.Equals(entry.Facts.Exe, path, StringComparison.Ordinal) && !RunsProgram(pid, entry.Facts))
        {
            entry.Ended = true;
            return;
        }

        if (entry is not null && string.Equals(entry.PreviousExe, path, StringComparison.Ordinal))
        {
            entry.PreviousExe = null;   // its program before its last exec, released by that exec
            return;
        }

        // Only a program whose exits an entry waits for (ExpectExit adds it): a close of any other file tells nothing,
        // and counting every path closed on a watched filesystem would grow without bound.
        if (_unseenExits.TryGetValue(path, out int unseen))
        {
            _unseenExits[path] = unseen + 1;
        }
    }

    /// <summary>The process still runs the entry's program: a close of that program by it is not its exit.</summary>
    private bool RunsProgram(int pid, ProcessInfo facts) =>
        facts.Link.Length > 0 && _proc.TryReadExe(pid, out ReadOnlySpan<byte> link) && link.SequenceEqual(facts.Link);

    /// <summary>Notes an exec event of pid: the program the process runs from here on in this queue.</summary>
    /// <param name="fd">The event's fd (a file-descriptor group), or -1 (a file-handle group: only the name is known).</param>
    /// <param name="pidFd">The event's pidfd, FAN_EPIDFD (gone), or FAN_NOPIDFD/-1 (not reported).</param>
    public void OnExec(int pid, int fd, string path, int pidFd = Fanotify.FAN_NOPIDFD)
    {
        _execGone = pidFd == Fanotify.FAN_EPIDFD || (pidFd >= 0 && HasExited(pidFd));
        _execPidFd = pidFd;
        // An interpreter's exec is the same execve as the entry's last exec: its life, its exec's sequence unknown here.
        _execLife = _entries.TryGetValue(pid, out Entry? known) ? known.Life : null;
        _execSequence = 0;
        if (!_entries.TryGetValue(pid, out Entry? entry))
        {
            entry = new Entry { Seen = _history?.Sequence ?? 0 };
            _entries[pid] = entry;
        }

        if (fd < 0)
        {
            OnExecByName(pid, path, entry);
            return;
        }

        if (entry.LastWasExec && entry.Awaiting != Awaiting.None)
        {
            bool sameFile = entry.AwaitedFile != default && FileId.OfOpenFile(fd, _statx) == entry.AwaitedFile;
            bool matches = entry.Awaiting == Awaiting.Any || sameFile ||
                System.IO.Path.GetFileName(path.AsSpan()).SequenceEqual(entry.AwaitedName);
            if (matches && entry.Awaiting == Awaiting.ElfInterpreter)
            {
                entry.Awaiting = Awaiting.None;   // ld.so: the program stays
                return;
            }

            // The very file the last exec named as its interpreter is its interpreter; a match by name or by
            // nothing (binfmt_misc) may be a later life's exec instead.
            if (matches && (sameFile || !ExecOfAnotherLife(pid, entry)))
            {
                // A script's interpreter (or binfmt_misc's) becomes the program; the name stays the script's.
                entry.Facts = ExecFacts(pid, path, entry.Facts.Name, entry, IsSetId(fd));
                ExpectExit(entry);
                Await(entry, fd);
                return;
            }
        }

        NewExec(pid, path, entry, IsSetId(fd));
        Await(entry, fd);
    }

    /// <summary>
    /// A file-handle group's exec event: the file cannot be read, so ld.so is known by its name, and an exec right after
    /// another of the same pid with no ld.so between is a script's interpreter.
    /// </summary>
    private void OnExecByName(int pid, string path, Entry entry)
    {
        if (entry.LastWasExec)
        {
            if (ProgramImage.IsElfInterpreterName(System.IO.Path.GetFileName(path.AsSpan())))
            {
                entry.SawInterpreter = true;
                return;
            }

            if (!entry.SawInterpreter && !ProgramImage.IsElf(entry.Facts.Exe) &&
                (ProgramImage.IsScript(entry.Facts.Exe) || !ExecOfAnotherLife(pid, entry)))
            {
                entry.Facts = ExecFacts(pid, path, entry.Facts.Name, entry, IsSetId(path));
                ExpectExit(entry);
                return;
            }
        }

        NewExec(pid, path, entry, IsSetId(path));
        entry.Awaiting = Awaiting.None;
    }

    private void NewExec(int pid, string path, Entry entry, bool setId)
    {
        ProcessInfo before = entry.Facts;
        entry.PreviousExe = before.Source == ProcessSource.Unknown ? null : before.Exe;
        _execLife = ExecLife(pid, entry);
        entry.Seen = _history?.Sequence ?? 0;
        entry.Facts = ExecFacts(pid, path, string.Empty, entry, setId);
        entry.FromScan = false;
        entry.BeforeExec = before;
        entry.LastWasExec = true;
        entry.ExecCount++;
        entry.SawInterpreter = false;
        ExpectExit(entry);
    }

    /// <summary>
    /// The life of pid that made the exec being read: the only life since the start; else, for an entry that has seen
    /// every exec of the pid since a fork after the marks (each raised an exec event in this queue, in order), the life
    /// of the pid's next exec in the history; the running life while the history has not heard of that exec yet (an
    /// execve's message comes at its end). Null when not known.
    /// </summary>
    private ProcessLife? ExecLife(int pid, Entry entry)
    {
        if (Degraded || !_execEvents)
        {
            return null;
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        if (!entry.Anchored)
        {
            // The first exec event of a pid whose every life was forked after the marks (and after the entries of
            // its earlier lives were forgotten): each of their execs raised an exec event here, and this is the first.
            bool first = entry.ExecCount == 0 && entry.Facts.Source == ProcessSource.Unknown;
            long after = Math.Max(System.Threading.Volatile.Read(ref _marksPlacedSequence), _prunedBefore);
            entry.Anchored = first && lives.Length > 0 && Array.TrueForAll(lives, life => life.ForkSequence > after);
            if (!entry.Anchored)
            {
                return lives.Length == 1 ? lives[0] : null;
            }
        }

        return NthExecLife(lives, entry.ExecCount + 1, out _execSequence);
    }

    /// <summary>The life that made the pid's <paramref name="n"/>th exec since the start; the latest while the history has not heard of it.</summary>
    private static ProcessLife? NthExecLife(ProcessLife[] lives, int n) => NthExecLife(lives, n, out _);

    /// <param name="sequence">
    /// The history's sequence of that exec; long.MaxValue while the history has not heard of it (an execve's message
    /// comes at its end: later than every message so far); 0 when more than that one is missing.
    /// </param>
    private static ProcessLife? NthExecLife(ProcessLife[] lives, int n, out long sequence)
    {
        int seen = 0;
        foreach (ProcessLife life in lives)
        {
            if (seen + life.Execs.Count >= n)
            {
                sequence = life.Execs[n - seen - 1];
                return life;
            }

            seen += life.Execs.Count;
        }

        sequence = seen == n - 1 ? long.MaxValue : 0;
        return lives.Length == 0 ? null : lives[^1];
    }

    /// <summary>
    /// The exec being read is another life's than the entry's last exec, so not the interpreter of that one: the
    /// running process is a later life, or the pid's next exec in the history is a later life's. A reused pid's
    /// earlier life may leave its exec without the interpreter event that ends it (merged into an earlier one).
    /// </summary>
    private bool ExecOfAnotherLife(int pid, Entry entry)
    {
        if (Degraded || entry.Life is not { } last || !_execEvents)
        {
            return false;
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        if (lives.Length == 0 || IsLife(last, lives[^1]))
        {
            return false;
        }

        if (!_execGone && _execPidFd >= 0)
        {
            return true;   // it runs: the latest life
        }

        return entry.Anchored && NthExecLife(lives, entry.ExecCount + 1) is { } next && !IsLife(next, last);
    }

    /// <summary>An exec entry whose program is in a marked program directory: its exit will show in this queue.</summary>
    private void ExpectExit(Entry entry)
    {
        entry.Ended = false;
        entry.ExitExpected = _programDirectories is { } directories &&
            System.IO.Path.GetDirectoryName(entry.Facts.Exe) is { } directory && directories.Contains(directory);
        if (entry.ExitExpected)
        {
            _ = _unseenExits.TryAdd(entry.Facts.Exe, 0);
        }

        entry.UnseenExitsAtExec = _unseenExits.GetValueOrDefault(entry.Facts.Exe);
    }

    /// <summary>
    /// The process of a permission event, from /proc (the table's entry while its exe link is the same): exact while it is held in its syscall
    /// (<paramref name="held"/>: before the verdict). Read after the verdict, a process that runs another program
    /// than the table's exec entry has exec'd since the event: the entry holds.
    /// </summary>
    /// <param name="fresh">The facts were read from /proc now: <see cref="Record"/> them when the queue reaches the event.</param>
    /// <remarks>
    /// Changes nothing in the table: pass 1 reads the processes of a batch's permission events before pass 2 has
    /// applied the batch's earlier events (an exec of the same pid among them). Recording a verdict's process then
    /// would name it on those earlier events: bash's write named as the cat it exec'd next.
    /// </remarks>
    public ProcessInfo ResolvePermission(int pid, bool held, out bool isGone, out bool fresh)
    {
        fresh = false;
        _entries.TryGetValue(pid, out Entry? entry);
        if (!_proc.TryReadExe(pid, out ReadOnlySpan<byte> link))
        {
            // No program: exiting (its mm is gone) or a kernel thread. What the table knows of it, if it is the
            // same process; else what /proc still says (a kernel thread's name, a zombie's).
            if (entry is not null && entry.Facts.Source != ProcessSource.Unknown)
            {
                isGone = true;
                return held || IsSameLife(pid, entry) ? entry.Facts : ProcessInfo.Unknown;
            }

            return _proc.ReadWithoutProgram(pid, out isGone);
        }

        isGone = false;
        if (entry is not null && entry.Facts.IsRead && link.SequenceEqual(entry.Facts.Link))
        {
            return entry.Facts;   // the common case: allocates nothing
        }

        if (entry is not null && entry.Facts.Source == ProcessSource.Exec && !link.SequenceEqual(entry.Facts.Link))
        {
            if (entry.Awaiting != Awaiting.None)
            {
                // Mid-execve: /proc still names the old program, which is the one that opened.
                return _proc.ReadRunning(pid) ?? ProcessInfo.Unknown;
            }

            if (!held && !Degraded && IsSameLife(pid, entry))
            {
                return entry.Facts;   // answered, then exec'd: the exec event comes later in the queue
            }

            if (!held)
            {
                // Another life has the pid (a fork that did not exec, after a life that did): /proc names it only if
                // that life never exec'd, so that it runs what it ran at the event.
                ProcessLife[] lives = Degraded ? [] : CandidateLives(pid, default);
                return lives.Length > 0 && lives[^1].Execs.Count == 0 && lives[^1].ForkSequence != 0 && _proc.ReadRunning(pid) is { } forked
                    ? forked : ProcessInfo.Unknown;
            }
        }

        // Never read, read before its exec (made from the event), or made stale by an exec the table missed.
        if (_proc.ReadRunning(pid) is not { } live)
        {
            isGone = true;
            return entry?.Facts ?? ProcessInfo.Unknown;
        }

        fresh = true;
        return live;
    }

    /// <summary>
    /// Facts read from /proc for a permission event, recorded when the queue reaches that event: from here on
    /// in this queue they are the pid's.
    /// </summary>
    /// <returns>The facts as recorded, with the life they are of.</returns>
    public ProcessInfo Record(int pid, ProcessInfo live)
    {
        ProcessLife? life = LatestLife(pid);
        long lifeKey = life?.FirstSequence ?? 0;
        if (!_entries.TryGetValue(pid, out Entry? entry))
        {
            ProcessInfo facts = lifeKey == 0 ? live : live.Copy(live.Source, live.Sequence, lifeKey: lifeKey);
            _entries[pid] = new Entry { Facts = facts, Life = life, Seen = _history?.Sequence ?? 0 };
            return facts;
        }

        entry.Facts = entry.Facts.Source == ProcessSource.Exec && string.Equals(entry.Facts.Exe, live.Exe, StringComparison.Ordinal)
            ? live.Copy(ProcessSource.Exec, entry.Facts.Sequence, lifeKey: lifeKey)
            : lifeKey == 0 ? live : live.Copy(live.Source, live.Sequence, lifeKey: lifeKey);
        entry.FromScan = false;
        entry.Life = life;
        entry.Seen = _history?.Sequence ?? 0;
        return entry.Facts;
    }

    /// <summary>The life of pid that runs now, for facts read from a process held or seen running in this batch.</summary>
    private ProcessLife? LatestLife(int pid)
    {
        if (Degraded)
        {
            return null;
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        return lives.Length == 0 ? null : lives[^1];
    }

    /// <summary>
    /// Whether the rest of the batch holds the exit of the process that runs <c>facts</c> as pid (the last close of its
    /// program, before any exec of that pid): set by the responder, which holds the batch.
    /// </summary>
    public Func<int, ProcessInfo, bool>? ExitAhead { get; set; }

    /// <summary>The process of a notification event, read after the fact.</summary>
    /// <param name="pidFd">The event's pidfd, FAN_EPIDFD (gone), or FAN_NOPIDFD/-1 (not reported).</param>
    /// <param name="isExec">The event is itself an exec (reported because the user asked): it does not end the execve.</param>
    public ProcessInfo Resolve(int pid, int pidFd, bool isExec, out bool isGone)
    {
        bool? exited = pidFd == Fanotify.FAN_EPIDFD ? true : pidFd >= 0 ? HasExited(pidFd) : null;
        if (_entries.TryGetValue(pid, out Entry? entry) && _history is not null && _history.LastForkOf(pid) > entry.Seen && IsStale(pid, entry))
        {
            _entries.Remove(pid);   // of a life before this pid's latest fork, which the history has forgotten
            entry = null;
        }

        if (entry is null)
        {
            return FromHistory(pid, exited, out isGone);
        }

        if (!isExec)
        {
            Settle(entry);
        }

        if (entry.Facts.Source == ProcessSource.Unknown)
        {
            isGone = exited ?? !_proc.TryReadExe(pid, out _);
            return entry.Facts;
        }

        if (exited != true && _proc.TryReadExe(pid, out ReadOnlySpan<byte> link))
        {
            isGone = false;
            if (link.SequenceEqual(entry.Facts.Link))
            {
                if (!entry.Facts.IsRead)
                {
                    // Made from an exec event: now that the process is seen running it, read the rest once.
                    entry.Facts = Enrich(pid, entry.Facts);
                }

                return entry.Facts;
            }

            // It runs another program now: exec'd after this event (the exec event comes later in the queue), or
            // the pid is another process's. Without exec events, it may as well have exec'd before this event.
            return _execEvents && IsSameLife(pid, entry) ? entry.Facts : LaterLife(pid, entry);
        }

        isGone = true;
        return IsSameLife(pid, entry) ? entry.Facts : LaterLife(pid, entry);
    }

    /// <summary>Forgets a pid (the warm-up's).</summary>
    public void Forget(int pid) => _entries.Remove(pid);

    /// <summary>A non-exec event of the process: an exec still waiting for its next file has ended.</summary>
    private static void Settle(Entry entry)
    {
        entry.LastWasExec = false;
        switch (entry.Awaiting)
        {
            case Awaiting.Any:
                // Neither ELF nor #!, and no interpreter followed: the execve failed (ENOEXEC); the program is the old one.
                entry.Facts = entry.BeforeExec ?? ProcessInfo.Unknown;
                break;
            case Awaiting.Script:
                // A script whose interpreter never came (merged with an earlier identical event, or the execve failed).
                entry.Facts = ProcessInfo.Unknown;
                break;
        }

        entry.Awaiting = Awaiting.None;
        entry.BeforeExec = null;
    }

    /// <summary>The entry's facts still belong to the process that raised the event.</summary>
    private bool IsSameLife(int pid, Entry entry)
    {
        if (Degraded)
        {
            // A zombie (or the running process) with the entry's start time is the same process.
            return entry.Facts.StartTicks != 0 && _proc.TryReadStat(pid, out _, out ulong startTicks) && startTicks == entry.Facts.StartTicks;
        }

        ProcessLife[] lives = CandidateLives(pid, entry.Facts.StartTime);
        if (IsStale(pid, entry))
        {
            return false;
        }

        if (lives.Length > 1)
        {
            // The pid was reused. Facts read while their life ran are of every event until a later life was forked.
            if (entry.Life is not null && IsLife(entry.Life, lives[^1]))
            {
                return true;   // no later life was forked before this batch was read
            }

            // An exec entry: its life's exit is the last close of its program, by its pid. An event before that close
            // is of its life; but the close can come late, under another pid (see OnClose), after a later life's
            // events. So only a close still ahead in this batch proves the event is of the life that exec'd.
            return entry.Facts.Source == ProcessSource.Exec && entry.ExitExpected && !entry.Ended &&
                _unseenExits.GetValueOrDefault(entry.Facts.Exe) == entry.UnseenExitsAtExec &&
                ExitAhead?.Invoke(pid, entry.Facts) == true;
        }

        if (!_execEvents && lives.Length == 1 && lives[0].Execs.Exists(exec => exec > entry.Facts.Sequence))
        {
            return false;   // it exec'd after these facts were made, and no exec event says whether before this event
        }

        if (entry.FromScan && lives.Length == 1)
        {
            // Read at the start, before every exec mark was placed: an exec in between raised no exec event.
            long marks = System.Threading.Volatile.Read(ref _marksPlacedSequence);
            foreach (long exec in lives[0].Execs)
            {
                if (exec > _startSequence && exec <= marks)
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// An event after the exit of the entry's life (its program's last close was read): the pid's next life, if
    /// the entry's life is known and only one life, which never exec'd (a fork of a shell, a subshell), came after
    /// it; named after its parent as <see cref="FromHistory"/> names one. Else Unknown.
    /// </summary>
    private ProcessInfo LaterLife(int pid, Entry entry)
    {
        if (Degraded || !entry.Ended || !_execEvents)
        {
            return ProcessInfo.Unknown;
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        if (lives.Length < 2 || entry.Life is null || !IsLife(entry.Life, lives[^2]) ||
            lives[^1].Execs.Count != 0 || lives[^1].ForkSequence == 0)
        {
            return ProcessInfo.Unknown;
        }

        return Inherit(pid, lives[^1], 0);
    }

    /// <summary>
    /// The lives of pid that may have raised an event of this batch: not one forked after the batch was read (the
    /// history is drained after the read), and not one before the life of facts read while it ran (its start time
    /// names its fork; one tick of /proc/PID/stat is 10 ms).
    /// </summary>
    private ProcessLife[] CandidateLives(int pid, DateTime startTime)
    {
        DrainOnce();
        ProcessLife[] lives = _history!.LivesSince(pid, _startSequence);
        if (lives.Length <= 1)
        {
            return lives;
        }

        int first = 0, end = lives.Length;
        while (end > 1 && lives[end - 1].FirstSequence > _batchSequence)
        {
            end--;
        }

        if (startTime != default)
        {
            TimeSpan tick = TimeSpan.FromSeconds(1.0 / Math.Max(1, BootClock.TicksPerSecond));
            int match = -1;
            for (int i = 0; i < end; i++)
            {
                DateTime fork = lives[i].ForkTimeNs == 0 ? default : BootClock.MonotonicToUtc(lives[i].ForkTimeNs);
                bool near = fork != default && (fork - startTime).Duration() <= tick * 1.5;
                if (near)
                {
                    match = match == -1 ? i : -2;   // two lives as near: neither is named
                }
            }

            first = match >= 0 ? match : 0;
        }

        return first == 0 && end == lives.Length ? lives : lives[first..end];
    }

    /// <summary>A pid with no entry: a fork that did not exec (its parent's program), or one that ran before the watch.</summary>
    private ProcessInfo FromHistory(int pid, bool? exited, out bool isGone)
    {
        isGone = exited ?? !_proc.TryReadExe(pid, out _);
        if (Degraded)
        {
            return ProcessInfo.Unknown;
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        if (lives.Length == 0 && !isGone && _proc.ReadRunning(pid) is { } running)
        {
            // Neither forked, exec'd nor exited since the start (a thread of a process, with -ThreadId): it runs what it ran.
            _entries[pid] = new Entry { Facts = running, Seen = _history?.Sequence ?? 0 };
            return running;
        }

        if (lives.Length != 1 || lives[0].ForkSequence == 0)
        {
            // None: gone without a trace. Two: the pid was reused. Forked before the listener: its exec or its fork is unseen.
            return ProcessInfo.Unknown;
        }

        ProcessInfo facts = Inherit(pid, lives[0], 0);
        if (facts.Source != ProcessSource.Unknown)
        {
            // Its only life, which has not exec'd here yet: each of its execs, if forked after the marks, is read here.
            _entries[pid] = new Entry
            {
                Facts = facts, Life = lives[0], Seen = _history!.Sequence,
                Anchored = lives[0].ForkSequence > System.Threading.Volatile.Read(ref _marksPlacedSequence),
            };
        }

        return facts;
    }

    /// <summary>The parent's program at the fork, if the parent did not exec while the child lived.</summary>
    private ProcessInfo Inherit(int pid, ProcessLife life, int depth)
    {
        long marks = System.Threading.Volatile.Read(ref _marksPlacedSequence);
        foreach (long exec in life.Execs)
        {
            if (exec <= marks || !_execEvents)
            {
                // It exec'd where no exec event shows it (before the marks, or without them): which program an
                // event of it came from is not known, so the fork tells nothing.
                return ProcessInfo.Unknown;
            }
        }

        int parent = life.ParentProcessId;
        ProcessLife[] parentLives = _history!.LivesSince(parent, life.ForkSequence);
        if (parentLives.Length > 1 || (parentLives.Length == 1 && parentLives[0].FirstSequence > life.ForkSequence))
        {
            return ProcessInfo.Unknown;   // the parent's pid was reused since the fork
        }

        // No life: a parent that ran before the listener and has not exec'd or exited since.
        ProcessLife? parentLife = parentLives.Length == 1 ? parentLives[0] : null;
        long childEnd = life.ExitSequence == 0 ? long.MaxValue : life.ExitSequence;
        foreach (long exec in parentLife?.Execs ?? [])
        {
            if (exec > life.ForkSequence && exec < childEnd)
            {
                return ProcessInfo.Unknown;   // the parent changed program while the child ran: which one it had is not known here
            }
        }

        ProcessInfo? parentFacts = null;
        if (_entries.TryGetValue(parent, out Entry? parentEntry))
        {
            Settle(parentEntry);
            if (parentEntry.Facts.Source != ProcessSource.Unknown && IsSameLife(parent, parentEntry))
            {
                parentFacts = parentEntry.Facts;
            }
        }
        else if (depth < MaxInheritanceDepth && parentLife is not null && parentLife.ForkSequence != 0)
        {
            parentFacts = Inherit(parent, parentLife, depth + 1);
        }

        if (parentFacts is null || parentFacts.Source == ProcessSource.Unknown)
        {
            return ProcessInfo.Unknown;
        }

        // A fork copies its parent's program, arguments, users, session and cgroup; it starts at the fork.
        bool idsChanged = life.IdChangeSequence != 0 || (parentLife is not null && parentLife.IdChangeSequence > life.ForkSequence);
        // The child's start is not the parent's, and the connector's fork time is not /proc's: none is given.
        return parentFacts.Copy(ProcessSource.Inherited, _history.Sequence, pid, parent, userId: idsChanged ? -1 : null,
            lifeKey: life.FirstSequence);
    }

    /// <summary>The facts of an exec: the program file; the rest from /proc if the process is seen running it.</summary>
    /// <param name="setId">The program may change the user (set-user-ID or set-group-ID, or not known).</param>
    private ProcessInfo ExecFacts(int pid, string path, string name, Entry entry, bool setId)
    {
        // Still in its execve, /proc names the program before: read the facts only if it runs this one. Not once the
        // pidfd says it exited: its pid may be another process's now, running the same program. Read while the pidfd
        // says it runs, /proc was that process's.
        if (!_execGone && _proc.ReadRunning(pid, path) is { } running && !(_execPidFd >= 0 && HasExited(_execPidFd)))
        {
            entry.Life = _execLife ?? (_execPidFd >= 0 ? LatestLife(pid) : null);
            // Read at its exec: complete, but a permission event reads it once more (it may rename itself first).
            return running.Copy(ProcessSource.Exec, _history?.Sequence ?? 0, isRead: false, lifeKey: entry.Life?.FirstSequence ?? 0);
        }

        // Gone already (or still in its execve). The name is the program file's (exec names a process after the file
        // it was given, which differs through a symlink: sh for dash). An exec keeps the parent and, unless the program
        // is set-ID, the user: those of the facts before it, when they were this process's.
        ProcessInfo before = entry.Facts;
        ProcessLife? execLife = _execLife;
        bool sameProcess = before.Source != ProcessSource.Unknown && !Degraded &&
            (execLife is not null && entry.Life is not null ? IsLife(execLife, entry.Life) : IsSameLife(pid, entry));
        entry.Life = execLife ?? (sameProcess ? entry.Life : null);
        ProcessLife? life = sameProcess ? null : execLife is { ForkSequence: not 0 } ? execLife : OnlyLife(pid);
        // Else a fork since the start: what it inherited from its parent at the fork, which an exec keeps too.
        ProcessInfo? parent = life is null ? null : ParentAtFork(life);
        // Unless the program is set-ID: the uid it had before this exec. That is the last uid the connector said it
        // changed to, where that change came before this exec and after the facts before it; else those facts', or
        // its parent's at the fork.
        ProcessLife? idLife = execLife ?? life;
        long execSequence = idLife is null ? 0 : _execSequence;
        long change = idLife?.IdChangeSequence ?? 0;
        int userId = setId ? -1
            : change != 0 && execSequence != 0 && change < execSequence ? idLife!.UserIdAfterChange   // the last change, before this exec
            : change != 0 ? -1   // a change whose place among this program's events is not known
            : sameProcess ? (idLife is null && IdsChangedSince(pid, before.Sequence) ? -1 : before.UserId)
            : parent?.UserId ?? -1;
        // The login uid, the session, the start and (until it moves) the cgroup survive an exec as well. A child's
        // cgroup is its parent's only where the parent is in a container: a runtime moves the processes it starts
        // into one between their fork and their exec, unseen here.
        bool containerOfParent = parent is not null && parent.ContainerId.Length > 0;
        return new ProcessInfo(System.Text.Encoding.UTF8.GetBytes(path), path, name.Length > 0 ? name : CommOf(path), string.Empty,
            sameProcess ? before.ParentProcessId : life?.ParentProcessId ?? 0, userId, pid)
        {
            Source = ProcessSource.Exec,
            IsRead = false,
            StartTicks = sameProcess ? before.StartTicks : 0,
            // Not the fork's time from the connector: it is stamped after the kernel's start time, up to a clock
            // tick later than /proc/PID/stat says. A start time is given only as /proc says it.
            StartTime = sameProcess ? before.StartTime : default,
            LoginUserId = sameProcess ? before.LoginUserId : parent?.LoginUserId ?? -1,
            SessionId = sameProcess ? before.SessionId : parent?.SessionId ?? -1,
            Cgroup = sameProcess ? before.Cgroup : containerOfParent ? parent!.Cgroup : string.Empty,
            ContainerId = sameProcess ? before.ContainerId : containerOfParent ? parent!.ContainerId : string.Empty,
            Sequence = _history?.Sequence ?? 0,
            LifeKey = entry.Life?.FirstSequence ?? 0,
        };
    }

    /// <summary>
    /// The facts of the parent a life was forked from, as they were at the fork: its table entry, or /proc while it
    /// runs, if its pid is still its and its ids did not change since the fork. Null when not known.
    /// </summary>
    private ProcessInfo? ParentAtFork(ProcessLife life)
    {
        int parent = life.ParentProcessId;
        if (parent <= 0 || life.ForkSequence == 0)
        {
            return null;
        }

        ProcessLife[] parentLives = _history!.LivesSince(parent, life.ForkSequence);
        if (parentLives.Length > 1 || (parentLives.Length == 1 && parentLives[0].FirstSequence > life.ForkSequence))
        {
            return null;   // the parent's pid was reused since the fork
        }

        ProcessLife? parentLife = parentLives.Length == 1 ? parentLives[0] : null;
        if (parentLife is not null && parentLife.IdChangeSequence > life.ForkSequence)
        {
            return null;   // its ids now are not those the child inherited
        }

        if (_entries.TryGetValue(parent, out Entry? parentEntry) && parentEntry.Facts.IsRead && parentEntry.Facts.HasFacts &&
            IsSameLife(parent, parentEntry))
        {
            return parentEntry.Facts;
        }

        if (parentLife is { ExitSequence: not 0 } || _proc.ReadRunning(parent) is not { } running)
        {
            return null;
        }

        // Started after the fork: another process has the pid now, which the history has not heard of yet.
        DateTime fork = life.ForkTimeNs == 0 ? default : BootClock.MonotonicToUtc(life.ForkTimeNs);
        TimeSpan tick = TimeSpan.FromSeconds(1.0 / Math.Max(1, BootClock.TicksPerSecond));
        return fork != default && running.StartTime > fork + tick ? null : running;
    }

    /// <summary>
    /// The entry is of a life the history no longer lists (forgotten once every queue was read past its exit) or
    /// that began after these facts were made: another process has the pid now.
    /// </summary>
    private bool IsStale(int pid, Entry entry)
    {
        ProcessLife[] lives = CandidateLives(pid, default);
        if (lives.Length == 0)
        {
            return false;
        }

        if (entry.Life is { } life)
        {
            return !Array.Exists(lives, candidate => IsLife(candidate, life));
        }

        return lives[0].FirstSequence > entry.Seen;
    }

    /// <summary>The same life of a pid (the history hands out copies): its first message names it.</summary>
    private static bool IsLife(ProcessLife a, ProcessLife b) => a.FirstSequence == b.FirstSequence;

    /// <summary>The history heard of a change of pid's user or group ids after <paramref name="sequence"/> (or cannot tell).</summary>
    private bool IdsChangedSince(int pid, long sequence)
    {
        if (Degraded)
        {
            return false;   // as before the connector: the facts read stand
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        return lives.Length > 1 || (lives.Length == 1 && lives[0].IdChangeSequence > sequence);
    }

    /// <summary>Pid's only life since the start (forked since: its parent and start are known); null when there are more, or none.</summary>
    private ProcessLife? OnlyLife(int pid)
    {
        if (Degraded)
        {
            return null;
        }

        ProcessLife[] lives = CandidateLives(pid, default);
        return lives.Length == 1 && lives[0].ForkSequence != 0 ? lives[0] : null;
    }

    /// <summary>The program at <paramref name="path"/>, as this process sees it, may change the user (a file-handle group's exec: no fd).</summary>
    private bool IsSetId(string path)
    {
        const ushort S_ISUID = 0x800, S_ISGID = 0x400;
        int length = System.Text.Encoding.UTF8.GetByteCount(path);
        if (path.Length == 0 || length > 4095)
        {
            return true;
        }

        Span<byte> terminated = stackalloc byte[length + 1];
        System.Text.Encoding.UTF8.GetBytes(path, terminated);
        terminated[length] = 0;
        fixed (byte* p = terminated)
        {
            return Libc.statx(Libc.AT_FDCWD, p, 0, Libc.STATX_MODE, _statx) != 0 ||
                (*(ushort*)(_statx + Libc.StatxModeOffset) & (S_ISUID | S_ISGID)) != 0;
        }
    }

    private bool IsSetId(int fd)
    {
        const ushort S_ISUID = 0x800, S_ISGID = 0x400;
        byte emptyPath = 0;
        return Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_MODE, _statx) != 0 ||
            (*(ushort*)(_statx + Libc.StatxModeOffset) & (S_ISUID | S_ISGID)) != 0;
    }

    /// <summary>Facts made from an exec event or a fork, completed from /proc now that the process is seen running the program.</summary>
    private ProcessInfo Enrich(int pid, ProcessInfo facts)
    {
        return _proc.ReadRunning(pid, facts.Exe) is { } running ? running.Copy(facts.Source, facts.Sequence) : facts;
    }

    /// <summary>What the kernel will open next in this execve, read from the program through the event's fd.</summary>
    private void Await(Entry entry, int fd)
    {
        entry.AwaitedFile = default;
        entry.AwaitedName = string.Empty;
        ProgramKind kind = ProgramImage.Classify(fd, _image, ImageBufferSize, out ReadOnlySpan<byte> next);
        if (kind != ProgramKind.Other || next.IsEmpty)
        {
            ProgramImage.Remember(entry.Facts.Exe, kind);
        }

        entry.Awaiting = kind switch
        {
            ProgramKind.ElfWithInterpreter => Awaiting.ElfInterpreter,
            ProgramKind.Script => Awaiting.Script,
            ProgramKind.Other => Awaiting.Any,
            _ => Awaiting.None,
        };
        if (!next.IsEmpty)
        {
            entry.AwaitedName = System.IO.Path.GetFileName(PathText.Decode(next));
            entry.AwaitedFile = StatFile(next);
        }
    }

    /// <summary>The interpreter's identity, resolved from here (a process in another mount namespace may see another file: its name then decides).</summary>
    private FileId StatFile(ReadOnlySpan<byte> path)
    {
        Span<byte> terminated = stackalloc byte[path.Length + 1];
        path.CopyTo(terminated);
        terminated[path.Length] = 0;
        fixed (byte* p = terminated)
        {
            return Libc.statx(Libc.AT_FDCWD, p, 0, Libc.STATX_INO, _statx) == 0 ? FileId.FromStatx(_statx) : default;
        }
    }

    /// <summary>comm as exec sets it: the file name, cut to TASK_COMM_LEN - 1 bytes.</summary>
    private static string CommOf(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        return name.Length > 15 ? name.Substring(0, 15) : name;
    }

    private void DrainOnce()
    {
        if (!_drainedInBatch)
        {
            _drainedInBatch = true;
            _drain?.Invoke();
            _batchSequence = _history?.Sequence ?? 0;   // after the read: a life forked later raised none of this batch
        }
    }

    internal static bool HasExited(int pidFd)
    {
        var fd = new Libc.pollfd { fd = pidFd, events = Libc.POLLIN };
        return Libc.poll(&fd, 1, 0) > 0 && (fd.revents & Libc.POLLIN) != 0;
    }

    /// <summary>Forgets entries of processes that ended before <paramref name="sequence"/> (or, without history, that are gone).</summary>
    private void Prune(long sequence)
    {
        List<int>? gone = null;
        foreach ((int pid, Entry _) in _entries)
        {
            bool ended = _history is null
                ? !_proc.TryReadStat(pid, out _, out _)
                : _history.LivesSince(pid, sequence).Length == 0 && !_proc.TryReadStat(pid, out _, out _);
            if (ended)
            {
                (gone ??= []).Add(pid);
            }
        }

        foreach (int pid in gone ?? [])
        {
            _entries.Remove(pid);
        }

        _prunedBefore = sequence;
    }

    public void Dispose()
    {
        if (_history is not null && _consumer >= 0)
        {
            _history.RemoveConsumer(_consumer);
        }

        _entries.Clear();
        _proc.Dispose();
        System.Runtime.InteropServices.NativeMemory.Free(_image);
        System.Runtime.InteropServices.NativeMemory.AlignedFree(_statx);
        _image = _statx = null;
    }

    private enum Awaiting
    {
        None,
        /// <summary>An ELF program's PT_INTERP: the program stays.</summary>
        ElfInterpreter,
        /// <summary>A #! script's interpreter: it becomes the program.</summary>
        Script,
        /// <summary>Neither ELF nor #!: an interpreter (binfmt_misc) or nothing (the execve fails).</summary>
        Any,
    }

    private sealed class Entry
    {
        public ProcessInfo Facts = ProcessInfo.Unknown;
        public bool FromScan;
        public bool LastWasExec;
        public bool SawInterpreter;
        /// <summary>The program is in a marked program directory: the process's exit will show as its close.</summary>
        public bool ExitExpected;
        /// <summary>That close was read: the life that exec'd the program has ended.</summary>
        public bool Ended;
        /// <summary>How many exits of its program were unseen (closed by another process) when it exec'd it.</summary>
        public int UnseenExitsAtExec;
        /// <summary>The program before its last exec, whose close that exec causes.</summary>
        public string? PreviousExe;
        /// <summary>The execs of this pid read in this queue (an interpreter's exec event is not one).</summary>
        public int ExecCount;
        /// <summary>ExecCount counts every exec of the pid since a fork after the marks: it names the life of the next.</summary>
        public bool Anchored;
        /// <summary>The life of the pid whose facts these are, where they were read while it ran; else null.</summary>
        public ProcessLife? Life;
        /// <summary>The history's sequence when these facts were made: a life that began after it is another process.</summary>
        public long Seen;
        public Awaiting Awaiting;
        public FileId AwaitedFile;
        public string AwaitedName = string.Empty;
        public ProcessInfo? BeforeExec;
    }
}
