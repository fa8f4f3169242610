#Requires -Version 7.4
# The background watcher: loss accounting, overflow, descriptors, and every way a watch ends.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:openloop = Get-LoadTool openloop
    $script:pwsh = Get-PwshCommand
}

Describe 'A consumer that never reads' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'lets 20,000 opens complete and counts every event it could not buffer' {
        $watch = Start-FanotifyWatch -Path $mount -BufferSize 1000
        try {
            $run = Invoke-Bounded $openloop @("$mount/data.txt", '20000') -TimeoutSeconds 120
            $run.ExitCode | Should -Be 0 -Because $run.Output
            Wait-Until { $watch.EventCount -ge 20000 } | Should -BeTrue
            $watch.EventCount | Should -Be 20000
            $watch.BufferedCount | Should -Be 1000
            $watch.DroppedCount | Should -Be 19000
            $watch.OverflowCount | Should -Be 0

            $events = @(Get-FanotifyEvent -Watch $watch -WarningVariable warnings -WarningAction SilentlyContinue)
            $events | Should -HaveCount 1000
            $events | ForEach-Object { $_.Event | Should -Be 'OpenPerm' }
            $warnings | Should -HaveCount 1
            "$warnings" | Should -BeLike '*dropped 19000 events*-BufferSize*'
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }
}

Describe 'The spin before the responder sleeps' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        # CPU seconds of this process's responder threads ("fanotify responder N (...)", cut to 15 characters).
        function Get-ResponderCpuSeconds {
            $ticks = 0
            foreach ($task in Get-ChildItem "/proc/$PID/task") {
                $stat = Get-Content "$($task.FullName)/stat" -Raw -ErrorAction Ignore
                if ($stat -notlike '*(fanotify respon)*') { continue }
                $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
                $ticks += [long]$fields[11] + [long]$fields[12]   # utime, stime
            }
            $ticks / 100
        }
    }
    AfterAll { Remove-TestMount $mount }

    It 'spins by default only when verdicts wait for a read (rules, Tree scope), and keeps a value given' {
        $watches = @(
            Start-FanotifyWatch -Path $mount -Event OpenPerm
            Start-FanotifyWatch -Path $mount -Event OpenPerm -DenyExe '*/nothing'
            Start-FanotifyWatch -Path $mount -Event OpenPerm -Scope Tree
            Start-FanotifyWatch -Path $mount -Event CloseWrite -Scope Tree
            Start-FanotifyWatch -Path $mount -Event OpenPerm -DenyExe '*/nothing' -SpinMicroseconds 0
            Start-FanotifyWatch -Path $mount -Event OpenPerm -SpinMicroseconds 7
        )
        try {
            $watches.SpinMicroseconds | Should -Be @(0, 20, 20, 0, 0, 7)
        }
        finally {
            $watches | Stop-FanotifyWatch
        }
    }

    It 'with -SpinMicroseconds <Spin>, answers 20,000 opens, delivers every event, and costs no CPU once idle' -TestCases @(
        @{ Spin = 0 }, @{ Spin = 1000 }
    ) {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -SpinMicroseconds $Spin -BufferSize 30000
        try {
            $run = Invoke-Bounded $openloop @("$mount/data.txt", '20000') -TimeoutSeconds 120
            $run.ExitCode | Should -Be 0 -Because $run.Output
            Wait-Until { $watch.EventCount -ge 20000 } | Should -BeTrue
            $watch.AllowedCount | Should -Be 20000
            @(Get-FanotifyEvent -Watch $watch) | Should -HaveCount 20000

            # Idle: a spin starts only after a batch, so the responder sleeps in poll() and uses no CPU.
            $before = Get-ResponderCpuSeconds
            Start-Sleep -Seconds 2
            (Get-ResponderCpuSeconds) - $before | Should -BeLessOrEqual 0.02
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }
}

