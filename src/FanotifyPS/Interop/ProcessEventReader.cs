using System;
using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

internal enum ProcessEventKind
{
    /// <summary>A new process (not a thread): ProcessId is the child's tgid, ParentProcessId the parent's.</summary>
    Fork,

    /// <summary>ProcessId (a tgid) exec'd a new program.</summary>
    Exec,

    /// <summary>A process ended: its thread group leader exited (a thread's exit is not one).</summary>
    Exit,

    /// <summary>ProcessId (a tgid) changed its user ids (PROC_EVENT_UID: setuid(), setresuid()); UserId is the new effective uid.</summary>
    IdChange,

    /// <summary>PROC_EVENT_NONE: the kernel's answer to a PROC_CN_MCAST_LISTEN or IGNORE, of any listener.</summary>
    Ack,
}

/// <summary>One process event as read from the connector; Ack and Error only for <see cref="ProcessEventKind.Ack"/>.</summary>
internal readonly record struct ProcessEvent(
    ProcessEventKind Kind, int ProcessId, int ParentProcessId, ulong TimestampNs, uint Ack, uint Error, int UserId = -1);

/// <summary>
/// Walks one datagram of the process events connector, allocation-free (NLMSG_OK / NLMSG_NEXT): netlink messages
/// (struct nlmsghdr), each a struct cn_msg for CN_IDX_PROC/CN_VAL_PROC holding one struct proc_event.
/// </summary>
/// <remarks>
/// Only what a process table needs comes out: forks of processes, execs, exits of processes, acks. Thread
/// creation and exit, uid/gid/sid/ptrace/comm/coredump events, other connector users and netlink control
/// messages are stepped over. Only the fields read are required to be present: older kernels send a shorter
/// exit_proc_event. A message whose lengths do not fit the datagram stops the walk and sets <see cref="Truncated"/>.
/// </remarks>
internal ref struct ProcessEventReader
{
    private readonly ReadOnlySpan<byte> _datagram;
    private int _offset;

    public ProcessEventReader(ReadOnlySpan<byte> datagram)
    {
        _datagram = datagram;
        _offset = 0;
        Truncated = false;
    }

    /// <summary>A message was cut short: whatever it said is lost.</summary>
    public bool Truncated { get; private set; }

    public bool TryRead(out ProcessEvent processEvent)
    {
        while (!Truncated && _offset < _datagram.Length)
        {
            int remaining = _datagram.Length - _offset;
            if (remaining < Netlink.NLMSG_HDRLEN)
            {
                Truncated = true;
                break;
            }

            ReadOnlySpan<byte> message = _datagram.Slice(_offset);
            uint length = MemoryMarshal.Read<uint>(message);
            ushort type = MemoryMarshal.Read<ushort>(message.Slice(4));
            if (length < Netlink.NLMSG_HDRLEN || length > (uint)remaining)
            {
                Truncated = true;
                break;
            }

            _offset += Math.Min(Netlink.NLMSG_ALIGN((int)length), remaining);
            if (type is Netlink.NLMSG_NOOP or Netlink.NLMSG_ERROR)
            {
                continue;
            }

            if (TryParse(message.Slice(Netlink.NLMSG_HDRLEN, (int)length - Netlink.NLMSG_HDRLEN), out processEvent))
            {
                return true;
            }
        }

        processEvent = default;
        return false;
    }

    /// <summary>One cn_msg: true with an event a process table needs; false to step over (Truncated if cut short).</summary>
    private bool TryParse(ReadOnlySpan<byte> payload, out ProcessEvent processEvent)
    {
        processEvent = default;
        if (payload.Length < Netlink.CnMsgSize)
        {
            Truncated = true;
            return false;
        }

        uint idx = MemoryMarshal.Read<uint>(payload);
        uint val = MemoryMarshal.Read<uint>(payload.Slice(4));
        uint ack = MemoryMarshal.Read<uint>(payload.Slice(12));
        ushort dataLength = MemoryMarshal.Read<ushort>(payload.Slice(16));
        if (idx != Netlink.CN_IDX_PROC || val != Netlink.CN_VAL_PROC)
        {
            return false;
        }

        if (dataLength > payload.Length - Netlink.CnMsgSize || dataLength < Netlink.ProcEventDataOffset)
        {
            Truncated = true;
            return false;
        }

        ReadOnlySpan<byte> proc = payload.Slice(Netlink.CnMsgSize, dataLength);
        uint what = MemoryMarshal.Read<uint>(proc.Slice(Netlink.ProcEventWhatOffset));
        ulong timestamp = MemoryMarshal.Read<ulong>(proc.Slice(Netlink.ProcEventTimestampOffset));
        ReadOnlySpan<byte> data = proc.Slice(Netlink.ProcEventDataOffset);
        switch (what)
        {
            case Netlink.PROC_EVENT_NONE when data.Length >= Netlink.AckSize:
                processEvent = new ProcessEvent(ProcessEventKind.Ack, 0, 0, timestamp, ack, MemoryMarshal.Read<uint>(data));
                return true;
            case Netlink.PROC_EVENT_FORK when data.Length >= Netlink.ForkProcEventSize:
            {
                Netlink.fork_proc_event fork = MemoryMarshal.Read<Netlink.fork_proc_event>(data);
                if (fork.child_pid != fork.child_tgid)
                {
                    return false;   // a new thread
                }

                processEvent = new ProcessEvent(ProcessEventKind.Fork, fork.child_tgid, fork.parent_tgid, timestamp, 0, 0);
                return true;
            }

            case Netlink.PROC_EVENT_EXEC when data.Length >= Netlink.ExecProcEventSize:
            {
                Netlink.exec_proc_event exec = MemoryMarshal.Read<Netlink.exec_proc_event>(data);
                processEvent = new ProcessEvent(ProcessEventKind.Exec, exec.process_tgid, 0, timestamp, 0, 0);
                return true;
            }

            // Only the pids are read: the parent fields are missing before 5.x.
            case Netlink.PROC_EVENT_EXIT when data.Length >= Netlink.ExecProcEventSize:
            {
                int pid = MemoryMarshal.Read<int>(data);
                int tgid = MemoryMarshal.Read<int>(data.Slice(sizeof(int)));
                if (pid != tgid)
                {
                    return false;   // a thread ended, not its process
                }

                processEvent = new ProcessEvent(ProcessEventKind.Exit, tgid, 0, timestamp, 0, 0);
                return true;
            }

            // struct id_proc_event { process_pid, process_tgid; union { ruid, rgid } r; union { euid, egid } e; }.
            case Netlink.PROC_EVENT_UID when data.Length >= Netlink.IdProcEventSize:
            {
                int tgid = MemoryMarshal.Read<int>(data.Slice(sizeof(int)));
                int euid = MemoryMarshal.Read<int>(data.Slice(3 * sizeof(int)));
                processEvent = new ProcessEvent(ProcessEventKind.IdChange, tgid, 0, timestamp, 0, 0, euid);
                return true;
            }

            case Netlink.PROC_EVENT_NONE or Netlink.PROC_EVENT_FORK or Netlink.PROC_EVENT_EXEC or Netlink.PROC_EVENT_EXIT or
                Netlink.PROC_EVENT_UID:
                Truncated = true;   // too short for its kind
                return false;
            default:
                return false;
        }
    }
}
