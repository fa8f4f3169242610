using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/*
 * Implementation notes
 * - One responder thread per fanotify group. It alone reads the group, answers permission events, resolves
 *   and closes event fds, and closes the group fd when it ends (close() from another thread would not wake
 *   its poll(), and the fd number could be reused under it). Stop = write to the shared eventfd, then join.
 * - One type in five files, one job each, all run on that thread and called directly:
 *     Responder.cs           the thread (Start, Stop, Run), the poll/spin loop, read sizing, the two passes
 *                            of a batch (HandleBatch), counters and Failure;
 *     Responder.Verdicts.cs  pass 1: Decide, Respond, RuleMask;
 *     Responder.Delivery.cs  pass 2: Deliver (file, handles, process, filter, Publish) and the reads both
 *                            passes share (ResolvePath, ReadFileId);
 *     Responder.WarmUp.cs    the dry run of all of it before the first mark;
 *     ResponderSettings.cs   what the watch tells a responder (and GroupKind).
 *   How long to spin is chosen by SpinPolicy, off this thread.
 * - A batch is handled in two passes. Pass 1 answers every permission event; before the verdict it reads
 *   only what the verdict needs: the process when a rule for the event names a program or a user (fresh: an
 *   execve() must not slip past an -Exe rule), or when the pid was never seen (the process is held in open()
 *   only until the verdict, and a short-lived one such as cat is gone right after); the path when a rule or a
 *   Tree scope needs it. A process seen before is answered first and read in pass 2, as the fanotify(7)
 *   example does. Pass 2 resolves the rest, filters, and hands events to the HandOffQueue with TryWrite (never
 *   waiting; refusals are counted).
 * - With a spin (-SpinMicroseconds; by default on only when verdicts wait for a read, see SpinPolicy), after a
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
internal sealed unsafe partial class Responder : IDisposable
{
    internal const int ReadBufferSize = 64 * 1024;
    private const int MaxEventsPerRead = ReadBufferSize / Fanotify.FAN_EVENT_METADATA_LEN;
    private const int MinEventsPerRead = 16;
    private const int MaxBatchesBetweenPolls = 64;
    private const int MaxSpinBackoff = 64;
    private const int IdleMarkMilliseconds = 1000;

    private readonly FileDescriptorHandle _group;
    private readonly FileDescriptorHandle _stopEvent;
    private readonly HandOffQueue _buffer;
    private readonly ResponderSettings _settings;
    private readonly int _ownPid = Environment.ProcessId;
    private Slot[] _slots = new Slot[MaxEventsPerRead + 1];
    private readonly ProcessTable _processes;
    private readonly LinkBuffer _links = new();
    private readonly ManualResetEventSlim _ready = new(false);
    private readonly long _spinTicks;
    private int _readSize;
    private byte* _batchStart;
    private int _batchLength;
    private int _aheadOffset;
    private readonly Thread _thread;

    private byte* _readBuffer;
    private byte* _statx;

    private long _eventCount;
    private long _droppedCount;
    private long _overflowCount;
    private long _ownEventCount;
    private long _filteredCount;
    private long _allowedCount;
    private long _deniedCount;
    private long _wouldDenyCount;
    private long _lostCount;
    private long _unnamedCount;
    private long _execEventCount;
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
        _processes = settings.Processes;
        _processes.ExitAhead = ExitAhead;
        _readBuffer = (byte*)NativeMemory.AlignedAlloc(ReadBufferSize, 8);
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
    /// <summary>Events the kernel could not hand over: a read failed to open their fds (EMFILE, ENFILE, ENOMEM).</summary>
    public long LostCount => Volatile.Read(ref _lostCount);
    /// <summary>Of FilteredCount: left out by -Exe/-ExcludeExe because the process had exited before it could be named.</summary>
    public long UnnamedCount => Volatile.Read(ref _unnamedCount);

    /// <summary>Exec events of the exec marks, read to name processes and not reported (the user did not ask for them).</summary>
    public long ExecEventCount => Volatile.Read(ref _execEventCount);

    /// <summary>Every exec mark is placed (at this history sequence): see <see cref="ProcessTable.MarksPlaced"/>.</summary>
    public void MarksPlaced(long sequence, bool execEvents, HashSet<string> programDirectories) =>
        _processes.MarksPlaced(sequence, execEvents, programDirectories);

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
            // With the process connector, an idle group wakes now and then to tell the history that its queue is
            // empty, so that the lives of processes that ended can be forgotten.
            long idleSequence = _settings.History?.Sequence ?? 0;
            int ready = Libc.poll(fds, 2, _settings.History is null ? -1 : IdleMarkMilliseconds);
            if (ready == 0)
            {
                _processes.QueueDrained(idleSequence);   // nothing came since the poll began: every earlier event was read
                continue;
            }

            if (ready < 0)
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
        long sequence = _settings.History?.Sequence ?? 0;
        nint length = Libc.read(groupFd, _readBuffer, _readSize);
        if (length < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Errno.EAGAIN:
                    _processes.QueueDrained(sequence);
                    return BatchResult.Empty;
                case Errno.EINTR:
                    return BatchResult.Empty;
                case Errno.EMFILE:
                case Errno.ENFILE:
                case Errno.ENOMEM:
                    // The kernel could not open an event fd: that event is gone (a permission event was
                    // denied by the kernel). Count it, keep the watch alive; the consumer reports it. Fds ran
                    // short since the read size was chosen: halve it, or the next full read loses another.
                    _lostCount++;
                    _readSize = Math.Max(_readSize / 2, MinimumReadSize(_settings.Kind));
                    return BatchResult.Handled;
                default:
                    Fail("read() on the fanotify group failed", errno);
                    return BatchResult.Failed;
            }
        }

        return HandleBatch(new ReadOnlySpan<byte>(_readBuffer, (int)length), groupFd) ? BatchResult.Handled : BatchResult.Failed;
    }

    /// <summary>Handles one batch in two passes (Responder.Verdicts.cs, then Responder.Delivery.cs); false if it was unreadable.</summary>
    private bool HandleBatch(ReadOnlySpan<byte> batch, int groupFd)
    {
        // Pass 1: verdicts, before any other work.
        _processes.BeginBatch();
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
        // The batch is native memory or the warm-up's stack: it does not move while it is handled.
        _batchStart = (byte*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref MemoryMarshal.GetReference(batch));
        _batchLength = batch.Length;
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            _aheadOffset = record.Offset + (int)record.EventLength;
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

    private void Fail(string what, int errno)
    {
        Volatile.Write(ref _failureErrno, errno);
        Volatile.Write(ref _failureWhat, what);
    }

    private void FreeBuffers()
    {
        NativeMemory.AlignedFree(_readBuffer);
        NativeMemory.AlignedFree(_statx);
        _links.Dispose();
        _readBuffer = _statx = null;
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
        public bool ProcessIsFresh;
        public string? Path;
        /// <summary>Path under the watched mount, where rules and the Tree judged it (null: not judged by path).</summary>
        public string? JudgedPath;
        public bool IsDeleted;
        public bool OutOfScope;
        public FanotifyResponse Verdict;
        public int Rule;
    }
}