Describe 'Kernel queue overflow' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'becomes one Overflow event and OverflowCount, and the watch keeps running' {
        $child = Start-ChildWatcher -Mount $mount -Script @'
$w = Start-FanotifyWatch -Path $mount -Event Open
Send-Ready
while (-not (Test-Path "$ready.go")) { Start-Sleep -Milliseconds 50 }
$limit = [int](Get-Content /proc/sys/fs/fanotify/max_queued_events)
# The queue held $limit events and the overflow record (some of them exec events of other processes, read to name
# processes and not reported); then a moment for anything unexpected to arrive.
$deadline = [DateTime]::UtcNow.AddSeconds(60)
while ($w.EventCount + $w.ExecEventCount -lt $limit + 1 -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
Start-Sleep -Milliseconds 300
$events = @(Get-FanotifyEvent -Watch $w)
[pscustomobject]@{
    Overflow = @($events | Where-Object Event -eq 'Overflow').Count
    OverflowCount = $w.OverflowCount
    Events = $events.Count
    ExecEvents = $w.ExecEventCount
    EventCount = $w.EventCount
    State = "$($w.State)"
    Line = "$($events | Where-Object Event -eq 'Overflow' | Select-Object -First 1)"
} | ConvertTo-Json -Compress
'@
        try {
            # Freeze the reader, then queue more than max_queued_events (16384 by default).
            & kill -STOP $child.Pid
            $limit = [int](Get-Content /proc/sys/fs/fanotify/max_queued_events)
            # Distinct files: identical events queued back to back would be merged into one.
            (Invoke-Bounded $openloop @("$mount/many", "$($limit + 2000)", 'c') -TimeoutSeconds 60).ExitCode | Should -Be 0
            & kill -CONT $child.Pid
            Set-Content "$($child.Ready).go" 'go'
            $child.Process.WaitForExit(60000) | Should -BeTrue
            $result = $child.Process.StandardOutput.ReadToEnd() | ConvertFrom-Json
            $result.Overflow | Should -Be 1 -Because ($result | ConvertTo-Json -Compress)
            $result.OverflowCount | Should -Be 1
            $result.State | Should -Be 'Running'
            $result.Events | Should -Be $result.EventCount
            # Exec events of processes that run after the reader resumed are read too: at least the queue's worth.
            $result.Events | Should -BeLessOrEqual ($limit + 1)
            $result.Events + $result.ExecEvents | Should -BeGreaterOrEqual ($limit + 1)
            $result.Line | Should -BeLike 'FAN_Q_OVERFLOW:*'
        }
        finally {
            Stop-ChildWatcher $child
        }
    }
}

Describe 'Death of the watcher' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'SIGKILL of a pwsh holding a permission watch releases the openers it left waiting' {
        $child = Start-ChildWatcher -Mount $mount -Script @'
$w = Start-FanotifyWatch -Path $mount -Event OpenPerm
Send-Ready
Start-Sleep -Seconds 300
'@
        $openers = @()
        try {
            & kill -STOP $child.Pid   # it can no longer answer
            $openers = 1..3 | ForEach-Object { Start-Bounded cat @("$mount/data.txt") -TimeoutSeconds 60 }
            Start-Sleep -Seconds 1
            $openers | ForEach-Object { $_.HasExited | Should -BeFalse -Because 'an open waits for the verdict' }

            $clock = [Diagnostics.Stopwatch]::StartNew()
            & kill -KILL $child.Pid
            foreach ($opener in $openers) {
                $opener.WaitForExit(5000) | Should -BeTrue
            }
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 1
            foreach ($opener in $openers) {
                $opener.ExitCode | Should -Be 0
                $opener.StandardOutput.ReadToEnd().Trim() | Should -Be 'payload'
            }
        }
        finally {
            $openers | Where-Object { -not $_.HasExited } | ForEach-Object { $_.Kill() }
            Stop-ChildWatcher $child
        }
    }
}

