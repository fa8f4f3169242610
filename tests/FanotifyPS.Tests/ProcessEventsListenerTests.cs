using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;
using Xunit.Abstractions;

namespace FanotifyPS.Tests;

/// <summary>The process events connector: its layouts, the datagram reader, and the listener on the real kernel.</summary>
public class ProcessEventsListenerTests
{
    private readonly ITestOutputHelper _output;

    public ProcessEventsListenerTests(ITestOutputHelper output) => _output = output;

    // One netlink message holding a cn_msg for CN_IDX_PROC and a proc_event, as the kernel writes it.
    private static byte[] Message(uint what, ulong timestamp, params int[] data)
    {
        int dataLength = Netlink.ProcEventDataOffset + Math.Max(data.Length * sizeof(int), 24);
        int length = Netlink.NLMSG_HDRLEN + Netlink.CnMsgSize + dataLength;
        var buffer = new byte[Netlink.NLMSG_ALIGN(length)];
        Span<byte> span = buffer;
        MemoryMarshal.Write(span, (uint)length);
        MemoryMarshal.Write(span.Slice(4), Netlink.NLMSG_DONE);
        Span<byte> cn = span.Slice(Netlink.NLMSG_HDRLEN);
        MemoryMarshal.Write(cn, Netlink.CN_IDX_PROC);
        MemoryMarshal.Write(cn.Slice(4), Netlink.CN_VAL_PROC);
        MemoryMarshal.Write(cn.Slice(12), 78u);   // ack
        MemoryMarshal.Write(cn.Slice(16), (ushort)dataLength);
        Span<byte> proc = cn.Slice(Netlink.CnMsgSize);
        MemoryMarshal.Write(proc, what);
        MemoryMarshal.Write(proc.Slice(Netlink.ProcEventTimestampOffset), timestamp);
        for (int i = 0; i < data.Length; i++)
        {
            MemoryMarshal.Write(proc.Slice(Netlink.ProcEventDataOffset + i * sizeof(int)), data[i]);
        }

        return buffer;
    }

    private static List<ProcessEvent> ReadAll(byte[] datagram, out bool truncated)
    {
        var events = new List<ProcessEvent>();
        var reader = new ProcessEventReader(datagram);
        while (reader.TryRead(out ProcessEvent processEvent))
        {
            events.Add(processEvent);
        }

        truncated = reader.Truncated;
        return events;
    }

