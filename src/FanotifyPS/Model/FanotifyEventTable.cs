using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Management.Automation;
using System.Management.Automation.Host;
using System.Text;

namespace FanotifyPS;

/// <summary>
/// The default table of events (FanotifyPS.format.ps1xml), laid out for the width of the output. A format file
/// gives a column a fixed width or an equal share of what is left, and a column it trims loses the end of a
/// left-aligned text: neither keeps a file name whole at 80 columns and lets Exe and Path grow on a wide screen.
/// So the view is one column whose text this class lays out, column labels included.
/// </summary>
/// <remarks>
/// The labels come with the first row of each day's table: PowerShell writes a blank line after a group's header,
/// which would part them from their rows. <see cref="GroupHeader"/> (the view's GroupBy) marks that a table starts;
/// the next <see cref="Row"/> on the same thread draws the labels. PowerShell evaluates a group's header once, when
/// the group starts, right before that group's first row, on the thread that formats both.
/// Widths count terminal cells as PowerShell's table writer does (East Asian wide and fullwidth characters are two),
/// so that a laid-out line is exactly as wide as PowerShell measures it. Every name is escaped (<see cref="FanotifyEvent.Printable"/>).
/// A view's script cannot see Out-String -Width or Out-File -Width: the table follows the terminal (<see cref="Width"/>),
/// and where the output is narrower its lines wrap (the view's Wrap) rather than lose the file name.
/// </remarks>
public static class FanotifyEventTable
{
    [ThreadStatic]
    private static bool t_tableStarts;

    /// <summary>The columns when no host or console says: PowerShell's own for tables.</summary>
    internal const int DefaultWidth = 120;

    /// <summary>From this many columns the table shows Exe (the program's path) instead of the process's name.</summary>
    internal const int ExeFromWidth = 120;

    internal const int TimeWidth = 12;       // HH:mm:ss.fff
    internal const int PidWidth = 7;         // PID_MAX_LIMIT is 4194304 on 64-bit kernels
    private const int Separators = 5;        // six columns, one space between each two
    private const char Ellipsis = '…';

    /// <summary>
    /// The columns of the terminal PowerShell lays a table out for when the output is not given a width: the host's
    /// buffer (what Out-Default writes to), else the console window (what Out-String and Out-File use), else 120
    /// (PowerShell's own where neither says a width: a host without a console).
    /// </summary>
    public static int Width(PSHost? host)
    {
        int width = 0;
        try
        {
            width = host?.UI?.RawUI?.BufferSize.Width ?? 0;
        }
        catch (Exception e) when (e is HostException or NotImplementedException or NotSupportedException or IOException or InvalidOperationException)
        {
            // A host without a raw UI.
        }

        if (width <= 0)
        {
            try
            {
                width = Console.WindowWidth;
            }
            catch (Exception e) when (e is IOException or PlatformNotSupportedException or InvalidOperationException)
            {
                // No console.
            }
        }

        return width > 0 ? width : DefaultWidth;
    }

    /// <summary>
    /// The line that heads a day's table ("   Date: 2026-12-08", as PowerShell writes a group's label); the next row
    /// formatted on this thread starts with the column labels.
    /// </summary>
    public static string GroupHeader(object? fanotifyEvent)
    {
        t_tableStarts = true;
        return "   Date: " + Facts.Of(fanotifyEvent).Time.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
    }

    /// <summary>The column labels and their dashes, each line in <paramref name="style"/> when one is given.</summary>
    internal static string Header(int columns, string? style, string? reset)
    {
        return Header(Layout(columns), style, reset);
    }

    private static string Header(EventTableColumns columns, string? style, string? reset)
    {
        string process = columns.ShowsExe ? "Exe" : "Process";
        string labels = Line(columns, "Time", "Event", "Pid", "User", process, "Path");
        string dashes = Line(columns, "----", "-----", "---", "----", new string('-', process.Length), "----");
        return string.IsNullOrEmpty(style)
            ? labels + "\n" + dashes
            : style + labels + reset + "\n" + style + dashes + reset;

        static string Line(EventTableColumns columns, string time, string kind, string pid, string user, string process, string path)
        {
            var line = new StringBuilder();
            AppendLeft(line, time, TimeWidth).Append(' ');
            AppendLeft(line, TrimEnd(kind, columns.Event), columns.Event).Append(' ');
            AppendRight(line, pid, PidWidth).Append(' ');
            AppendLeft(line, TrimEnd(user, columns.User), columns.User).Append(' ');
            AppendLeft(line, TrimEnd(process, columns.Process), columns.Process).Append(' ');
            line.Append(TrimEnd(path, columns.Path));
            return line.ToString();
        }
    }

