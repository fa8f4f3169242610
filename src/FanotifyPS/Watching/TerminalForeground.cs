using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// This pwsh's place on its controlling terminal while a permission watch keeps Ctrl+Z from stopping it
/// (<see cref="StopSignalGuard"/>). Ctrl+Z sends SIGTSTP to every process of the terminal's foreground process
/// group. Under a wrapper (the dotnet muxer and tool shim of `dotnet pwsh`, sh -c, sudo without a pty, timeout...)
/// pwsh shares that group with the ancestors that started it: they stop, the shell sees its job stopped and takes the
/// terminal back, and pwsh, which cannot stop, goes on in the background. There every terminal read, terminal
/// setting, and write under `stty tostop` raises SIGTTIN or SIGTTOU; cancelled, the call restarts at once, and pwsh
/// spins until fg. So while a permission watch runs under such a wrapper, pwsh moves into a process group of its own
/// and makes it the terminal's foreground group: Ctrl+Z reaches pwsh (and what it runs) alone, as when pwsh is
/// started from the shell itself. It gives the terminal back to the wrapper's group once the last permission watch has
/// stopped. The cost: a signal sent to the wrapper's group (kill %1, timeout, a supervisor) no longer reaches pwsh.
/// So pwsh ends itself (SIGTERM, as such a signal usually is) when a process of the wrapper ends or stops while pwsh is
/// away: stopped, because a wrapper that ends may touch the terminal (a .NET one restores its settings), and from what
/// is then a background group that stops it with SIGTTOU.
/// </summary>
internal sealed class TerminalForeground : IDisposable
{
    internal const string Note = "FanotifyPS: Ctrl+Z does not stop this pwsh while a permission watch runs: every open on the watched " +
        "filesystem would wait for it. Ctrl+C or Stop-FanotifyWatch stops the watch.";

    private readonly int _tty;
    private int _ownGroup;                        // 0 while pwsh is in the group it was started in
    private int _wrapperGroup;
    private (int Pid, long StartTime)[] _wrappers = [];
    private long? _lastNote;

    private TerminalForeground(int tty) => _tty = tty;

    /// <summary>Whether pwsh has left the wrapper's group for one of its own (and must come back).</summary>
    public bool Moved => _ownGroup != 0;

    /// <summary>
    /// The controlling terminal, if this process has one (/dev/tty, close-on-exec: what pwsh starts does not inherit
    /// it). Without one (a service, ssh without a pty, a test's child) there is nothing Ctrl+Z could come from.
    /// </summary>
    public static unsafe TerminalForeground Open()
    {
        ReadOnlySpan<byte> path = "/dev/tty\0"u8;
        int fd;
        fixed (byte* p = path)
        {
            fd = Libc.open(p, Libc.O_RDWR | Libc.O_NOCTTY | Libc.O_CLOEXEC);
        }

        return new TerminalForeground(fd);
    }

    /// <summary>
    /// Under a wrapper, takes a group of its own and the terminal's foreground; returns whether it did. Only when
    /// pwsh's group holds the terminal and holds nothing else than pwsh and the ancestors that started it: a pipe's
    /// other programs (cat x | dotnet pwsh ...) would be left in a background group, and stop at their next read.
    /// </summary>
    public bool TryTake()
    {
        int self = Libc.getpid();
        int group = Libc.getpgrp();
        if (_tty < 0 || Moved || group == self || Libc.tcgetpgrp(_tty) != group)
        {
            return false;   // no terminal, pwsh leads its own group, or Ctrl+Z does not reach it now
        }

        List<(int Pid, long StartTime)>? wrappers = Wrappers(self, group);
        if (wrappers is null)
        {
            return false;
        }

        if (Libc.setpgid(0, 0) != 0)
        {
            return false;
        }

        // A Ctrl+Z between the two calls stops the wrapper, and the shell takes the terminal: then leave it there.
        if (Libc.tcgetpgrp(_tty) != group || !SetForeground(self))
        {
            _ = Libc.setpgid(0, group);
            return false;
        }

        _ownGroup = self;
        _wrapperGroup = group;
        _wrappers = [.. wrappers];
        return true;
    }

    /// <summary>
    /// Back into the wrapper's group, with the terminal if pwsh still holds it, and a wrapper process that stopped
    /// meanwhile goes on. Returns false (try again later) while something pwsh started still runs in its group: given
    /// the terminal away, it would stop at its next read or setting, and pwsh, which waits for it, would wait for good.
    /// As the process exits (<paramref name="force"/>), pwsh gives it back all the same: nothing waits for that any more.
    /// </summary>
    public bool TryGiveBack(bool force)
    {
        if (!Moved)
        {
            return true;
        }

        int self = Libc.getpid();
        foreach (Member member in Members(_ownGroup))
        {
            if (member.Pid != self && !force)
            {
                return false;
            }
        }

        _ownGroup = 0;
        if (Libc.setpgid(0, _wrapperGroup) != 0)
        {
            return true;   // the wrapper's group has ended: its job is over, and the shell has its terminal back
        }

        if (Libc.tcgetpgrp(_tty) == self)
        {
            _ = SetForeground(_wrapperGroup);
        }

        foreach ((int pid, long startTime) in _wrappers)
        {
            if (Stat(pid) is { State: 'T' } stat && stat.StartTime == startTime)
            {
                _ = Libc.kill(pid, Libc.SIGCONT);
            }
        }

        return true;
    }

