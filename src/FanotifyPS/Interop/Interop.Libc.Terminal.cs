using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// Job control: whether this process's group is the foreground one of its terminal.
internal static partial class Libc
{
    internal const int STDIN_FILENO = 0;

    [LibraryImport("libc")]
    internal static partial int getpgrp();

    /// <summary>The terminal's foreground process group; -1 (ENOTTY) where the fd is not this process's controlling terminal.</summary>
    [LibraryImport("libc", SetLastError = true)]
    internal static partial int tcgetpgrp(int fd);
}
