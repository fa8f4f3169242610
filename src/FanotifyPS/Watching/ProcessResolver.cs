using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Resolves the process behind an event through /proc, on the responder thread.
/// </summary>
/// <remarks>
/// For a permission event the responder resolves before it answers, while the process is held in open():
/// once allowed, a short-lived process such as cat has exited before it could be read.
/// The exe link is read on every event and compared, as bytes, with the cached one for that pid: a reused pid or
/// an execve() (a shell that forks, opens a redirection, then execs cat) changes the link, and all the facts
/// (stat, cmdline, status) are read again; a hit allocates nothing. A process that has exited keeps the facts
/// it was last seen with (IsProcessGone tells the user so); one never seen has none.
/// Single-threaded by design: only the responder that owns it calls it.
/// </remarks>
internal sealed unsafe class ProcessResolver : IDisposable
{
    internal const int MaxCachedProcesses = 4096;
    private const ulong PF_KTHREAD = 0x00200000;
    private const int FileCapacity = 4096;    // a longer command line is cut there

    private readonly Dictionary<int, ProcessInfo> _cache = new(256);
    private readonly CgroupNames _cgroups = new();
    private readonly LinkBuffer _links = new();   // its Path is "/proc/PID/..." for every file read here
    private byte* _file = (byte*)NativeMemory.Alloc(FileCapacity);

    public int CachedCount => _cache.Count;

    /// <summary>The process behind pid (a thread id when the watch reports threads).</summary>
    public ProcessInfo Resolve(int pid, out bool isGone)
    {
        int prefixLength = ProcPath.WriteProcPath(_links.Path, pid);
        ProcPath.WriteAscii(_links.Path + prefixLength, "/exe\0"u8);

        if (_links.TryReadLink(out ReadOnlySpan<byte> link))
        {
            isGone = false;
            if (_cache.TryGetValue(pid, out ProcessInfo? cached) && link.SequenceEqual(cached.Link))
            {
                return cached;
            }

            if (_cache.Count >= MaxCachedProcesses)
            {
                _cache.Clear();
            }

            var info = ReadFacts(pid, prefixLength, link.ToArray(), PathText.Decode(link), out _);
            _cache[pid] = info;
            return info;
        }

        // No exe link: the process is exiting or has exited (its mm is gone), or it is a kernel thread. Only
        // processes with an exe link are cached, so a cached pid is one on its way out: keep what was known,
        // without reading /proc again (the common case: a close read after its short-lived writer exited).
        if (_cache.TryGetValue(pid, out ProcessInfo? last))
        {
            isGone = true;
            return last;
        }

        // Never seen: a zombie still has its name, parent and uid in /proc until it is reaped.
        ProcessInfo facts = ReadFacts(pid, prefixLength, [], string.Empty, out bool isKernelThread);
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
    public ProcessInfo? ReadRunning(int pid)
    {
        if (!TryReadExe(pid, out ReadOnlySpan<byte> link))
        {
            return null;
        }

        byte[] bytes = link.ToArray();
        return ReadFacts(pid, ProcPath.WriteProcPath(_links.Path, pid), bytes, PathText.Decode(bytes), out _);
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
        startTicks = Field(stat.Slice(close + 1), 19);
        return true;
    }

    /// <summary>The pid was seen alive before: its facts are cached (they may be stale until Resolve reads the exe link).</summary>
    public bool IsCached(int pid) => _cache.ContainsKey(pid);

    /// <summary>What was last known of pid, for a process that is already gone.</summary>
    public ProcessInfo Cached(int pid) => _cache.TryGetValue(pid, out ProcessInfo? last) ? last : ProcessInfo.Unknown;

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
        _cache.Clear();
        _cache.TrimExcess();
        _links.Dispose();
        NativeMemory.Free(_file);
        _file = null;
    }
}
