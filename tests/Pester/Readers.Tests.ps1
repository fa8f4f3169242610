#Requires -Version 7.4
# Readers of a running watch: what a filtered read leaves for the next reader, -Keep, and the events a filter on
# the program cannot judge. Real processes on a private tmpfs, the real kernel.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:exe = @{}
    foreach ($program in 'cat', 'head', 'tail') {
        $script:exe[$program] = & readlink -f (Get-Command $program -CommandType Application | Select-Object -First 1).Source
    }
}

Describe 'Filtered and kept reads of a running watch' -Tag 'RequireRoot' {
    BeforeEach {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -WarningAction SilentlyContinue
        # Three buffered events, one of each program, in this order.
        foreach ($program in 'cat', 'head', 'tail') {
            (Invoke-Bounded $program @("$mount/data.txt")).ExitCode | Should -Be 0
        }
        Wait-Until { $watch.BufferedCount -ge 3 } | Should -BeTrue
        Start-Sleep -Milliseconds 100
        $watch.BufferedCount | Should -Be 3
    }
    AfterEach {
        Stop-FanotifyWatch $watch
        Remove-TestMount $mount
    }

    It 'a filtered read takes only what it returns: the rest stays buffered, in order, for the next reader' {
        $taken = @(Get-FanotifyEvent -Watch $watch -Exe '*/head')
        $taken.Exe | Should -Be @($exe.head)
        $watch.BufferedCount | Should -Be 2

        $rest = @(Get-FanotifyEvent -Watch $watch)
        $rest.Exe | Should -Be @($exe.cat, $exe.tail)
        $watch.BufferedCount | Should -Be 0
    }

    It 'a filtered read with -Count takes that many of what it returns and leaves everything else' {
        $taken = @(Get-FanotifyEvent -Watch $watch -ExcludeExe '*/cat' -Count 1)
        $taken.Exe | Should -Be @($exe.head)
        @(Get-FanotifyEvent -Watch $watch).Exe | Should -Be @($exe.cat, $exe.tail)
    }

    It '-Keep returns the events and leaves them buffered; a filtered -Keep returns what matches' {
        $kept = @(Get-FanotifyEvent -Watch $watch -Keep)
        $kept.Exe | Should -Be @($exe.cat, $exe.head, $exe.tail)
        $watch.BufferedCount | Should -Be 3
        @(Get-FanotifyEvent -Id $watch.Id -Keep -Exe '*/tail').Exe | Should -Be @($exe.tail)
        @(Get-FanotifyEvent -Watch $watch -Keep -Count 2).Exe | Should -Be @($exe.cat, $exe.head)
        $watch.BufferedCount | Should -Be 3

        # The next reader that takes gets the very same events.
        $taken = @(Receive-Job $watch)
        $taken | Should -HaveCount 3
        for ($i = 0; $i -lt 3; $i++) { [object]::ReferenceEquals($taken[$i], $kept[$i]) | Should -BeTrue }
        $watch.BufferedCount | Should -Be 0
    }

    It '-Keep -Wait returns each event once: the buffered ones, then the new ones as they come' {
        $late = Start-Bounded sh @('-c', "sleep 0.8; exec cat '$mount/data.txt' > /dev/null")
        $events = @(Get-FanotifyEvent -Watch $watch -Keep -Wait -Timeout 2.5)
        $late.WaitForExit(10000) | Should -BeTrue
        $events.Exe | Should -Be @($exe.cat, $exe.head, $exe.tail, $exe.cat)
        @($events.ProcessId | Sort-Object -Unique) | Should -HaveCount 4
        $watch.BufferedCount | Should -Be 4
    }
}

Describe 'Warnings and -Keep' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It '-Keep shows the watch''s warnings and leaves them for the reader that takes' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -BufferSize 1 -WarningAction SilentlyContinue
        try {
            foreach ($i in 1..3) { (Invoke-Bounded $exe.cat @("$mount/data.txt")).ExitCode | Should -Be 0 }
            Wait-Until { $watch.EventCount -ge 3 } | Should -BeTrue
            $kept = @(Get-FanotifyEvent -Watch $watch -Keep -WarningVariable keptWarnings -WarningAction SilentlyContinue)
            $kept | Should -HaveCount 1
            "$keptWarnings" | Should -BeLike '*dropped 2 events*'
            $watch.Warning | Should -HaveCount 1
            $null = Get-FanotifyEvent -Watch $watch -WarningVariable takenWarnings -WarningAction SilentlyContinue
            "$takenWarnings" | Should -BeLike '*dropped 2 events*'
            $watch.Warning | Should -HaveCount 0
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }
}

