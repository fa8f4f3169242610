using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// The kernel's process events connector: a netlink socket (NETLINK_CONNECTOR) bound to the group CN_IDX_PROC.
// Names and layouts from linux/netlink.h, linux/connector.h and linux/cn_proc.h (the same on x86_64 and arm64;
// tests/FanotifyPS.Tests/ProcessEventsListenerTests.cs compares the offsets with a C program's).
#pragma warning disable CS8981 // kernel struct names kept verbatim
internal static unsafe partial class Netlink
{
    internal const int AF_NETLINK = 16;
    internal const int PF_NETLINK = AF_NETLINK;
    internal const int NETLINK_CONNECTOR = 11;

    internal const int SOCK_DGRAM = 2;
    internal const int SOCK_NONBLOCK = 0x800;     // = O_NONBLOCK on x86_64 and arm64
    internal const int SOCK_CLOEXEC = 0x80000;    // = O_CLOEXEC

    internal const int SOL_SOCKET = 1;
    internal const int SO_RCVBUF = 8;
    internal const int SO_RCVBUFFORCE = 33;       // SO_RCVBUF beyond net.core.rmem_max; needs CAP_NET_ADMIN

    internal const int MSG_DONTWAIT = 0x40;

    internal const int ENOBUFS = 105;             // the socket's receive buffer overflowed: messages were lost
    internal const int EPROTONOSUPPORT = 93;      // no such netlink family (CONFIG_CONNECTOR off, or not this netns)
    internal const int ECONNREFUSED = 111;        // no kernel side (a network namespace other than the initial one)

    /* linux/connector.h */
    internal const uint CN_IDX_PROC = 0x1;
    internal const uint CN_VAL_PROC = 0x1;

    /* linux/netlink.h */
    internal const ushort NLMSG_NOOP = 0x1;
    internal const ushort NLMSG_ERROR = 0x2;
    internal const ushort NLMSG_DONE = 0x3;
    internal const int NLMSG_ALIGNTO = 4;
    internal const int NLMSG_HDRLEN = 16;         // NLMSG_ALIGN(sizeof(struct nlmsghdr))

    internal static int NLMSG_ALIGN(int len) => (len + NLMSG_ALIGNTO - 1) & ~(NLMSG_ALIGNTO - 1);

    /* enum proc_cn_mcast_op */
    internal const uint PROC_CN_MCAST_LISTEN = 1;
    internal const uint PROC_CN_MCAST_IGNORE = 2;

    /* enum what (struct proc_event) */
    internal const uint PROC_EVENT_NONE = 0x00000000;   // the ack of a PROC_CN_MCAST_LISTEN/IGNORE
    internal const uint PROC_EVENT_FORK = 0x00000001;
    internal const uint PROC_EVENT_EXEC = 0x00000002;
    internal const uint PROC_EVENT_UID = 0x00000004;
    internal const uint PROC_EVENT_GID = 0x00000040;
    internal const uint PROC_EVENT_SID = 0x00000080;
    internal const uint PROC_EVENT_PTRACE = 0x00000100;
    internal const uint PROC_EVENT_COMM = 0x00000200;
    internal const uint PROC_EVENT_COREDUMP = 0x40000000;
    internal const uint PROC_EVENT_EXIT = 0x80000000;

    /* struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct nlmsghdr
    {
        public uint nlmsg_len;
        public ushort nlmsg_type;
        public ushort nlmsg_flags;
        public uint nlmsg_seq;
        public uint nlmsg_pid;
    }

    /* struct cb_id { __u32 idx; __u32 val; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct cb_id
    {
        public uint idx;
        public uint val;
    }

    /* struct cn_msg { struct cb_id id; __u32 seq; __u32 ack; __u16 len; __u16 flags; __u8 data[]; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct cn_msg
    {
        public cb_id id;
        public uint seq;
        public uint ack;
        public ushort len;     // of the data that follows
        public ushort flags;
    }

    internal const int CnMsgSize = 20;                   // sizeof(struct cn_msg), data[] excluded

    /* struct proc_event { enum what what; __u32 cpu; __u64 timestamp_ns (aligned 8); union event_data; }; */
    internal const int ProcEventWhatOffset = 0;
    internal const int ProcEventCpuOffset = 4;
    internal const int ProcEventTimestampOffset = 8;     // ns, CLOCK_MONOTONIC (ktime_get_ns)
    internal const int ProcEventDataOffset = 16;         // event_data
    internal const int ProcEventSize = 40;               // the largest members (comm, exit) are 24 bytes

    /* struct fork_proc_event { __kernel_pid_t parent_pid, parent_tgid, child_pid, child_tgid; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct fork_proc_event
    {
        public int parent_pid;
        public int parent_tgid;
        public int child_pid;
        public int child_tgid;
    }

    internal const int ForkProcEventSize = 16;

    /* struct exec_proc_event { __kernel_pid_t process_pid, process_tgid; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct exec_proc_event
    {
        public int process_pid;
        public int process_tgid;
    }

    internal const int ExecProcEventSize = 8;

    /* struct id_proc_event { __kernel_pid_t process_pid, process_tgid; union { __u32 ruid, rgid; } r; union { __u32 euid, egid; } e; }; */
    internal const int IdProcEventSize = 16;

    /* struct exit_proc_event { __kernel_pid_t process_pid, process_tgid; __u32 exit_code, exit_signal;
     *                          __kernel_pid_t parent_pid, parent_tgid; };  (the parent fields since 5.x) */
    [StructLayout(LayoutKind.Sequential)]
    internal struct exit_proc_event
    {
        public int process_pid;
        public int process_tgid;
        public uint exit_code;
        public uint exit_signal;
        public int parent_pid;
        public int parent_tgid;
    }

    /* struct { __u32 err; } ack; */
    internal const int AckSize = 4;

    /* struct sockaddr_nl { __kernel_sa_family_t nl_family; unsigned short nl_pad; __u32 nl_pid; __u32 nl_groups; }; */
    [StructLayout(LayoutKind.Sequential)]
    internal struct sockaddr_nl
    {
        public ushort nl_family;
        public ushort nl_pad;
        public uint nl_pid;
        public uint nl_groups;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int socket(int domain, int type, int protocol);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int bind(int sockfd, sockaddr_nl* addr, uint addrlen);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint send(int sockfd, void* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial nint recv(int sockfd, void* buf, nint len, int flags);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int setsockopt(int sockfd, int level, int optname, void* optval, uint optlen);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int getsockopt(int sockfd, int level, int optname, void* optval, uint* optlen);
}