    [Fact]
    public void Layouts_match_the_kernel_headers()
    {
        string dir = Directory.CreateTempSubdirectory("fanotifyps-layout").FullName;
        try
        {
            string source = Path.Combine(dir, "layout.c");
            File.WriteAllText(source, """
                #include <stdio.h>
                #include <stddef.h>
                #include <sys/socket.h>
                #include <linux/netlink.h>
                #include <linux/connector.h>
                #include <linux/cn_proc.h>
                #define P(name, value) printf("%s %ld\n", name, (long)(value))
                int main(void) {
                    struct proc_event e;
                    P("sizeof nlmsghdr", sizeof(struct nlmsghdr)); P("NLMSG_HDRLEN", NLMSG_HDRLEN);
                    P("nlmsg_type", offsetof(struct nlmsghdr, nlmsg_type)); P("nlmsg_pid", offsetof(struct nlmsghdr, nlmsg_pid));
                    P("sizeof cn_msg", sizeof(struct cn_msg)); P("cn_msg.ack", offsetof(struct cn_msg, ack));
                    P("cn_msg.len", offsetof(struct cn_msg, len)); P("cn_msg.data", offsetof(struct cn_msg, data));
                    P("sizeof proc_event", sizeof e); P("proc_event.cpu", offsetof(struct proc_event, cpu));
                    P("proc_event.timestamp_ns", offsetof(struct proc_event, timestamp_ns));
                    P("proc_event.event_data", offsetof(struct proc_event, event_data));
                    P("sizeof fork", sizeof e.event_data.fork); P("fork.child_tgid", offsetof(struct fork_proc_event, child_tgid));
                    P("sizeof exec", sizeof e.event_data.exec); P("sizeof exit", sizeof e.event_data.exit);
                    P("exit.parent_tgid", offsetof(struct exit_proc_event, parent_tgid)); P("sizeof ack", sizeof e.event_data.ack);
                    P("sizeof sockaddr_nl", sizeof(struct sockaddr_nl)); P("nl_groups", offsetof(struct sockaddr_nl, nl_groups));
                    P("AF_NETLINK", AF_NETLINK); P("NETLINK_CONNECTOR", NETLINK_CONNECTOR); P("CN_IDX_PROC", CN_IDX_PROC);
                    P("CN_VAL_PROC", CN_VAL_PROC); P("SO_RCVBUF", SO_RCVBUF); P("SO_RCVBUFFORCE", SO_RCVBUFFORCE);
                    P("SOL_SOCKET", SOL_SOCKET); P("SOCK_NONBLOCK", SOCK_NONBLOCK); P("SOCK_CLOEXEC", SOCK_CLOEXEC);
                    P("MSG_DONTWAIT", MSG_DONTWAIT); P("PROC_CN_MCAST_LISTEN", PROC_CN_MCAST_LISTEN);
                    P("PROC_CN_MCAST_IGNORE", PROC_CN_MCAST_IGNORE); P("PROC_EVENT_COMM", PROC_EVENT_COMM);
                    P("PROC_EVENT_EXIT", (unsigned)PROC_EVENT_EXIT); P("PROC_EVENT_COREDUMP", PROC_EVENT_COREDUMP);
                    return 0;
                }
                """);
            string binary = Path.Combine(dir, "layout");
            Assert.Equal(string.Empty, Run("cc", "-Wall", "-Werror", "-o", binary, source));
            Dictionary<string, long> c = Run(binary).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => (Name: line[..line.LastIndexOf(' ')], Value: long.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)))
                .ToDictionary(entry => entry.Name, entry => entry.Value);
            void Same(string name, long ours) => Assert.True(c[name] == ours, $"{name}: {c[name]} in C, {ours} here");

