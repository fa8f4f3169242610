#Requires -Version 7.4
# Who did it, under load (issue 19). Two copies of a workload of short-lived programs run at once
# (tests/tools/attribution/loadworkload.sh), beside two ps-like readers that read every /proc/PID/exe, cmdline and
# stat in a loop (tests/tools/psreader.c) and a busy loop, under three readers: a permission watch, a live
# notification reader, and a notification reader stopped (SIGSTOP) for the whole workload, so that every process
# is gone when its events are read. Each process life writes its ground truth (pid, start time, uid, login uid,
# session, cgroup) before it runs its program, and the file names say which life acted; every event is judged
# against that life. A second watch, -Scope Tree of each copy's tree directory, sees the processes that create,
# write and rename files there (one bash, vim, sed -i). The watcher is a child pwsh under a hard deadline
# (SIGKILL); the stopped run takes notification events only.
#
# What the workload does (one iteration of one copy; the details are in loadworkload.sh):
#   bash -c "echo e > exec/e.J; cat exec/r.J"   bash writes e.J, then execs cat on the same pid (3 to 12 an iteration)
#   attrreuse                                    tee, then touch, on one pid (ns_last_pid)
#   setpriv touch user/u.I, setpriv cat user/r.I host children that run as another user
#   touch/setpriv touch/setpriv cat login/...   children of a long-lived parent in a docker-<id>.scope cgroup with
#                                                a login uid (each copy its own), gone when read; the parent runs on
#   tree/: bash writes f.I.1..3; vim edits v.I (swap files, backup by rename; even I); sed -i edits s.I
# Needs: root, cgroup v2 for the container part, an unset login uid here for the copies' own login uids (else
# the parent's children inherit this process's), vim, setpriv.

BeforeDiscovery {
    $notification = @('Open', 'CloseWrite', 'Create', 'Delete', 'Rename', 'Attrib')
    # Iterations per copy, and exec lives per iteration. The permission run has the most exec lives: its rarest
    # failure, bash's CloseWrite named as cat (a permission event of cat read in the same batch as bash's
    # CloseWrite), came in 0 to 13 of 3,200 exec/ events per run on the code of issue 19; the notification
    # runs never showed it. The stopped run stays well under the kernel's notification queue (16,384 per group),
    # which also holds every exec on the program filesystems meanwhile, the other builds' included.
    $script:modes = @(
        @{ Name = 'permission watch'; Mode = 'Live'; EventList = @('OpenPerm', 'CloseWrite', 'Create', 'Delete', 'Rename', 'Attrib'); Iterations = 100; Execs = 12 }
        @{ Name = 'live notification reader'; Mode = 'Live'; EventList = $notification; Iterations = 80; Execs = 3 }
        @{ Name = 'stopped notification reader'; Mode = 'Stopped'; EventList = $notification; Iterations = 50; Execs = 3 }
    )
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot '../tools/attribution/AttributionLoad.psm1') -Force
    $script:work = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-load-$PID"
    $script:tool = New-LoadTool -WorkPath $work
    function Get-Sample([object[]] $Items, [int] $Count = 5) { (@($Items) | Select-Object -First $Count) -join '; ' }
}

AfterAll {
    Remove-Item $work -Recurse -Force -ErrorAction Ignore
}