    /// <summary>
    /// One event, a FanotifyEvent or its deserialized form, as the lines of its row, under the column labels (in
    /// <paramref name="headerStyle"/>) when it is the first of a table. The event's kind is written in
    /// <paramref name="eventColour"/> when one is given; the verdict follows it in words. The Event column wraps
    /// rather than cut a merged event or a verdict; the other columns are on the first line.
    /// </summary>
    public static string Row(object? fanotifyEvent, int columns, string? eventColour, string? headerStyle, string? reset)
    {
        EventTableColumns widths = Layout(columns);
        var row = new StringBuilder();
        if (t_tableStarts)
        {
            t_tableStarts = false;
            row.Append(Header(widths, headerStyle, reset)).Append('\n');
        }

        Facts facts = Facts.Of(fanotifyEvent);
        string verdict = facts.Response switch
        {
            FanotifyResponse.Deny => "(denied)",
            FanotifyResponse.WouldDeny => "(would deny)",
            _ => string.Empty,
        };
        List<EventLine> eventLines = WrapEvent(facts.Kind.ToString(), verdict, widths.Event);

        string process;
        if (widths.ShowsExe)
        {
            process = TrimStart(facts.Exe.Length != 0 ? FanotifyEvent.Printable(facts.Exe) : facts.IsProcessGone ? "(gone)" : string.Empty, widths.Process);
        }
        else
        {
            // The name the process has (comm), else its program's file name.
            string name = facts.ProcessName.Length != 0 ? facts.ProcessName : System.IO.Path.GetFileName(facts.Exe);
            process = TrimEnd(name.Length != 0 ? FanotifyEvent.Printable(name) : facts.IsProcessGone ? "(gone)" : string.Empty, widths.Process);
        }

        string path = FanotifyEvent.Printable(facts.Path);
        if (facts.OldPath.Length != 0)
        {
            path = FanotifyEvent.Printable(facts.OldPath) + " -> " + path;
        }

        if (facts.IsDeleted)
        {
            path += " (deleted)";
        }

        AppendLeft(row, facts.Time.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture), TimeWidth).Append(' ');
        AppendEvent(row, eventLines[0], widths.Event, eventColour, reset).Append(' ');
        AppendRight(row, facts.ProcessId.ToString(CultureInfo.InvariantCulture), PidWidth).Append(' ');
        AppendLeft(row, TrimEnd(FanotifyEvent.Printable(facts.User), widths.User), widths.User).Append(' ');
        AppendLeft(row, process, widths.Process).Append(' ');
        row.Append(TrimStart(path, widths.Path));
        TrimTrailingSpaces(row);
        for (int i = 1; i < eventLines.Count; i++)
        {
            row.Append('\n').Append(' ', TimeWidth + 1);
            AppendEvent(row, eventLines[i], widths.Event, eventColour, reset);
            TrimTrailingSpaces(row);
        }

