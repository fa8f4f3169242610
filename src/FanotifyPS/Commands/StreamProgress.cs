using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Host;
using FanotifyPS.Interop;

namespace FanotifyPS.Commands;

/// <summary>
/// The progress of a timed (-Timeout) or counted (-Count) stream of Get-FanotifyEvent: elapsed and remaining time,
/// events returned, drops. Written from the pipeline thread, at most every <see cref="IntervalMilliseconds"/>. Names
/// are escaped as the views escape them: the bar is drawn on the terminal.
/// </summary>
/// <remarks>
/// pwsh's console host reads the cursor position to draw or take down a bar: it sets the terminal's modes
/// (tcsetattr on standard input) and reads the terminal's answer. The kernel stops a process that does either from
/// a process group in the background of its terminal (SIGTTOU, SIGTTIN), every thread of it: the stream, its
/// -Timeout and its watch would wait until fg, or forever. A shell script that runs pwsh under timeout(1) gives it
/// such a group, as does a job started with &amp;. So the console host gets a record only while pwsh's group is
/// the terminal's foreground one, looked at before each record: a job brought to the foreground gets its bar.
/// </remarks>
internal sealed class StreamProgress
{
    /// <summary>The most often the bar changes; also how long the stream waits at most between updates while nothing comes.</summary>
    internal const int IntervalMilliseconds = 250;

    private const int ActivityId = 0x46414E;

    private readonly Cmdlet _cmdlet;
    private readonly bool _onTerminal;
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
    internal static bool CanBeSeen(PSHost host) => !IsConsoleHost(host) || !Console.IsOutputRedirected;

    private static bool IsConsoleHost(PSHost host) => string.Equals(host.Name, "ConsoleHost", StringComparison.Ordinal);

    /// <summary>
    /// This process's group is in the background of its terminal (standard input's or output's): a console host
    /// that drew a bar now would stop it. False where they are no terminal of this process (no job control there).
    /// </summary>
    internal static bool InTerminalBackground()
    {
        int group = Libc.getpgrp();
        int input = Libc.tcgetpgrp(Libc.STDIN_FILENO);
        int output = Libc.tcgetpgrp(Libc.STDOUT_FILENO);
        return (input > 0 && input != group) || (output > 0 && output != group);
    }

    internal StreamProgress(Cmdlet cmdlet, PSHost host, List<FanotifyWatch> watches, double? timeout, int count)
    {
        _cmdlet = cmdlet;
        _onTerminal = IsConsoleHost(host);
        _watches = watches;
        _timeout = timeout;
        _count = count;
        _activity = watches.Count == 1
            ? $"Get-FanotifyEvent: watch {watches[0].Id} ({PathText.Escape(watches[0].Name)}) on {string.Join(", ", watches[0].Path.Select(PathText.Escape))}"
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

        if (_onTerminal && InTerminalBackground())
        {
            return;   // drawn would be stopped: see the remarks
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
    /// Not from the background of the terminal (a job put there after its bar was drawn): taking it down would stop
    /// this process before its watch is stopped.
    /// </summary>
    internal void Complete()
    {
        if (_shown is null || (_onTerminal && InTerminalBackground()))
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
