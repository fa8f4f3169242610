using System;
using System.Buffers.Binary;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>What kind of file an execve() opened, and which file it opens next in the same execve.</summary>
internal enum ProgramKind
{
    /// <summary>Neither ELF nor #!: the execve fails (ENOEXEC) unless binfmt_misc hands it to an interpreter.</summary>
    Other,

    /// <summary>An ELF file without PT_INTERP (a static binary, or an ELF interpreter itself).</summary>
    Elf,

    /// <summary>An ELF file whose PT_INTERP (ld.so) the kernel opens next; the process's program stays this file.</summary>
    ElfWithInterpreter,

    /// <summary>A #! script: the kernel opens its interpreter next, and the interpreter becomes the program.</summary>
    Script,
}

/// <summary>
/// Reads the head of an exec event's file through the event's own fd (opened FMODE_NONOTIFY by the kernel, so the
/// read raises no event): ELF with or without PT_INTERP, a #! script, or other. Allocates nothing.
/// </summary>
internal static unsafe class ProgramImage
{
    /// <summary>BINPRM_BUF_SIZE: the kernel reads no more of a #! line than this.</summary>
    private const int HeadSize = 256;
    private const uint PT_INTERP = 3;
    private const int MaxProgramHeaders = 128;

    /// <summary>The file's kind; <paramref name="next"/> is the interpreter the kernel opens next (UTF-8 path), if any.</summary>
    private const int MaxRememberedKinds = 4096;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, ProgramKind> s_kinds = new(StringComparer.Ordinal);

    /// <summary>
    /// Notes what a program file is, as a file-descriptor group read it at an exec: a file-handle group, which
    /// cannot read its exec events' files, asks <see cref="IsElf"/> whether a next exec can be a script's interpreter.
    /// </summary>
    public static void Remember(string path, ProgramKind kind)
    {
        if (s_kinds.Count < MaxRememberedKinds)
        {
            s_kinds[path] = kind;
        }
    }

    /// <summary>The program at path is known to be a #! script: the exec that follows its exec is its interpreter's.</summary>
    public static bool IsScript(string path) => s_kinds.TryGetValue(path, out ProgramKind kind) && kind == ProgramKind.Script;

    /// <summary>The program at path is known to be ELF (not a #! script, nor for binfmt_misc): no interpreter follows its exec.</summary>
    public static bool IsElf(string path) =>
        s_kinds.TryGetValue(path, out ProgramKind kind) && kind is ProgramKind.Elf or ProgramKind.ElfWithInterpreter;

    public static ProgramKind Classify(int fd, byte* buffer, int capacity, out ReadOnlySpan<byte> next)
    {
        next = default;
        nint length = Libc.pread(fd, buffer, Math.Min(capacity, HeadSize), 0);
        if (length < 4)
        {
            return ProgramKind.Other;
        }

        var head = new ReadOnlySpan<byte>(buffer, (int)length);
        if (head[0] == (byte)'#' && head[1] == (byte)'!')
        {
            next = ScriptInterpreter(head.Slice(2));
            return next.IsEmpty ? ProgramKind.Other : ProgramKind.Script;
        }

        if (head.Length < 52 || !head.StartsWith("\x7f"u8) || !head.Slice(1, 3).SequenceEqual("ELF"u8))
        {
            return ProgramKind.Other;
        }

        return ElfInterpreter(fd, buffer, capacity, head, out next);
    }

    /// <summary>The interpreter of a #! line: its first word, as binfmt_script takes it.</summary>
    internal static ReadOnlySpan<byte> ScriptInterpreter(ReadOnlySpan<byte> line)
    {
        int end = line.IndexOf((byte)'\n');
        line = end < 0 ? line : line.Slice(0, end);
        line = line.TrimStart(" \t"u8);
        int space = line.IndexOfAny(" \t"u8);
        return space < 0 ? line.TrimEnd((byte)'\r') : line.Slice(0, space);
    }

    private static ProgramKind ElfInterpreter(int fd, byte* buffer, int capacity, ReadOnlySpan<byte> head, out ReadOnlySpan<byte> next)
    {
        next = default;
        bool is64 = head[4] == 2;
        bool little = head[5] == 1;
        if ((is64 && head.Length < 64) || (head[4] != 1 && head[4] != 2))
        {
            return ProgramKind.Other;
        }

        long tableOffset = is64 ? (long)Read64(head, 32, little) : Read32(head, 28, little);
        int entrySize = Read16(head, is64 ? 54 : 42, little);
        int count = Read16(head, is64 ? 56 : 44, little);
        if (entrySize < (is64 ? 56 : 32) || count > MaxProgramHeaders || (long)entrySize * count > capacity)
        {
            return ProgramKind.Elf;
        }

        nint length = Libc.pread(fd, buffer, entrySize * count, tableOffset);
        if (length < entrySize * count)
        {
            return ProgramKind.Elf;
        }

        var table = new ReadOnlySpan<byte>(buffer, (int)length);
        for (int i = 0; i < count; i++)
        {
            ReadOnlySpan<byte> entry = table.Slice(i * entrySize, entrySize);
            if (Read32(entry, 0, little) != PT_INTERP)
            {
                continue;
            }

            long offset = is64 ? (long)Read64(entry, 8, little) : Read32(entry, 4, little);
            long size = is64 ? (long)Read64(entry, 32, little) : Read32(entry, 16, little);
            if (size < 2 || size > capacity)
            {
                return ProgramKind.Elf;
            }

            length = Libc.pread(fd, buffer, (nint)size, offset);
            if (length != size)
            {
                return ProgramKind.Elf;
            }

            next = new ReadOnlySpan<byte>(buffer, (int)length).TrimEnd((byte)0);
            return ProgramKind.ElfWithInterpreter;
        }

        return ProgramKind.Elf;
    }

    /// <summary>
    /// A file-handle group cannot read the file: there an exec event names an ELF interpreter only by its name
    /// (ld-linux-x86-64.so.2, ld-musl-x86_64.so.1, ld.so.1, ld64.so.2 ...).
    /// </summary>
    public static bool IsElfInterpreterName(ReadOnlySpan<char> name) =>
        (name.StartsWith("ld-", StringComparison.Ordinal) || name.StartsWith("ld.so", StringComparison.Ordinal) ||
         name.StartsWith("ld64.so", StringComparison.Ordinal)) && name.Contains(".so", StringComparison.Ordinal);

    private static int Read16(ReadOnlySpan<byte> b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt16LittleEndian(b.Slice(at)) : BinaryPrimitives.ReadUInt16BigEndian(b.Slice(at));

    private static uint Read32(ReadOnlySpan<byte> b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt32LittleEndian(b.Slice(at)) : BinaryPrimitives.ReadUInt32BigEndian(b.Slice(at));

    private static ulong Read64(ReadOnlySpan<byte> b, int at, bool little) =>
        little ? BinaryPrimitives.ReadUInt64LittleEndian(b.Slice(at)) : BinaryPrimitives.ReadUInt64BigEndian(b.Slice(at));
}
