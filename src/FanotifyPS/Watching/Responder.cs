using System;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/*
 * Implementation notes
 * - One responder thread per fanotify group. It alone reads the group, answers permission events, resolves
 *   and closes event fds, and closes the group fd when it ends (close() from another thread would not wake
 *   its poll(), and the fd number could be reused under it). Stop = write to the shared eventfd, then join.
 * - A batch is handled in two passes. Pass 1 answers every permission event; before the verdict it reads
 *   only what the verdict needs: the process when a rule for the event names a program or a user (fresh: an
 *   execve() must not slip past an -Exe rule), or when the pid was never seen (the process is held in open()
 *   only until the verdict, and a short-lived one such as cat is gone right after); the path when a rule or a
 *   Tree scope needs it. A process seen before is answered first and read in pass 2, as the fanotify(7)
 *   example does. Pass 2 resolves the rest, filters, and hands events to the EventBuffer with TryWrite (never
 *   waiting; refusals are counted).
 * - With a spin (-SpinMicroseconds; by default on only when verdicts wait for a read, see ChooseSpin), after a
 *   batch the responder reads again for up to that long before it sleeps in poll(): on a busy group the next
 *   event often comes within microseconds, and a sleep and a wake-up can cost more than the spin (most on a
 *   virtual machine). A spin that finds nothing doubles how many batches pass before the next one (up to
 *   MaxSpinBackoff), so that a trickle of events costs no spinning; one that finds an event resets it.
 * - A read returns at most as many events as the process can still open fds for (ChooseReadSize): the kernel
 *   opens an fd for each event it returns, and a permission event whose fd it cannot open it denies by itself,
 *   without a trace in what the read returns. A 64 KiB read can hold 2,730 events.
 * - Nothing here may open a file on a watched filesystem: only /proc is read (and O_PATH opens by handle,
 *   which raise no fanotify event), and everything this thread runs is executed once by WarmUp() before the
 *   first mark is placed (JIT, type initializers, statics). The steady state throws nothing and formats
 *   nothing (culture data and resource lookups load from disk).
 * - Events of our own process are answered FAN_ALLOW and not reported (unless -IncludeSelf): pwsh writing a
 *   CSV into the watched filesystem must not wait for itself, nor feed its own stream.
 * - Counters have a single writer (this thread); readers use Volatile.Read.
 */
internal sealed unsafe class Responder : IDisposable
{
    internal const int ReadBufferSize = 64 * 1024;
    /// <summary>-SpinMicroseconds when not given: chosen by <see cref="ChooseSpin"/>.</summary>
    internal const int AutomaticSpin = -1;
    internal const int ReadBeforeVerdictSpinMicroseconds = 20;
    private const int MaxEventsPerRead = ReadBufferSize / Fanotify.FAN_EVENT_METADATA_LEN;
    private const int MinEventsPerRead = 16;
    private const int LinkCapacity = 4096 + 16;    // PATH_MAX plus " (deleted)"
    private const int MaxBatchesBetweenPolls = 64;
    private const int MaxSpinBackoff = 64;
    private const ulong EventBits = ~(Fanotify.FAN_ONDIR | Fanotify.FAN_EVENT_ON_CHILD);
    private static readonly byte[] s_deletedSuffix = " (deleted)"u8.ToArray();

    private readonly FileDescriptorHandle _group;
    private readonly FileDescriptorHandle _stopEvent;
    private readonly HandOffQueue _buffer;
    private readonly ResponderSettings _settings;
    private readonly int _ownPid = Environment.ProcessId;
    private Slot[] _slots = new Slot[MaxEventsPerRead + 1];
    private readonly ProcessResolver _processes = new();
    private readonly ManualResetEventSlim _ready = new(false);
    private readonly long _spinTicks;
    private int _readSize;
    private readonly Thread _thread;

    private byte* _readBuffer;
    private byte* _link;
    private byte* _fdPath;
    private byte* _statx;

    private long _eventCount;
    private long _droppedCount;
    private long _overflowCount;
    private long _ownEventCount;
    private long _filteredCount;
    private long _allowedCount;
    private long _deniedCount;
    private long _wouldDenyCount;
    private long _readErrorCount;
    private long _unnamedCount;
    private int _failureErrno;
    private string? _failureWhat;
    private MalformedReason _malformed;
    private Exception? _exception;
    private volatile bool _finished;

