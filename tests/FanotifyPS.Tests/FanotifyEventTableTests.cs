using System;
using System.Linq;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>
/// The default event table's layout: widths that fill the terminal, a file name kept whole, Path trimmed on the
/// left, an Event column that wraps rather than cut, names escaped. The view itself runs in tests/Pester/Views.Tests.ps1.
/// </summary>
public class FanotifyEventTableTests
{
    private const string Name30 = "a-leafname-of-thirty-chars.txt";

    private static FanotifyEvent Event(FanotifyEventType type = FanotifyEventType.CloseWrite, string path = "/tmp/dir/file.txt",
        string exe = "/usr/bin/cat", FanotifyResponse response = FanotifyResponse.None, string processName = "cat", int? uid = 0) =>
        new(new DateTime(2026, 3, 4, 5, 6, 7, 890, DateTimeKind.Utc), type, path, false, 4194303, exe, false, response, 1)
        {
            ProcessName = processName,
            UserId = uid,
        };

    private static string[] Lines(string row) => row.Split('\n');

    [Fact]
    public void Eighty_columns_give_path_an_ellipsis_and_thirty_cells()
    {
        EventTableColumns columns = FanotifyEventTable.Layout(80);
        Assert.Equal(new EventTableColumns(Event: 12, User: 5, Process: 7, ShowsExe: false, Path: 31), columns);
    }

    [Theory]
    [InlineData(40)]
    [InlineData(60)]
    [InlineData(79)]
    [InlineData(80)]
    [InlineData(81)]
    [InlineData(100)]
    [InlineData(119)]
    [InlineData(120)]
    [InlineData(121)]
    [InlineData(160)]
    [InlineData(200)]
    [InlineData(400)]
    public void The_columns_fill_the_terminal_but_its_last_cell(int terminal)
    {
        EventTableColumns c = FanotifyEventTable.Layout(terminal);
        int table = FanotifyEventTable.TimeWidth + c.Event + FanotifyEventTable.PidWidth + c.User + c.Process + c.Path + 5;
        // Below the narrowest layout (48 cells) the lines are wider than the terminal, and PowerShell wraps them.
        Assert.Equal(Math.Max(terminal - 1, 48), table);
    }

    [Fact]
    public void Path_grows_with_the_terminal_and_Exe_shows_from_120_columns()
    {
        int previous = 0;
        for (int terminal = 80; terminal < 120; terminal++)
        {
            EventTableColumns c = FanotifyEventTable.Layout(terminal);
            Assert.False(c.ShowsExe);
            Assert.True(c.Path >= previous, $"Path shrinks at {terminal}");
            previous = c.Path;
        }

        previous = 0;
        int previousExe = 0;
        for (int terminal = 120; terminal <= 300; terminal++)
        {
            EventTableColumns c = FanotifyEventTable.Layout(terminal);
            Assert.True(c.ShowsExe);
            Assert.True(c.Path >= previous, $"Path shrinks at {terminal}");
            Assert.True(c.Process >= previousExe, $"Exe shrinks at {terminal}");
            Assert.InRange(c.Process, 22, 40);
            previous = c.Path;
            previousExe = c.Process;
        }

        Assert.Equal(new EventTableColumns(Event: 21, User: 8, Process: 22, ShowsExe: true, Path: 44), FanotifyEventTable.Layout(120));
        Assert.Equal(new EventTableColumns(Event: 21, User: 16, Process: 40, ShowsExe: true, Path: 98), FanotifyEventTable.Layout(200));
    }

    [Fact]
    public void Trimming_keeps_the_end_or_the_start_and_says_so_with_an_ellipsis()
    {
        Assert.Equal("abcdef", FanotifyEventTable.TrimStart("abcdef", 6));
        Assert.Equal("…def", FanotifyEventTable.TrimStart("abcdef", 4));
        Assert.Equal("abc…", FanotifyEventTable.TrimEnd("abcdef", 4));
        Assert.Equal("…", FanotifyEventTable.TrimStart("abcdef", 1));
        Assert.Equal(string.Empty, FanotifyEventTable.TrimEnd("abcdef", 0));
    }

