using System;
using System.Runtime.InteropServices;
using System.Threading;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// The module's one listener on the kernel's process events connector: feeds a <see cref="ProcessHistory"/> with
/// the forks, execs and exits of every process, from a background thread and from any responder that calls
/// <see cref="Drain"/> before it looks a process up.
/// </summary>
/// <remarks>
/// Shared: <see cref="Acquire"/> and <see cref="Release"/> count its users; the last Release closes it, and so does
/// module removal (<see cref="CloseShared"/>). Where the connector cannot be had (no CONFIG_CONNECTOR or
/// CONFIG_PROC_EVENTS, a container's namespaces, a seccomp filter) Acquire returns null and
/// <see cref="UnavailableReason"/> says why. The threads that read it open nothing, allocate nothing per message
/// and throw nothing: a failure is kept as data and composed into <see cref="Failure"/> on the reader's side.
/// </remarks>
internal sealed unsafe class ProcessEventsListener
{
    /// <summary>Asked of SO_RCVBUFFORCE: a burst of thousands of forks while the module is not scheduled.</summary>
    internal const int LargeReceiveBuffer = 32 * 1024 * 1024;

    private const int BufferSize = 8192;           // one datagram per recv; a proc_event message is 76 bytes
    private const int AckTimeoutMs = 1000;         // the ack is queued before send returns; this is slack
    private const int MaxDatagramsPerDrain = 1 << 16;   // a fork storm must not hold a responder forever

    private const int BatchingPauseMilliseconds = 20;
    private static readonly object s_sharedLock = new();
    private static ProcessEventsListener? s_shared;
    private static int s_users;
    private static string? s_unavailableReason;
    private static bool s_unavailableForGood;
    private static int s_warned;

    private readonly object _drainLock = new();
    private readonly int _socket;
    private readonly uint _listenAck;
    private int _stopEvent = -1;
    private byte* _buffer;
    private Thread? _thread;
    private bool _closed;

    private long _datagramCount;
    private long _lossCount;
    private long _truncatedCount;
    private int _failureErrno;
    private string? _failureWhat;
    private Exception? _exception;
    private volatile bool _finished;

    private ProcessEventsListener(int socket, uint listenAck, int receiveBufferBytes)
    {
        _socket = socket;
        _listenAck = listenAck;
        ReceiveBufferBytes = receiveBufferBytes;
        _buffer = (byte*)NativeMemory.AlignedAlloc(BufferSize, 8);
    }

    /// <summary>The lives of processes as told so far.</summary>
    public ProcessHistory History { get; } = new();

    /// <summary>The receive buffer the kernel granted (getsockopt SO_RCVBUF, which counts its bookkeeping too).</summary>
    public int ReceiveBufferBytes { get; }

    /// <summary>Datagrams read so far.</summary>
    public long DatagramCount => Interlocked.Read(ref _datagramCount);

    /// <summary>Times the kernel said messages were lost (ENOBUFS: the receive buffer was full), or one was cut short.</summary>
    public long LossCount => Interlocked.Read(ref _lossCount) + Interlocked.Read(ref _truncatedCount);

    /// <summary>Of LossCount: messages cut short or shorter than their kind.</summary>
    public long TruncatedCount => Interlocked.Read(ref _truncatedCount);

    /// <summary>True once the thread has ended (stopped, or failed: see <see cref="Failure"/>).</summary>
    public bool IsFinished => _finished;

    /// <summary>Why the listener stopped reading on its own; null while it reads or after a requested stop.</summary>
    /// <remarks>Composed here, on the reader's thread: the listener's threads format nothing.</remarks>
    public string? Failure
    {
        get
        {
            string? what = Volatile.Read(ref _failureWhat);
            if (what is null)
            {
                return null;
            }

            if (Volatile.Read(ref _exception) is { } exception)
            {
                what += $": {exception.GetType().Name}: {exception.Message}";
            }

            int errno = Volatile.Read(ref _failureErrno);
            return errno == 0 ? what : $"{what}: {Errno.Describe(errno)}";
        }
    }

