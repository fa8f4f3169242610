using System;
using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

/// <summary>One fanotify_event_metadata record as read from the group fd.</summary>
internal readonly record struct FanotifyEventRecord(ulong Mask, int Fd, int Pid, int Offset, int EventLength, int MetadataLength);

/// <summary>
/// Walks a buffer filled by read() on a fanotify group, allocation-free (FAN_EVENT_OK / FAN_EVENT_NEXT).
/// </summary>
/// <remarks>
/// Records are read in native byte order at the fixed offsets of struct fanotify_event_metadata:
/// event_len u32 @0, vers u8 @4, reserved u8 @5, metadata_len u16 @6, mask u64 @8, fd s32 @16, pid s32 @20.
/// A record with a wrong version or impossible lengths stops the walk and sets <see cref="Malformed"/>:
/// nothing after it can be trusted, and the caller must fail the watch (closing the group releases the kernel's waiters).
/// </remarks>
internal ref struct FanotifyEventReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private int _offset;

    public FanotifyEventReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        _offset = 0;
        Malformed = MalformedReason.None;
    }

    public MalformedReason Malformed { get; private set; }

    public bool TryRead(out FanotifyEventRecord record)
    {
        record = default;
        int remaining = _buffer.Length - _offset;
        if (remaining == 0 || Malformed != MalformedReason.None)
        {
            return false;
        }

        if (remaining < Fanotify.FAN_EVENT_METADATA_LEN)
        {
            Malformed = MalformedReason.Truncated;
            return false;
        }

        ReadOnlySpan<byte> header = _buffer.Slice(_offset, Fanotify.FAN_EVENT_METADATA_LEN);
        uint eventLength = MemoryMarshal.Read<uint>(header);
        byte version = header[4];
        ushort metadataLength = MemoryMarshal.Read<ushort>(header.Slice(6));

        if (version != Fanotify.FANOTIFY_METADATA_VERSION)
        {
            Malformed = MalformedReason.Version;
            return false;
        }

        if (eventLength < Fanotify.FAN_EVENT_METADATA_LEN || eventLength > (uint)remaining
            || metadataLength < Fanotify.FAN_EVENT_METADATA_LEN || metadataLength > eventLength)
        {
            Malformed = MalformedReason.Length;
            return false;
        }

        record = new FanotifyEventRecord(
            Mask: MemoryMarshal.Read<ulong>(header.Slice(8)),
            Fd: MemoryMarshal.Read<int>(header.Slice(16)),
            Pid: MemoryMarshal.Read<int>(header.Slice(20)),
            Offset: _offset,
            EventLength: (int)eventLength,
            MetadataLength: metadataLength);
        _offset += (int)eventLength;
        return true;
    }
}

internal enum MalformedReason
{
    None,
    Truncated,
    Version,
    Length,
}
