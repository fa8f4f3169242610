using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

public class ReportFilterTests
{
    [Fact]
    public void An_event_without_a_program_is_left_out_by_Exe_alone_only_when_every_other_filter_lets_it_through()
    {
        var filter = new ReportFilter { Exe = new GlobSet(["*/cat"]), ExcludePath = new GlobSet(["*.log"]) };

        Assert.False(filter.Reports("/data/a.txt", string.Empty, 42, string.Empty, -1, string.Empty, -1));
        Assert.True(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 42, string.Empty, -1, string.Empty, -1, true));

        // Left out by its path: -Exe did not decide it.
        Assert.False(filter.LeftOutWithoutExe("/data/a.log", string.Empty, 42, string.Empty, -1, string.Empty, -1, true));
        // A program that is known was judged.
        Assert.False(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 42, "/usr/bin/vim", -1, string.Empty, -1, true));
    }

    [Fact]
    public void Without_a_program_filter_nothing_is_left_out_for_want_of_a_program()
    {
        var filter = new ReportFilter { ProcessId = [7] };

        Assert.False(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 7, string.Empty, -1, string.Empty, -1, true));
        Assert.False(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 8, string.Empty, -1, string.Empty, -1, true));
    }

    [Fact]
    public void ExcludeExe_that_matches_an_empty_program_leaves_it_out_for_want_of_a_program()
    {
        var filter = new ReportFilter { ExcludeExe = new GlobSet(["*"]) };

        Assert.False(filter.Reports("/data/a.txt", string.Empty, 42, string.Empty, -1, string.Empty, -1));
        Assert.True(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 42, string.Empty, -1, string.Empty, -1, true));
    }

    [Fact]
    public void User_keeps_the_events_of_those_uids_and_an_unknown_uid_is_left_out_for_want_of_it()
    {
        var filter = new ReportFilter { UserId = [65534] };

        Assert.False(filter.IsEmpty);
        Assert.True(filter.Reports("/data/a.txt", string.Empty, 42, "/usr/bin/cat", -1, string.Empty, 65534));
        Assert.False(filter.Reports("/data/a.txt", string.Empty, 42, "/usr/bin/cat", -1, string.Empty, 0));
        Assert.False(filter.Reports("/data/a.txt", string.Empty, 42, "/usr/bin/cat", -1, string.Empty, -1));

        // Unknown: left out for want of the uid (the watch says so); known and another user: judged.
        Assert.True(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 42, string.Empty, -1, string.Empty, -1, false));
        Assert.False(filter.LeftOutWithoutExe("/data/a.txt", string.Empty, 42, string.Empty, -1, string.Empty, 0, true));
    }
}