            Same("sizeof nlmsghdr", Marshal.SizeOf<Netlink.nlmsghdr>());
            Same("NLMSG_HDRLEN", Netlink.NLMSG_HDRLEN);
            Same("nlmsg_type", Marshal.OffsetOf<Netlink.nlmsghdr>(nameof(Netlink.nlmsghdr.nlmsg_type)));
            Same("nlmsg_pid", Marshal.OffsetOf<Netlink.nlmsghdr>(nameof(Netlink.nlmsghdr.nlmsg_pid)));
            Same("sizeof cn_msg", Netlink.CnMsgSize);
            Same("sizeof cn_msg", Marshal.SizeOf<Netlink.cn_msg>());
            Same("cn_msg.ack", Marshal.OffsetOf<Netlink.cn_msg>(nameof(Netlink.cn_msg.ack)));
            Same("cn_msg.len", Marshal.OffsetOf<Netlink.cn_msg>(nameof(Netlink.cn_msg.len)));
            Same("cn_msg.data", Netlink.CnMsgSize);
            Same("sizeof proc_event", Netlink.ProcEventSize);
            Same("proc_event.cpu", Netlink.ProcEventCpuOffset);
            Same("proc_event.timestamp_ns", Netlink.ProcEventTimestampOffset);
            Same("proc_event.event_data", Netlink.ProcEventDataOffset);
            Same("sizeof fork", Marshal.SizeOf<Netlink.fork_proc_event>());
            Same("sizeof fork", Netlink.ForkProcEventSize);
            Same("fork.child_tgid", Marshal.OffsetOf<Netlink.fork_proc_event>(nameof(Netlink.fork_proc_event.child_tgid)));
            Same("sizeof exec", Marshal.SizeOf<Netlink.exec_proc_event>());
            Same("sizeof exec", Netlink.ExecProcEventSize);
            Same("sizeof exit", Marshal.SizeOf<Netlink.exit_proc_event>());
            Same("exit.parent_tgid", Marshal.OffsetOf<Netlink.exit_proc_event>(nameof(Netlink.exit_proc_event.parent_tgid)));
            Same("sizeof ack", Netlink.AckSize);
            Same("sizeof sockaddr_nl", Marshal.SizeOf<Netlink.sockaddr_nl>());
            Same("nl_groups", Marshal.OffsetOf<Netlink.sockaddr_nl>(nameof(Netlink.sockaddr_nl.nl_groups)));
            Same("AF_NETLINK", Netlink.AF_NETLINK);
            Same("NETLINK_CONNECTOR", Netlink.NETLINK_CONNECTOR);
            Same("CN_IDX_PROC", Netlink.CN_IDX_PROC);
            Same("CN_VAL_PROC", Netlink.CN_VAL_PROC);
            Same("SO_RCVBUF", Netlink.SO_RCVBUF);
            Same("SO_RCVBUFFORCE", Netlink.SO_RCVBUFFORCE);
            Same("SOL_SOCKET", Netlink.SOL_SOCKET);
            Same("SOCK_NONBLOCK", Netlink.SOCK_NONBLOCK);
            Same("SOCK_CLOEXEC", Netlink.SOCK_CLOEXEC);
            Same("MSG_DONTWAIT", Netlink.MSG_DONTWAIT);
            Same("PROC_CN_MCAST_LISTEN", Netlink.PROC_CN_MCAST_LISTEN);
            Same("PROC_CN_MCAST_IGNORE", Netlink.PROC_CN_MCAST_IGNORE);
            Same("PROC_EVENT_COMM", Netlink.PROC_EVENT_COMM);
            Same("PROC_EVENT_EXIT", Netlink.PROC_EVENT_EXIT);
            Same("PROC_EVENT_COREDUMP", Netlink.PROC_EVENT_COREDUMP);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Reads_the_fork_of_a_process_and_steps_over_the_fork_of_a_thread()
    {
        // fork_proc_event: parent_pid, parent_tgid, child_pid, child_tgid
        byte[] process = Message(Netlink.PROC_EVENT_FORK, 123456789, 101, 100, 200, 200);
        byte[] thread = Message(Netlink.PROC_EVENT_FORK, 123456790, 100, 100, 201, 100);

        ProcessEvent fork = Assert.Single(ReadAll(process, out bool truncated));
        Assert.False(truncated);
        Assert.Equal(new ProcessEvent(ProcessEventKind.Fork, 200, 100, 123456789, 0, 0), fork);

        Assert.Empty(ReadAll(thread, out truncated));
        Assert.False(truncated);
    }

    [Fact]
    public void Reads_an_exec_and_the_exit_of_a_leader_not_of_a_thread()
    {
        byte[] exec = Message(Netlink.PROC_EVENT_EXEC, 5, 300, 300);
        // exit_proc_event: process_pid, process_tgid, exit_code, exit_signal, parent_pid, parent_tgid
        byte[] threadExit = Message(Netlink.PROC_EVENT_EXIT, 6, 301, 300, 0, 17, 1, 1);
        byte[] leaderExit = Message(Netlink.PROC_EVENT_EXIT, 7, 300, 300, 0, 17, 1, 1);

        Assert.Equal(new ProcessEvent(ProcessEventKind.Exec, 300, 0, 5, 0, 0), Assert.Single(ReadAll(exec, out _)));
        Assert.Empty(ReadAll(threadExit, out bool truncated));
        Assert.False(truncated);
        Assert.Equal(new ProcessEvent(ProcessEventKind.Exit, 300, 0, 7, 0, 0), Assert.Single(ReadAll(leaderExit, out _)));
    }

