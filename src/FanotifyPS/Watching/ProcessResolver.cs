using System;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Reads the facts of a process from /proc, on the responder thread: its program (the exe link), and its name,
/// parent, users, command line, start, login uid, session and cgroup. It keeps nothing: which facts still belong to
/// which process is the <see cref="ProcessTable"/>'s to know.
/// </summary>
/// <remarks>
/// Allocation-free file reads into one native buffer (a file longer than it is cut there). Only /proc is read.
/// Single-threaded by design: only the responder that owns it calls it.
/// </remarks>
internal sealed unsafe class ProcessResolver : IDisposable
{
    private const ulong PF_KTHREAD = 0x00200000;
    private const int FileCapacity = 4096;    // a longer command line is cut there

    private readonly CgroupNames _cgroups = new();
    private readonly LinkBuffer _links = new();   // its Path is "/proc/PID/..." for every file read here
    private byte* _file = (byte*)NativeMemory.Alloc(FileCapacity);

    /// <summary>
    /// What /proc still says of a process without a program: a kernel thread (not gone), or a zombie (gone: its
    /// name, parent and uid stay until it is reaped). Empty facts when it is no more.
    /// </summary>
    public ProcessInfo ReadWithoutProgram(int pid, out bool isGone)
    {
        ProcessInfo facts = ReadFacts(pid, ProcPath.WriteProcPath(_links.Path, pid), [], string.Empty, out bool isKernelThread);
        isGone = !isKernelThread;
        return facts;
    }

    /// <summary>readlink of /proc/PID/exe (valid until the next read here); false when the process has no program any more.</summary>
    public bool TryReadExe(int pid, out ReadOnlySpan<byte> link)
    {
        int prefixLength = ProcPath.WriteProcPath(_links.Path, pid);
        ProcPath.WriteAscii(_links.Path + prefixLength, "/exe\0"u8);
        return _links.TryReadLink(out link);
    }

    /// <summary>The facts of a running process, read now (uncached); null when it has no program any more.</summary>
    /// <param name="program">When given, the facts are read only if the process runs this program (null otherwise).</param>
    public ProcessInfo? ReadRunning(int pid, string? program = null)
    {
        if (!TryReadExe(pid, out ReadOnlySpan<byte> link))
        {
            return null;
        }

        string exe = PathText.Decode(link);
        if (program is not null && !string.Equals(exe, program, StringComparison.Ordinal))
        {
            return null;
        }

        byte[] bytes = link.ToArray();
        ProcessInfo facts = ReadFacts(pid, ProcPath.WriteProcPath(_links.Path, pid), bytes, exe, out _);

        // The files are read one by one: an exec between them (bash's comm read as the cat it exec'd), or an exit and
        // a new process under the pid, would mix two programs or two lives. Then nothing is said.
        return TryReadExe(pid, out ReadOnlySpan<byte> after) && after.SequenceEqual(bytes) &&
            TryReadStat(pid, out ReadOnlySpan<byte> name, out ulong startTicks) && startTicks == facts.StartTicks &&
            string.Equals(PathText.Decode(name), facts.Name, StringComparison.Ordinal) ? facts : null;
    }

    /// <summary>What /proc/PID/stat says of a process, even of a zombie: its name and start time; false when it is gone.</summary>
    public bool TryReadStat(int pid, out ReadOnlySpan<byte> name, out ulong startTicks)
    {
        name = default;
        startTicks = 0;
        ReadOnlySpan<byte> stat = ReadProcFile(ProcPath.WriteProcPath(_links.Path, pid), "/stat\0"u8);
        int open = stat.IndexOf((byte)'(');
        int close = stat.LastIndexOf((byte)')');
        if (open < 0 || close <= open)
        {
            return false;
        }

        name = stat.Slice(open + 1, close - open - 1);
        startTicks = ProcessFacts.StartTicks(stat);
        return true;
    }

