using System;
using System.ComponentModel;
using System.Runtime.InteropServices;

namespace FanotifyPS.Watching;

/// <summary>
/// While a permission watch runs, SIGTSTP (Ctrl+Z), SIGTTIN and SIGTTOU must not stop this process: a stopped
/// process answers no permission event, and every open on the watched filesystems would wait until SIGCONT.
/// Counted across the watches of the process: the first permission watch registers the handlers, the last one
/// to stop disposes them, and .NET then restores the signals' previous handling (pwsh's own job control).
/// SIGSTOP cannot be caught: a watcher stopped by it holds its openers until SIGCONT.
/// The cost: a pwsh left in the background (a wrapper such as the dotnet tool shim was stopped, and the shell
/// took the terminal) retries its terminal set-up in a loop, each try interrupted by SIGTTOU, until fg. It spins,
/// but it answers; stopped, it would hold every opener.
/// </summary>
internal sealed class StopSignalGuard : IDisposable
{
    internal const string Warning = "While a permission watch runs, Ctrl+Z (SIGTSTP), SIGTTIN and SIGTTOU do not stop this pwsh: " +
        "a stopped watcher would make every open on the watched filesystem wait. Stop the watch first (Ctrl+C or Stop-FanotifyWatch).";

    private static readonly object s_lock = new();
    private static PosixSignalRegistration?[]? s_registrations;
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
            if (s_holders++ == 0)
            {
                warning = Register();
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
            if (--s_holders == 0 && s_registrations is not null)
            {
                foreach (PosixSignalRegistration? registration in s_registrations)
                {
                    registration?.Dispose();
                }

                s_registrations = null;
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

            registrations[0] = PosixSignalRegistration.Create(PosixSignal.SIGTSTP, Cancel);
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
}