    /// <param name="stopEvent">The watch's eventfd, shared by its responders and owned by the watch.</param>
    public Responder(FileDescriptorHandle group, FileDescriptorHandle stopEvent, HandOffQueue buffer, ResponderSettings settings)
    {
        _group = group;
        _stopEvent = stopEvent;
        _buffer = buffer;
        _settings = settings;
        _readBuffer = (byte*)NativeMemory.AlignedAlloc(ReadBufferSize, 8);
        _link = (byte*)NativeMemory.Alloc(LinkCapacity);
        _fdPath = (byte*)NativeMemory.Alloc(64);
        _statx = (byte*)NativeMemory.AlignedAlloc(Libc.StatxSize, 8);
        _spinTicks = settings.SpinMicroseconds * System.Diagnostics.Stopwatch.Frequency / 1_000_000;
        _readSize = ChooseReadSize(settings.Kind, settings.FdsPerEvent);
        _thread = new Thread(Run, maxStackSize: 512 * 1024)
        {
            IsBackground = true,
            Name = $"fanotify responder {settings.WatchId} ({settings.Kind})",
        };
    }

    public long EventCount => Volatile.Read(ref _eventCount);
    public long DroppedCount => Volatile.Read(ref _droppedCount);
    public long OverflowCount => Volatile.Read(ref _overflowCount);
    public long OwnEventCount => Volatile.Read(ref _ownEventCount);
    public long FilteredCount => Volatile.Read(ref _filteredCount);
    public long AllowedCount => Volatile.Read(ref _allowedCount);
    public long DeniedCount => Volatile.Read(ref _deniedCount);
    public long WouldDenyCount => Volatile.Read(ref _wouldDenyCount);
    public long ReadErrorCount => Volatile.Read(ref _readErrorCount);
    /// <summary>Of FilteredCount: left out by -Exe/-ExcludeExe because the process had exited before it could be named.</summary>
    public long UnnamedCount => Volatile.Read(ref _unnamedCount);

    /// <summary>Why the responder ended on its own; null while running or after a requested stop.</summary>
    /// <remarks>Composed here, on the reader's thread: the responder formats nothing.</remarks>
    public string? Failure
    {
        get
        {
            string? what = Volatile.Read(ref _failureWhat);
            if (what is null)
            {
                return null;
            }

            int errno = Volatile.Read(ref _failureErrno);
            if (Volatile.Read(ref _exception) is { } exception)
            {
                what += $": {exception.GetType().Name}: {exception.Message}";
            }

            if (_malformed != MalformedReason.None)
            {
                what += $" ({_malformed}; metadata version {Fanotify.FANOTIFY_METADATA_VERSION} expected)";
            }

            return errno == 0 ? what : $"{what}: {Errno.Describe(errno)}";
        }
    }

    public bool IsFinished => _finished;

    /// <summary>The exception that ended the thread, if any (for -Verbose diagnostics).</summary>
    public Exception? Exception => Volatile.Read(ref _exception);

    /// <summary>Raised on the responder thread as its last act (after the group fd is closed).</summary>
    public event Action? Finished;

    /// <summary>Starts the thread and waits until it is warmed up and polling; false if it did not get there.</summary>
    public bool Start(TimeSpan timeout)
    {
        _thread.Start();
        return _ready.Wait(timeout) && !_finished;
    }

    /// <summary>Signals every responder of the watch to stop and waits for this one; true if it ended in time.</summary>
    public bool Stop(TimeSpan timeout)
    {
        if (_thread.ThreadState.HasFlag(ThreadState.Unstarted))
        {
            _group.Dispose();
            _finished = true;
            return true;
        }

        ulong one = 1;
        _ = Libc.write(_stopEvent.Fd, &one, sizeof(ulong));
        return _thread.Join(timeout);
    }