Describe 'A watch that filters on the program' -Tag 'RequireRoot', 'Fault' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'counts the events it left out because their process had exited before it could be named, and says so' {
        # A notification event is read after the fact: a stopped watcher reads only events of processes gone by then.
        # Exec events would name them (see Attribution.Tests.ps1): here the kernel refuses them, as before Linux 4.19.
        $nofeature = Get-LoadTool nofeature
        $child = Start-ChildWatcher -Mount $mount -Launcher @($nofeature, 'mark:2:0x1000:EINVAL', '--') -Script @'
$w = Start-FanotifyWatch -Path $mount -Event Open -Exe '*/cat' -WarningAction SilentlyContinue
Send-Ready
while (-not (Test-Path "$ready.done")) { Start-Sleep -Milliseconds 50 }
Start-Sleep -Milliseconds 500
$events = @(Get-FanotifyEvent -Watch $w -WarningVariable warned -WarningAction SilentlyContinue)
[pscustomobject]@{ Events = $events.Count; Named = @($events | Where-Object Exe -like '*/cat').Count; Filtered = $w.FilteredCount; Warning = "$warned" } | ConvertTo-Json -Compress
'@
        try {
            & kill -STOP $child.Pid
            foreach ($i in 1..10) { (Invoke-Bounded sh @('-c', "cat '$mount/data.txt' > /dev/null")).ExitCode | Should -Be 0 }
            & kill -CONT $child.Pid
            # Without exec events even a cat still alive when its event is read is not named: it exec'd since the
            # watch started, and nothing says whether before or after its event. Left out, but not as gone.
            (Invoke-Bounded sh @('-c', "sleep 1 | cat '$mount/data.txt' - > /dev/null")).ExitCode | Should -Be 0
            Set-Content "$($child.Ready).done" 'done'
            $child.Process.WaitForExit(30000) | Should -BeTrue
            $output = $child.Process.StandardOutput.ReadToEnd()
            $result = $output | ConvertFrom-Json
            $result.Named | Should -Be 0 -Because $output
            $result.Events | Should -Be 0
            $result.Warning -match 'Watch \d+ left out (\d+) events whose process had exited before it could be named: -Exe' |
                Should -BeTrue -Because "the watch says so: '$($result.Warning)'"
            $unnamed = [int]$Matches[1]
            $unnamed | Should -Be 10 -Because 'every cat had exited before the stopped watcher read its event'
            $result.Filtered | Should -BeGreaterOrEqual ($unnamed + 1) -Because 'they are counted in FilteredCount too, with the live cat'
        }
        finally {
            Stop-ChildWatcher $child
        }
    }

    It 'says nothing when every event it left out was judged on its program' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -Exe '*/head' -WarningAction SilentlyContinue
        try {
            foreach ($i in 1..5) { (Invoke-Bounded $exe.cat @("$mount/data.txt")).ExitCode | Should -Be 0 }
            Wait-Until { $watch.FilteredCount -ge 5 } | Should -BeTrue
            @(Get-FanotifyEvent -Watch $watch -WarningVariable warned -WarningAction SilentlyContinue) | Should -HaveCount 0
            $warned | Should -BeNullOrEmpty -Because 'a permission event is read while its process waits: it always has its program'
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }
}

Describe 'The end of a timed stream' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'returns what came before -Timeout while the pipeline was busy past it' {
        # The first file is written once the watch's mark exists (the fdinfo of a fanotify group lists its marks).
        $writer = Start-Bounded sh @('-c', "until grep -qsE '^fanotify (ino|mnt_id|sdev):' /proc/$PID/fdinfo/*; do sleep 0.05; done; echo 1 > '$mount/first'") -TimeoutSeconds 30
        # Its consumer has another process write a second file long before the deadline, then holds the pipeline
        # past it, as a slow command downstream or a slow progress bar does.
        $events = @(Get-FanotifyEvent $mount -Event CloseWrite -Timeout 2 | ForEach-Object {
                if ($_.Path -eq "$mount/first") {
                    & sh -c "echo 2 > '$mount/second'"
                    Start-Sleep -Milliseconds 2500
                }
                $_
            })
        $writer.WaitForExit(10000) | Should -BeTrue
        $events.Path | Should -Be "$mount/first", "$mount/second"
    }
}
