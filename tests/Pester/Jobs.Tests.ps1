#Requires -Version 7.4
# A watch is a PowerShell job: Get-Job, Receive-Job, Wait-Job, Stop-Job and Remove-Job work on it, and
# Receive-Job and Get-FanotifyEvent read one buffer.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:openloop = Get-LoadTool openloop

    function Write-TestFiles {
        <# Writes files from another process (the watcher does not report its own pwsh). #>
        param([string] $Directory, [string] $Prefix, [int] $Count)
        $run = Invoke-Bounded sh @('-c', "i=1; while [ `$i -le $Count ]; do echo x > '$Directory/$Prefix'`$i; i=`$((i+1)); done")
        $run.ExitCode | Should -Be 0 -Because $run.Output
    }
}

Describe 'A watch as a job' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'is listed by Get-Job with the same id, name and state as Get-FanotifyWatch' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite -Name jobs-listed
        try {
            $job = Get-Job -Id $watch.Id
            $job | Should -Be $watch
            $job.PSJobTypeName | Should -Be 'FanotifyWatch'
            $job.Name | Should -Be 'jobs-listed'
            $job.JobStateInfo.State | Should -Be 'Running'
            $job.Command | Should -BeLike "Start-FanotifyWatch -Path '$mount'*CloseWrite*"
            (Get-Job -Name jobs-listed).Id | Should -Be $watch.Id
            (Get-FanotifyWatch -Id $job.Id).State | Should -Be 'Running'
        }
        finally {
            Remove-Job $watch -Force
        }
    }

    It 'shares one buffer between Receive-Job and Get-FanotifyEvent, with -Keep leaving events in it' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        try {
            Write-TestFiles $mount shared 5
            # Receive-Job reads the job's Output, which the pump fills a moment after the responder counts an event.
            Wait-Until { $watch.Output.Count -ge 5 } | Should -BeTrue
            $watch.HasMoreData | Should -BeTrue

            $kept = @(Receive-Job $watch -Keep)
            $kept | Should -HaveCount 5
            $kept[0] | Should -BeOfType FanotifyPS.FanotifyEvent
            $watch.BufferedCount | Should -Be 5

            $read = @(Get-FanotifyEvent -Watch $watch)
            $read.Path | Should -Be $kept.Path
            $watch.BufferedCount | Should -Be 0
            @(Receive-Job $watch) | Should -HaveCount 0 -Because 'Get-FanotifyEvent took them'

            Write-TestFiles $mount again 3
            Wait-Until { $watch.Output.Count -ge 3 } | Should -BeTrue
            @(Receive-Job $watch).Path | Should -Be (1..3 | ForEach-Object { "$mount/again$_" })
            @(Get-FanotifyEvent -Watch $watch) | Should -HaveCount 0 -Because 'Receive-Job took them'
            $watch.HasMoreData | Should -BeFalse
        }
        finally {
            Remove-Job $watch -Force
        }
    }

    It 'streams events to Receive-Job -Wait until Stop-Job, which returns' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $stopper = Start-ThreadJob {
            param($watch, $mount, $module)
            Import-Module $module
            Start-Sleep -Milliseconds 500
            sh -c "for i in 1 2 3 4 5 6; do echo x > '$mount/waited'`$i; done"
            Start-Sleep -Milliseconds 500
            Stop-Job $watch
            'stopped'
        } -ArgumentList $watch, $mount, $env:FANOTIFYPS_MODULE
        try {
            $elapsed = [Diagnostics.Stopwatch]::StartNew()
            $events = @(Receive-Job $watch -Wait)
            $elapsed.Elapsed.TotalSeconds | Should -BeLessThan 20
            $events.Path | Should -Be (1..6 | ForEach-Object { "$mount/waited$_" })
            $watch.State | Should -Be 'Stopped'
            Receive-Job $stopper -Wait | Should -Be 'stopped'
        }
        finally {
            Remove-Job $stopper -Force
            Remove-Job $watch -Force
        }
    }

    It 'makes Wait-Job time out while it runs and return once Stop-Job stopped it' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        try {
            Wait-Job $watch -Timeout 1 | Should -BeNullOrEmpty
            $stopped = Stop-Job $watch -PassThru
            $stopped.JobStateInfo.State | Should -Be 'Stopped'
            (Wait-Job $watch -Timeout 5) | Should -Be $watch
            $watch.PSEndTime | Should -Not -BeNullOrEmpty
            (Get-FanotifyWatch -Id $watch.Id).State | Should -Be 'Stopped'
        }
        finally {
            Remove-Job $watch -Force
        }
    }

    It 'is stopped by Stop-FanotifyWatch as a job too, and its events stay readable by Receive-Job' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        Write-TestFiles $mount before-stop 2
        Wait-Until { $watch.EventCount -ge 2 } | Should -BeTrue
        Stop-FanotifyWatch $watch
        (Get-Job -Id $watch.Id).JobStateInfo.State | Should -Be 'Stopped'
        @(Receive-Job $watch -Wait) | Should -HaveCount 2
        Remove-Job $watch
    }

    It 'is removed by Remove-Job only when stopped, or with -Force, which stops it and closes its descriptors' {
        Set-Content "$mount/free.txt" 'payload'
        $before = Get-FanotifyFdCount
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, CloseWrite
        { Remove-Job $watch -ErrorAction Stop } | Should -Throw -ErrorId 'JobObjectNotFinishedCannotBeRemoved*'
        $watch.State | Should -Be 'Running'

        Remove-Job $watch -Force
        $watch.State | Should -Be 'Stopped'
        Get-Job -Id $watch.Id -ErrorAction Ignore | Should -BeNullOrEmpty
        Get-FanotifyWatch | Where-Object Id -EQ $watch.Id | Should -BeNullOrEmpty
        Get-FanotifyFdCount | Should -Be $before
        $run = Invoke-Bounded $openloop @("$mount/free.txt", '100') -TimeoutSeconds 20
        $run.ExitCode | Should -Be 0 -Because 'nothing holds permission events any more'
    }

    It 'leaves Get-Job when Remove-FanotifyWatch forgets it' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        Remove-FanotifyWatch $watch
        Get-Job -Id $watch.Id -ErrorAction Ignore | Should -BeNullOrEmpty
        $watch.State | Should -Be 'Stopped'
    }

    It 'puts drop warnings in the job''s Warning stream, one unread record at a time' {
        Set-Content "$mount/data.txt" 'payload'
        $watch = Start-FanotifyWatch -Path $mount -BufferSize 100
        try {
            $run = Invoke-Bounded $openloop @("$mount/data.txt", '3000') -TimeoutSeconds 60
            $run.ExitCode | Should -Be 0 -Because $run.Output
            Wait-Until { $watch.EventCount -ge 3000 -and $watch.Warning.Count -ge 1 -and "$($watch.Warning)" -like "*dropped $($watch.DroppedCount) *" } |
                Should -BeTrue -Because "$($watch.Warning)"
            $watch.Warning | Should -HaveCount 1

            $events = @(Receive-Job $watch -WarningVariable warnings -WarningAction SilentlyContinue)
            $events | Should -HaveCount 100
            "$warnings" | Should -BeLike "*dropped $($watch.DroppedCount) events*-BufferSize*"
            $watch.Warning | Should -HaveCount 0
        }
        finally {
            Remove-Job $watch -Force
        }
    }

    It 'formats with other jobs as one table, and leaves the view of other jobs alone' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite -Name jobs-table
        $other = Start-ThreadJob { 'done' }
        try {
            $null = Wait-Job $other -Timeout 30
            $mixed = @($watch, $other) | Out-String -Width 200
            $mixed | Should -Not -BeLike '*ThreadJobDefinition*' -Because 'a job printed out of the table shows as a list'
            $mixed | Should -BeLike "*jobs-table*Running*$($other.Name)*Completed*"
            $other | Out-String -Width 200 | Should -BeLike '*PSJobTypeName*ThreadJob*'
        }
        finally {
            Remove-Job $other -Force
            Remove-Job $watch -Force
        }
    }

    It 'refuses Suspend-Job with a clear error' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        try {
            { Suspend-Job $watch -ErrorAction Stop } | Should -Throw
            $watch.State | Should -Be 'Running'
        }
        finally {
            Remove-Job $watch -Force
        }
    }
}

