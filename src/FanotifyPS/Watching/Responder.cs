using System;
using System.Runtime.InteropServices;
using System.Text;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/*
 * Implementation notes
 * - One responder thread per fanotify group. It alone reads the group, answers permission events, resolves
 *   and closes event fds, and closes the group fd when it ends (close() from another thread would not wake
 *   its poll(), and the fd number could be reused under it). Stop = write to the eventfd, then join.
 * - A batch is handled in two passes: every permission event is answered first, then paths are resolved
 *   and events handed to the EventBuffer with TryWrite (never waiting; refusals are counted). The one thing
 *   done before a verdict is reading /proc/PID/exe (about a microsecond, no allocation on a cache hit): the
 *   process is held in open() only until then, and a short-lived one (cat) is gone right after. The deny
 *   policy needs the program before the verdict anyway.
 * - Nothing here may open a file on a watched filesystem: only /proc is read, and everything this thread
 *   runs is executed once by WarmUp() before the first mark is placed (JIT, type initializers, statics).
 *   No exceptions are thrown in the steady state (building one can probe for resource assemblies on disk).
 * - Events of our own process are answered FAN_ALLOW and never reported: pwsh writing a CSV into the watched
 *   filesystem must not feed itself, nor wait for itself.
 * - Counters have a single writer (this thread); readers use Volatile.Read.
 */
internal sealed unsafe class Responder : IDisposable
{
    internal const int ReadBufferSize = 64 * 1024;
    private const int MaxEventsPerRead = ReadBufferSize / Fanotify.FAN_EVENT_METADATA_LEN;
    private const int LinkCapacity = 4096 + 16;    // PATH_MAX plus " (deleted)"
    private static readonly byte[] s_deletedSuffix = " (deleted)"u8.ToArray();

    private readonly FileDescriptorHandle _group;
    private readonly FileDescriptorHandle _stopEvent;
    private readonly EventBuffer _buffer;
    private readonly int _watchId;
    private readonly int _ownPid = Environment.ProcessId;
    private readonly FanotifyResponse[] _verdicts = new FanotifyResponse[MaxEventsPerRead + 1];
    private readonly string?[] _exes = new string?[MaxEventsPerRead + 1];
    private readonly bool[] _gone = new bool[MaxEventsPerRead + 1];
    private readonly ProcessResolver _processes = new();
    private readonly ManualResetEventSlim _ready = new(false);
    private readonly Thread _thread;

    private byte* _readBuffer;
    private byte* _link;
    private byte* _fdPath;
    private byte* _statx;

    private long _eventCount;
    private long _droppedCount;
    private long _overflowCount;
    private long _ownEventCount;
    private long _readErrorCount;
    private int _lastReadErrno;
    private int _failureErrno;
    private string? _failureWhat;
    private MalformedReason _malformed;
    private volatile bool _finished;

    public Responder(FileDescriptorHandle group, FileDescriptorHandle stopEvent, EventBuffer buffer, int watchId)
    {
        _group = group;
        _stopEvent = stopEvent;
        _buffer = buffer;
        _watchId = watchId;
        _readBuffer = (byte*)NativeMemory.AlignedAlloc(ReadBufferSize, 8);
        _link = (byte*)NativeMemory.Alloc(LinkCapacity);
        _fdPath = (byte*)NativeMemory.Alloc(64);
        _statx = (byte*)NativeMemory.AlignedAlloc(Libc.StatxSize, 8);
        _thread = new Thread(Run, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = $"fanotify responder {watchId}",
        };
    }

    public long EventCount => Volatile.Read(ref _eventCount);
    public long DroppedCount => Volatile.Read(ref _droppedCount);
    public long OverflowCount => Volatile.Read(ref _overflowCount);
    public long OwnEventCount => Volatile.Read(ref _ownEventCount);
    public long ReadErrorCount => Volatile.Read(ref _readErrorCount);
    public int LastReadErrno => Volatile.Read(ref _lastReadErrno);

