using System;
using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

public class FanotifyEventTests
{
    private static FanotifyEvent Event(FanotifyEventType type, string path = "/tmp/test.txt", string exe = "/usr/bin/vim.basic",
        bool deleted = false, bool gone = false) =>
        new(DateTime.UtcNow, type, path, deleted, 1234, exe, gone, FanotifyResponse.Allow, 1);

    [Fact]
    public void ToString_is_the_seed_line()
    {
        Assert.Equal("FAN_OPEN_PERM: File /tmp/test.txt Exe /usr/bin/vim.basic", Event(FanotifyEventType.OpenPerm).ToString());
        Assert.Equal("FAN_CLOSE_WRITE: File /tmp/test.txt Exe /usr/bin/vim.basic", Event(FanotifyEventType.CloseWrite).ToString());
    }

    [Fact]
    public void ToString_names_the_pid_of_a_process_that_is_gone()
    {
        Assert.Equal("FAN_CLOSE_WRITE: File /tmp/test.txt Pid 1234 (gone)",
            Event(FanotifyEventType.CloseWrite, exe: string.Empty, gone: true).ToString());
    }

    [Fact]
    public void ToString_marks_deleted_files_as_the_kernel_does()
    {
        Assert.Equal("FAN_CLOSE_WRITE: File /tmp/test.txt (deleted) Exe /usr/bin/vim.basic",
            Event(FanotifyEventType.CloseWrite, deleted: true).ToString());
    }

    [Fact]
    public void Merged_events_list_every_kernel_name()
    {
        Assert.Equal("FAN_MODIFY|FAN_CLOSE_WRITE", FanotifyEvent.KernelNames(FanotifyEventType.Modify | FanotifyEventType.CloseWrite));
    }

    [Fact]
    public void Event_type_values_are_the_kernel_values()
    {
        Assert.Equal(Fanotify.FAN_OPEN_PERM, (ulong)FanotifyEventType.OpenPerm);
        Assert.Equal(Fanotify.FAN_CLOSE_WRITE, (ulong)FanotifyEventType.CloseWrite);
        Assert.Equal(Fanotify.FAN_CLOSE_NOWRITE, (ulong)FanotifyEventType.CloseNoWrite);
        Assert.Equal(Fanotify.FAN_Q_OVERFLOW, (ulong)FanotifyEventType.Overflow);
        Assert.Equal(Fanotify.FAN_OPEN_EXEC_PERM, (ulong)FanotifyEventType.OpenExecPerm);
        Assert.Equal(Fanotify.FAN_RENAME, (ulong)FanotifyEventType.Rename);
        Assert.Equal(Fanotify.FAN_FS_ERROR, (ulong)FanotifyEventType.FsError);
    }

    [Fact]
    public void Time_stamp_is_local_time()
    {
        DateTime utc = new(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var e = new FanotifyEvent(utc, FanotifyEventType.Open, "/x", false, 1, "/bin/x", false, FanotifyResponse.None, 1);
        Assert.Equal(DateTimeKind.Local, e.TimeStamp.Kind);
        Assert.Equal(utc, e.TimeStamp.ToUniversalTime());
    }

    [Fact]
    public void Properties_without_a_value_are_null_and_UserName_empty()
    {
        FanotifyEvent e = Event(FanotifyEventType.Open);
        Assert.Null(e.ThreadId);
        Assert.Null(e.UserId);
        Assert.Null(e.FsErrorCode);
        Assert.Null(e.FsErrorCount);
        Assert.Equal(string.Empty, e.UserName);
        Assert.Equal(string.Empty, e.LoginUserName);   // as for LoginUserId null
    }

    [Fact]
    public void UserName_is_the_name_of_UserId()
    {
        FanotifyEvent e = Event(FanotifyEventType.Open);
        e.UserId = 0;
        Assert.Equal("root", e.UserName);
    }

    [Theory]
    [InlineData(0, "0")]
    [InlineData(7, "7")]
    [InlineData(10, "10")]
    [InlineData(4194304, "4194304")]
    [InlineData(int.MaxValue, "2147483647")]
    public unsafe void Decimal_writer_matches_ToString(int value, string expected)
    {
        byte* buffer = stackalloc byte[16];
        int length = ProcPath.WriteDecimal(buffer, value);
        Assert.Equal(expected, System.Text.Encoding.ASCII.GetString(buffer, length));
    }
}

public class PathTextTests
{
    [Fact]
    public void Valid_utf8_decodes_as_usual()
    {
        Assert.Equal("/tmp/café", FanotifyPS.Interop.PathText.Decode("/tmp/café"u8));
    }

    [Fact]
    public void Invalid_bytes_become_lone_surrogates_and_print_as_hex()
    {
        string name = FanotifyPS.Interop.PathText.Decode([0x61, 0xff, 0xc3, 0x62]);   // a, FF, a lead byte without its tail, b
        Assert.Equal("a\uDCFF\uDCC3b", name);
        Assert.Equal(@"a\xff\xc3b", FanotifyPS.Interop.PathText.Escape(name));
    }

    [Fact]
    public void Escape_makes_one_unambiguous_line()
    {
        Assert.Equal(@"a\nb\tc\\d\x01", FanotifyPS.Interop.PathText.Escape("a\nb\tc\\d\u0001"));
        Assert.Same("/plain/path", FanotifyPS.Interop.PathText.Escape("/plain/path"));
    }
}
