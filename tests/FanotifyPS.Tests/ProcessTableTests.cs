using System;
using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>
/// The rules of the process table on a synthetic history, with pids that cannot exist (above pid_max), so that
/// /proc has nothing to say and only the exec events and the history decide. The real workloads are in
/// tests/Pester/Attribution.Tests.ps1.
/// </summary>
public sealed class ProcessTableTests : IDisposable
{
    private const int Parent = 5_000_001;
    private const int Child = 5_000_002;
    private const int Grandchild = 5_000_003;
    private readonly ProcessHistory _history = new();
    private readonly ProcessTable _table;

    public ProcessTableTests()
    {
        _table = new ProcessTable(_history, null, _history.Sequence, null);
        _table.MarksPlaced(_history.Sequence);
    }

    [Fact]
    public void An_exec_names_the_process_after_it_is_gone()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/rm");
        ProcessInfo facts = Resolve(Parent);
        Assert.Equal(ProcessSource.Exec, facts.Source);
        Assert.Equal("/usr/bin/rm", facts.Exe);
        Assert.Equal("rm", facts.Name);
        Assert.Equal(1, facts.ParentProcessId);
    }

    [Fact]
    public void A_shell_that_execs_its_last_command_is_named_by_each_program_in_turn()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/bash");
        Assert.Equal("/usr/bin/bash", Resolve(Parent).Exe);   // bash's own redirection, before the exec
        _table.OnExec(Parent, -1, "/usr/bin/rm");
        Assert.Equal("/usr/bin/rm", Resolve(Parent).Exe);
    }

    [Fact]
    public void A_fork_that_did_not_exec_has_its_parents_program()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnFork(Parent, Child, 0);
        _history.OnExit(Child);
        _history.OnExit(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/bash");
        ProcessInfo facts = Resolve(Child);
        Assert.Equal(ProcessSource.Inherited, facts.Source);
        Assert.Equal("/usr/bin/bash", facts.Exe);
        Assert.Equal(Parent, facts.ParentProcessId);
        Assert.Equal(Child, facts.ProcessId);
    }

    [Fact]
    public void A_fork_of_a_fork_inherits_through_both()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnFork(Parent, Child, 0);
        _history.OnFork(Child, Grandchild, 0);
        _table.OnExec(Parent, -1, "/usr/bin/bash");
        ProcessInfo facts = Resolve(Grandchild);
        Assert.Equal(ProcessSource.Inherited, facts.Source);
        Assert.Equal("/usr/bin/bash", facts.Exe);
        Assert.Equal(Child, facts.ParentProcessId);
    }

    [Fact]
    public void A_parent_that_execd_while_the_child_ran_leaves_the_child_unknown()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnFork(Parent, Child, 0);
        _history.OnExec(Parent);   // the parent became another program while the child lived
        _history.OnExit(Child);
        _table.OnExec(Parent, -1, "/usr/bin/bash");
        _table.OnExec(Parent, -1, "/usr/bin/true");   // read before the child's event: which one the child had is not known
        Assert.Equal(ProcessSource.Unknown, Resolve(Child).Source);
    }

    [Fact]
    public void A_parent_that_execd_after_the_child_exited_still_gives_it_its_program()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnFork(Parent, Child, 0);
        _history.OnExit(Child);
        _history.OnExec(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/bash");
        Assert.Equal("/usr/bin/bash", Resolve(Child).Exe);
    }

    [Fact]
    public void A_reused_pid_is_unknown_rather_than_the_other_process()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);   // the same pid, another process that did not exec
        _history.OnExit(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/cat");
        Assert.Equal(ProcessSource.Unknown, Resolve(Parent).Source);
    }

    [Fact]
    public void A_reused_pid_is_told_apart_by_the_close_of_the_first_program_at_its_exit()
    {
        _table.MarksPlaced(_history.Sequence, true, ["/usr/bin"]);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        bool exitAhead = true;
        _table.ExitAhead = (pid, facts) => exitAhead;
        _table.OnExec(Parent, -1, "/usr/bin/tee");
        Assert.Equal("/usr/bin/tee", Resolve(Parent).Exe);   // before tee's exit (still ahead in the batch): tee's life
        _table.OnClose(Parent, "/usr/bin/tee");
        Assert.Equal(ProcessSource.Unknown, Resolve(Parent).Source);   // after it, before the next exec: not tee's
        _table.OnExec(Parent, -1, "/usr/bin/touch");
        Assert.Equal("/usr/bin/touch", Resolve(Parent).Exe);
        exitAhead = false;
        Assert.Equal("/usr/bin/touch", Resolve(Parent).Exe);   // the second exec of the pid is the last life's: no later one
    }

    [Fact]
    public void A_reused_pids_first_life_is_unknown_once_a_later_life_exists_and_no_exit_is_ahead()
    {
        // Read after both lives ended: the kernel merged the first life's exit (its program's last close) into its exec
        // event, so no close in the queue says where its events end.
        _table.MarksPlaced(_history.Sequence, true, ["/usr/bin"]);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _table.ExitAhead = (pid, facts) => false;
        _table.OnExec(Parent, -1, "/usr/bin/tee");
        _table.OnClose(Parent, "/usr/bin/tee");   // merged into the exec: read at the same place
        Assert.Equal(ProcessSource.Unknown, Resolve(Parent).Source);
        _table.OnExec(Parent, -1, "/usr/bin/touch");
        Assert.Equal("/usr/bin/touch", Resolve(Parent).Exe);
    }

    [Fact]
    public void A_later_lifes_exec_is_not_taken_for_the_interpreter_of_an_earlier_lifes_exec()
    {
        // Issue 19: cat (dash's exec'd last command) left its exec without the ld.so event that ends it (merged into
        // an earlier one of the same pid); the pid's next life exec'd touch, which was named "cat" as a script's
        // interpreter keeps the script's name.
        _table.MarksPlaced(_history.Sequence, true, ["/usr/bin"]);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/cat");
        _table.OnExec(Parent, -1, "/usr/bin/touch");
        ProcessInfo facts = Resolve(Parent);
        Assert.Equal("/usr/bin/touch", facts.Exe);
        Assert.Equal("touch", facts.Name);
    }

    [Fact]
    public void A_reused_pid_is_unknown_where_its_exit_was_closed_by_another_process()
    {
        // Issue 19: a /proc reader (or this responder's readlink of /proc/PID/exe) that holds a dying process's
        // program makes the exit's close its own, under its pid; later the same pid ran a subshell that exec'd
        // nothing, whose events were named after the first program.
        _table.MarksPlaced(_history.Sequence, true, ["/usr/bin"]);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);
        _history.OnExit(Parent);
        _table.ExitAhead = (pid, facts) => true;
        _table.OnExec(Parent, -1, "/usr/bin/cat");
        _table.OnClose(Child, "/usr/bin/cat");   // cat's exit, closed by a reader that runs another program
        Assert.Equal(ProcessSource.Unknown, Resolve(Parent).Source);
    }

    [Fact]
    public void A_reused_pid_without_its_exit_ahead_is_unknown_not_the_exec_entrys()
    {
        // The exit of the first life came late (after the second life's events) or never: no proof either way.
        _table.MarksPlaced(_history.Sequence, true, ["/usr/bin"]);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);
        _history.OnExit(Parent);
        _table.ExitAhead = (pid, facts) => false;
        _table.OnExec(Parent, -1, "/usr/bin/cat");
        Assert.Equal(ProcessSource.Unknown, Resolve(Parent).Source);
    }

    [Fact]
    public void A_reused_pid_whose_program_has_no_watched_directory_is_unknown()
    {
        _table.MarksPlaced(_history.Sequence, true, ["/usr/sbin"]);
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExit(Parent);
        _history.OnFork(1, Parent, 0);
        _table.OnExec(Parent, -1, "/usr/bin/tee");
        Assert.Equal(ProcessSource.Unknown, Resolve(Parent).Source);
    }

    [Fact]
    public void A_file_handle_group_folds_ld_so_and_takes_a_scripts_interpreter()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _table.OnExec(Parent, -1, "/tmp/s.sh");
        _table.OnExec(Parent, -1, "/usr/bin/dash");
        _table.OnExec(Parent, -1, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        ProcessInfo facts = Resolve(Parent);
        Assert.Equal("/usr/bin/dash", facts.Exe);
        Assert.Equal("s.sh", facts.Name);   // comm is the script's name
    }

    [Fact]
    public void An_elf_program_after_ld_so_is_a_new_execve()
    {
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnExec(Parent);
        _table.OnExec(Parent, -1, "/usr/bin/env");
        _table.OnExec(Parent, -1, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        _table.OnExec(Parent, -1, "/usr/bin/touch");
        ProcessInfo facts = Resolve(Parent);
        Assert.Equal("/usr/bin/touch", facts.Exe);
        Assert.Equal("touch", facts.Name);
    }

    [Fact]
    public void Without_the_history_a_gone_process_is_unknown()
    {
        using var table = new ProcessTable(null, null, 0, null);
        table.OnExec(Parent, -1, "/usr/bin/rm");
        Assert.Equal(ProcessSource.Unknown, table.Resolve(Parent, Fanotify.FAN_EPIDFD, isExec: false, out bool isGone).Source);
        Assert.True(isGone);
    }

    [Fact]
    public void The_history_forgets_what_every_consumer_has_read_but_keeps_a_parent_while_its_child_runs()
    {
        var history = new ProcessHistory();
        int consumer = history.AddConsumer();
        history.OnFork(1, Parent, 0);
        history.OnFork(Parent, Child, 0);
        history.OnFork(1, Grandchild, 0);
        history.OnExit(Grandchild);
        history.OnExit(Parent);
        history.MarkDrained(consumer, history.Sequence + 1);
        Assert.Empty(history.LivesSince(Grandchild, 0));
        Assert.Single(history.LivesSince(Parent, 0));   // its child still runs
        history.OnExit(Child);
        history.MarkDrained(consumer, history.Sequence + 1);
        Assert.Empty(history.LivesSince(Parent, 0));
        Assert.Empty(history.LivesSince(Child, 0));
        Assert.Equal(1, history.LifeCount);   // pid 1, which never exited
    }

    [Fact]
    public void A_fork_under_a_pid_whose_exit_was_not_heard_is_a_loss()
    {
        var history = new ProcessHistory();
        history.OnFork(1, Parent, 0);
        history.OnFork(1, Parent, 0);
        Assert.Equal(1, history.LostCount);
        Assert.Equal(2, history.LivesSince(Parent, 0).Length);
    }

    [Fact]
    public void A_verdicts_process_is_recorded_only_where_the_queue_reaches_its_event()
    {
        // Issue 19: one batch holds bash's CloseWrite, bash's exec of cat, then cat's OpenPerm, all of one pid. Pass 1
        // reads the OpenPerm's process (cat) before pass 2 applies the earlier events: recorded at once, it named cat
        // as the writer. This process stands in for it: its live program differs from the exec entry's.
        int pid = Environment.ProcessId;
        _table.OnExec(pid, -1, "/usr/bin/bash");
        ProcessInfo verdict = _table.ResolvePermission(pid, held: true, out bool isGone, out bool fresh);
        Assert.False(isGone);
        Assert.True(fresh);
        Assert.NotEqual("/usr/bin/bash", verdict.Exe);

        Assert.Equal("/usr/bin/bash", _table.Resolve(pid, Fanotify.FAN_NOPIDFD, isExec: false, out _).Exe);   // the earlier event
        _table.Record(pid, verdict);
        Assert.Equal(verdict.Exe, _table.Resolve(pid, Fanotify.FAN_NOPIDFD, isExec: false, out _).Exe);   // from the verdict's event on
        _table.Forget(pid);
    }

    [Fact]
    public void A_gone_child_that_exec_d_keeps_its_running_parents_user_login_uid_and_session()
    {
        // Issue 19: a shell's cat, read after it exited, had no UserId. This process stands in for the shell.
        _history.OnFork(Environment.ProcessId, Child, 0);
        _history.OnExec(Child);
        _history.OnExit(Child);
        _table.OnExec(Child, -1, "/usr/bin/cat");
        ProcessInfo facts = Resolve(Child);
        ProcessInfo parent = new ProcessResolver().ReadRunning(Environment.ProcessId)!;
        Assert.Equal("/usr/bin/cat", facts.Exe);
        Assert.Equal(Environment.ProcessId, facts.ParentProcessId);
        Assert.Equal(parent.UserId, facts.UserId);
        Assert.Equal(parent.LoginUserId, facts.LoginUserId);
        Assert.Equal(parent.SessionId, facts.SessionId);
        Assert.Equal(string.Empty, facts.CommandLine);   // in the process's memory only
    }

    [Fact]
    public void A_gone_child_that_changed_its_ids_or_ran_a_set_id_program_has_no_user()
    {
        _history.OnFork(Environment.ProcessId, Child, 0);
        _history.OnExec(Child);
        _history.OnIdChange(Child, 65534);   // after its exec: which of its events had which uid is not known
        _history.OnExit(Child);
        _history.OnFork(Environment.ProcessId, Grandchild, 0);
        _history.OnExec(Grandchild);
        _history.OnExit(Grandchild);
        _table.OnExec(Child, -1, "/usr/bin/cat");
        _table.OnExec(Grandchild, -1, "/usr/bin/su");   // set-user-ID root
        Assert.Equal(-1, Resolve(Child).UserId);
        Assert.Equal(-1, Resolve(Grandchild).UserId);
        Assert.Equal("/usr/bin/su", Resolve(Grandchild).Exe);
    }

    [Fact]
    public void An_entry_of_a_life_the_history_forgot_does_not_name_the_pids_next_process()
    {
        // Issue 19: a subshell under a pid that an exec'd cat had before was named cat once the history had
        // forgotten cat's life (every queue read past its exit): one life was left, and the stale entry matched it.
        _history.OnFork(1, Parent, 0);
        _history.OnExec(Parent);
        _history.OnFork(Parent, Child, 0);
        _history.OnExec(Child);
        _history.OnExit(Child);
        _table.OnExec(Parent, -1, "/usr/bin/bash");
        _table.OnExec(Child, -1, "/usr/bin/cat");
        _table.QueueDrained(_history.Sequence + 1);   // a read after cat's exit found the queue empty: its life is forgotten
        _history.OnFork(Parent, Child, 0);        // the same pid, a subshell of bash that does not exec
        _history.OnExit(Child);
        _table.BeginBatch();                       // its event is read in a later batch
        ProcessInfo facts = Resolve(Child);
        Assert.Equal("/usr/bin/bash", facts.Exe);
        Assert.Equal(ProcessSource.Inherited, facts.Source);
    }

    [Fact]
    public void A_gone_child_that_changed_its_uid_before_its_exec_has_the_uid_it_changed_to()
    {
        // setpriv --reuid=2002 touch f: setresuid, then exec touch.
        _history.OnFork(Environment.ProcessId, Child, 0);
        _history.OnExec(Child);
        _history.OnIdChange(Child, 2002);
        _history.OnExec(Child);
        _history.OnExit(Child);
        _table.OnExec(Child, -1, "/usr/bin/setpriv");
        _table.OnExec(Child, -1, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        _table.OnExec(Child, -1, "/usr/bin/touch");
        ProcessInfo facts = Resolve(Child);
        Assert.Equal("/usr/bin/touch", facts.Exe);
        Assert.Equal(2002, facts.UserId);
    }

    [Fact]
    public void An_exec_read_before_the_connector_says_it_has_the_uid_changed_to_before_it()
    {
        // A reader that keeps up reads touch's exec event before the execve's message (sent at its end) arrives.
        _history.OnFork(Environment.ProcessId, Child, 0);
        _history.OnExec(Child);
        _history.OnIdChange(Child, 2002);
        _table.OnExec(Child, -1, "/usr/bin/setpriv");
        _table.OnExec(Child, -1, "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        _table.OnExec(Child, -1, "/usr/bin/touch");
        Assert.Equal(2002, Resolve(Child).UserId);
    }

    private ProcessInfo Resolve(int pid) => _table.Resolve(pid, Fanotify.FAN_EPIDFD, isExec: false, out _);

    public void Dispose() => _table.Dispose();
}