    [Fact]
    public void Trimming_counts_wide_characters_as_two_cells_and_never_splits_a_pair()
    {
        // Two CJK characters are four cells: in four cells the ellipsis leaves room for one of them.
        Assert.Equal(4, FanotifyEventTable.Cells("日本"));
        Assert.Equal("…本", FanotifyEventTable.TrimStart("x日本", 4));
        string emoji = char.ConvertFromUtf32(0x1F4BB);
        Assert.Equal(2, FanotifyEventTable.Cells(emoji));
        Assert.Equal("…", FanotifyEventTable.TrimStart("a" + emoji, 2));
        Assert.Equal("…" + emoji, FanotifyEventTable.TrimStart("ab" + emoji, 3));
        Assert.Equal("…", FanotifyEventTable.TrimEnd(emoji + "a", 2));
    }

    [Fact]
    public void Merged_events_and_verdicts_wrap_between_words()
    {
        Assert.Equal([new EventLine("CloseNoWrite, Open", string.Empty)],
            FanotifyEventTable.WrapEvent("CloseNoWrite, Open", string.Empty, 21));
        Assert.Equal([new EventLine("CloseNoWrite", string.Empty), new EventLine("Open", string.Empty)],
            FanotifyEventTable.WrapEvent("CloseNoWrite, Open", string.Empty, 12));
        Assert.Equal([new EventLine("Modify, Open", string.Empty), new EventLine("CloseWrite", string.Empty)],
            FanotifyEventTable.WrapEvent("Modify, Open, CloseWrite", string.Empty, 12));
        Assert.Equal([new EventLine("OpenPerm", "(would deny)")],
            FanotifyEventTable.WrapEvent("OpenPerm", "(would deny)", 21));
        Assert.Equal([new EventLine("OpenPerm", string.Empty), new EventLine(string.Empty, "(would deny)")],
            FanotifyEventTable.WrapEvent("OpenPerm", "(would deny)", 12));
        Assert.Equal([new EventLine("OpenExec…", string.Empty)],
            FanotifyEventTable.WrapEvent("OpenExecPerm", string.Empty, 9));
    }