Describe 'File descriptors' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'leaves the process fd count unchanged after 10,000 events, and back where it was after Stop' {
        # The fds a watch can leak: its group, its eventfd, and event fds (which point into the tmpfs).
        # Other fds come and go with the runtime (pipes of child processes) and would make the count noisy.
        $watcherFds = { @(Get-FdTarget | Where-Object { $_ -like '*anon_inode:`[fanotify`]' -or $_ -like '*anon_inode:`[eventfd`]' -or $_ -like "$mount/*" }).Count }
        $before = & $watcherFds
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, CloseWrite
        try {
            Invoke-Bounded cat @("$mount/data.txt") | Out-Null
            $null = Receive-UntilEvent $watch { $true }
            $running = & $watcherFds
            # Its group and eventfd, and the eventfd of the module's process events listener, which it holds.
            $listenerFds = if ((Get-FanotifyCapability -Path $mount).ProcessEvents) { 1 } else { 0 }
            $running | Should -Be ($before + 2 + $listenerFds)

            (Invoke-Bounded $openloop @("$mount/data.txt", '10000') -TimeoutSeconds 120).ExitCode | Should -Be 0
            Wait-Until { $watch.EventCount -ge 10001 } | Should -BeTrue
            @(Get-FanotifyEvent -Watch $watch) | Should -HaveCount 10000
            & $watcherFds | Should -Be $running
        }
        finally {
            Stop-FanotifyWatch $watch
        }
        & $watcherFds | Should -Be $before
    }

    It 'hands neither the group nor any event fd to a child process' {
        $watch = Start-FanotifyWatch -Path $mount
        try {
            $fds = Invoke-Bounded sh @('-c', "cat $mount/data.txt >/dev/null; for f in /proc/`$`$/fd/*; do readlink `$f; done; true")
            $fds.ExitCode | Should -Be 0
            $fds.Output | Should -Not -BeLike '*fanotify*'
            $fds.Output | Should -Not -BeLike '*eventfd*'
            $fds.Output | Should -Not -BeLike "*$mount*"
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }
}