    /// <summary>Why the responder ended on its own; null while running or after a requested stop.</summary>
    /// <remarks>Composed here, on the reader's thread: the responder formats nothing (culture data loads from disk).</remarks>
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
            if (_malformed != MalformedReason.None)
            {
                what += $" ({_malformed}; metadata version {Fanotify.FANOTIFY_METADATA_VERSION} expected)";
            }

            return errno == 0 ? what : $"{what}: {Errno.Describe(errno)}";
        }
    }

    public int FailureErrno => Volatile.Read(ref _failureErrno);

    public bool IsFinished => _finished;

    /// <summary>Raised on the responder thread as its last act (after the group fd is closed).</summary>
    public event Action? Finished;

    /// <summary>Starts the thread and waits until it is warmed up and polling; false if it did not get there.</summary>
    public bool Start(TimeSpan timeout)
    {
        _thread.Start();
        return _ready.Wait(timeout) && !_finished;
    }

    /// <summary>Signals the thread to stop and waits for it; true if it ended within the timeout.</summary>
    public bool Stop(TimeSpan timeout)
    {
        if (_thread.ThreadState == ThreadState.Unstarted)
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
            Volatile.Write(ref _failureWhat, "the watcher thread failed: " + e.Message);
        }
        finally
        {
            // Closing the group releases every permission event still pending, as allowed.
            _group.Dispose();
            _processes.Dispose();
            FreeBuffers();
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

        while (true)
        {
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

            if ((fds[0].revents & Libc.POLLIN) != 0)
            {
                if (!ReadBatch(groupFd))
                {
                    return;
                }
            }
            else if ((fds[0].revents & (Libc.POLLERR | Libc.POLLHUP | Libc.POLLNVAL)) != 0)
            {
                Fail("the fanotify group reported an error condition", 0);
                return;
            }
        }
    }

    /// <summary>Reads and handles one batch; false when the watch cannot go on.</summary>
    private bool ReadBatch(int groupFd)
    {
        nint length = Libc.read(groupFd, _readBuffer, ReadBufferSize);
        if (length < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            switch (errno)
            {
                case Errno.EAGAIN:
                case Errno.EINTR:
                    return true;
                case Errno.EMFILE:
                case Errno.ENFILE:
                case Errno.ENOMEM:
                    // The kernel could not open an event fd: that event is gone (a permission event was
                    // denied by the kernel). Count it, keep the watch alive; the consumer reports it.
                    _readErrorCount++;
                    Volatile.Write(ref _lastReadErrno, errno);
                    return true;
                default:
                    Fail("read() on the fanotify group failed", errno);
                    return false;
            }
        }

        return HandleBatch(new ReadOnlySpan<byte>(_readBuffer, (int)length), groupFd);
    }

    private bool HandleBatch(ReadOnlySpan<byte> batch, int groupFd)
    {
        // Pass 1: verdicts, before any other work.
        var reader = new FanotifyEventReader(batch);
        int index = 0;
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            FanotifyResponse verdict = FanotifyResponse.None;
            _exes[index] = null;
            if ((record.Mask & Fanotify.FAN_ALL_PERM_EVENTS) != 0 && record.Fd >= 0)
            {
                if (record.Pid != _ownPid)
                {
                    _processes.Resolve(record.Pid, out _exes[index], out _gone[index]);
                }

                verdict = FanotifyResponse.Allow;
                Respond(groupFd, record.Fd, Fanotify.FAN_ALLOW);
            }

            _verdicts[index++] = verdict;
        }

        // Pass 2: resolve, close, hand off.
        reader = new FanotifyEventReader(batch);
        index = 0;
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            Deliver(record, index++);
        }

        if (reader.Malformed != MalformedReason.None)
        {
            _malformed = reader.Malformed;
            Fail("the kernel returned an unreadable event", 0);
            return false;
        }

        return true;
    }

    private static void Respond(int groupFd, int eventFd, uint response)
    {
        var answer = new Fanotify.fanotify_response { fd = eventFd, response = response };
        // A failed write leaves nothing to retry: the event was already answered or its waiter is gone.
        _ = Libc.write(groupFd, &answer, sizeof(Fanotify.fanotify_response));
    }

    private void Deliver(in FanotifyEventRecord record, int index)
    {
        DateTime now = DateTime.UtcNow;
        if ((record.Mask & Fanotify.FAN_Q_OVERFLOW) != 0)
        {
            _overflowCount++;
            Publish(new FanotifyEvent(now, FanotifyEventType.Overflow, string.Empty, false,
                0, string.Empty, false, FanotifyResponse.None, _watchId));
            return;
        }

        if (record.Pid == _ownPid)
        {
            CloseEventFd(record.Fd);
            _ownEventCount++;
            return;
        }

        string path = string.Empty;
        bool isDeleted = false;
        if (record.Fd >= 0)
        {
            path = ResolvePath(record.Fd, out isDeleted);
            CloseEventFd(record.Fd);
        }

        string? exe = _exes[index];
        bool isGone = _gone[index];
        if (exe is null)
        {
            _processes.Resolve(record.Pid, out exe, out isGone);
        }
        else
        {
            _exes[index] = null;   // let the string go with the event
        }

        Publish(new FanotifyEvent(now, (FanotifyEventType)record.Mask, path, isDeleted,
            record.Pid, exe, isGone, _verdicts[index], _watchId));
    }

    private void Publish(FanotifyEvent item)
    {
        _eventCount++;
        if (!_buffer.TryWrite(item))
        {
            _droppedCount++;
        }
    }

    private static void CloseEventFd(int fd)
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
        int length = ProcessResolver.WriteAscii(_fdPath, "/proc/self/fd/"u8);
        length += ProcessResolver.WriteDecimal(_fdPath + length, fd);
        _fdPath[length] = 0;

        nint linkLength = Libc.readlink(_fdPath, _link, LinkCapacity);
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

        return Encoding.UTF8.GetString(link);
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
    /// Runs every path of the responder once on a synthetic batch, on this thread, before any mark exists:
    /// a permission event (answered to the group, which refuses the unknown fd), an event of our own pid,
    /// an event of a live process, one of a process that does not exist, an overflow record.
    /// </summary>
    private void WarmUp()
    {
        int groupFd = _group.Fd;
        Span<byte> batch = stackalloc byte[Fanotify.FAN_EVENT_METADATA_LEN * 4];
        int[] fds = [Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC), Libc.eventfd(0, Libc.EFD_CLOEXEC)];
        WriteSyntheticRecord(batch, 0, Fanotify.FAN_OPEN_PERM, fds[0], 1);
        WriteSyntheticRecord(batch, 1, Fanotify.FAN_CLOSE_WRITE, fds[1], _ownPid);
        WriteSyntheticRecord(batch, 2, Fanotify.FAN_OPEN, fds[2], 0);
        WriteSyntheticRecord(batch, 3, Fanotify.FAN_Q_OVERFLOW, Fanotify.FAN_NOFD, 0);
        HandleBatch(batch, groupFd);
        _ = HasNoLinks(groupFd);
        _ = Marshal.GetLastPInvokeError();
        _ = _buffer.Count;

        while (_buffer.TryRead(out _))
        {
        }

        _eventCount = _droppedCount = _overflowCount = _ownEventCount = 0;
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

    private void FreeBuffers()
    {
        NativeMemory.AlignedFree(_readBuffer);
        NativeMemory.Free(_link);
        NativeMemory.Free(_fdPath);
        NativeMemory.AlignedFree(_statx);
        _readBuffer = _link = _fdPath = _statx = null;
    }

    /// <summary>Releases the stop eventfd; only once the thread has ended, since it polls that fd.</summary>
    public void Dispose()
    {
        if (_finished)
        {
            _ready.Dispose();
            _stopEvent.Dispose();
        }
    }
}