        return row.ToString();
    }

    /// <summary>
    /// The widths on a terminal of <paramref name="columns"/>, Time (12) and Pid (7) aside. The table is one cell
    /// narrower: PowerShell leaves the console's last column free. On 80 columns Path gets 31 (an ellipsis and a file
    /// name of 30), Event 12 (the longest single name), User 5 and Process 7. Wider, User takes one more, then half
    /// of what is over goes to Path and half to User (8), Process (the 15 of a process name) and Event (21, "OpenPerm
    /// (would deny)"). From 120 columns Process becomes Exe: a third of what Event (21) and User (8, up to 16 at 200)
    /// leave, 22 to 40 (/usr/bin/ and a name of 13 at least), and Path has the rest. Narrower than 80, Path gives up
    /// to 11 first, then Process, User and Event, then Path again.
    /// </summary>
    internal static EventTableColumns Layout(int columns)
    {
        int width = columns - 1;
        if (columns >= ExeFromWidth)
        {
            const int Kind = 21;
            int user = Math.Min(16, 8 + ((columns - ExeFromWidth) / 10));
            int rest = width - TimeWidth - PidWidth - Separators - Kind - user;
            int exe = Math.Clamp(rest / 3, 22, 40);
            return new EventTableColumns(Kind, user, exe, ShowsExe: true, rest - exe);
        }

        int eventWidth = 12, userWidth = 5, processWidth = 7, pathWidth = 31;
        int over = width - (TimeWidth + PidWidth + Separators + eventWidth + userWidth + processWidth + pathWidth);
        if (over >= 0)
        {
            over -= Grow(ref userWidth, 6, over);
            int toPath = (over + 1) / 2;
            int left = over - toPath;
            pathWidth += toPath;
            left -= Grow(ref userWidth, 8, left);
            left -= Grow(ref processWidth, 15, left);
            left -= Grow(ref eventWidth, 21, left);
            pathWidth += left;
        }
        else
        {
            int missing = -over;
            missing -= Shrink(ref pathWidth, 20, missing);
            missing -= Shrink(ref processWidth, 4, missing);
            missing -= Shrink(ref userWidth, 4, missing);
            missing -= Shrink(ref eventWidth, 8, missing);
            Shrink(ref pathWidth, 8, missing);
        }

        return new EventTableColumns(eventWidth, userWidth, processWidth, ShowsExe: false, pathWidth);

        static int Grow(ref int value, int most, int by)
        {
            int step = Math.Min(Math.Max(most - value, 0), by);
            value += step;
            return step;
        }

        static int Shrink(ref int value, int least, int by)
        {
            int step = Math.Min(Math.Max(value - least, 0), by);
            value -= step;
            return step;
        }
    }

    /// <summary>
    /// The event's names and its verdict in lines of at most <paramref name="cells"/>: merged names with ", " between
    /// them while they fit, else one below the other (as the rule table shows a rule's events); the verdict after a
    /// space or on its own line. A name longer than a line is cut with an ellipsis.
    /// </summary>
    internal static List<EventLine> WrapEvent(string kind, string verdict, int cells)
    {
        var lines = new List<EventLine>();
        var kindPart = new StringBuilder();
        foreach (string name in kind.Split(", "))
        {
            string word = TrimEnd(name, cells);
            if (kindPart.Length != 0 && Cells(kindPart.ToString()) + 2 + Cells(word) > cells)
            {
                lines.Add(new EventLine(kindPart.ToString(), string.Empty));
                kindPart.Clear();
            }

            if (kindPart.Length != 0)
            {
                kindPart.Append(", ");
            }

            kindPart.Append(word);
        }

        string last = kindPart.ToString();
        if (verdict.Length != 0)
        {
            string words = TrimEnd(verdict, cells);
            if (Cells(last) + 1 + Cells(words) > cells)
            {
                lines.Add(new EventLine(last, string.Empty));
                last = string.Empty;
            }

            lines.Add(new EventLine(last, words));
        }
        else
        {
            lines.Add(new EventLine(last, string.Empty));
        }

        return lines;
    }

    /// <summary>The text, or an ellipsis and as much of its end as fits in <paramref name="cells"/>.</summary>
    internal static string TrimStart(string text, int cells)
    {
        if (Cells(text) <= cells)
        {
            return text;
        }

        if (cells <= 0)
        {
            return string.Empty;
        }

        int start = text.Length;
        int used = 1;
        while (start > 0 && used + Cells(text[start - 1]) <= cells)
        {
            used += Cells(text[--start]);
        }

        if (start < text.Length && char.IsLowSurrogate(text[start]))
        {
            start++;   // never half a pair
        }

        return Ellipsis + text.Substring(start);
    }

    /// <summary>The text, or as much of its start as fits in <paramref name="cells"/> and an ellipsis.</summary>
    internal static string TrimEnd(string text, int cells)
    {
        if (Cells(text) <= cells)
        {
            return text;
        }

        if (cells <= 0)
        {
            return string.Empty;
        }

        int end = 0;
        int used = 1;
        while (end < text.Length && used + Cells(text[end]) <= cells)
        {
            used += Cells(text[end++]);
        }

        if (end > 0 && char.IsHighSurrogate(text[end - 1]))
        {
            end--;   // never half a pair
        }

        return text.Substring(0, end) + Ellipsis;
    }

    /// <summary>Terminal cells of a text, counted as PowerShell's table writer counts them.</summary>
    internal static int Cells(string text)
    {
        int cells = 0;
        foreach (char c in text)
        {
            cells += Cells(c);
        }

        return cells;
    }

    // Markus Kuhn's wcwidth ranges of East Asian wide and fullwidth characters, which PowerShell uses too. Each
    // half of a surrogate pair counts one: two for a character beyond the BMP, as PowerShell counts it.
    private static int Cells(char c) =>
        c >= 0x1100 && (c <= 0x115f || c == 0x2329 || c == 0x232a || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f)
            || (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe10 && c <= 0xfe19)
            || (c >= 0xfe30 && c <= 0xfe6f) || (c >= 0xff00 && c <= 0xff60) || (c >= 0xffe0 && c <= 0xffe6))
            ? 2
            : 1;

    private static StringBuilder AppendLeft(StringBuilder line, string text, int cells) =>
        line.Append(text).Append(' ', Math.Max(cells - Cells(text), 0));

    private static StringBuilder AppendRight(StringBuilder line, string text, int cells) =>
        line.Append(' ', Math.Max(cells - Cells(text), 0)).Append(text);

    // The kind in its colour, the verdict after it in words, padded by what is seen (the colour takes no cell).
    private static StringBuilder AppendEvent(StringBuilder line, EventLine text, int cells, string? colour, string? reset)
    {
        if (text.Kind.Length != 0 && !string.IsNullOrEmpty(colour))
        {
            line.Append(colour).Append(text.Kind).Append(reset);
        }
        else
        {
            line.Append(text.Kind);
        }

        int used = Cells(text.Kind);
        if (text.Verdict.Length != 0)
        {
            if (text.Kind.Length != 0)
            {
                line.Append(' ');
                used++;
            }

            line.Append(text.Verdict);
            used += Cells(text.Verdict);
        }

        return line.Append(' ', Math.Max(cells - used, 0));
    }

    private static void TrimTrailingSpaces(StringBuilder line)
    {
        int end = line.Length;
        while (end > 0 && line[end - 1] == ' ')
        {
            end--;
        }

        line.Length = end;
    }

    /// <summary>What the row shows of an event, read from a FanotifyEvent or from its deserialized properties.</summary>
    private readonly record struct Facts(
        DateTime Time, FanotifyEventType Kind, FanotifyResponse Response, int ProcessId, string User, string ProcessName,
        string Exe, bool IsProcessGone, string Path, string OldPath, bool IsDeleted)
    {
        public static Facts Of(object? value)
        {
            object? target = value is PSObject wrapped ? wrapped.BaseObject : value;
            if (target is FanotifyEvent e)
            {
                return new Facts(e.TimeStamp, e.Event, e.Response, e.ProcessId, e.UserName, e.ProcessName, e.Exe,
                    e.IsProcessGone, e.Path, e.OldPath, e.IsDeleted);
            }

            // A deserialized event read before the module was imported: Event and Response may be numbers, and
            // a property another version did not have is missing. Whatever does not convert is left out.
            PSObject source = PSObject.AsPSObject(value ?? string.Empty);
            string user = Get(source, nameof(FanotifyEvent.UserName), string.Empty);
            if (user.Length == 0 && Get<int?>(source, nameof(FanotifyEvent.UserId), null) is int uid and >= 0)
            {
                user = uid.ToString(CultureInfo.InvariantCulture);
            }

            return new Facts(
                Get(source, nameof(FanotifyEvent.TimeStamp), default(DateTime)),
                Get(source, nameof(FanotifyEvent.Event), FanotifyEventType.None),
                Get(source, nameof(FanotifyEvent.Response), FanotifyResponse.None),
                Get(source, nameof(FanotifyEvent.ProcessId), 0),
                user,
                Get(source, nameof(FanotifyEvent.ProcessName), string.Empty),
                Get(source, nameof(FanotifyEvent.Exe), string.Empty),
                Get(source, nameof(FanotifyEvent.IsProcessGone), false),
                Get(source, nameof(FanotifyEvent.Path), string.Empty),
                Get(source, nameof(FanotifyEvent.OldPath), string.Empty),
                Get(source, nameof(FanotifyEvent.IsDeleted), false));
        }

        private static T Get<T>(PSObject source, string name, T missing)
        {
            object? value = source.Properties[name]?.Value;
            return value is not null && LanguagePrimitives.TryConvertTo(value, CultureInfo.InvariantCulture, out T converted)
                ? converted
                : missing;
        }
    }
}

/// <summary>The widths of the Event, User, Process (or Exe) and Path columns of the event table.</summary>
internal readonly record struct EventTableColumns(int Event, int User, int Process, bool ShowsExe, int Path);

/// <summary>One line of the Event column: names of the event, and its verdict in words.</summary>
internal readonly record struct EventLine(string Kind, string Verdict);
