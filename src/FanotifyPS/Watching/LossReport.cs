using System;
using System.Management.Automation;

namespace FanotifyPS.Watching;

/// <summary>
/// Keeps at most one unread warning about a growing loss counter in a job's Warning stream: an unread warning is
/// replaced by one with the new total, so a watch that drops for hours holds one record, not thousands.
/// </summary>
internal sealed class LossReport(Func<long, string> message)
{
    private long _read;   // losses covered by warnings a reader has taken
    private WarningRecord? _unread;
    private long _unreadUpTo;

    /// <summary>Callers serialize calls (LossWarnings holds its lock).</summary>
    public void Publish(long total, PSDataCollection<WarningRecord> warnings)
    {
        if (_unread is not null)
        {
            if (total == _unreadUpTo && warnings.Contains(_unread))
            {
                return;
            }

            if (!warnings.Remove(_unread))
            {
                _read = _unreadUpTo;   // a reader took it
            }

            _unread = null;
        }

        if (total > _read)
        {
            _unread = new WarningRecord(message(total - _read));
            _unreadUpTo = total;
            warnings.Add(_unread);
        }
    }
}

/// <summary>A watch's loss warnings: drops (its buffer was full), losses (no fd left), unnamed processes, and the process connector's losses.</summary>
internal sealed class LossWarnings(int watchId, int bufferSize)
{
    private readonly object _lock = new();
    private readonly LossReport _drops = new(n => $"Watch {watchId} dropped {n} events: its buffer of {bufferSize} events was full. " +
        "Read the events faster, or start the watch with a larger -BufferSize.");
    private readonly LossReport _lost = new(n => $"Watch {watchId} lost {n} events: the kernel could not open a file descriptor for them " +
        "(EMFILE/ENFILE; a permission event is then denied). Raise the open file limit (ulimit -n).");
    private readonly LossReport _unnamed = new(n => $"Watch {watchId} left out {n} events whose process had exited before it could be named: " +
        "-Exe cannot match a program nobody knows (nor -LoginUser or -ContainerId a process never read). They are counted in FilteredCount.");
    private readonly LossReport _processEvents = new(n => $"Watch {watchId}: the kernel's process events connector lost messages ({n} times since the watch started; " +
        "its buffer overflowed, or it failed). From then on, processes that exit before their events are read are named less often. Names stay correct.");

    /// <summary>From the pump and from readers, one at a time.</summary>
    public void Publish(Watcher watcher, PSDataCollection<WarningRecord> warnings)
    {
        lock (_lock)
        {
            // Counted under the lock: a publisher with older counts cannot come after one with newer ones.
            _drops.Publish(watcher.DroppedCount, warnings);
            _lost.Publish(watcher.LostCount, warnings);
            _unnamed.Publish(watcher.UnnamedCount, warnings);
            _processEvents.Publish(watcher.ProcessEventLossCount, warnings);
        }
    }
}
