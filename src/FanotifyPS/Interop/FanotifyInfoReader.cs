using System;
using System.Runtime.InteropServices;

namespace FanotifyPS.Interop;

/// <summary>
/// The info records of one event (file-handle groups, pidfd, fs error), as offsets into the read buffer.
/// </summary>
/// <remarks>
/// struct fanotify_event_info_header { u8 info_type @0; u8 pad @1; u16 len @2; }  walked by len from
/// metadata_len to event_len; the order of records is not guaranteed (fanotify(7)).
/// struct fanotify_event_info_fid { header @0; __kernel_fsid_t fsid @4 (8 bytes); struct file_handle @12 }
/// struct file_handle { u32 handle_bytes @0; s32 handle_type @4; u8 f_handle[handle_bytes] @8 }, and for the
/// *_DFID_NAME types a NUL-terminated name right after f_handle.
/// struct fanotify_event_info_pidfd { header; s32 pidfd @4 }; struct fanotify_event_info_error { header; s32 error @4; u32 error_count @8 }.
/// Offsets are -1 when the record is absent.
/// </remarks>
internal struct FanotifyEventInfo
{
    public int FidOffset;
    public int DfidNameOffset;
    public int DfidOffset;
    public int OldDfidNameOffset;
    public int NewDfidNameOffset;
    public int PidFd;        // FAN_NOPIDFD when absent
    public bool HasPidFd;    // the record was there: FAN_NOPIDFD in it means the process was reaped before the read
    public bool HasError;
    public int Error;
    public int ErrorCount;

    public static FanotifyEventInfo Empty => new()
    {
        FidOffset = -1, DfidNameOffset = -1, DfidOffset = -1, OldDfidNameOffset = -1, NewDfidNameOffset = -1, PidFd = Fanotify.FAN_NOPIDFD,
    };
}

internal static class FanotifyInfoReader
{
    internal const int FidHeaderLength = 12;      // header + fsid
    internal const int FileHandleHeaderLength = 8; // handle_bytes + handle_type

    /// <summary>Collects the event's info records; false when a record length is impossible.</summary>
    public static bool TryRead(ReadOnlySpan<byte> batch, in FanotifyEventRecord record, out FanotifyEventInfo info)
    {
        info = FanotifyEventInfo.Empty;
        int offset = record.Offset + record.MetadataLength;
        int end = record.Offset + record.EventLength;
        while (offset + 4 <= end)
        {
            byte type = batch[offset];
            int length = MemoryMarshal.Read<ushort>(batch.Slice(offset + 2));
            if (length < 4 || offset + length > end)
            {
                return false;
            }

            switch (type)
            {
                case Fanotify.FAN_EVENT_INFO_TYPE_FID:
                    info.FidOffset = ValidFidOffset(batch, offset, length, named: false);
                    break;
                case Fanotify.FAN_EVENT_INFO_TYPE_DFID_NAME:
                    info.DfidNameOffset = ValidFidOffset(batch, offset, length, named: true);
                    break;
                case Fanotify.FAN_EVENT_INFO_TYPE_DFID:
                    info.DfidOffset = ValidFidOffset(batch, offset, length, named: false);
                    break;
                case Fanotify.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME:
                    info.OldDfidNameOffset = ValidFidOffset(batch, offset, length, named: true);
                    break;
                case Fanotify.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME:
                    info.NewDfidNameOffset = ValidFidOffset(batch, offset, length, named: true);
                    break;
                case Fanotify.FAN_EVENT_INFO_TYPE_PIDFD when length >= 8:
                    info.PidFd = MemoryMarshal.Read<int>(batch.Slice(offset + 4));
                    info.HasPidFd = true;
                    break;
                case Fanotify.FAN_EVENT_INFO_TYPE_ERROR when length >= 12:
                    info.HasError = true;
                    info.Error = MemoryMarshal.Read<int>(batch.Slice(offset + 4));
                    info.ErrorCount = MemoryMarshal.Read<int>(batch.Slice(offset + 8));
                    break;
            }

            offset += length;
        }

        return true;
    }

    /// <summary>The record's offset if its file handle (and name) fit inside it, else -1.</summary>
    private static int ValidFidOffset(ReadOnlySpan<byte> batch, int offset, int length, bool named)
    {
        if (length < FidHeaderLength + FileHandleHeaderLength)
        {
            return -1;
        }

        uint handleBytes = MemoryMarshal.Read<uint>(batch.Slice(offset + FidHeaderLength));
        long used = FidHeaderLength + FileHandleHeaderLength + (long)handleBytes + (named ? 1 : 0);
        return used <= length ? offset : -1;
    }

    public static ulong FsId(ReadOnlySpan<byte> batch, int fidOffset) => MemoryMarshal.Read<ulong>(batch.Slice(fidOffset + 4));

    /// <summary>The struct file_handle (header and f_handle) of a FID record, as open_by_handle_at takes it.</summary>
    public static ReadOnlySpan<byte> FileHandle(ReadOnlySpan<byte> batch, int fidOffset)
    {
        uint handleBytes = MemoryMarshal.Read<uint>(batch.Slice(fidOffset + FidHeaderLength));
        return batch.Slice(fidOffset + FidHeaderLength, FileHandleHeaderLength + (int)handleBytes);
    }

    /// <summary>The name after the file handle of a *_DFID_NAME record, without its NUL.</summary>
    public static ReadOnlySpan<byte> Name(ReadOnlySpan<byte> batch, int fidOffset)
    {
        ReadOnlySpan<byte> handle = FileHandle(batch, fidOffset);
        int start = fidOffset + FidHeaderLength + handle.Length;
        int length = MemoryMarshal.Read<ushort>(batch.Slice(fidOffset + 2)) - (start - fidOffset);
        ReadOnlySpan<byte> rest = batch.Slice(start, length);
        int nul = rest.IndexOf((byte)0);
        return nul < 0 ? rest : rest.Slice(0, nul);
    }
}