    [Fact]
    public void Reads_an_ack_and_steps_over_other_kinds_and_other_connector_users()
    {
        byte[] ack = Message(Netlink.PROC_EVENT_NONE, 0, 0);
        byte[] comm = Message(Netlink.PROC_EVENT_COMM, 1, 300, 300, 0x41414141);
        byte[] other = Message(Netlink.PROC_EVENT_FORK, 1, 1, 1, 2, 2);
        MemoryMarshal.Write(other.AsSpan(Netlink.NLMSG_HDRLEN), 7u);   // cn_msg.id.idx of another connector user

        Assert.Equal(new ProcessEvent(ProcessEventKind.Ack, 0, 0, 0, 78, 0), Assert.Single(ReadAll(ack, out _)));
        Assert.Empty(ReadAll(comm, out bool truncated));
        Assert.False(truncated);
        Assert.Empty(ReadAll(other, out truncated));
        Assert.False(truncated);
    }

    [Fact]
    public void Reads_every_message_of_a_datagram_in_order()
    {
        byte[] datagram = [
            .. Message(Netlink.PROC_EVENT_FORK, 1, 10, 10, 20, 20),
            .. Message(Netlink.PROC_EVENT_FORK, 2, 20, 20, 21, 20),   // a thread: stepped over
            .. Message(Netlink.PROC_EVENT_EXEC, 3, 20, 20),
            .. Message(Netlink.PROC_EVENT_EXIT, 4, 20, 20, 0, 17, 10, 10),
        ];

        List<ProcessEvent> events = ReadAll(datagram, out bool truncated);
        Assert.False(truncated);
        Assert.Equal([ProcessEventKind.Fork, ProcessEventKind.Exec, ProcessEventKind.Exit], events.Select(e => e.Kind));
        Assert.All(events, e => Assert.Equal(20, e.ProcessId));

        var history = new ProcessHistory();
        Assert.Equal(3, ProcessEventsListener.Apply(datagram, history, out truncated));
        Assert.False(truncated);
        ProcessLife life = Assert.Single(history.LivesSince(20, 0));
        Assert.Equal(10, life.ParentProcessId);
        Assert.Equal(1ul, life.ForkTimeNs);
        Assert.Single(life.Execs);
        Assert.NotEqual(0, life.ExitSequence);
        Assert.Empty(history.LivesSince(21, 0));
    }

