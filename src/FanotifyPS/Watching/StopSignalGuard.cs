using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// While a permission watch runs, SIGTSTP (Ctrl+Z), SIGTTIN and SIGTTOU must not stop this process: a stopped
/// process answers no permission event, and every open on the watched filesystems would wait until SIGCONT.
/// Counted across the watches of the process: the first permission watch registers the handlers, the last one
/// to stop disposes them, and .NET then restores the signals' previous handling (pwsh's own job control).
/// SIGSTOP cannot be caught: a watcher stopped by it holds its openers until SIGCONT.
/// Under a wrapper that Ctrl+Z would stop (`dotnet pwsh`), pwsh also takes the terminal's foreground in a process
/// group of its own for as long (<see cref="TerminalForeground"/>): left in the background, every terminal call it
/// made would be interrupted by a cancelled SIGTTIN or SIGTTOU and restarted at once, a spin until fg. The handlers
/// stay until pwsh has given the terminal back.
/// </summary>
internal sealed class StopSignalGuard : IDisposable
{
    internal const string Warning = "While a permission watch runs, Ctrl+Z (SIGTSTP), SIGTTIN and SIGTTOU do not stop this pwsh: " +
        "a stopped watcher would make every open on the watched filesystem wait. Stop the watch first (Ctrl+C or Stop-FanotifyWatch).";

    private static readonly object s_lock = new();
    private static PosixSignalRegistration?[]? s_registrations;
    private static TerminalForeground? s_terminal;
    private static Timer? s_timer;
    private static bool s_ending;
    private static bool s_exiting;
    private static int s_holders;
    private static bool s_warned;

    private bool _released;

    private StopSignalGuard()
    {
    }

    /// <summary>
    /// Takes the guard for a permission watch. The first one in a process whose output is a terminal writes
    /// <see cref="Warning"/>; a process where the signals cannot be handled gets a warning that says so instead
    /// (the watch still runs).
    /// </summary>
    public static StopSignalGuard Acquire(Action<string> writeWarning)
    {
        string? warning = null;
        lock (s_lock)
        {
            // Still registered at the first holder: a terminal that could not be given back yet (see ReleaseLocked).
            if (s_holders++ == 0 && s_registrations is null)
            {
                warning = Register();
                if (s_registrations is not null)
                {
                    s_terminal = TerminalForeground.Open();
                    if (s_terminal.TryTake())
                    {
                        s_timer = new Timer(_ => Tick(), null, TickMilliseconds, TickMilliseconds);
                    }
                }
            }

            // Where Ctrl+Z can be pressed and the warning read: not into a script's redirected output.
            if (s_registrations is not null && !s_warned && !Console.IsOutputRedirected)
            {
                s_warned = true;
                warning = Warning;
            }
        }

        // Outside the lock: the warning runs the cmdlet's code.
        if (warning is not null)
        {
            writeWarning(warning);
        }

        return new StopSignalGuard();
    }

    /// <summary>Gives the guard back; the last holder disposes the registrations. Idempotent.</summary>
    public void Dispose()
    {
        lock (s_lock)
        {
            if (_released)
            {
                return;
            }

            _released = true;
            if (--s_holders == 0)
            {
                ReleaseLocked();
            }
        }
    }

    private const int TickMilliseconds = 500;

    /// <summary>
    /// The last holder is gone: the terminal goes back to the wrapper, then the handlers go. While pwsh cannot give
    /// the terminal back yet (something it runs is in its group), both stay, and the timer tries again: a Ctrl+Z
    /// would otherwise stop pwsh in a group the shell does not know, and nothing would offer fg.
    /// </summary>
    private static void ReleaseLocked()
    {
        if (s_terminal is { } terminal && !terminal.TryGiveBack(force: s_exiting))
        {
            return;
        }

        s_timer?.Dispose();
        s_timer = null;
        s_terminal?.Dispose();
        s_terminal = null;
        if (s_registrations is not null)
        {
            foreach (PosixSignalRegistration? registration in s_registrations)
            {
                registration?.Dispose();
            }

            s_registrations = null;
        }
    }

    /// <summary>
    /// As the process exits, before its watches stop: from now on the terminal goes back whatever still runs in
    /// pwsh's group, at once if no permission watch holds it any more.
    /// </summary>
    internal static void OnProcessExit()
    {
        lock (s_lock)
        {
            s_exiting = true;
            if (s_holders == 0)
            {
                ReleaseLocked();
            }
        }
    }

    // While pwsh is away from the wrapper's group: a signal to that group (kill %1, timeout, a supervisor) no longer
    // reaches it, so once a process of the wrapper has ended or stopped, pwsh ends too, as that signal would have
    // ended it (see TerminalForeground). The terminal and the wrapper first: pwsh dies of SIGTERM without running its
    // exit handlers (the kernel then closes its groups, which allows every pending permission event).
    private static void Tick()
    {
        lock (s_lock)
        {
            if (s_terminal is not { Moved: true } terminal)
            {
                return;
            }

            if (!s_ending && terminal.WrapperInterrupted())
            {
                s_ending = true;
                _ = terminal.TryGiveBack(force: true);
                _ = Interop.Libc.kill(Interop.Libc.getpid(), Interop.Libc.SIGTERM);
                return;
            }

            if (s_holders == 0)
            {
                ReleaseLocked();
            }
        }
    }

    /// <summary>Registers the handlers; the caller holds the lock. Returns a warning if they could not be.</summary>
    private static string? Register()
    {
        var registrations = new PosixSignalRegistration?[3];
        try
        {
            if (!OperatingSystem.IsLinux())
            {
                throw new PlatformNotSupportedException("not Linux");
            }

            registrations[0] = PosixSignalRegistration.Create(PosixSignal.SIGTSTP, CancelStop);
            registrations[1] = PosixSignalRegistration.Create(PosixSignal.SIGTTIN, Cancel);
            registrations[2] = PosixSignalRegistration.Create(PosixSignal.SIGTTOU, Cancel);
        }
        catch (Exception e) when (e is Win32Exception or PlatformNotSupportedException)
        {
            foreach (PosixSignalRegistration? registration in registrations)
            {
                registration?.Dispose();
            }

            return $"Ctrl+Z (SIGTSTP), SIGTTIN and SIGTTOU can still stop this pwsh while a permission watch runs ({e.Message}): " +
                "a stopped watcher makes every open on the watched filesystem wait until it continues (fg, SIGCONT).";
        }

        s_registrations = registrations;
        return null;
    }

    // Cancelled, the signal is handled and the process goes on: the default action (stop) is not taken.
    private static void Cancel(PosixSignalContext context) => context.Cancel = true;

    // Ctrl+Z: also what it stopped besides pwsh goes on, and a note says why nothing stopped.
    private static void CancelStop(PosixSignalContext context)
    {
        context.Cancel = true;
        lock (s_lock)
        {
            s_terminal?.OnStopSignal();
        }
    }
}