    private ProcessInfo ReadFacts(int pid, int prefixLength, byte[] link, string exe, out bool isKernelThread)
    {
        isKernelThread = false;
        string name = string.Empty;
        int parent = 0;
        ulong startTicks = 0;
        ReadOnlySpan<byte> stat = ReadProcFile(prefixLength, "/stat\0"u8);
        // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces and parentheses.
        int open = stat.IndexOf((byte)'(');
        int close = stat.LastIndexOf((byte)')');
        if (open >= 0 && close > open)
        {
            name = PathText.Decode(stat.Slice(open + 1, close - open - 1));
            ReadOnlySpan<byte> fields = stat.Slice(close + 1);
            parent = (int)Field(fields, 1);
            isKernelThread = (Field(fields, 6) & PF_KTHREAD) != 0;
            startTicks = ProcessFacts.StartTicks(stat);
        }

        ReadOnlySpan<byte> cmdline = ReadProcFile(prefixLength, "/cmdline\0"u8).TrimEnd((byte)0);
        string commandLine = string.Empty;
        if (!cmdline.IsEmpty)
        {
            Span<byte> spaced = stackalloc byte[cmdline.Length];
            cmdline.CopyTo(spaced);
            spaced.Replace((byte)0, (byte)' ');
            commandLine = PathText.Decode(spaced);
        }

        ReadOnlySpan<byte> status = ReadProcFile(prefixLength, "/status\0"u8);
        int userId = (int)StatusField(status, "\nUid:"u8, 1, ulong.MaxValue);   // effective uid
        int tgid = (int)StatusField(status, "\nTgid:"u8, 0, 0);
        int loginUserId = ProcessFacts.LoginUserId(ReadProcFile(prefixLength, "/loginuid\0"u8));
        long sessionId = ProcessFacts.SessionId(ReadProcFile(prefixLength, "/sessionid\0"u8));
        _cgroups.Name(ReadProcFile(prefixLength, "/cgroup\0"u8), out string cgroup, out string containerId);
        return new ProcessInfo(link, exe, name, commandLine, parent, userId, tgid)
        {
            LoginUserId = loginUserId,
            SessionId = sessionId,
            StartTime = ProcessFacts.StartTimeUtc(startTicks, BootClock.BootTimeUtc, BootClock.TicksPerSecond),
            Cgroup = cgroup,
            ContainerId = containerId,
            StartTicks = startTicks,
        };
    }

    private ReadOnlySpan<byte> ReadProcFile(int prefixLength, ReadOnlySpan<byte> suffix)
    {
        ProcPath.WriteAscii(_links.Path + prefixLength, suffix);
        int fd = Libc.open(_links.Path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return default;
        }

        nint length = Libc.read(fd, _file, FileCapacity);
        _ = Libc.close(fd);
        return length > 0 ? new ReadOnlySpan<byte>(_file, (int)length) : default;
    }

    /// <summary>The index-th space-separated number of text (0-based); 0 when absent.</summary>
    internal static ulong Field(ReadOnlySpan<byte> text, int index)
    {
        for (int field = 0; ; field++)
        {
            text = text.TrimStart((byte)' ');
            int end = text.IndexOfAny((byte)' ', (byte)'\n');
            ReadOnlySpan<byte> value = end < 0 ? text : text.Slice(0, end);
            if (value.IsEmpty)
            {
                return 0;
            }

            if (field == index)
            {
                return ParseDecimal(value);
            }

            text = text.Slice(value.Length);
        }
    }

    /// <summary>The index-th tab-separated number after a "Key:" line of /proc/PID/status.</summary>
    internal static ulong StatusField(ReadOnlySpan<byte> status, ReadOnlySpan<byte> key, int index, ulong missing)
    {
        int at = status.IndexOf(key);
        if (at < 0)
        {
            return missing;
        }

        ReadOnlySpan<byte> line = status.Slice(at + key.Length);
        int end = line.IndexOf((byte)'\n');
        line = end < 0 ? line : line.Slice(0, end);
        Span<byte> spaced = stackalloc byte[line.Length];
        line.CopyTo(spaced);
        spaced.Replace((byte)'\t', (byte)' ');
        return Field(spaced, index);
    }

    private static ulong ParseDecimal(ReadOnlySpan<byte> digits)
    {
        ulong value = 0;
        foreach (byte digit in digits)
        {
            if (digit < (byte)'0' || digit > (byte)'9')
            {
                break;
            }

            value = (value * 10) + (ulong)(digit - (byte)'0');
        }

        return value;
    }

    public void Dispose()
    {
        _links.Dispose();
        NativeMemory.Free(_file);
        _file = null;
    }
}
