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

    /// <summary>Callers serialize calls (the watch holds its loss lock).</summary>
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
