using System;

namespace FanotifyPS.Interop;

/// <summary>
/// Writes /proc paths into native buffers without allocating or formatting (the responder formats nothing), and
/// the sizes of the buffers that hold them and what their links name.
/// </summary>
internal static unsafe class ProcPath
{
    /// <summary>A link as /proc gives it: PATH_MAX, plus the " (deleted)" the kernel appends to an unlinked file's.</summary>
    internal const int LinkCapacity = Libc.PATH_MAX + 16;

    /// <summary>The longest path written here, with its NUL: "/proc/2147483647/cmdline", "/proc/self/fd/2147483647".</summary>
    internal const int PathCapacity = 64;

    /// <summary>What the kernel appends to the link of a file that has been unlinked (or replaced).</summary>
    internal static ReadOnlySpan<byte> DeletedSuffix => " (deleted)"u8;

    /// <summary>Writes "/proc/PID" (not terminated: a suffix follows) and returns its length.</summary>
    internal static int WriteProcPath(byte* destination, int pid)
    {
        int length = WriteAscii(destination, "/proc/"u8);
        return length + WriteDecimal(destination + length, pid);
    }

    /// <summary>Writes "/proc/self/fd/FD" with its NUL.</summary>
    internal static void WriteFdPath(byte* destination, int fd)
    {
        int length = WriteAscii(destination, "/proc/self/fd/"u8);
        length += WriteDecimal(destination + length, fd);
        destination[length] = 0;
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
}
