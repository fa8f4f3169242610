using System;
using FanotifyPS;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>One description per process life across a watch's groups (issue 19: vim's CloseWrite had no user nor command line while its Rename had both).</summary>
public sealed class ProcessDescriptionsTests
{
    private const int Pid = 5_000_010;
    private readonly ProcessDescriptions _descriptions = new();

    private static ProcessInfo Read(string exe, long life) =>
        new(System.Text.Encoding.UTF8.GetBytes(exe), exe, "vim", "vim /etc/hosts", 1, 0, Pid)
        {
            Source = ProcessSource.Live, StartTime = new DateTime(2026, 12, 8, 3, 0, 0, DateTimeKind.Utc), StartTicks = 12345, LoginUserId = 1000, LifeKey = life,
        };

    private static ProcessInfo FromExec(string exe, long life) =>
        new(System.Text.Encoding.UTF8.GetBytes(exe), exe, "vim.basic", string.Empty, 1, -1, Pid)
        {
            Source = ProcessSource.Exec, IsRead = false, LifeKey = life,
        };

    [Fact]
    public void An_exec_entry_of_a_life_another_group_read_gets_that_groups_description()
    {
        ProcessInfo read = Read("/usr/bin/vim.basic", 7);
        Assert.Same(read, _descriptions.Describe(Pid, read));
        ProcessInfo described = _descriptions.Describe(Pid, FromExec("/usr/bin/vim.basic", 7));
        Assert.Same(read, described);
        Assert.Equal("vim", described.Name);
        Assert.Equal("vim /etc/hosts", described.CommandLine);
        Assert.Equal(0, described.UserId);
    }

    [Fact]
    public void Each_program_of_one_life_keeps_its_own_description()
    {
        // bash -c "echo e > e; cat r": bash is read, then the cat it exec'd; bash's later event still gets bash's.
        ProcessInfo bash = Read("/usr/bin/bash", 7);
        _ = _descriptions.Describe(Pid, bash);
        _ = _descriptions.Describe(Pid, Read("/usr/bin/cat", 7));
        Assert.Same(bash, _descriptions.Describe(Pid, FromExec("/usr/bin/bash", 7)));
    }

    [Fact]
    public void An_event_named_before_the_other_group_read_its_process_is_completed_as_it_enters_Output()
    {
        ProcessInfo fromExec = FromExec("/usr/bin/vim.basic", 7);
        var item = new FanotifyEvent(DateTime.UtcNow, FanotifyEventType.CloseWrite, "/etc/hosts", false, Pid, fromExec.Exe, true, FanotifyResponse.None, 1)
        {
            ProcessName = fromExec.Name, LifeKey = 7,
        };
        _ = _descriptions.Describe(Pid, Read("/usr/bin/vim.basic", 7));   // the other group reads it afterwards
        _descriptions.Complete(item);
        Assert.Equal("vim", item.ProcessName);
        Assert.Equal("vim /etc/hosts", item.CommandLine);
        Assert.Equal(1000, item.LoginUserId);
        Assert.Null(item.UserId);   // not lent: it may have changed since
    }

    [Fact]
    public void Another_life_another_program_or_an_unknown_life_is_not_lent_a_description()
    {
        _ = _descriptions.Describe(Pid, Read("/usr/bin/vim.basic", 7));
        ProcessInfo otherLife = FromExec("/usr/bin/vim.basic", 8);
        ProcessInfo otherProgram = FromExec("/usr/bin/cat", 7);
        ProcessInfo unknownLife = FromExec("/usr/bin/vim.basic", 0);
        Assert.Same(otherLife, _descriptions.Describe(Pid, otherLife));
        Assert.Same(otherProgram, _descriptions.Describe(Pid, otherProgram));
        Assert.Same(unknownLife, _descriptions.Describe(Pid, unknownLife));
        Assert.Same(ProcessInfo.Unknown, _descriptions.Describe(Pid, ProcessInfo.Unknown));
    }
}
