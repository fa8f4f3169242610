#Requires -Version 7.4
# What a user sees of the events: real processes on a private tmpfs, the real kernel.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:dash = & readlink -f /bin/sh
    $script:cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source
}

Describe 'Events of other processes' -Tag 'RequireRoot' {
    BeforeEach {
        $mount = New-TestMount
        Set-Content -Path "$mount/data.txt" -Value 'payload'
        $watch = Start-FanotifyWatch -Path $mount
    }
    AfterEach {
        if ($watch) { Stop-FanotifyWatch $watch }
        Remove-TestMount $mount
    }

    It 'reports a file written by another process as CloseWrite with its exe and pid' {
        $pidFile = New-TemporaryFile   # outside the watched tmpfs
        $run = Invoke-Bounded sh @('-c', "echo `$`$ > $pidFile; exec cp $mount/data.txt $mount/copy.txt")
        $run.ExitCode | Should -Be 0
        $writerPid = [int](Get-Content $pidFile)
        Remove-Item $pidFile

        $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite -and $_.Path -eq "$mount/copy.txt" }
        $closeWrite = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite -and $_.Path -eq "$mount/copy.txt" }
        $closeWrite | Should -HaveCount 1
        $closeWrite.ProcessId | Should -Be $writerPid
        $closeWrite.Exe | Should -Be (& readlink -f (Get-Command cp -CommandType Application | Select-Object -First 1).Source)
        $closeWrite.Response | Should -Be 'None'
        $closeWrite.WatchId | Should -Be $watch.Id
    }

    It 'allows cat to read a file and reports OpenPerm with Response Allow' {
        $run = Invoke-Bounded $cat @("$mount/data.txt")
        $run.ExitCode | Should -Be 0
        $run.Output | Should -Be 'payload'

        $events = Receive-UntilEvent $watch { $_.Exe -eq $cat }
        $open = $events | Where-Object { $_.Exe -eq $cat -and $_.Path -eq "$mount/data.txt" }
        $open | Should -HaveCount 1
        $open.Event | Should -Be ([FanotifyPS.FanotifyEventType]::OpenPerm)
        $open.Response | Should -Be 'Allow'
        $open.IsProcessGone | Should -BeFalse
        $open.TimeStamp | Should -BeOfType [datetime]
        ($open.TimeStamp - [datetime]::Now).Duration().TotalMinutes | Should -BeLessThan 1
    }

    It 'formats an event as the seed line' {
        Invoke-Bounded $cat @("$mount/data.txt") | Out-Null
        $events = Receive-UntilEvent $watch { $_.Exe -eq $cat }
        $open = $events | Where-Object { $_.Exe -eq $cat } | Select-Object -First 1
        $open.ToString() | Should -BeExactly "FAN_OPEN_PERM: File $mount/data.txt Exe $cat"
    }

    It 'filters with Where-Object and round-trips through Export-Csv and Import-Csv' {
        Invoke-Bounded $cat @("$mount/data.txt") | Out-Null
        Invoke-Bounded sh @('-c', "echo more >> $mount/data.txt") | Out-Null
        $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite }

        $catEvents = @($events | Where-Object Exe -like '*/cat')
        $catEvents | Should -Not -BeNullOrEmpty
        $events.Count | Should -BeGreaterThan $catEvents.Count   # the shell's events were filtered out

        # Into the watched filesystem itself: the module's own writes must not feed the stream.
        $csv = "$mount/events.csv"
        $events | Export-Csv -Path $csv
        $rows = @(Import-Csv -Path $csv)
        $rows | Should -HaveCount $events.Count
        for ($i = 0; $i -lt $rows.Count; $i++) {
            $rows[$i].Path | Should -BeExactly $events[$i].Path
            $rows[$i].Exe | Should -BeExactly $events[$i].Exe
            [int]$rows[$i].ProcessId | Should -Be $events[$i].ProcessId
            [FanotifyPS.FanotifyEventType]$rows[$i].Event | Should -Be $events[$i].Event
            [FanotifyPS.FanotifyResponse]$rows[$i].Response | Should -Be $events[$i].Response
        }

        Start-Sleep -Milliseconds 300
        @(Get-FanotifyEvent -Watch $watch | Where-Object Path -eq $csv) | Should -HaveCount 0
    }

    It 'reports a file deleted while open with IsDeleted and its original path' {
        $run = Invoke-Bounded sh @('-c', "exec 3>$mount/doomed.txt; rm $mount/doomed.txt; echo x >&3; exec 3>&-")
        $run.ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite -and $_.IsDeleted }
        $closed = $events | Where-Object { $_.IsDeleted }
        $closed | Should -HaveCount 1
        $closed.Path | Should -BeExactly "$mount/doomed.txt"
        $closed.ToString() | Should -BeLike "FAN_CLOSE_WRITE: File $mount/doomed.txt (deleted) *"
    }

    It 'keeps the program of a process that may have exited before its close was read' {
        # sh writes, closes and exits at once: its CloseWrite is often read after it is gone (IsProcessGone).
        Invoke-Bounded sh @('-c', "echo x > $mount/quick.txt") | Out-Null
        $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite }
        $open = $events | Where-Object { $_.Event -eq 'OpenPerm' -and $_.Path -eq "$mount/quick.txt" }
        $close = $events | Where-Object { $_.Event -eq 'CloseWrite' -and $_.Path -eq "$mount/quick.txt" }
        $open.Exe | Should -Be $dash
        $close.ProcessId | Should -Be $open.ProcessId
        $close.Exe | Should -Be $dash
    }

    It 'names the new program of a process seen before that execs, though its open is answered before the read' {
        # The pid is known as sh after its first open, so cat's open is answered first and its program read after.
        # cat then waits on its stdin (sleep's pipe), so it is alive when the watcher reads it.
        Invoke-Bounded sh @('-c', "sleep 1 | sh -c 'exec 3<$mount/data.txt; exec $cat $mount/data.txt - > /dev/null'") | Out-Null
        $events = Receive-UntilEvent $watch { $_.Exe -eq $cat }
        $opens = @($events | Where-Object { $_.Event -eq 'OpenPerm' -and $_.Path -eq "$mount/data.txt" })
        $opens | Should -HaveCount 2
        $opens[0].Exe | Should -Be $dash
        $opens[1].Exe | Should -Be $cat
        $opens[1].ProcessId | Should -Be $opens[0].ProcessId
        $opens[1].IsProcessGone | Should -BeFalse
    }

    It 'reads the events of watches given by pipeline or by -Id, and takes them from the buffer' {
        Invoke-Bounded $cat @("$mount/data.txt") | Out-Null
        Wait-Until { $watch.BufferedCount -ge 1 } | Should -BeTrue
        $byPipeline = @(Get-FanotifyWatch -Id $watch.Id | Get-FanotifyEvent)
        $byPipeline | Should -HaveCount 1
        $watch.BufferedCount | Should -Be 0

        Invoke-Bounded $cat @("$mount/data.txt") | Out-Null
        Wait-Until { $watch.BufferedCount -ge 1 } | Should -BeTrue
        $byId = @(Get-FanotifyEvent -Id $watch.Id)
        $byId | Should -HaveCount 1
        $byId[0].ProcessId | Should -Not -Be $byPipeline[0].ProcessId
    }

    It 'does not report the events of its own process' {
        [IO.File]::WriteAllText("$mount/own.txt", 'mine')
        $null = [IO.File]::ReadAllText("$mount/data.txt")
        Invoke-Bounded $cat @("$mount/data.txt") | Out-Null
        $events = Receive-UntilEvent $watch { $_.Exe -eq $cat }
        $events | Where-Object ProcessId -eq $PID | Should -BeNullOrEmpty
        $events | Where-Object Path -eq "$mount/own.txt" | Should -BeNullOrEmpty
        $watch.OwnEventCount | Should -BeGreaterOrEqual 2   # counted, so nothing is lost silently
    }
}