Describe 'A watch whose watcher thread fails' -Tag 'RequireRoot', 'Fault' {
    BeforeAll {
        $mount = New-TestMount
        $script:gdb = Get-Command gdb -ErrorAction Ignore
    }
    AfterAll { Remove-TestMount $mount }

    It 'reports the failure in the job''s Error stream and is Failed (its group closed under it by a debugger)' {
        if (-not $gdb) { Set-ItResult -Skipped -Because 'gdb is not installed (build.ps1 -Task Test installs it)' }
        $child = Start-ChildWatcher -Mount $mount -Script @'
$w = Start-FanotifyWatch -Path $mount -Event CloseWrite
Send-Ready
$events = @(Receive-Job $w -Wait -ErrorVariable failures -ErrorAction SilentlyContinue)
[pscustomobject]@{
    State = "$($w.State)"; Reason = $w.FailureReason; Errors = @($failures | ForEach-Object { "$($_.FullyQualifiedErrorId)|$_" })
    Events = $events.Count; HasMoreData = $w.HasMoreData
} | ConvertTo-Json -Compress
'@
        try {
            $groupFd = Get-ChildItem "/proc/$($child.Pid)/fd" | Where-Object {
                [IO.File]::ResolveLinkTarget($_.FullName, $false).FullName -like '*`[fanotify`]'
            } | Select-Object -First 1
            $groupFd | Should -Not -BeNullOrEmpty
            $run = Invoke-Bounded $gdb.Source @('-p', "$($child.Pid)", '-batch', '-nx', '-ex', "call (int)close($($groupFd.Name))") -TimeoutSeconds 60
            $run.ExitCode | Should -Be 0 -Because $run.Output

            $child.Process.WaitForExit(30000) | Should -BeTrue -Because 'Receive-Job -Wait returns when the watch fails'
            $result = $child.Process.StandardOutput.ReadToEnd() | ConvertFrom-Json
            $result.State | Should -Be 'Failed'
            $result.Reason | Should -Not -BeNullOrEmpty
            $result.Errors | Should -HaveCount 1
            $result.Errors[0] | Should -BeLike "WatchFailed*|Watch * failed: $($result.Reason)*"
            $result.HasMoreData | Should -BeFalse
        }
        finally {
            Stop-ChildWatcher $child
        }
    }
}