    /// <summary>Why the last <see cref="Acquire"/> returned null; null when it did not.</summary>
    public static string? UnavailableReason => Volatile.Read(ref s_unavailableReason);

    /// <summary>The module's listener, started if it was not; null when the connector cannot be had.</summary>
    public static ProcessEventsListener? Acquire()
    {
        lock (s_sharedLock)
        {
            if (s_shared is { } shared)
            {
                s_users++;
                return shared;
            }

            if (s_unavailableForGood)
            {
                return null;
            }

            ProcessEventsListener? listener = Open(LargeReceiveBuffer, out string? reason, out bool forGood);
            if (listener is null)
            {
                Volatile.Write(ref s_unavailableReason, reason);
                s_unavailableForGood = forGood;
                return null;
            }

            if (!listener.Start())
            {
                Volatile.Write(ref s_unavailableReason, Unavailable($"its thread could not start: {listener.Failure}"));
                listener.Close();
                return null;
            }

            Volatile.Write(ref s_unavailableReason, null);
            s_shared = listener;
            s_users = 1;
            return listener;
        }
    }

    /// <summary>One user is done with it; the last closes it. A listener already closed (module removal) is left be.</summary>
    public static void Release(ProcessEventsListener? listener)
    {
        if (listener is null)
        {
            return;
        }

        lock (s_sharedLock)
        {
            if (!ReferenceEquals(listener, s_shared) || --s_users > 0)
            {
                return;
            }

            s_shared = null;
            s_users = 0;
            listener.Close();
        }
    }

    /// <summary>Closes the module's listener whatever its users (module removal, process exit).</summary>
    public static void CloseShared()
    {
        lock (s_sharedLock)
        {
            ProcessEventsListener? listener = s_shared;
            s_shared = null;
            s_users = 0;
            listener?.Close();
            Interlocked.Exchange(ref s_warned, 0);   // a new import warns again
        }
    }

    /// <summary>Writes <see cref="UnavailableReason"/> at most once per module load; nothing when it is null.</summary>
    public static void WarnOnce(Action<string> writeWarning)
    {
        ArgumentNullException.ThrowIfNull(writeWarning);
        if (UnavailableReason is { } reason && Interlocked.Exchange(ref s_warned, 1) == 0)
        {
            writeWarning(reason);
        }
    }