    /// <summary>Whether a process of the wrapper (an ancestor that shared pwsh's group) has ended or stopped since pwsh left it.</summary>
    public bool WrapperInterrupted()
    {
        foreach ((int pid, long startTime) in _wrappers)
        {
            if (Stat(pid) is not { } stat || stat.StartTime != startTime || stat.State == 'T')
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// After a Ctrl+Z that pwsh ignored: what else of its foreground group it stopped (a program pwsh runs) goes on,
    /// since pwsh waits for it and the shell, which waits for pwsh, would never offer fg. Where pwsh is alone, a note
    /// on the terminal says why nothing stopped (at most once a second). Only where pwsh leads its group: a wrapper's
    /// stopped processes are the shell's business.
    /// </summary>
    public void OnStopSignal()
    {
        int self = Libc.getpid();
        int group = Libc.getpgrp();
        if (_tty < 0 || group != self || Libc.tcgetpgrp(_tty) != group)
        {
            return;
        }

        bool alone = true;
        foreach (Member member in Members(group))
        {
            if (member.Pid == self)
            {
                continue;
            }

            alone = false;
            if (member.State == 'T')
            {
                _ = Libc.kill(member.Pid, Libc.SIGCONT);
            }
        }

        long now = Environment.TickCount64;
        if (alone && (_lastNote is not { } last || now - last >= 1000))
        {
            _lastNote = now;
            WriteLine(Note);
        }
    }

    public void Dispose()
    {
        if (_tty >= 0)
        {
            _ = Libc.close(_tty);
        }
    }

    private unsafe void WriteLine(string text)
    {
        byte[] bytes = Encoding.UTF8.GetBytes("\n" + text + "\n");
        fixed (byte* p = bytes)
        {
            _ = Libc.write(_tty, p, bytes.Length);
        }
    }

    // tcsetpgrp from what is then a background group raises SIGTTOU, which the guard cancels, so that the call would
    // restart for good: blocked in this thread, the signal is not sent, and the call goes through (as shells do it).
    private unsafe bool SetForeground(int group)
    {
        Libc.sigset_t block = default;
        Libc.sigset_t previous = default;
        block.__val[0] = 1UL << (Libc.SIGTTOU - 1);
        if (Libc.pthread_sigmask(Libc.SIG_BLOCK, &block, &previous) != 0)
        {
            return false;
        }

        int result = Libc.tcsetpgrp(_tty, group);
        _ = Libc.pthread_sigmask(Libc.SIG_SETMASK, &previous, null);
        return result == 0;
    }

    // The ancestors of pwsh in its group, if the group holds nothing else; null otherwise (or with none).
    private static List<(int Pid, long StartTime)>? Wrappers(int self, int group)
    {
        var wrappers = new List<(int Pid, long StartTime)>();
        var ancestors = new HashSet<int>();
        int pid = Libc.getppid();
        while (pid > 1 && Stat(pid) is { } stat && stat.Group == group)
        {
            wrappers.Add((pid, stat.StartTime));
            _ = ancestors.Add(pid);
            pid = stat.Parent;
        }

        foreach (Member member in Members(group))
        {
            if (member.Pid != self && !ancestors.Contains(member.Pid))
            {
                return null;
            }
        }

        return wrappers.Count > 0 ? wrappers : null;
    }

    private readonly record struct Member(int Pid, char State);

    private readonly record struct ProcessStat(char State, int Parent, int Group, long StartTime);

    private static IEnumerable<Member> Members(int group)
    {
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories("/proc");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (string entry in entries)
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out int pid) &&
                Stat(pid) is { } stat && stat.Group == group)
            {
                yield return new Member(pid, stat.State);
            }
        }
    }

    // /proc/PID/stat: the name in parentheses may hold anything, so the fields are counted from the last ')'.
    // After it: state (3), ppid (4), pgrp (5), ... starttime (22).
    private static ProcessStat? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;   // gone
        }

        int close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
        {
            return null;
        }

        string[] fields = text[(close + 2)..].Split(' ');
        if (fields.Length < 20 ||
            !int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out int parent) ||
            !int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out int group) ||
            !long.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out long startTime))
        {
            return null;
        }

        return new ProcessStat(fields[0][0], parent, group, startTime);
    }
}
