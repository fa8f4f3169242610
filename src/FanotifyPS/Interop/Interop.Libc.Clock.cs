using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

// The clocks behind a process's start time: /proc/PID/stat counts clock ticks of CLOCK_BOOTTIME.
#pragma warning disable CS8981 // kernel struct names kept verbatim
internal static unsafe partial class Libc
{
    internal const int CLOCK_REALTIME = 0;
    internal const int CLOCK_MONOTONIC = 1;
    internal const int CLOCK_BOOTTIME = 7;
    internal const int _SC_CLK_TCK = 2;   // glibc and musl alike

    /* struct timespec { time_t tv_sec; long tv_nsec; }; both 64-bit on 64-bit Linux. */
    [StructLayout(LayoutKind.Sequential)]
    internal struct timespec
    {
        public long tv_sec;
        public long tv_nsec;
    }

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int clock_gettime(int clockid, timespec* tp);

    [LibraryImport("libc", SetLastError = true)]
    internal static partial long sysconf(int name);
}