    private void Run()
    {
        try
        {
            WarmUp();
            _ready.Set();
            PollLoop();
        }
#pragma warning disable CA1031 // Last resort: a watcher thread must never take the process down.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // Only the exception is kept here: its text (and a stack trace's line numbers) may load from disk.
            Volatile.Write(ref _exception, e);
            Volatile.Write(ref _failureWhat, "the watcher thread failed");
        }
        finally
        {
            // Closing the group releases every permission event still pending, as allowed.
            _group.Dispose();
            _processes.Dispose();
            _settings.Handles?.Dispose();
            _settings.Mounts?.Dispose();
            FreeBuffers();
            _slots = [];   // a stopped watch stays listed: keep only its counters
            _finished = true;
            _ready.Set();
            Finished?.Invoke();
        }
    }

    private void PollLoop()
    {
        int groupFd = _group.Fd;
        Libc.pollfd* fds = stackalloc Libc.pollfd[2];
        fds[0] = new Libc.pollfd { fd = groupFd, events = Libc.POLLIN };
        fds[1] = new Libc.pollfd { fd = _stopEvent.Fd, events = Libc.POLLIN };

        int batchesSincePoll = 0;
        int spinBackoff = 0, batchesBeforeSpin = 0;
        while (true)
        {
            // While events keep coming, read() alone: poll(), and the sleep in it, only once the queue is empty
            // (and a spin found nothing), and after MaxBatchesBetweenPolls batches in a row, to see a stop request.
            if (batchesSincePoll < MaxBatchesBetweenPolls)
            {
                BatchResult result = ReadBatch(groupFd);
                if (result == BatchResult.Empty && batchesSincePoll > 0 && _spinTicks > 0)
                {
                    if (batchesBeforeSpin > 0)
                    {
                        batchesBeforeSpin--;
                    }
                    else
                    {
                        result = Spin(groupFd);
                        spinBackoff = result == BatchResult.Empty ? Math.Min(Math.Max(1, spinBackoff * 2), MaxSpinBackoff) : 0;
                        batchesBeforeSpin = spinBackoff;
                    }
                }

                switch (result)
                {
                    case BatchResult.Handled:
                        batchesSincePoll++;
                        continue;
                    case BatchResult.Failed:
                        return;
                }
            }

            batchesSincePoll = 0;
            fds[0].revents = 0;
            fds[1].revents = 0;
            if (Libc.poll(fds, 2, -1) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno == Errno.EINTR)
                {
                    continue;
                }

                Fail("poll() on the fanotify group failed", errno);
                return;
            }

            if (fds[1].revents != 0)
            {
                return;
            }

            if ((fds[0].revents & Libc.POLLIN) == 0 &&
                (fds[0].revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0)
            {
                Fail("the fanotify group reported an error condition", 0);
                return;
            }
        }
    }

    private enum BatchResult
    {
        Handled,
        Empty,
        Failed,
    }

    /// <summary>
    /// The spin of a watch whose -SpinMicroseconds was not given: on when its permission verdicts wait for a read
    /// (a rule that names a program, user or path, or a Tree scope). Then the responder has less to do after a
    /// verdict than before it and would sleep just before the next event: in the benchmark, 1 and 100 rules made
    /// 0.60-0.64 of the opens/s of no rules without a spin, and 0.73-1.36 with 20 us (A/B: +23-28%). Without
    /// such reads the spin was even on throughput and cost CPU, so it stays off.
    /// </summary>
    internal static int ChooseSpin(int requested, bool permission, PermissionPolicy? policy, bool tree) =>
        requested != AutomaticSpin ? requested :
        permission && (tree || (policy is not null && (policy.ProcessMask | policy.PathMask) != 0)) ? ReadBeforeVerdictSpinMicroseconds : 0;

    /// <summary>
    /// The bytes to read at once: as many events as a quarter of the fds this process may still open allows (the
    /// rest is for its other watches and everything else), between <see cref="MinimumReadSize"/> and the whole buffer.
    /// </summary>
    internal static int ChooseReadSize(GroupKind kind, int fdsPerEvent)
    {
        if (fdsPerEvent == 0)
        {
            return ReadBufferSize;
        }

        Libc.rlimit limit;
        if (Libc.getrlimit(Libc.RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= int.MaxValue)
        {
            return ReadBufferSize;
        }

        int open;
        try
        {
            open = System.IO.Directory.GetFiles("/proc/self/fd").Length;
        }
        catch (Exception e) when (e is System.IO.IOException or UnauthorizedAccessException)
        {
            return ReadBufferSize;
        }

        long events = Math.Clamp(((long)limit.rlim_cur - open) / 4 / fdsPerEvent, MinEventsPerRead, MaxEventsPerRead);
        return (int)Math.Max(events * Fanotify.FAN_EVENT_METADATA_LEN, MinimumReadSize(kind));
    }

    /// <summary>The smallest read: MinEventsPerRead events, or 4 KiB for a file-handle group (any of its records fits in).</summary>
    private static int MinimumReadSize(GroupKind kind) =>
        kind == GroupKind.FileHandle ? 4096 : MinEventsPerRead * Fanotify.FAN_EVENT_METADATA_LEN;

    /// <summary>Reads until a batch comes or the spin time is over.</summary>
    private BatchResult Spin(int groupFd)
    {
        long deadline = System.Diagnostics.Stopwatch.GetTimestamp() + _spinTicks;
        BatchResult result;
        do
        {
            result = ReadBatch(groupFd);
        }
        while (result == BatchResult.Empty && System.Diagnostics.Stopwatch.GetTimestamp() < deadline);

        return result;
    }

    /// <summary>Reads and handles one batch.</summary>
    private BatchResult ReadBatch(int groupFd)
    {
        nint length = Libc.read(groupFd, _readBuffer, _readSize);
        if (length < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Errno.EAGAIN:
                case Errno.EINTR:
                    return BatchResult.Empty;
                case Errno.EMFILE:
                case Errno.ENFILE:
                case Errno.ENOMEM:
                    // The kernel could not open an event fd: that event is gone (a permission event was
                    // denied by the kernel). Count it, keep the watch alive; the consumer reports it. Fds ran
                    // short since the read size was chosen: halve it, or the next full read loses another.
                    _readErrorCount++;
                    _readSize = Math.Max(_readSize / 2, MinimumReadSize(_settings.Kind));
                    return BatchResult.Handled;
                default:
                    Fail("read() on the fanotify group failed", errno);
                    return BatchResult.Failed;
            }
        }

        return HandleBatch(new ReadOnlySpan<byte>(_readBuffer, (int)length), groupFd) ? BatchResult.Handled : BatchResult.Failed;
    }

    private bool HandleBatch(ReadOnlySpan<byte> batch, int groupFd)
    {
        // Pass 1: verdicts, before any other work.
        var reader = new FanotifyEventReader(batch);
        int index = 0;
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            ref Slot slot = ref _slots[index++];
            slot = default;
            slot.Rule = -1;
            if ((record.Mask & Fanotify.FAN_ALL_PERM_EVENTS) != 0 && record.Fd >= 0)
            {
                Decide(groupFd, record, ref slot);
            }
        }

        // Pass 2: resolve, filter, close, hand off.
        reader = new FanotifyEventReader(batch);
        index = 0;
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            ref Slot slot = ref _slots[index++];
            Deliver(batch, record, ref slot);
            slot = default;   // let the strings go with the event
        }

        if (reader.Malformed != MalformedReason.None)
        {
            _malformed = reader.Malformed;
            Fail("the kernel returned an unreadable event", 0);
            return false;
        }

        return true;
    }

    /// <summary>Evaluates and writes the verdict of one permission event.</summary>
    private void Decide(int groupFd, in FanotifyEventRecord record, ref Slot slot)
    {
        if (record.Pid == _ownPid)
        {
            slot.Verdict = FanotifyResponse.Allow;
            Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
            _allowedCount++;
            return;
        }

        PermissionPolicy? policy = _settings.Policy;
        ReportFilter filter = _settings.Filter;
        ulong mask = record.Mask;
        if ((policy is not null && (mask & policy.ProcessMask) != 0) || !_processes.IsCached(record.Pid))
        {
            slot.Process = _processes.Resolve(record.Pid, out slot.IsGone);
        }

        // Without the process, no rule for this event names one: those rules match any process.
        bool mayMatch = policy is not null && (mask & policy.EventMask) != 0 &&
            (slot.Process is null || (RuleMask(policy, slot.Process) & mask) != 0);
        // Rules and the Tree judge the file by its path under the watched mount: a bind mount elsewhere is the
        // same file under another name. Path stays as the file was opened.
        string? judged = null;
        if ((mayMatch && (mask & policy!.PathMask) != 0) || filter.HasTree)
        {
            slot.Path = ResolvePath(record.Fd, out slot.IsDeleted);
            judged = slot.JudgedPath = _settings.Mounts is { } mounts ? mounts.OnWatchedMount(record.Fd, slot.Path) : slot.Path;
        }

        if (judged is not null && !filter.InScope(judged))
        {
            // Outside the Tree: answered at once, never reported.
            slot.OutOfScope = true;
        }
        else if (mayMatch)
        {
            FileId file = (mask & policy!.FileMask) != 0 ? ReadFileId(record.Fd) : default;
            slot.Rule = policy.Evaluate(mask, judged, slot.Process?.Exe ?? string.Empty, slot.Process?.UserId ?? -1, file);
        }

        if (policy is not null && policy.Denies(slot.Rule))
        {
            if (_settings.AuditOnly)
            {
                slot.Verdict = FanotifyResponse.WouldDeny;
                _wouldDenyCount++;
                Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
            }
            else
            {
                slot.Verdict = FanotifyResponse.Deny;
                _deniedCount++;
                uint response = _settings.DenyWithErrno ? policy.DenyResponse(slot.Rule) : Fanotify.FAN_DENY;
                if (Respond(groupFd, record.Fd, response) == Errno.EINVAL && response != Fanotify.FAN_DENY)
                {
                    // FAN_DENY_ERRNO refused although the start probe took it: a plain deny (EPERM) still denies.
                    Respond(groupFd, record.Fd, Fanotify.FAN_DENY);
                }
            }

            return;
        }

        slot.Verdict = FanotifyResponse.Allow;
        _allowedCount++;
        Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
    }

    /// <summary>The events some rule could match for this process, judged once per process and kept with it.</summary>
    private static ulong RuleMask(PermissionPolicy policy, ProcessInfo process)
    {
        if (process.RuleMaskPlusOne == 0)
        {
            process.RuleMaskPlusOne = policy.MatchMask(process.Exe, process.UserId) + 1;
        }

        return process.RuleMaskPlusOne - 1;
    }

    /// <summary>Writes a response; returns 0 or the errno (a failed write leaves nothing to retry but a refused errno).</summary>
    private static int Respond(int groupFd, int eventFd, uint response)
    {
        var answer = new Fanotify.fanotify_response { fd = eventFd, response = response };
        return Libc.write(groupFd, &answer, sizeof(Fanotify.fanotify_response)) < 0 ? Marshal.GetLastPInvokeError() : 0;
    }

    private void Deliver(ReadOnlySpan<byte> batch, in FanotifyEventRecord record, ref Slot slot)
    {
        DateTime now = DateTime.UtcNow;
        if ((record.Mask & Fanotify.FAN_Q_OVERFLOW) != 0)
        {
            _overflowCount++;
            Publish(new FanotifyEvent(now, FanotifyEventType.Overflow, string.Empty, false,
                0, string.Empty, false, FanotifyResponse.None, _settings.WatchId));
            return;
        }

        // A record with an impossible length ends the walk; what was read before it stays valid, and a pidfd
        // found there must still be closed.
        FanotifyEventInfo info = FanotifyEventInfo.Empty;
        if (record.MetadataLength < record.EventLength)
        {
            _ = FanotifyInfoReader.TryRead(batch, record, out info);
        }

        if (record.Pid == _ownPid && !_settings.IncludeSelf)
        {
            CloseFd(record.Fd);
            CloseFd(info.PidFd);
            _ownEventCount++;
            return;
        }

        if (slot.OutOfScope)
        {
            CloseFd(record.Fd);
            _filteredCount++;
            return;
        }

        // The file.
        string path;
        bool isDeleted = slot.IsDeleted;
        string directoryPath = string.Empty, name = string.Empty, oldPath = string.Empty, newPath = string.Empty;
        string? judged = slot.JudgedPath;
        if (record.Fd >= 0)
        {
            path = slot.Path ?? ResolvePath(record.Fd, out isDeleted);
            if (judged is null && _settings.Filter.HasTree && _settings.Mounts is { } mounts)
            {
                judged = mounts.OnWatchedMount(record.Fd, path);
            }

            CloseFd(record.Fd);
        }
        else
        {
            path = ResolveHandles(batch, record, info, out directoryPath, out name, out oldPath, out newPath, out isDeleted);
        }

        // The process: known if the verdict needed it; else read now (checked against the pidfd, if any).
        ProcessInfo process;
        bool isGone;
        if (slot.Process is not null)
        {
            process = slot.Process;
            isGone = slot.IsGone;
        }
        else
        {
            process = ResolveProcess(record.Pid, info.PidFd, out isGone);
        }

        CloseFd(info.PidFd);

        int processId = record.Pid;
        int threadId = 0;
        if (_settings.ThreadIds)
        {
            threadId = record.Pid;
            processId = process.ProcessId > 0 ? process.ProcessId : record.Pid;
        }

        if (!_settings.Filter.Reports(judged ?? path, oldPath, processId, process.Exe))
        {
            _filteredCount++;
            if (isGone && _settings.Filter.LeftOutWithoutExe(judged ?? path, oldPath, processId, process.Exe))
            {
                _unnamedCount++;   // the watch says so: nobody could tell whether it was the program asked for
            }

            return;
        }

        var item = new FanotifyEvent(now, (FanotifyEventType)(record.Mask & EventBits), path, isDeleted,
            processId, process.Exe, isGone, slot.Verdict, _settings.WatchId)
        {
            DirectoryPath = directoryPath,
            Name = name,
            OldPath = oldPath,
            NewPath = newPath,
            IsDirectory = (record.Mask & Fanotify.FAN_ONDIR) != 0,
            ThreadId = threadId,
            ProcessName = process.Name,
            CommandLine = process.CommandLine,
            ParentProcessId = process.ParentProcessId,
            UserId = process.UserId,
            Rule = slot.Rule >= 0 ? _settings.Policy!.Rules[slot.Rule].Name : string.Empty,
        };
        if (info.HasError)
        {
            item.FsErrorCode = info.Error;
            item.FsErrorCount = info.ErrorCount;
        }

        Publish(item);
    }

    /// <summary>
    /// A notification event's process. With FAN_REPORT_PIDFD the answer is race-free: a process already gone
    /// (FAN_EPIDFD) is not looked up in /proc, where its pid may now belong to another process, and one that
    /// exits while it is being read is taken as gone too.
    /// </summary>
    private ProcessInfo ResolveProcess(int pid, int pidFd, out bool isGone)
    {
        if (pidFd == Fanotify.FAN_EPIDFD)
        {
            isGone = true;
            return _processes.Cached(pid);
        }

        ProcessInfo process = _processes.Resolve(pid, out isGone);
        if (pidFd >= 0 && !isGone && HasExited(pidFd))
        {
            isGone = true;
            return _processes.Cached(pid);
        }

        return process;
    }

    private static bool HasExited(int pidFd)
    {
        var fd = new Libc.pollfd { fd = pidFd, events = Libc.POLLIN };
        return Libc.poll(&fd, 1, 0) > 0 && (fd.revents & Libc.POLLIN) != 0;
    }

    /// <summary>The paths of a file-handle group's event: entry events give a directory and a name.</summary>
    private string ResolveHandles(ReadOnlySpan<byte> batch, in FanotifyEventRecord record, in FanotifyEventInfo info,
        out string directoryPath, out string name, out string oldPath, out string newPath, out bool isDeleted)
    {
        HandleResolver handles = _settings.Handles!;
        directoryPath = name = oldPath = newPath = string.Empty;
        isDeleted = (record.Mask & Fanotify.FAN_DELETE_SELF) != 0;

        if (info.OldDfidName >= 0)
        {
            oldPath = Join(handles.Resolve(batch, info.OldDfidName), FanotifyInfoReader.Name(batch, info.OldDfidName), out _, out _);
        }

        int entry = info.NewDfidName >= 0 ? info.NewDfidName : info.DfidName;
        string path;
        if (entry >= 0)
        {
            path = Join(handles.Resolve(batch, entry), FanotifyInfoReader.Name(batch, entry), out directoryPath, out name);
            if (info.NewDfidName >= 0)
            {
                newPath = path;
            }

            if (info.Fid >= 0 && (record.Mask & Fanotify.FAN_DELETE) == 0)
            {
                handles.Remember(batch, info.Fid, path);   // names the object if it is gone later (DeleteSelf)
            }
        }
        else if (info.Fid >= 0)
        {
            path = handles.Resolve(batch, info.Fid);
            if (info.HasError && ReferenceEquals(path, HandleResolver.Unresolved))
            {
                path = handles.MountPath(batch, info.Fid);   // an error of the filesystem itself (abort, shutdown)
            }
        }
        else if (info.Dfid >= 0)
        {
            path = handles.Resolve(batch, info.Dfid);
        }
        else
        {
            path = HandleResolver.Unresolved;
        }

        return path;
    }

    /// <summary>directory + "/" + name; a name of "." (an event on the directory itself) gives the directory.</summary>
    private static string Join(string directory, ReadOnlySpan<byte> nameBytes, out string directoryPath, out string name)
    {
        if (nameBytes.IsEmpty || nameBytes.SequenceEqual("."u8))
        {
            directoryPath = string.Empty;
            name = string.Empty;
            return directory;
        }

        directoryPath = directory;
        name = PathText.Decode(nameBytes);
        return directory.Length == 1 ? "/" + name : string.Concat(directory, "/", name);
    }

    private void Publish(FanotifyEvent item)
    {
        _eventCount++;
        if (!_buffer.TryWrite(item))
        {
            _droppedCount++;
        }
    }

    private static void CloseFd(int fd)
    {
        if (fd >= 0)
        {
            _ = Libc.close(fd);
        }
    }

    /// <summary>readlink("/proc/self/fd/N"); strips " (deleted)" when the file really has no links left.</summary>
    private string ResolvePath(int fd, out bool isDeleted)
    {
        isDeleted = false;
        nint linkLength = ProcessResolver.ReadFdLink(fd, _fdPath, _link, LinkCapacity);
        if (linkLength < 0)
        {
            return string.Empty;
        }

        var link = new ReadOnlySpan<byte>(_link, (int)linkLength);
        if (link.EndsWith(s_deletedSuffix) && HasNoLinks(fd))
        {
            isDeleted = true;
            link = link.Slice(0, link.Length - s_deletedSuffix.Length);
        }

        return PathText.Decode(link);
    }

    /// <summary>The open file's device and inode (for -File rules); default, which no rule holds, if statx fails.</summary>
    private FileId ReadFileId(int fd)
    {
        byte emptyPath = 0;
        return Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_INO, _statx) == 0 ? FileId.FromStatx(_statx) : default;
    }

    private bool HasNoLinks(int fd)
    {
        byte emptyPath = 0;
        if (Libc.statx(fd, &emptyPath, Libc.AT_EMPTY_PATH, Libc.STATX_NLINK, _statx) != 0)
        {
            return false;
        }

        return *(uint*)(_statx + Libc.StatxNlinkOffset) == 0;
    }

    private void Fail(string what, int errno)
    {
        Volatile.Write(ref _failureErrno, errno);
        Volatile.Write(ref _failureWhat, what);
    }

    /// <summary>
    /// Runs every path of the responder once on synthetic batches, on this thread, before any mark exists:
    /// permission events (answered to the group, which refuses the unknown fd) of a live process, of our own
    /// pid and of a pid that does not exist, notification events, an overflow record, and a file-handle event
    /// with every kind of info record (resolved against nothing).
    /// </summary>
    private void WarmUp()
    {
        int groupFd = _group.Fd;
        _ = _processes.Resolve(_ownPid, out _);   // a live process: the full read of its facts

        if (_settings.Kind == GroupKind.FileDescriptor)
        {
            // Pid 1 twice: read before its first verdict, answered first the second time.
            Span<byte> batch = stackalloc byte[Fanotify.FAN_EVENT_METADATA_LEN * 6];
            int[] fds = [Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC)];
            WriteSyntheticRecord(batch, 0, Fanotify.FAN_OPEN_PERM, fds[0], 1);
            WriteSyntheticRecord(batch, 1, Fanotify.FAN_OPEN_EXEC_PERM, fds[1], _ownPid);
            WriteSyntheticRecord(batch, 2, Fanotify.FAN_CLOSE_WRITE, fds[2], 0);
            WriteSyntheticRecord(batch, 3, Fanotify.FAN_OPEN, fds[3], int.MaxValue);
            WriteSyntheticRecord(batch, 4, Fanotify.FAN_Q_OVERFLOW, Fanotify.FAN_NOFD, 0);
            WriteSyntheticRecord(batch, 5, Fanotify.FAN_OPEN_PERM, fds[4], 1);
            HandleBatch(batch, groupFd);
        }
        else
        {
            // A file-handle event with every kind of info record, its handles resolving to nothing.
            Span<byte> fid = stackalloc byte[256];
            int length = SyntheticFidEvent(fid, Fanotify.FAN_RENAME | Fanotify.FAN_ONDIR, 1);
            HandleBatch(fid.Slice(0, length), groupFd);
            length = SyntheticFidEvent(fid, Fanotify.FAN_DELETE_SELF, int.MaxValue);
            HandleBatch(fid.Slice(0, length), groupFd);
        }

        // The deny path (with and without an errno) and the policy matcher, against an fd the group does not know.
        if (_settings.Policy is { } policy)
        {
            _ = RuleMask(policy, new ProcessInfo([], "/", "/", "/", 0, 0, 0));
            _ = policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/", "/", 0, ReadFileId(groupFd));
            for (int rule = 0; rule < policy.Rules.Length; rule++)
            {
                _ = Respond(groupFd, -1, policy.DenyResponse(rule));
            }
        }

        _ = PathText.Decode([0x2f, 0xff, 0x61]);   // a name that is not UTF-8
        _ = _settings.Filter.Reports("/", "/", 0, "/");
        _ = _settings.Filter.LeftOutWithoutExe("/", "/", 0, string.Empty);
        _ = _settings.Filter.InScope("/");
        _ = HasNoLinks(groupFd);
        _settings.Mounts?.WarmUp();
        _ = HasExited(groupFd);
        _ = Marshal.GetLastPInvokeError();
        _buffer.DiscardPending();

        _eventCount = _droppedCount = _overflowCount = _ownEventCount = _filteredCount = _unnamedCount = 0;
        _allowedCount = _deniedCount = _wouldDenyCount = 0;
        Volatile.Write(ref _failureWhat, null);
    }

    internal static void WriteSyntheticRecord(Span<byte> batch, int index, ulong mask, int fd, int pid)
    {
        var metadata = new Fanotify.fanotify_event_metadata
        {
            event_len = Fanotify.FAN_EVENT_METADATA_LEN,
            vers = Fanotify.FANOTIFY_METADATA_VERSION,
            metadata_len = Fanotify.FAN_EVENT_METADATA_LEN,
            mask = mask,
            fd = fd,
            pid = pid,
        };
        MemoryMarshal.Write(batch.Slice(index * Fanotify.FAN_EVENT_METADATA_LEN), in metadata);
    }

    /// <summary>Writes one file-handle event with every info record type into buffer; returns its length.</summary>
    internal static int SyntheticFidEvent(Span<byte> buffer, ulong mask, int pid)
    {
        int offset = Fanotify.FAN_EVENT_METADATA_LEN;
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_DFID_NAME, "a"u8);
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_FID, default);
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, "b"u8);
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, "c"u8);
        buffer[offset] = Fanotify.FAN_EVENT_INFO_TYPE_ERROR;
        MemoryMarshal.Write(buffer.Slice(offset + 2), (ushort)12);
        MemoryMarshal.Write(buffer.Slice(offset + 4), 5);
        MemoryMarshal.Write(buffer.Slice(offset + 8), 1);
        offset += 12;
        buffer[offset] = Fanotify.FAN_EVENT_INFO_TYPE_PIDFD;
        MemoryMarshal.Write(buffer.Slice(offset + 2), (ushort)8);
        MemoryMarshal.Write(buffer.Slice(offset + 4), Fanotify.FAN_EPIDFD);
        offset += 8;

        WriteSyntheticRecord(buffer, 0, mask, Fanotify.FAN_NOFD, pid);
        MemoryMarshal.Write(buffer, (uint)offset);   // event_len
        return offset;
    }

    /// <summary>A FID record with an 8-byte handle that resolves to nothing, and an optional name.</summary>
    internal static int WriteFidRecord(Span<byte> buffer, int offset, byte type, ReadOnlySpan<byte> name)
    {
        const int handleBytes = 8;
        int length = FanotifyInfoReader.FidHeaderLength + FanotifyInfoReader.FileHandleHeaderLength + handleBytes;
        if (!name.IsEmpty)
        {
            length += name.Length + 1;
        }

        length = (length + 3) & ~3;
        buffer.Slice(offset, length).Clear();
        buffer[offset] = type;
        MemoryMarshal.Write(buffer.Slice(offset + 2), (ushort)length);
        MemoryMarshal.Write(buffer.Slice(offset + FanotifyInfoReader.FidHeaderLength), (uint)handleBytes);
        MemoryMarshal.Write(buffer.Slice(offset + FanotifyInfoReader.FidHeaderLength + 4), 1);   // handle_type
        name.CopyTo(buffer.Slice(offset + FanotifyInfoReader.FidHeaderLength + FanotifyInfoReader.FileHandleHeaderLength + handleBytes));
        return offset + length;
    }

    private void FreeBuffers()
    {
        NativeMemory.AlignedFree(_readBuffer);
        NativeMemory.Free(_link);
        NativeMemory.Free(_fdPath);
        NativeMemory.AlignedFree(_statx);
        _readBuffer = _link = _fdPath = _statx = null;
    }

    /// <summary>Releases what the thread waited on, once it has ended.</summary>
    public void Dispose()
    {
        if (_finished)
        {
            _ready.Dispose();
        }
    }

    /// <summary>What pass 1 learned of an event, for pass 2.</summary>
    private struct Slot
    {
        public ProcessInfo? Process;
        public bool IsGone;
        public string? Path;
        /// <summary>Path under the watched mount, where rules and the Tree judged it (null: not judged by path).</summary>
        public string? JudgedPath;
        public bool IsDeleted;
        public bool OutOfScope;
        public FanotifyResponse Verdict;
        public int Rule;
    }
}

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
}

internal enum GroupKind
{
    /// <summary>Events carry an open fd: open, access, modify, close, exec and the permission events.</summary>
    FileDescriptor,
    /// <summary>Events carry file handles (FAN_REPORT_DFID_NAME | FAN_REPORT_FID): directory entries, attrib, self events, fs errors.</summary>
    FileHandle,
}