    /// <summary>
    /// Reads every datagram queued now and applies its events to <see cref="History"/> in order; returns the
    /// number of events applied. Any thread may call it; one reads at a time, the others wait for it and then
    /// read what came since. Allocates nothing.
    /// </summary>
    public int Drain()
    {
        lock (_drainLock)
        {
            if (_closed || Volatile.Read(ref _failureWhat) is not null)
            {
                return 0;
            }

            int applied = 0;
            for (int datagrams = 0; datagrams < MaxDatagramsPerDrain; datagrams++)
            {
                nint length = Netlink.recv(_socket, _buffer, BufferSize, Netlink.MSG_DONTWAIT);
                if (length < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EAGAIN)
                    {
                        break;
                    }

                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    if (errno == Netlink.ENOBUFS)
                    {
                        // The kernel dropped messages for want of room; the socket reads on after it.
                        Interlocked.Increment(ref _lossCount);
                        History.OnLoss();
                        continue;
                    }

                    Fail("reading the process events connector failed", errno);
                    break;
                }

                Interlocked.Increment(ref _datagramCount);
                applied += Apply(new ReadOnlySpan<byte>(_buffer, (int)length), History, out bool truncated);
                if (truncated)
                {
                    Interlocked.Increment(ref _truncatedCount);
                    History.OnLoss();
                }
            }

            return applied;
        }
    }

    /// <summary>Applies one datagram's events to a history, in order; returns how many (acks are not counted).</summary>
    internal static int Apply(ReadOnlySpan<byte> datagram, ProcessHistory history, out bool truncated)
    {
        int applied = 0;
        var reader = new ProcessEventReader(datagram);
        while (reader.TryRead(out ProcessEvent processEvent))
        {
            switch (processEvent.Kind)
            {
                case ProcessEventKind.Fork:
                    history.OnFork(processEvent.ParentProcessId, processEvent.ProcessId, processEvent.TimestampNs);
                    break;
                case ProcessEventKind.Exec:
                    history.OnExec(processEvent.ProcessId);
                    break;
                case ProcessEventKind.Exit:
                    history.OnExit(processEvent.ProcessId);
                    break;
                case ProcessEventKind.IdChange:
                    history.OnIdChange(processEvent.ProcessId, processEvent.UserId);
                    break;
                default:
                    continue;   // an ack, of this listener's request or another's
            }

            applied++;
        }

        truncated = reader.Truncated;
        return applied;
    }

    /// <summary>
    /// A listener that has joined the connector (the kernel acked its listen request), its thread not started:
    /// Acquire starts it; tests read with <see cref="Drain"/> alone. Null with the reason when it cannot be had;
    /// <paramref name="forGood"/> when asking again in this process would not help.
    /// </summary>
    /// <param name="receiveBufferBytes">Asked of SO_RCVBUFFORCE, then SO_RCVBUF; 0 keeps the default.</param>
    internal static ProcessEventsListener? Open(int receiveBufferBytes, out string? reason, out bool forGood)
    {
        forGood = true;
        int socket = Netlink.socket(
            Netlink.PF_NETLINK, Netlink.SOCK_DGRAM | Netlink.SOCK_CLOEXEC | Netlink.SOCK_NONBLOCK, Netlink.NETLINK_CONNECTOR);
        if (socket < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            forGood = !IsTransient(errno);
            reason = Unavailable(errno == Netlink.EPROTONOSUPPORT
                ? "this kernel has no netlink connector (CONFIG_CONNECTOR), or this network namespace has none"
                : $"socket(PF_NETLINK, NETLINK_CONNECTOR) was refused: {Errno.Describe(errno)}");
            return null;
        }

        int granted = SetReceiveBuffer(socket, receiveBufferBytes);
        var address = new Netlink.sockaddr_nl
        {
            nl_family = Netlink.AF_NETLINK,
            nl_pid = 0,   // the kernel chooses the port
            nl_groups = Netlink.CN_IDX_PROC,
        };
        if (Netlink.bind(socket, &address, (uint)sizeof(Netlink.sockaddr_nl)) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            _ = Libc.close(socket);
            forGood = !IsTransient(errno);
            reason = Unavailable(errno == Errno.EPERM
                ? $"joining the process events group was refused ({Errno.Describe(errno)}); older kernels allow it only with CAP_NET_ADMIN"
                : $"joining the process events group failed: {Errno.Describe(errno)}");
            return null;
        }

        // An ack value of our own, to tell the kernel's answer to this request from its answers to other listeners'.
        uint listenAck = (uint)Random.Shared.Next(1, int.MaxValue);
        var listener = new ProcessEventsListener(socket, listenAck, granted);
        reason = listener.Listen();
        if (reason is not null)
        {
            listener.Close();
            return null;
        }

        return listener;
    }

    /// <summary>The socket's fd, for tests that check it is gone once closed.</summary>
    internal int SocketFd => _socket;

    /// <summary>Starts the background thread; false (Failure says why) if it could not.</summary>
    internal bool Start()
    {
        _stopEvent = Libc.eventfd(0, Libc.EFD_CLOEXEC | Libc.EFD_NONBLOCK);
        if (_stopEvent < 0)
        {
            Fail("eventfd failed", Marshal.GetLastPInvokeError());
            return false;
        }

        _thread = new Thread(Run, maxStackSize: 256 * 1024)
        {
            IsBackground = true,
            Name = "fanotify process events",
        };
        _thread.Start();
        return true;
    }

    /// <summary>Stops the thread, tells the kernel this listener is gone, closes the socket.</summary>
    internal void Close()
    {
        bool joined = true;
        if (_thread is not null)
        {
            ulong one = 1;
            _ = Libc.write(_stopEvent, &one, sizeof(ulong));
            joined = _thread.Join(TimeSpan.FromSeconds(5));
        }

        lock (_drainLock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            // The kernel counts listeners and sends events while any is left; closing the socket does not uncount it.
            _ = SendControl(Netlink.PROC_CN_MCAST_IGNORE);
            _ = Libc.close(_socket);
            if (joined)
            {
                // A thread that did not end in time may still be in poll(): its buffer and eventfd stay.
                NativeMemory.AlignedFree(_buffer);
                _buffer = null;
                if (_stopEvent >= 0)
                {
                    _ = Libc.close(_stopEvent);
                }
            }
        }

        _finished = true;
    }

    private static string Unavailable(string cause) =>
        $"The kernel's process events connector is not available: {cause}. Processes that exit before their events " +
        "are read may be named less often; names stay correct.";

    // A lack of fds or memory may pass; a missing feature, a namespace or a refusal does not.
    private static bool IsTransient(int errno) =>
        errno is Errno.EMFILE or Errno.ENFILE or Errno.ENOMEM or Netlink.ENOBUFS or Errno.EINTR;

    /// <summary>SO_RCVBUFFORCE (root may pass net.core.rmem_max), else SO_RCVBUF; returns what the kernel granted.</summary>
    private static int SetReceiveBuffer(int socket, int bytes)
    {
        if (bytes > 0
            && Netlink.setsockopt(socket, Netlink.SOL_SOCKET, Netlink.SO_RCVBUFFORCE, &bytes, sizeof(int)) != 0)
        {
            _ = Netlink.setsockopt(socket, Netlink.SOL_SOCKET, Netlink.SO_RCVBUF, &bytes, sizeof(int));
        }

        int granted = 0;
        uint size = sizeof(int);
        return Netlink.getsockopt(socket, Netlink.SOL_SOCKET, Netlink.SO_RCVBUF, &granted, &size) == 0 ? granted : 0;
    }

    /// <summary>Sends PROC_CN_MCAST_LISTEN and waits for its ack; null once acked, else the unavailable reason.</summary>
    private string? Listen()
    {
        int sendErrno = SendControl(Netlink.PROC_CN_MCAST_LISTEN);
        if (sendErrno != 0)
        {
            return Unavailable(sendErrno == Netlink.ECONNREFUSED
                ? "this network namespace has none (it exists in the initial network namespace only)"
                : $"the request to listen could not be sent: {Errno.Describe(sendErrno)}");
        }

        long deadline = Environment.TickCount64 + AckTimeoutMs;
        Libc.pollfd poll = new() { fd = _socket, events = Libc.POLLIN };
        while (true)
        {
            int left = (int)Math.Max(0, deadline - Environment.TickCount64);
            int ready = Libc.poll(&poll, 1, left);
            if (ready < 0 && Marshal.GetLastPInvokeError() == Errno.EINTR)
            {
                continue;
            }

            if (ready <= 0)
            {
                break;
            }

            nint length = Netlink.recv(_socket, _buffer, BufferSize, Netlink.MSG_DONTWAIT);
            if (length < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                if (errno is Errno.EAGAIN or Errno.EINTR)
                {
                    continue;
                }

                if (errno == Netlink.ENOBUFS)
                {
                    Interlocked.Increment(ref _lossCount);
                    History.OnLoss();
                    continue;
                }

                return Unavailable($"reading its answer failed: {Errno.Describe(errno)}");
            }

            // Events read before the ack are real ones: they go to the history like any later ones.
            var datagram = new ReadOnlySpan<byte>(_buffer, (int)length);
            var reader = new ProcessEventReader(datagram);
            while (reader.TryRead(out ProcessEvent processEvent))
            {
                if (processEvent.Kind == ProcessEventKind.Ack && processEvent.Ack == _listenAck + 1)
                {
                    if (processEvent.Error != 0)
                    {
                        return Unavailable($"the kernel refused the request to listen: {Errno.Describe((int)processEvent.Error)}");
                    }

                    _ = Apply(datagram, History, out _);
                    return null;
                }
            }

            _ = Apply(datagram, History, out _);
        }

        return Unavailable(
            "the kernel did not answer the request to listen, as it does not in a user or pid namespace other than " +
            "the initial one (a container)");
    }

    /// <summary>Sends a proc_cn_mcast_op; returns 0 or the errno.</summary>
    private int SendControl(uint operation)
    {
        const int length = Netlink.NLMSG_HDRLEN + Netlink.CnMsgSize + sizeof(uint);
        byte* message = stackalloc byte[length];
        new Span<byte>(message, length).Clear();
        var header = (Netlink.nlmsghdr*)message;
        header->nlmsg_len = length;
        header->nlmsg_type = Netlink.NLMSG_DONE;
        var cn = (Netlink.cn_msg*)(message + Netlink.NLMSG_HDRLEN);
        cn->id.idx = Netlink.CN_IDX_PROC;
        cn->id.val = Netlink.CN_VAL_PROC;
        cn->ack = _listenAck;
        cn->len = sizeof(uint);
        *(uint*)(message + Netlink.NLMSG_HDRLEN + Netlink.CnMsgSize) = operation;
        return Netlink.send(_socket, message, length, 0) == length ? 0 : Marshal.GetLastPInvokeError();
    }

    private void Run()
    {
        try
        {
            Libc.pollfd* fds = stackalloc Libc.pollfd[2];
            fds[0] = new Libc.pollfd { fd = _socket, events = Libc.POLLIN };
            fds[1] = new Libc.pollfd { fd = _stopEvent, events = Libc.POLLIN };
            while (true)
            {
                fds[0].revents = fds[1].revents = 0;
                if (Libc.poll(fds, 2, -1) < 0)
                {
                    int errno = Marshal.GetLastPInvokeError();
                    if (errno == Errno.EINTR)
                    {
                        continue;
                    }

                    Fail("waiting on the process events connector failed", errno);
                    return;
                }

                if (fds[1].revents != 0)
                {
                    return;   // asked to stop
                }

                // POLLERR is how the socket tells of an overflow: the recv that follows returns ENOBUFS.
                if ((fds[0].revents & (Libc.POLLIN | Libc.POLLERR)) != 0)
                {
                    _ = Drain();
                    // Then a pause, so that a burst is read in a few large drains rather than a wake-up per message:
                    // the buffer holds far more than comes in one, and a responder that needs the history drains it
                    // itself. The stop eventfd ends the pause.
                    fds[1].revents = 0;
                    if (Libc.poll(&fds[1], 1, BatchingPauseMilliseconds) > 0)
                    {
                        return;
                    }
                }

                if ((fds[0].revents & Libc.POLLNVAL) != 0)
                {
                    Fail("the process events socket was closed under the listener", 0);
                }

                if (Volatile.Read(ref _failureWhat) is not null)
                {
                    return;
                }
            }
        }
#pragma warning disable CA1031 // Last resort: a listener thread must never take the process down.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Volatile.Write(ref _exception, e);
            Volatile.Write(ref _failureWhat, "the process events thread failed");
        }
        finally
        {
            _finished = true;
        }
    }

    private void Fail(string what, int errno)
    {
        Volatile.Write(ref _failureErrno, errno);
        Volatile.Write(ref _failureWhat, what);
        History.OnLoss();   // nothing more will come: from here on the history has a gap, and its readers know it
    }
}