Describe 'Ending a watch' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }
    BeforeEach { $baseline = Get-FanotifyFdCount }

    It 'Stop-FanotifyWatch returns within a second, closes the group and keeps the counters' {
        $watch = Start-FanotifyWatch -Path $mount -Name 'to-stop'
        Get-FanotifyFdCount | Should -Be ($baseline + 1)
        Invoke-Bounded cat @("$mount/data.txt") | Out-Null
        Wait-Until { $watch.EventCount -ge 1 } | Should -BeTrue

        $clock = [Diagnostics.Stopwatch]::StartNew()
        $stopped = Stop-FanotifyWatch -Name 'to-stop' -PassThru
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 1
        $stopped.Id | Should -Be $watch.Id
        $stopped.State | Should -Be 'Stopped'
        $stopped.StopTime | Should -Not -BeNullOrEmpty
        Get-FanotifyFdCount | Should -Be $baseline

        $count = $watch.EventCount
        (Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5).Output | Should -Be 'payload'
        $watch.EventCount | Should -Be $count
        (Get-FanotifyWatch -Id $watch.Id).State | Should -Be 'Stopped'
        # What was buffered before the stop can still be read.
        @(Get-FanotifyEvent -Watch $watch) | Should -HaveCount 1
        { Stop-FanotifyWatch $watch } | Should -Not -Throw
    }

    It 'Get-FanotifyWatch lists running watches by id and name, and Stop-FanotifyWatch takes them from the pipeline' {
        $a = Start-FanotifyWatch -Path $mount -Name 'list-a'
        $b = Start-FanotifyWatch -Path $mount -Name 'list-b'
        (Get-FanotifyWatch -Id $a.Id).Name | Should -Be 'list-a'
        @(Get-FanotifyWatch -Name 'list-*').Id | Should -Be @($a.Id, $b.Id)
        @(Get-FanotifyWatch).Id | Should -Contain $b.Id
        Get-FanotifyWatch -Name 'list-*' | Stop-FanotifyWatch
        $a.State | Should -Be 'Stopped'
        $b.State | Should -Be 'Stopped'
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'Get-FanotifyEvent -Path stops its watch when Select-Object -First has enough' {
        $writer = Start-Bounded sh @('-c', "sleep 0.5; for i in 1 2 3 4 5 6 7 8; do cat $mount/data.txt >/dev/null; done")
        $events = @(Get-FanotifyEvent -Path $mount | Select-Object -First 3)
        $writer.WaitForExit(10000) | Should -BeTrue
        $events | Should -HaveCount 3
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'Get-FanotifyEvent -Path stops its watch after -Count events' {
        $writer = Start-Bounded sh @('-c', "sleep 0.5; for i in 1 2 3 4 5; do cat $mount/data.txt >/dev/null; done")
        $events = @(Get-FanotifyEvent -Path $mount -Event OpenPerm -Count 2)
        $writer.WaitForExit(10000) | Should -BeTrue
        $events | Should -HaveCount 2
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'Ctrl+C (StopProcessing) ends Get-FanotifyEvent and its watch' {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("Import-Module '$env:FANOTIFYPS_MODULE'; Get-FanotifyEvent -Path '$mount'")
            $async = $ps.BeginInvoke()
            Wait-Until { (Get-FanotifyFdCount) -gt $baseline } | Should -BeTrue
            $clock = [Diagnostics.Stopwatch]::StartNew()
            $ps.Stop()
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2
            $async.IsCompleted | Should -BeTrue
            $ps.InvocationStateInfo.State | Should -Be 'Stopped'
            Get-FanotifyFdCount | Should -Be $baseline
        }
        finally {
            $ps.Dispose()
        }
    }

    It 'Get-FanotifyEvent -Wait on a watch ends at -Timeout, and when the watch is stopped' {
        $watch = Start-FanotifyWatch -Path $mount
        try {
            $clock = [Diagnostics.Stopwatch]::StartNew()
            @(Get-FanotifyEvent -Watch $watch -Wait -Timeout 0.5) | Should -HaveCount 0
            $clock.Elapsed.TotalSeconds | Should -BeGreaterOrEqual 0.45
            $clock.Elapsed.TotalSeconds | Should -BeLessThan 2

            $ps = [powershell]::Create()
            $null = $ps.AddScript("param(`$w) Import-Module '$env:FANOTIFYPS_MODULE'; Get-FanotifyEvent -Watch `$w -Wait").AddArgument($watch)
            $async = $ps.BeginInvoke()
            Start-Sleep -Milliseconds 300
            Invoke-Bounded cat @("$mount/data.txt") | Out-Null
            Start-Sleep -Milliseconds 300
            Stop-FanotifyWatch $watch
            $async.AsyncWaitHandle.WaitOne(2000) | Should -BeTrue
            @($ps.EndInvoke($async)) | Should -HaveCount 1
            $ps.Dispose()
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }

    It 'Remove-Module stops every watch' {
        $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', @"
Import-Module '$env:FANOTIFYPS_MODULE'
Import-Module '$(Join-Path $PSScriptRoot 'TestHelpers.psm1')'
`$w = Start-FanotifyWatch -Path '$mount'
`$before = Get-FanotifyFdCount
Remove-Module FanotifyPS
"`$before `$(Get-FanotifyFdCount) `$(`$w.State)"
"@)) -TimeoutSeconds 60
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Output | Should -Be '1 0 Stopped'
    }

    It 'a pwsh that exits with a running permission watch exits promptly and leaves nothing blocked' {
        $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command',
            "Import-Module '$env:FANOTIFYPS_MODULE'; `$null = Start-FanotifyWatch -Path '$mount'; exit 3")) -TimeoutSeconds 60
        $run.ExitCode | Should -Be 3
        (Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5).Output | Should -Be 'payload'
    }
}
