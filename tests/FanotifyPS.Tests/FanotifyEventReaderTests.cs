using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using FanotifyPS.Interop;
using Xunit;

namespace FanotifyPS.Tests;

public class FanotifyEventReaderTests
{
    private static byte[] Batch(params (ulong Mask, int Fd, int Pid)[] records)
    {
        var buffer = new byte[records.Length * Fanotify.FAN_EVENT_METADATA_LEN];
        for (int i = 0; i < records.Length; i++)
        {
            SyntheticEvents.WriteRecord(buffer, i, records[i].Mask, records[i].Fd, records[i].Pid);
        }

        return buffer;
    }

    private static List<FanotifyEventRecord> ReadAll(ReadOnlySpan<byte> buffer, out MalformedReason malformed)
    {
        var records = new List<FanotifyEventRecord>();
        var reader = new FanotifyEventReader(buffer);
        while (reader.TryRead(out FanotifyEventRecord record))
        {
            records.Add(record);
        }

        malformed = reader.Malformed;
        return records;
    }

    [Fact]
    public void Reads_every_record_of_a_batch_in_order()
    {
        byte[] buffer = Batch(
            (Fanotify.FAN_OPEN_PERM, 5, 100),
            (Fanotify.FAN_CLOSE_WRITE | Fanotify.FAN_MODIFY, 6, 101),
            (Fanotify.FAN_Q_OVERFLOW, Fanotify.FAN_NOFD, 0));

        List<FanotifyEventRecord> records = ReadAll(buffer, out MalformedReason malformed);

        Assert.Equal(MalformedReason.None, malformed);
        Assert.Equal(3, records.Count);
        Assert.Equal((Fanotify.FAN_OPEN_PERM, 5, 100, 0), (records[0].Mask, records[0].Fd, records[0].Pid, records[0].Offset));
        Assert.Equal(Fanotify.FAN_CLOSE_WRITE | Fanotify.FAN_MODIFY, records[1].Mask);
        Assert.Equal(24, records[1].Offset);
        Assert.Equal(Fanotify.FAN_NOFD, records[2].Fd);
    }

    [Fact]
    public void Empty_buffer_yields_nothing_and_is_not_malformed()
    {
        List<FanotifyEventRecord> records = ReadAll([], out MalformedReason malformed);
        Assert.Empty(records);
        Assert.Equal(MalformedReason.None, malformed);
    }

    [Fact]
    public void Walks_by_event_len_past_info_records()
    {
        // A record with 16 bytes of info records after the metadata (as FID groups produce), then a plain one.
        var buffer = new byte[40 + 24];
        SyntheticEvents.WriteRecord(buffer, 0, Fanotify.FAN_CREATE, -1, 7);
        MemoryMarshal.Write(buffer.AsSpan(0), 40u);   // event_len
        SyntheticEvents.WriteRecord(buffer.AsSpan(40), 0, Fanotify.FAN_OPEN, 3, 8);

        List<FanotifyEventRecord> records = ReadAll(buffer, out MalformedReason malformed);

        Assert.Equal(MalformedReason.None, malformed);
        Assert.Equal(2, records.Count);
        Assert.Equal(40, records[0].EventLength);
        Assert.Equal(24, records[0].MetadataLength);
        Assert.Equal(40, records[1].Offset);
        Assert.Equal(8, records[1].Pid);
    }

    [Fact]
    public void Stops_on_a_wrong_metadata_version()
    {
        byte[] buffer = Batch((Fanotify.FAN_OPEN, 3, 1), (Fanotify.FAN_OPEN, 4, 2));
        buffer[24 + 4] = 2;   // second record: vers

        List<FanotifyEventRecord> records = ReadAll(buffer, out MalformedReason malformed);

        Assert.Single(records);
        Assert.Equal(MalformedReason.Version, malformed);
    }

    [Fact]
    public void Stops_on_a_truncated_header()
    {
        byte[] buffer = Batch((Fanotify.FAN_OPEN, 3, 1));
        List<FanotifyEventRecord> records = ReadAll(buffer.AsSpan(0, 20), out MalformedReason malformed);
        Assert.Empty(records);
        Assert.Equal(MalformedReason.Truncated, malformed);
    }

    [Theory]
    [InlineData(0u)]      // shorter than the metadata: would loop forever
    [InlineData(23u)]
    [InlineData(1000u)]   // longer than what was read
    public void Stops_on_an_impossible_event_len(uint eventLength)
    {
        byte[] buffer = Batch((Fanotify.FAN_OPEN, 3, 1));
        MemoryMarshal.Write(buffer.AsSpan(0), eventLength);

        List<FanotifyEventRecord> records = ReadAll(buffer, out MalformedReason malformed);

        Assert.Empty(records);
        Assert.Equal(MalformedReason.Length, malformed);
    }

    [Fact]
    public void Stops_when_metadata_len_exceeds_event_len()
    {
        byte[] buffer = Batch((Fanotify.FAN_OPEN, 3, 1));
        MemoryMarshal.Write(buffer.AsSpan(6), (ushort)32);

        ReadAll(buffer, out MalformedReason malformed);

        Assert.Equal(MalformedReason.Length, malformed);
    }
}
