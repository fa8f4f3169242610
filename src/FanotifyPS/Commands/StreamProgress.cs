using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Host;

namespace FanotifyPS.Commands;

/// <summary>
/// The progress of a timed (-Timeout) or counted (-Count) stream of Get-FanotifyEvent: elapsed and remaining time,
/// events returned, drops. Written from the pipeline thread, at most every <see cref="IntervalMilliseconds"/>. Names
/// are escaped as the views escape them: the bar is drawn on the terminal.
/// </summary>
internal sealed class StreamProgress
{
    /// <summary>The most often the bar changes; also how long the stream waits at most between updates while nothing comes.</summary>
    internal const int IntervalMilliseconds = 250;

    private const int ActivityId = 0x46414E;

    private readonly Cmdlet _cmdlet;
    private readonly List<FanotifyWatch> _watches;
    private readonly double? _timeout;
    private readonly int _count;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly string _activity;
    private ProgressRecord? _shown;
    private TimeSpan _last = TimeSpan.FromMilliseconds(-IntervalMilliseconds);

    /// <summary>
    /// Whether a bar can be seen at all: pwsh's console host draws it on its standard output, and when that is a
    /// file or a pipe nobody sees it, while drawing it still costs (a waiting reader would use CPU for nothing).
    /// Other hosts (an editor's, a runspace's) decide for themselves.
    /// </summary>
    internal static bool CanBeSeen(PSHost host) =>
        !string.Equals(host.Name, "ConsoleHost", StringComparison.Ordinal) || !Console.IsOutputRedirected;

    internal StreamProgress(Cmdlet cmdlet, List<FanotifyWatch> watches, double? timeout, int count)
    {
        _cmdlet = cmdlet;
        _watches = watches;
        _timeout = timeout;
        _count = count;
        _activity = watches.Count == 1
            ? $"Get-FanotifyEvent: watch {watches[0].Id} ({Interop.PathText.Escape(watches[0].Name)}) on {string.Join(", ", watches[0].Path.Select(Interop.PathText.Escape))}"
            : $"Get-FanotifyEvent: watches {string.Join(", ", watches.Select(w => w.Id.ToString(CultureInfo.InvariantCulture)))}";
    }

    internal void Update(long events)
    {
        TimeSpan elapsed = _clock.Elapsed;
        if ((elapsed - _last).TotalMilliseconds < IntervalMilliseconds)
        {
            return;
        }

        _last = elapsed;
        long dropped = _watches.Sum(w => w.DroppedCount);
        string counted = _count > 0 ? $"{events} of {_count} events" : $"{events} event{(events == 1 ? string.Empty : "s")}";
        int seconds = (int)elapsed.TotalSeconds;
        string timed = _timeout is { } timeout
            ? $", {seconds} s of {timeout:0.###} s ({Math.Ceiling(Math.Max(0, timeout - elapsed.TotalSeconds))} s left)"
            : $", {seconds} s";
        double done = Math.Max(_count > 0 ? (double)events / _count : 0, _timeout is { } t && t > 0 ? elapsed.TotalSeconds / t : 0);
        string status = string.Create(CultureInfo.CurrentCulture, $"{counted}{timed}, {dropped} dropped");
        int percent = (int)Math.Clamp(done * 100, 0, 100);
        if (_shown is not null && _shown.PercentComplete == percent && string.Equals(_shown.StatusDescription, status, StringComparison.Ordinal))
        {
            return;   // nothing to redraw: an idle counted stream writes nothing
        }

        // A new record each time (a host may keep the ones it got), under one id: the one bar of this command.
        _shown = new ProgressRecord(ActivityId, _activity, status)
        {
            PercentComplete = percent,
            SecondsRemaining = _timeout is { } limit ? (int)Math.Max(0, Math.Ceiling(limit - elapsed.TotalSeconds)) : -1,
        };
        _cmdlet.WriteProgress(_shown);
    }

    /// <summary>
    /// Ends the bar, once something was shown; also after a downstream stop (Select-Object -First). After Ctrl+C the
    /// pipeline takes no more records: the console host takes the bar down itself, at the end of the command line.
    /// </summary>
    internal void Complete()
    {
        if (_shown is null)
        {
            return;
        }

        var completed = new ProgressRecord(ActivityId, _activity, _shown.StatusDescription) { RecordType = ProgressRecordType.Completed };
        _shown = null;
        try
        {
            _cmdlet.WriteProgress(completed);
        }
        catch (PipelineStoppedException)
        {
            // Ctrl+C: see above.
        }
    }
}
