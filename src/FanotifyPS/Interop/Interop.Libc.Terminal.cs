using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// Process groups and the controlling terminal: which processes Ctrl+Z reaches (Watching/TerminalForeground), and
// whether this process's group is the terminal's foreground one (the progress bar, Commands/StreamProgress).
#pragma warning disable CS8981 // kernel struct names kept verbatim
internal static unsafe partial class Libc
{
    internal const int STDIN_FILENO = 0;
    internal const int O_RDWR = 0x2;
    internal const int O_NOCTTY = 0x100;   // 0400, same value on x86_64 and arm64

    // Signal numbers and sigprocmask's how: the same on x86_64 and arm64.
    internal const int SIGTERM = 15;
    internal const int SIGCONT = 18;
    internal const int SIGTTOU = 22;
    internal const int SIG_BLOCK = 0;
    internal const int SIG_SETMASK = 2;

    /* glibc's sigset_t: 1024 bits (the kernel reads the first 64). */
    [StructLayout(LayoutKind.Sequential)]
    internal struct sigset_t
    {
        public fixed ulong __val[16];
    }

    [LibraryImport("libc")]
    internal static partial int getpid();

    [LibraryImport("libc")]
    internal static partial int getppid();

    [LibraryImport("libc")]
    internal static partial int getpgrp();

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int setpgid(int pid, int pgid);

    /// <summary>The terminal's foreground process group; -1 (ENOTTY) where the fd is not this process's controlling terminal.</summary>
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int tcgetpgrp(int fd);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int tcsetpgrp(int fd, int pgrp);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int kill(int pid, int sig);

    // Returns the error number itself (0 on success), not -1 and errno.
    [LibraryImport("libc")]
    internal static partial int pthread_sigmask(int how, sigset_t* set, sigset_t* oldset);
}
