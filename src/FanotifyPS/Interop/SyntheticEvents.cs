using System;
using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

/// <summary>
/// Writes fanotify records as the kernel lays them out (see <see cref="FanotifyEventReader"/> and
/// <see cref="FanotifyInfoReader"/>): the batches a responder's warm-up runs before the first mark, and the
/// parser tests read.
/// </summary>
internal static class SyntheticEvents
{
    /// <summary>Writes the index-th fanotify_event_metadata of a batch of records without info records.</summary>
    internal static void WriteRecord(Span<byte> batch, int index, ulong mask, int fd, int pid)
    {
        var metadata = new Fanotify.fanotify_event_metadata
        {
            event_len = Fanotify.FAN_EVENT_METADATA_LEN,
            vers = Fanotify.FANOTIFY_METADATA_VERSION,
            metadata_len = Fanotify.FAN_EVENT_METADATA_LEN,
            mask = mask,
            fd = fd,
            pid = pid,
        };
        MemoryMarshal.Write(batch.Slice(index * Fanotify.FAN_EVENT_METADATA_LEN), in metadata);
    }

    /// <summary>Writes one file-handle event with every info record type into buffer; returns its length.</summary>
    internal static int FidEvent(Span<byte> buffer, ulong mask, int pid)
    {
        int offset = Fanotify.FAN_EVENT_METADATA_LEN;
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_DFID_NAME, "a"u8);
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_FID, default);
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME, "b"u8);
        offset = WriteFidRecord(buffer, offset, Fanotify.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME, "c"u8);
        buffer[offset] = Fanotify.FAN_EVENT_INFO_TYPE_ERROR;
        MemoryMarshal.Write(buffer.Slice(offset + 2), (ushort)12);
        MemoryMarshal.Write(buffer.Slice(offset + 4), 5);
        MemoryMarshal.Write(buffer.Slice(offset + 8), 1);
        offset += 12;
        buffer[offset] = Fanotify.FAN_EVENT_INFO_TYPE_PIDFD;
        MemoryMarshal.Write(buffer.Slice(offset + 2), (ushort)8);
        MemoryMarshal.Write(buffer.Slice(offset + 4), Fanotify.FAN_EPIDFD);
        offset += 8;

        WriteRecord(buffer, 0, mask, Fanotify.FAN_NOFD, pid);
        MemoryMarshal.Write(buffer, (uint)offset);   // event_len
        return offset;
    }

    /// <summary>A FID record with an 8-byte handle that resolves to nothing, and an optional name.</summary>
    internal static int WriteFidRecord(Span<byte> buffer, int offset, byte type, ReadOnlySpan<byte> name)
    {
        const int handleBytes = 8;
        int length = FanotifyInfoReader.FidHeaderLength + FanotifyInfoReader.FileHandleHeaderLength + handleBytes;
        if (!name.IsEmpty)
        {
            length += name.Length + 1;
        }

        length = (length + 3) & ~3;
        buffer.Slice(offset, length).Clear();
        buffer[offset] = type;
        MemoryMarshal.Write(buffer.Slice(offset + 2), (ushort)length);
        MemoryMarshal.Write(buffer.Slice(offset + FanotifyInfoReader.FidHeaderLength), (uint)handleBytes);
        MemoryMarshal.Write(buffer.Slice(offset + FanotifyInfoReader.FidHeaderLength + 4), 1);   // handle_type
        name.CopyTo(buffer.Slice(offset + FanotifyInfoReader.FidHeaderLength + FanotifyInfoReader.FileHandleHeaderLength + handleBytes));
        return offset + length;
    }
}