Describe 'Attribution under load, <Name>' -Tag 'RequireRoot', 'Attribution' -ForEach $modes {
    BeforeAll {
        $script:mount = New-TestMount
        New-LoadLayout -Mount $mount -Tool $tool -Iterations $Iterations -ExecsPerIteration $Execs
        $script:run = Invoke-LoadRun -Mount $mount -Tool $tool -Mode $Mode -Iterations $Iterations -ExecsPerIteration $Execs -Event $EventList -TimeoutSeconds 150
        $script:result = Measure-LoadAttribution -Run $run -Tool $tool
        Format-LoadReport -Run $run -Result $result -Name $Name | Write-Host
    }
    AfterAll { Remove-TestMount $mount }

    It 'the harness: lost no event, knows every event of the workload''s files, and each truth names the event''s pid' {
        foreach ($w in $run.Counts.Keys) {
            $c = $run.Counts[$w]
            $c.overflows | Should -Be 0 -Because "watch $w must see the whole workload"
            $c.dropped | Should -Be 0 -Because "watch $w must see the whole workload"
        }
        $result.Overflows | Should -Be 0
        @($run.Load | Where-Object Running).Count | Should -Be 3 -Because 'two psreaders and the busy loop ran for the whole workload'
        $result.Unknown.Count | Should -Be 0 -Because "every event of the workload's files has a known life ($(Get-Sample $result.Unknown))"
        $result.Harness.Count | Should -Be 0 -Because "the kernel's pid and the truth's agree, or the truth is wrong ($(Get-Sample $result.Harness))"
        $result.Judged.Count | Should -BeGreaterThan (20 * $Iterations)
        @($result.Judged | Where-Object Watch -eq 'tree').Count | Should -BeGreaterThan 0 -Because 'the Tree watch saw the tree directories'
    }

    It 'names no wrong program' {
        $result.WrongProgram.Count | Should -Be 0 -Because "a wrong program is worse than none ($(Get-Sample $result.WrongProgram))"
    }

    It 'names no wrong process name (ProcessName is the name the program was run by, or its file name)' {
        $result.WrongName.Count | Should -Be 0 -Because (Get-Sample $result.WrongName)
    }

    It 'gives no process fact of another life (ProcessStartTime, UserId, LoginUserId, SessionId, ContainerId): the truth or unknown' {
        $byFact = (@($result.WrongFact | Group-Object Kind | ForEach-Object { "$($_.Name): $($_.Count)" }) -join ', ')
        $result.WrongFact.Count | Should -Be 0 -Because "$byFact ($(Get-Sample $result.WrongFact.Text))"
    }

    It 'names the program (Exe) of at least 99.5% of the events' {
        $all = $result.Tallies['all']
        $all.Events | Should -BeGreaterThan 0
        (100.0 * $all.Right / $all.Events) | Should -BeGreaterOrEqual 99.5 -Because "$($all.Right) of $($all.Events) named right, $($all.Missing) named none, $($all.Wrong) wrong"
    }

    It 'gives one description per process life: one ProcessName; UserName, CommandLine, LoginUserId and ContainerId, once known, on every later event' {
        if ($EventList -notcontains 'OpenPerm') {
            # A notification watch still gives some events of a gone process without the command line its other
            # group's earlier event had (issue 19 stays open on it). The count is printed, not asserted.
            Write-Host "description breaks: $($result.Description.Count)"
            Set-ItResult -Skipped -Because "not yet true for a notification watch ($($result.Description.Count) breaks)"
            return
        }
        $result.Description.Count | Should -Be 0 -Because (Get-Sample $result.Description)
    }

    It 'gives the gone children of the long-lived parent its login uid and container, and the uid they ran as' {
        $result.InheritedEvents | Should -BeGreaterThan 0 -Because 'the parent''s children made events'
        if (-not $tool.Cgroup2) { Write-Host 'No cgroup v2 here: the container part is not checked.' }
        if (-not $tool.LoginSettable) { Write-Host 'The login uid is set here: the children inherit this process''s.' }
        $result.Inherited.Count | Should -Be 0 -Because "$($result.Inherited.Count) of $($result.InheritedEvents) events ($(Get-Sample $result.Inherited))"
    }

    It 'delivers no CloseWrite of a file before its Create (in delivery order and by sequence)' {
        # Create comes from the file-handle group, CloseWrite from the descriptor group; their order across groups
        # is not known yet (issue 19 stays open on it; README "Order" says so). The count is printed, not asserted.
        Write-Host "CloseWrite before its Create: $($result.Order.Count)"
        Set-ItResult -Skipped -Because "the order across the watch's two groups is not known yet ($($result.Order.Count) CloseWrite before their Create)"
    }
}