    [Fact]
    public void A_row_at_80_columns_keeps_a_file_name_of_30_whole_and_shows_root()
    {
        FanotifyEvent e = Event(path: "/tmp/a-rather-long-directory-name/and-another-one/" + Name30);
        string row = FanotifyEventTable.Row(e, 80, null, null, null);
        string line = Assert.Single(Lines(row));
        Assert.True(line.Length <= 79, line);
        Assert.EndsWith(" …" + Name30, line, StringComparison.Ordinal);
        Assert.Equal(e.TimeStamp.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture) + " CloseWrite   4194303 root  cat     …" + Name30, line);
    }

    [Fact]
    public void A_row_from_120_columns_shows_the_whole_exe_and_a_path_that_fits()
    {
        FanotifyEvent e = Event(path: "/tmp/dir/" + Name30, exe: "/usr/bin/python3.12", processName: "myscript.py");
        string line = Assert.Single(Lines(FanotifyEventTable.Row(e, 120, null, null, null)));
        Assert.Contains(" root     /usr/bin/python3.12 ", line, StringComparison.Ordinal);
        Assert.EndsWith(" /tmp/dir/" + Name30, line, StringComparison.Ordinal);
        Assert.DoesNotContain("myscript", line, StringComparison.Ordinal);

        // Narrower, the process's own name (comm) in place of Exe.
        Assert.Contains(" myscri… ", FanotifyEventTable.Row(e, 80, null, null, null), StringComparison.Ordinal);
        Assert.Contains(" myscript.py ", FanotifyEventTable.Row(e, 119, null, null, null), StringComparison.Ordinal);
    }

    [Fact]
    public void Path_is_left_aligned_in_every_row()
    {
        string[] rows =
        [
            FanotifyEventTable.Row(Event(path: "/a"), 100, null, null, null),
            FanotifyEventTable.Row(Event(path: "/tmp/" + new string('x', 200)), 100, null, null, null),
            FanotifyEventTable.Row(Event(FanotifyEventType.OpenPerm, "/b", response: FanotifyResponse.Deny), 100, null, null, null),
        ];
        int[] starts = rows.Select(r => Lines(r)[0].LastIndexOf(' ') + 1).ToArray();
        Assert.All(starts, s => Assert.Equal(starts[0], s));
    }

    [Fact]
    public void The_user_is_its_name_else_its_uid_and_empty_when_unknown()
    {
        Assert.Contains(" root ", FanotifyEventTable.Row(Event(uid: 0), 120, null, null, null), StringComparison.Ordinal);
        Assert.Contains(" 4242 ", FanotifyEventTable.Row(Event(uid: 4242), 120, null, null, null), StringComparison.Ordinal);
        Assert.Contains(" 4194303          /usr/bin/cat ", FanotifyEventTable.Row(Event(uid: null), 120, null, null, null), StringComparison.Ordinal);
    }

    [Fact]
    public void Names_are_escaped_in_every_column()
    {
        FanotifyEvent e = Event(path: "/tmp/x\u202Ey", exe: "/tmp/c\u009Bat", processName: "p\u001B[7m");
        foreach (int columns in new[] { 80, 200 })
        {
            string row = FanotifyEventTable.Row(e, columns, null, null, null);
            Assert.DoesNotContain('\u001B', row);
            Assert.DoesNotContain('\u009B', row);
            Assert.DoesNotContain('\u202E', row);
            Assert.Contains(@"/tmp/x\u202ey", row, StringComparison.Ordinal);
        }

        Assert.Contains(@" p\x1b[7m ", FanotifyEventTable.Row(e, 100, null, null, null), StringComparison.Ordinal);
        Assert.Contains(@" /tmp/c\u009bat ", FanotifyEventTable.Row(e, 200, null, null, null), StringComparison.Ordinal);
    }

    [Fact]
    public void The_colour_takes_no_cell_and_leaves_the_verdict_in_words()
    {
        const string Red = "\u001B[31m", Reset = "\u001B[0m";
        FanotifyEvent e = Event(FanotifyEventType.OpenPerm, "/tmp/secret", response: FanotifyResponse.Deny);
        string plain = FanotifyEventTable.Row(e, 120, null, null, null);
        string coloured = FanotifyEventTable.Row(e, 120, Red, null, Reset);
        Assert.Contains(" OpenPerm (denied) ", plain, StringComparison.Ordinal);
        Assert.Equal(plain, coloured.Replace(Red, string.Empty, StringComparison.Ordinal).Replace(Reset, string.Empty, StringComparison.Ordinal));
        Assert.Contains(Red + "OpenPerm" + Reset + " (denied) ", coloured, StringComparison.Ordinal);

        // At 80 columns the verdict goes below the name, still in words.
        string[] narrow = Lines(FanotifyEventTable.Row(e, 80, Red, null, Reset));
        Assert.Equal(2, narrow.Length);
        Assert.Equal(new string(' ', 13) + "(denied)", narrow[1]);
    }

    [Fact]
    public void The_first_row_after_a_group_header_carries_the_labels()
    {
        FanotifyEvent e = Event();
        Assert.Equal("   Date: " + e.TimeStamp.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
            FanotifyEventTable.GroupHeader(e));
        string[] first = Lines(FanotifyEventTable.Row(e, 80, null, null, null));
        Assert.Equal(3, first.Length);
        Assert.Equal("Time         Event            Pid User  Process Path", first[0]);
        Assert.Equal("----         -----            --- ----  ------- ----", first[1]);
        Assert.Single(Lines(FanotifyEventTable.Row(e, 80, null, null, null)));

        // Labels in the header style, each line reset; Exe in place of Process from 120 columns.
        FanotifyEventTable.GroupHeader(e);
        string[] wide = Lines(FanotifyEventTable.Row(e, 120, null, "<h>", "</h>"));
        Assert.Matches(@"^<h>Time +Event +Pid User +Exe +Path</h>$", wide[0]);
        Assert.Matches(@"^<h>---- +----- +--- ---- +--- +----</h>$", wide[1]);
    }
}
