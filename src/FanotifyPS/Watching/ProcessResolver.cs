using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Resolves the program behind an event through /proc/PID/exe, on the responder thread.
/// </summary>
/// <remarks>
/// For a permission event the responder resolves before it answers, while the process is held in open():
/// once allowed, a short-lived process such as cat has exited (its exe link gone) before it could be read.
/// The link is read on every event and compared, as bytes, with the cached one for that pid: a reused pid or
/// an execve() (a shell that forks, opens a redirection, then execs cat) changes the link and refreshes the
/// entry, while a hit reuses the cached string and allocates nothing. A process that has exited keeps the
/// program it was last seen with (IsProcessGone tells the user so); one never seen has an empty Exe.
/// Single-threaded by design: only the responder that owns it calls it.
/// </remarks>
internal sealed unsafe class ProcessResolver : IDisposable
{
    internal const int MaxCachedProcesses = 4096;
    private const int LinkCapacity = 4096;   // PATH_MAX
    private const int ProcPathCapacity = 64;  // "/proc/2147483647/stat\0"
    private const int StatCapacity = 512;     // pid (comm) state ...: comm is at most 16 bytes

    private readonly Dictionary<int, CachedProcess> _cache = new(256);
    private byte* _link;
    private byte* _procPath;
    private byte* _stat;

    public ProcessResolver()
    {
        _link = (byte*)NativeMemory.Alloc(LinkCapacity);
        _procPath = (byte*)NativeMemory.Alloc(ProcPathCapacity);
        _stat = (byte*)NativeMemory.Alloc(StatCapacity);
    }

    public int CachedCount => _cache.Count;

    public void Resolve(int pid, out string exe, out bool isGone)
    {
        int prefixLength = WriteProcPath(_procPath, pid);
        WriteAscii(_procPath + prefixLength, "/exe\0"u8);

        nint length = Libc.readlink(_procPath, _link, LinkCapacity);
        if (length >= 0)
        {
            var link = new ReadOnlySpan<byte>(_link, (int)length);
            if (_cache.TryGetValue(pid, out CachedProcess? cached) && link.SequenceEqual(cached.Link))
            {
                exe = cached.Exe;
            }
            else
            {
                if (_cache.Count >= MaxCachedProcesses)
                {
                    _cache.Clear();
                }

                exe = Encoding.UTF8.GetString(link);
                _cache[pid] = new CachedProcess(link.ToArray(), exe);
            }

            isGone = false;
            return;
        }

        // No exe link: the process is exiting or has exited (its mm is gone), or it is a kernel thread.
        WriteAscii(_procPath + prefixLength, "/stat\0"u8);
        isGone = !IsKernelThread(_procPath);
        exe = isGone && _cache.TryGetValue(pid, out CachedProcess? last) ? last.Exe : string.Empty;
    }

    /// <summary>True for a kernel thread (PF_KTHREAD in /proc/PID/stat); an exiting process loses its exe link too.</summary>
    private bool IsKernelThread(byte* statPath)
    {
        const ulong PF_KTHREAD = 0x00200000;
        int fd = Libc.open(statPath, Libc.O_RDONLY | Libc.O_CLOEXEC);
        if (fd < 0)
        {
            return false;
        }

        nint length = Libc.read(fd, _stat, StatCapacity);
        _ = Libc.close(fd);
        if (length <= 0)
        {
            return false;
        }

        // "pid (comm) state ppid pgrp session tty_nr tpgid flags ...": comm may hold spaces and parentheses,
        // so fields are counted from the last ')'. flags is the 7th field after it.
        var stat = new ReadOnlySpan<byte>(_stat, (int)length);
        int close = stat.LastIndexOf((byte)')');
        if (close < 0)
        {
            return false;
        }

        stat = stat.Slice(close + 1);
        for (int field = 0; field < 7; field++)
        {
            stat = stat.TrimStart((byte)' ');
            int space = stat.IndexOf((byte)' ');
            if (space < 0)
            {
                return false;
            }

            if (field < 6)
            {
                stat = stat.Slice(space);
                continue;
            }

            ulong flags = 0;
            foreach (byte digit in stat.Slice(0, space))
            {
                flags = (flags * 10) + (ulong)(digit - (byte)'0');
            }

            return (flags & PF_KTHREAD) != 0;
        }

        return false;
    }

    /// <summary>Writes "/proc/PID" and returns its length.</summary>
    internal static int WriteProcPath(byte* destination, int pid)
    {
        int length = WriteAscii(destination, "/proc/"u8);
        return length + WriteDecimal(destination + length, pid);
    }

    internal static int WriteAscii(byte* destination, ReadOnlySpan<byte> text)
    {
        text.CopyTo(new Span<byte>(destination, text.Length));
        return text.Length;
    }

    internal static int WriteDecimal(byte* destination, int value)
    {
        uint remaining = (uint)value;   // pids and fds are never negative here
        int digits = 1;
        for (uint v = remaining; v >= 10; v /= 10)
        {
            digits++;
        }

        for (int i = digits - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (remaining % 10));
            remaining /= 10;
        }

        return digits;
    }

    public void Dispose()
    {
        NativeMemory.Free(_link);
        NativeMemory.Free(_procPath);
        NativeMemory.Free(_stat);
        _link = null;
        _procPath = null;
        _stat = null;
    }

    private sealed record CachedProcess(byte[] Link, string Exe);
}
