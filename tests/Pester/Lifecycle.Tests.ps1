#Requires -Version 7.4
# A watch's readers wait on one handle that its pump sets: every reader waiting at once wakes on new events, a
# reader that takes nothing does not spin, and one reader can wait on more watches than one wait takes handles.
# Real processes on a private tmpfs, the real kernel.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'Readers waiting at once' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        # Another process writes (the watcher does not report its own pwsh).
        $writeThree = { param($prefix) (Invoke-Bounded sh @('-c', "for i in 1 2 3; do echo x > '$mount/$prefix'`$i; done")).ExitCode | Should -Be 0 }
    }
    AfterAll { Remove-TestMount $mount }

    It 'wakes every waiting reader on new events, and two -Keep readers that take nothing do not spin meanwhile' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $readers = @()
        try {
            & $writeThree before
            Wait-Until { $watch.BufferedCount -ge 3 } | Should -BeTrue
            $readers = foreach ($i in 1..2) {
                Start-ThreadJob {
                    param($watch, $module)
                    Import-Module $module
                    @(Get-FanotifyEvent -Watch $watch -Keep -Wait -Count 6 -Timeout 30).Path
                } -ArgumentList $watch, $env:FANOTIFYPS_MODULE
            }

            # Both have returned the buffered events by now and wait for more: a wait that finds only what it
            # has already returned must sleep, not look again at once.
            Start-Sleep -Seconds 2
            $readers.State | Should -Be @('Running', 'Running')
            $cpu = (Get-Process -Id $PID).TotalProcessorTime
            Start-Sleep -Seconds 2
            $spent = ((Get-Process -Id $PID).TotalProcessorTime - $cpu).TotalSeconds
            $spent | Should -BeLessThan 0.5 -Because 'two readers waiting for events use no CPU'

            & $writeThree after
            $expected = @(1..3 | ForEach-Object { "$mount/before$_" }) + @(1..3 | ForEach-Object { "$mount/after$_" })
            foreach ($reader in $readers) {
                $null = Wait-Job $reader -Timeout 20
                $reader.State | Should -Be 'Completed'
                Receive-Job $reader | Should -Be $expected
            }

            $watch.BufferedCount | Should -Be 6 -Because 'the readers kept what they read'
        }
        finally {
            $readers | Remove-Job -Force
            Remove-Job $watch -Force
        }
    }

    It 'wakes a reader of more watches than one wait takes (64) on an event of any of them' {
        $watches = [Collections.Generic.List[object]]::new()
        try {
            foreach ($i in 1..64) {
                $null = New-Item -ItemType Directory -Path "$mount/many$i"
                $watches.Add((Start-FanotifyWatch -Path "$mount/many$i" -Scope Directory -Event CloseWrite))
            }

            $late = Start-Bounded sh @('-c', "sleep 1; echo x > '$mount/many64/late'")
            $events = @($watches | Get-FanotifyEvent -Wait -Count 1 -Timeout 20)
            $late.WaitForExit(10000) | Should -BeTrue
            $events.Path | Should -Be "$mount/many64/late"
            $events.WatchId | Should -Be $watches[63].Id
        }
        finally {
            $watches | Remove-Job -Force
        }
    }
}
