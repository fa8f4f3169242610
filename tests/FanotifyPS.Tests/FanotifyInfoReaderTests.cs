using System;
using System.Runtime.InteropServices;
using System.Text;
using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

public class FanotifyInfoReaderTests
{
    private static (byte[] Buffer, FanotifyEventRecord Record) FidEvent()
    {
        var buffer = new byte[256];
        int length = SyntheticEvents.FidEvent(buffer, Fanotify.FAN_RENAME, 42);
        var reader = new FanotifyEventReader(buffer.AsSpan(0, length));
        Assert.True(reader.TryRead(out FanotifyEventRecord record));
        Assert.False(reader.TryRead(out _));
        return (buffer, record);
    }

    [Fact]
    public void Finds_every_info_record_of_a_file_handle_event()
    {
        (byte[] buffer, FanotifyEventRecord record) = FidEvent();

        Assert.True(FanotifyInfoReader.TryRead(buffer, record, out FanotifyEventInfo info));

        Assert.Equal(24, info.DfidNameOffset);
        Assert.True(info.FidOffset > info.DfidNameOffset);
        Assert.True(info.OldDfidNameOffset > info.FidOffset);
        Assert.True(info.NewDfidNameOffset > info.OldDfidNameOffset);
        Assert.Equal(-1, info.DfidOffset);
        Assert.True(info.HasError);
        Assert.Equal(5, info.Error);
        Assert.Equal(1, info.ErrorCount);
        Assert.Equal(Fanotify.FAN_EPIDFD, info.PidFd);
    }

    [Fact]
    public void Reads_names_and_handles_of_fid_records()
    {
        (byte[] buffer, FanotifyEventRecord record) = FidEvent();
        FanotifyInfoReader.TryRead(buffer, record, out FanotifyEventInfo info);

        Assert.Equal("a", Encoding.UTF8.GetString(FanotifyInfoReader.Name(buffer, info.DfidNameOffset)));
        Assert.Equal("b", Encoding.UTF8.GetString(FanotifyInfoReader.Name(buffer, info.OldDfidNameOffset)));
        Assert.Equal("c", Encoding.UTF8.GetString(FanotifyInfoReader.Name(buffer, info.NewDfidNameOffset)));
        ReadOnlySpan<byte> handle = FanotifyInfoReader.FileHandle(buffer, info.FidOffset);
        Assert.Equal(16, handle.Length);                          // handle_bytes + handle_type + 8 bytes
        Assert.Equal(8u, MemoryMarshal.Read<uint>(handle));
        Assert.Equal(1, MemoryMarshal.Read<int>(handle.Slice(4)));
    }

    [Fact]
    public void Rejects_a_record_longer_than_its_event()
    {
        (byte[] buffer, FanotifyEventRecord record) = FidEvent();
        MemoryMarshal.Write(buffer.AsSpan(24 + 2), (ushort)1000);   // first record's len

        Assert.False(FanotifyInfoReader.TryRead(buffer, record, out _));
    }

    [Fact]
    public void Ignores_a_fid_record_whose_handle_does_not_fit()
    {
        (byte[] buffer, FanotifyEventRecord record) = FidEvent();
        MemoryMarshal.Write(buffer.AsSpan(24 + 12), 500u);   // first record's handle_bytes

        Assert.True(FanotifyInfoReader.TryRead(buffer, record, out FanotifyEventInfo info));
        Assert.Equal(-1, info.DfidNameOffset);
        Assert.True(info.FidOffset > 0);
    }

    [Fact]
    public void An_event_without_records_has_none()
    {
        var buffer = new byte[24];
        SyntheticEvents.WriteRecord(buffer, 0, Fanotify.FAN_OPEN, 3, 1);
        var reader = new FanotifyEventReader(buffer);
        reader.TryRead(out FanotifyEventRecord record);

        Assert.True(FanotifyInfoReader.TryRead(buffer, record, out FanotifyEventInfo info));
        Assert.Equal(-1, info.FidOffset);
        Assert.Equal(Fanotify.FAN_NOPIDFD, info.PidFd);
        Assert.False(info.HasError);
    }
}

public class ProcFieldTests
{
    [Fact]
    public void Reads_stat_fields_after_the_command_name()
    {
        byte[] stat = Encoding.ASCII.GetBytes(" S 4711 100 100 0 -1 4194560 120 0");
        Assert.Equal(4711ul, ProcessResolver.Field(stat, 1));
        Assert.Equal(4194560ul, ProcessResolver.Field(stat, 6));
        Assert.Equal(0ul, ProcessResolver.Field(stat, 40));
    }

    [Fact]
    public void Reads_the_effective_uid_and_tgid_of_status()
    {
        byte[] status = Encoding.ASCII.GetBytes("Name:\tcat\nTgid:\t321\nPid:\t322\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n");
        Assert.Equal(0ul, ProcessResolver.StatusField(status, "\nUid:"u8, 1, ulong.MaxValue));
        Assert.Equal(1000ul, ProcessResolver.StatusField(status, "\nUid:"u8, 0, ulong.MaxValue));
        Assert.Equal(321ul, ProcessResolver.StatusField(status, "\nTgid:"u8, 0, 0));
        Assert.Equal(ulong.MaxValue, ProcessResolver.StatusField(status, "\nNope:"u8, 0, ulong.MaxValue));
    }
}