    [Fact]
    public void Reading_a_datagram_allocates_nothing()
    {
        byte[] datagram = [
            .. Message(Netlink.PROC_EVENT_FORK, 1, 10, 10, 20, 20),
            .. Message(Netlink.PROC_EVENT_EXEC, 3, 20, 20),
            .. Message(Netlink.PROC_EVENT_EXIT, 4, 20, 20, 0, 17, 10, 10),
        ];
        int count = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            var reader = new ProcessEventReader(datagram);
            while (reader.TryRead(out ProcessEvent processEvent))
            {
                count += processEvent.ProcessId == 20 ? 1 : 0;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(3000, count);
    }

    [Theory]
    [InlineData(10)]    // inside the nlmsghdr
    [InlineData(30)]    // inside the cn_msg
    [InlineData(60)]    // inside the proc_event
    public void A_message_cut_short_stops_the_walk_and_says_so(int length)
    {
        byte[] datagram = [
            .. Message(Netlink.PROC_EVENT_EXEC, 3, 20, 20),
            .. Message(Netlink.PROC_EVENT_FORK, 1, 10, 10, 30, 30).AsSpan(0, length),
        ];

        ProcessEvent exec = Assert.Single(ReadAll(datagram, out bool truncated));
        Assert.Equal(ProcessEventKind.Exec, exec.Kind);
        Assert.True(truncated);
    }

    [Fact]
    public void A_proc_event_shorter_than_its_kind_is_truncated()
    {
        byte[] fork = Message(Netlink.PROC_EVENT_FORK, 1, 10, 10, 30, 30);
        MemoryMarshal.Write(fork.AsSpan(Netlink.NLMSG_HDRLEN + 16), (ushort)(Netlink.ProcEventDataOffset + 8));   // cn_msg.len

        Assert.Empty(ReadAll(fork, out bool truncated));
        Assert.True(truncated);
    }

    [Fact]
    public void Hears_the_fork_exec_and_exit_of_a_shell_and_its_child()
    {
        ProcessEventsListener listener = OpenOrFail(ProcessEventsListener.LargeReceiveBuffer);
        try
        {
            (int shell, int[] children) = RunShell("/bin/true & echo $!; wait");
            listener.Drain();

            int child = Assert.Single(children);
            ProcessLife shellLife = Assert.Single(listener.History.LivesSince(shell, 0));
            Assert.Equal(Environment.ProcessId, shellLife.ParentProcessId);
            Assert.NotEqual(0, shellLife.ForkSequence);
            Assert.Single(shellLife.Execs);
            Assert.NotEqual(0, shellLife.ExitSequence);

            ProcessLife childLife = Assert.Single(listener.History.LivesSince(child, 0));
            Assert.Equal(shell, childLife.ParentProcessId);
            Assert.True(childLife.ForkSequence > shellLife.ForkSequence);
            Assert.Single(childLife.Execs);
            Assert.True(childLife.Execs[0] > childLife.ForkSequence);
            Assert.True(childLife.ExitSequence > childLife.Execs[0]);
            Assert.True(childLife.ExitSequence < shellLife.ExitSequence, "the child exits before the shell that waits for it");
            Assert.True(childLife.ForkTimeNs > shellLife.ForkTimeNs);
            Assert.Equal(0, listener.LossCount);
        }
        finally
        {
            listener.Close();
        }
    }

    [Fact]
    public void A_uid_or_gid_change_is_read_as_an_id_change_of_the_process()
    {
        // struct id_proc_event { process_pid, process_tgid; r.ruid; e.euid }: a thread's change names its process.
        byte[] uid = Message(Netlink.PROC_EVENT_UID, 3, 41, 40, 0, 65534);
        byte[] gid = Message(Netlink.PROC_EVENT_GID, 4, 40, 40, 0, 65534);
        ProcessEvent uidEvent = Assert.Single(ReadAll(uid, out _));
        Assert.Equal(ProcessEventKind.IdChange, uidEvent.Kind);
        Assert.Equal(40, uidEvent.ProcessId);
        Assert.Equal(65534, uidEvent.UserId);
        Assert.Empty(ReadAll(gid, out _));   // a group change does not change the user

        var history = new ProcessHistory();
        Assert.Equal(1, ProcessEventsListener.Apply(uid, history, out _));
        ProcessLife life = Assert.Single(history.LivesSince(40, 0));
        Assert.NotEqual(0, life.IdChangeSequence);
        Assert.Equal(65534, life.UserIdAfterChange);
    }

    [Fact]
    public void Hears_a_setuid_of_a_child()
    {
        ProcessEventsListener listener = OpenOrFail(ProcessEventsListener.LargeReceiveBuffer);
        try
        {
            // setpriv changes its ids (setresuid), then execs true.
            (int shell, int[] children) = RunShell("setpriv --reuid=65534 --regid=65534 --clear-groups /bin/true & echo $!; wait");
            listener.Drain();

            ProcessLife child = Assert.Single(listener.History.LivesSince(Assert.Single(children), 0));
            Assert.NotEqual(0, child.IdChangeSequence);
            Assert.Equal(65534, child.UserIdAfterChange);
            Assert.True(child.IdChangeSequence < child.Execs[^1], "setpriv changes its uid, then execs true");
            Assert.Equal(0, Assert.Single(listener.History.LivesSince(shell, 0)).IdChangeSequence);
        }
        finally
        {
            listener.Close();
        }
    }

    [Fact]
    public void Acquire_shares_one_listener_and_the_last_release_closes_it()
    {
        ProcessEventsListener? first = ProcessEventsListener.Acquire();
        Assert.True(first is not null, ProcessEventsListener.UnavailableReason);
        ProcessEventsListener? second = ProcessEventsListener.Acquire();
        Assert.Same(first, second);
        Assert.Null(ProcessEventsListener.UnavailableReason);
        string socket = $"/proc/self/fd/{first.SocketFd}";
        string? target = new FileInfo(socket).LinkTarget;
        Assert.StartsWith("socket:[", target, StringComparison.Ordinal);

        // The thread reads on its own: a child's exit shows up without a Drain here.
        (int shell, _) = RunShell("exit 0");
        Assert.True(SpinWaitFor(() => first.History.LivesSince(shell, 0) is [{ ExitSequence: > 0 }]), "the thread applied the shell's exit");

        ProcessEventsListener.Release(first);
        Assert.False(first.IsFinished);
        Assert.Equal(target, new FileInfo(socket).LinkTarget);

        ProcessEventsListener.Release(second);
        Assert.True(first.IsFinished);
        Assert.Null(first.Failure);
        Assert.NotEqual(target, File.Exists(socket) ? new FileInfo(socket).LinkTarget : null);
        Assert.Equal(0, first.Drain());

        // Released once too often, or after module removal closed it: nothing happens to a newer listener.
        ProcessEventsListener? third = ProcessEventsListener.Acquire();
        Assert.NotNull(third);
        Assert.NotSame(first, third);
        ProcessEventsListener.Release(first);
        Assert.False(third.IsFinished);
        ProcessEventsListener.CloseShared();
        Assert.True(third.IsFinished);
        ProcessEventsListener.Release(third);
    }

    [Fact]
    public void A_burst_of_forks_while_nothing_reads_is_all_heard()
    {
        const int count = 2000;
        ProcessEventsListener large = OpenOrFail(ProcessEventsListener.LargeReceiveBuffer);
        ProcessEventsListener small = OpenOrFail(0);
        try
        {
            // Nothing reads either socket until the burst is over: the kernel must hold it all.
            (int shell, int[] children) = RunShell($"i=0; while [ $i -lt {count} ]; do /bin/true & echo $!; i=$((i+1)); done; wait");
            Assert.Equal(count, children.Length);
            large.Drain();
            small.Drain();

            _output.WriteLine($"granted {large.ReceiveBufferBytes} bytes: {large.DatagramCount} datagrams, {large.LossCount} losses");
            _output.WriteLine($"default {small.ReceiveBufferBytes} bytes: {small.DatagramCount} datagrams, {small.LossCount} losses");
            if (small.ReceiveBufferBytes < 1024 * 1024)
            {
                Assert.True(small.LossCount > 0, "the burst overflows a default buffer (else this test proves nothing)");
            }

            Assert.Equal(0, large.LossCount);
            Assert.Equal(0, large.History.LostCount);
            foreach (int child in children)
            {
                Assert.Contains(large.History.LivesSince(child, 0),
                    life => life.ParentProcessId == shell && life.ForkSequence > 0 && life.Execs.Count == 1 && life.ExitSequence > 0);
            }
        }
        finally
        {
            large.Close();
            small.Close();
        }
    }

    private static ProcessEventsListener OpenOrFail(int receiveBufferBytes)
    {
        ProcessEventsListener? listener = ProcessEventsListener.Open(receiveBufferBytes, out string? reason, out _);
        Assert.True(listener is not null, reason);
        return listener;
    }

    /// <summary>Runs sh -c script to its end; its pid and the pids it printed, one a line.</summary>
    private static (int Shell, int[] Printed) RunShell(string script)
    {
        using var process = new Process
        {
            StartInfo = new ProcessStartInfo("/bin/sh", ["-c", script]) { RedirectStandardOutput = true, UseShellExecute = false },
        };
        process.Start();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "sh ended");
        int[] printed = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => int.Parse(line, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return (process.Id, printed);
    }

    private static bool SpinWaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            System.Threading.Thread.Sleep(10);
        }

        return true;
    }

    private static string Run(string program, params string[] arguments)
    {
        using var process = new Process
        {
            StartInfo = new ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true },
        };
        process.Start();
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), $"{program} ended");
        Assert.True(process.ExitCode == 0, $"{program}: {output}");
        return output;
    }
}