Describe 'Default path' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'watches the current directory when -Path is omitted' {
        Push-Location $mount
        try {
            $watch = Start-FanotifyWatch
            $watch.Path | Should -BeExactly $mount
            Set-Content "$mount/x.txt" 'x'
            Invoke-Bounded $cat @('x.txt') | Out-Null
            $events = Receive-UntilEvent $watch { $_.Exe -eq $cat -and $_.Path -eq "$mount/x.txt" }
            $events | Where-Object { $_.Exe -eq $cat -and $_.Path -eq "$mount/x.txt" } | Should -Not -BeNullOrEmpty
        }
        finally {
            Pop-Location
            if ($watch) { Stop-FanotifyWatch $watch }
        }
    }

    It 'streams ad hoc for the current directory with Get-FanotifyEvent -Timeout' {
        Set-Content "$mount/y.txt" 'y'
        Push-Location $mount
        try {
            $reader = Start-Bounded sh @('-c', "sleep 1; cat $mount/y.txt")
            $events = @(Get-FanotifyEvent -Timeout 3)
            $reader.WaitForExit()
            $events | Where-Object { $_.Path -eq "$mount/y.txt" -and $_.Exe -eq $cat } | Should -HaveCount 1
        }
        finally {
            Pop-Location
        }
    }
}

Describe 'Counting accesses' -Tag 'RequireRoot' {
    # The -Event help: the kernel merges a notification event into an identical unread one, so Open cannot count
    # opens; a permission event waits for its own verdict, so OpenPerm can.
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/f" 'f'
        $openloop = Get-LoadTool openloop
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It 'gives fewer Open events than opens of one file by one process, and one OpenPerm event per open' {
        $watch = Start-FanotifyWatch $mount -Event Open -InformationAction Ignore
        (Invoke-Bounded $openloop @("$mount/f", '20000', 'r')).ExitCode | Should -Be 0
        Set-Content "$mount/last" 'l'
        $null = Invoke-Bounded cat @("$mount/last")
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/last" }
        $opens = @($events | Where-Object { $_.Path -eq "$mount/f" -and $_.Exe -eq $openloop })
        $opens.Count | Should -BeGreaterThan 0
        $opens.Count | Should -BeLessThan 20000 -Because 'identical unread Open events are merged'
        $watch.DroppedCount + $watch.OverflowCount | Should -Be 0
        Stop-FanotifyWatch $watch

        $watch = Start-FanotifyWatch $mount -Event OpenPerm -InformationAction Ignore
        (Invoke-Bounded $openloop @("$mount/f", '2000', 'r')).ExitCode | Should -Be 0
        $null = Invoke-Bounded cat @("$mount/last")
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/last" }
        @($events | Where-Object { $_.Path -eq "$mount/f" -and $_.Exe -eq $openloop }).Count | Should -Be 2000
    }
}
