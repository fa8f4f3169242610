#Requires -Version 7.4
# -ExcludePath, -ProcessId, -ExcludeProcessId, -Exe, -ExcludeExe, -IncludeSelf: on the watch and on the stream.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source
    $script:head = & readlink -f (Get-Command head -CommandType Application | Select-Object -First 1).Source
}

Describe 'Filters' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        foreach ($f in 'keep.txt', 'skip.log', 'literal.txt') { Set-Content "$mount/$f" 'x' }
    }
    AfterAll { Remove-TestMount $mount }

    It '-ExcludePath with wildcards leaves matching paths out, in the watcher' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -ExcludePath '*.log'
        try {
            (Invoke-Bounded sh @('-c', "cat $mount/skip.log $mount/keep.txt")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/keep.txt" }
            $events | Where-Object Path -like '*.log' | Should -BeNullOrEmpty
            $watch.FilteredCount | Should -Be 1
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It '-ExcludePath of one literal file becomes a kernel ignore mark: its events are never even read' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, CloseNoWrite -ExcludePath "$mount/literal.txt"
        try {
            (Invoke-Bounded sh @('-c', "cat $mount/literal.txt $mount/literal.txt $mount/keep.txt")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/keep.txt" -and $_.Event -band [FanotifyPS.FanotifyEventType]::CloseNoWrite }
            $events | Where-Object Path -eq "$mount/literal.txt" | Should -BeNullOrEmpty
            $watch.FilteredCount | Should -Be 0
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It '-Exe and -ExcludeExe choose programs' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -Exe '*/cat', '*/head' -ExcludeExe '*/head'
        try {
            (Invoke-Bounded sh @('-c', "head -c1 $mount/keep.txt >/dev/null; tail -c1 $mount/keep.txt >/dev/null; cat $mount/keep.txt")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Exe -eq $cat }
            $events.Exe | Select-Object -Unique | Should -Be $cat
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It '-IncludeSelf reports this process, and -ProcessId and -ExcludeProcessId choose processes' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -IncludeSelf -ProcessId $PID
        try {
            $null = [IO.File]::ReadAllText("$mount/keep.txt")
            Invoke-Bounded cat @("$mount/keep.txt") | Out-Null
            $events = Receive-UntilEvent $watch { $_.ProcessId -eq $PID } -TimeoutSeconds 3
            Start-Sleep -Milliseconds 300
            $events += @(Get-FanotifyEvent -Watch $watch)
            $events | Where-Object ProcessId -eq $PID | Should -Not -BeNullOrEmpty
            $events | Where-Object ProcessId -ne $PID | Should -BeNullOrEmpty
            ($events | Where-Object ProcessId -eq $PID | Select-Object -First 1).Response | Should -Be 'Allow'
        }
        finally { Stop-FanotifyWatch $watch }

        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -IncludeSelf -ExcludeProcessId $PID
        try {
            $null = [IO.File]::ReadAllText("$mount/keep.txt")
            Invoke-Bounded cat @("$mount/keep.txt") | Out-Null
            $events = Receive-UntilEvent $watch { $_.Exe -eq $cat }
            $events | Where-Object ProcessId -eq $PID | Should -BeNullOrEmpty
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'Get-FanotifyEvent applies the same filters to the stream of a running watch' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
        try {
            (Invoke-Bounded sh @('-c', "head -c1 $mount/keep.txt >/dev/null; cat $mount/skip.log")).ExitCode | Should -Be 0
            Wait-Until { $watch.EventCount -ge 2 } | Should -BeTrue
            $events = @(Get-FanotifyEvent -Watch $watch -Exe '*/head' -ExcludePath '*.log')
            $events | Should -HaveCount 1
            $events.Exe | Should -Be $head
            $watch.BufferedCount | Should -Be 1   # what the stream filter left out stays, for the next reader
            (Get-FanotifyEvent -Watch $watch).Path | Should -Be "$mount/skip.log"
        }
        finally { Stop-FanotifyWatch $watch }
    }
}
