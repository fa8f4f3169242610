using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>How an exec event's file is told apart: ELF with or without PT_INTERP, #! script, other; read from real files.</summary>
public sealed unsafe class ProgramImageTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("programimage").FullName;
    private readonly byte* _buffer = (byte*)NativeMemory.Alloc(4096);

    [Fact]
    public void A_dynamic_program_names_its_ELF_interpreter()
    {
        ProgramKind kind = Classify("/usr/bin/true", out string next);
        Assert.Equal(ProgramKind.ElfWithInterpreter, kind);
        Assert.StartsWith("/lib", next, StringComparison.Ordinal);
        Assert.Contains("ld-", next, StringComparison.Ordinal);
        Assert.True(File.Exists(next), next);
    }

    [Fact]
    public void The_ELF_interpreter_itself_has_none()
    {
        Classify("/usr/bin/true", out string interpreter);
        Assert.Equal(ProgramKind.Elf, Classify(interpreter, out string next));
        Assert.Empty(next);
    }

    [Theory]
    [InlineData("#!/bin/sh\necho hi\n", "/bin/sh")]
    [InlineData("#! /usr/bin/env python3 -u\n", "/usr/bin/env")]
    [InlineData("#!/bin/bash\r\n", "/bin/bash")]
    [InlineData("#!\t/bin/dash -e", "/bin/dash")]
    public void A_script_names_the_first_word_of_its_line(string text, string interpreter)
    {
        string path = Path.Combine(_directory, "s");
        File.WriteAllText(path, text);
        Assert.Equal(ProgramKind.Script, Classify(path, out string next));
        Assert.Equal(interpreter, next);
    }

    [Theory]
    [InlineData("echo no shebang\n")]
    [InlineData("#!\n")]
    [InlineData("\u007fEL")]
    [InlineData("")]
    public void Anything_else_is_other(string text)
    {
        string path = Path.Combine(_directory, "o");
        File.WriteAllText(path, text);
        Assert.Equal(ProgramKind.Other, Classify(path, out _));
    }

    [Fact]
    public void A_truncated_ELF_header_is_no_interpreter()
    {
        byte[] head = File.ReadAllBytes("/usr/bin/true").AsSpan(0, 64).ToArray();
        string path = Path.Combine(_directory, "cut");
        File.WriteAllBytes(path, head);
        Assert.Equal(ProgramKind.Elf, Classify(path, out string next));
        Assert.Empty(next);
    }

    [Theory]
    [InlineData("ld-linux-x86-64.so.2", true)]
    [InlineData("ld-linux-aarch64.so.1", true)]
    [InlineData("ld-musl-x86_64.so.1", true)]
    [InlineData("ld.so.1", true)]
    [InlineData("ld64.so.2", true)]
    [InlineData("ld", false)]
    [InlineData("ldconfig", false)]
    [InlineData("ld-wrapper", false)]
    public void A_file_handle_group_knows_ld_so_by_name(string name, bool isInterpreter) =>
        Assert.Equal(isInterpreter, ProgramImage.IsElfInterpreterName(name));

    private ProgramKind Classify(string path, out string next)
    {
        int fd = Libc.open(path, Libc.O_RDONLY | Libc.O_CLOEXEC);
        Assert.True(fd >= 0, path);
        try
        {
            ProgramKind kind = ProgramImage.Classify(fd, _buffer, 4096, out ReadOnlySpan<byte> bytes);
            next = Encoding.UTF8.GetString(bytes);
            return kind;
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    public void Dispose()
    {
        NativeMemory.Free(_buffer);
        Directory.Delete(_directory, recursive: true);
    }
}
