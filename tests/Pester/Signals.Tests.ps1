#Requires -Version 7.4
# Signals and a closed output: what would leave a permission watch unanswered, or running with nobody reading it.
# Every watcher runs in a child pwsh under a hard deadline (SIGKILL), and only the pids started here are signalled.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:pwsh = Get-PwshCommand

    # The state letter of /proc/PID/stat ('T' when stopped by a signal), or '' when the process is gone.
    function Get-ProcessState([int] $Id) {
        $stat = Get-Content "/proc/$Id/stat" -Raw -ErrorAction Ignore
        if (-not $stat) { return '' }
        $stat.Substring($stat.LastIndexOf(')') + 2, 1)
    }
}

Describe 'Stop signals while a permission watch runs' -Tag 'RequireRoot', 'Fault' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'SIGTSTP, SIGTTIN and SIGTTOU do not stop pwsh while a permission watch runs; once the last one stops, SIGTSTP stops it again' {
        # Two permission watches (the guard is counted) and a notification watch (it does not need the guard).
        $child = Start-ChildWatcher -Mount $mount -Script @'
$first = Start-FanotifyWatch -Path $mount -Event OpenPerm
$second = Start-FanotifyWatch -Path $mount -Event OpenExecPerm, OpenPerm
$notification = Start-FanotifyWatch -Path $mount -Event Open
Send-Ready
while (-not (Test-Path "$ready.stop1")) { Start-Sleep -Milliseconds 50 }
Stop-FanotifyWatch $first
Set-Content "$ready.stopped1" 'stopped'
while (-not (Test-Path "$ready.stop2")) { Start-Sleep -Milliseconds 50 }
Stop-FanotifyWatch $second
Set-Content "$ready.stopped2" 'stopped'
while ($true) { Start-Sleep -Milliseconds 50 }
'@
        try {
            foreach ($signal in 'TSTP', 'TTIN', 'TTOU') {
                & kill "-$signal" $child.Pid
                Start-Sleep -Milliseconds 300
                $open = Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5
                $open.ExitCode | Should -Be 0 -Because "SIG$signal must not stop the watcher (137: the opener waited until its deadline)"
                $open.Output | Should -Be 'payload'
                Get-ProcessState $child.Pid | Should -Not -Be 'T' -Because "SIG$signal must not stop the watcher"
            }

            # One permission watch left: still guarded.
            Set-Content "$($child.Ready).stop1" 'stop'
            Wait-Until { Test-Path "$($child.Ready).stopped1" } | Should -BeTrue
            & kill -TSTP $child.Pid
            Start-Sleep -Milliseconds 300
            (Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5).ExitCode | Should -Be 0
            Get-ProcessState $child.Pid | Should -Not -Be 'T'

            # No permission watch left (a notification watch still runs): pwsh's own handling is back.
            Set-Content "$($child.Ready).stop2" 'stop'
            Wait-Until { Test-Path "$($child.Ready).stopped2" } | Should -BeTrue
            & kill -TSTP $child.Pid
            Wait-Until { (Get-ProcessState $child.Pid) -eq 'T' } -TimeoutSeconds 5 | Should -BeTrue -Because 'without a permission watch, SIGTSTP stops pwsh as before'
            & kill -CONT $child.Pid
            Wait-Until { (Get-ProcessState $child.Pid) -notin 'T', '' } -TimeoutSeconds 5 | Should -BeTrue
        }
        finally {
            Stop-ChildWatcher $child
        }
    }

    It 'says so once per process where its output is a terminal, and writes nothing into redirected output' {
        $base = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-warn-$([guid]::NewGuid())"
        Set-Content "$base.ps1" @"
Import-Module '$env:FANOTIFYPS_MODULE'
`$first = Start-FanotifyWatch '$mount' -Event OpenPerm
`$second = Start-FanotifyWatch '$mount' -Event OpenExecPerm
Stop-FanotifyWatch `$first, `$second
`$third = Start-FanotifyWatch '$mount' -Event OpenPerm
'done'
"@
        try {
            $pwshLine = (@($pwsh.FilePath) + @($pwsh.Prefix) | ForEach-Object { "'$_'" }) -join ' '
            # script(1) runs it on a pseudo-terminal: its output is a terminal there.
            $onTerminal = Invoke-Bounded script @('-qec', "$pwshLine -NoProfile -NonInteractive -File '$base.ps1'", '/dev/null') -TimeoutSeconds 60
            $onTerminal.ExitCode | Should -Be 0 -Because $onTerminal.Output
            $onTerminal.Output | Should -BeLike '*done*'
            $text = $onTerminal.Output -replace '\e\[[0-9;?]*[A-Za-z]' -replace '\s+', ' '
            $text | Should -BeLike '*While a permission watch runs, Ctrl+Z (SIGTSTP), SIGTTIN and SIGTTOU do not stop this pwsh*Stop the watch first (Ctrl+C or Stop-FanotifyWatch).*'
            ([regex]::Matches($text, 'do not stop this pwsh')).Count | Should -Be 1 -Because 'once per process'

            $redirected = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', "$base.ps1")) -TimeoutSeconds 60
            $redirected.ExitCode | Should -Be 0
            $redirected.Output | Should -BeExactly 'done'
        }
        finally {
            Remove-Item "$base*" -ErrorAction Ignore
        }
    }

    It 'SIGTSTP does not stop pwsh while Get-FanotifyEvent streams a permission watch, and stops it once the stream ends' {
        Set-Content "$mount/probe" 'probe'
        Set-Content "$mount/last" 'last'
        # The stream says it runs at its first event: a loop of opens until then.
        $prober = Start-Bounded sh @('-c', "while :; do cat '$mount/probe' >/dev/null; sleep 0.1; done") -TimeoutSeconds 90
        try {
            $child = Start-ChildWatcher -Mount $mount -Script @'
Get-FanotifyEvent -Path $mount -Event OpenPerm |
    Where-Object { if (-not $script:sent) { Send-Ready; $script:sent = $true }; $_.Path -like '*/last' } |
    Select-Object -First 1 | Out-Null
Set-Content "$ready.stopped" 'stopped'
while ($true) { Start-Sleep -Milliseconds 50 }
'@
        }
        finally {
            $prober.Kill($true)
        }
        try {
            & kill -TSTP $child.Pid
            Start-Sleep -Milliseconds 300
            $open = Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5
            $open.ExitCode | Should -Be 0 -Because 'SIGTSTP must not stop the watcher (137: the opener waited until its deadline)'
            Get-ProcessState $child.Pid | Should -Not -Be 'T'

            (Invoke-Bounded cat @("$mount/last") -TimeoutSeconds 5).ExitCode | Should -Be 0
            Wait-Until { Test-Path "$($child.Ready).stopped" } | Should -BeTrue -Because 'the stream ends at the open of last'
            & kill -TSTP $child.Pid
            Wait-Until { (Get-ProcessState $child.Pid) -eq 'T' } -TimeoutSeconds 5 | Should -BeTrue -Because 'the ad hoc watch has stopped'
            & kill -CONT $child.Pid
        }
        finally {
            Stop-ChildWatcher $child
        }
    }
}

Describe 'A stream whose output pipe was closed' -Tag 'RequireRoot', 'Fault' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'ends when the reader of its stdout exits (| head -2): the watch stops and pwsh exits with 141 (<Name>)' -ForEach @(
        @{ Name = 'an ad hoc watch'; Stream = 'Get-FanotifyEvent $mount -Event Open | ForEach-Object ToString'; Event = 'FAN_OPEN' }
        @{ Name = 'Get-FanotifyEvent -Wait of a permission watch'; Stream = '$w = Start-FanotifyWatch $mount -Event OpenPerm; Get-FanotifyEvent -Watch $w -Wait | ForEach-Object ToString'; Event = 'FAN_OPEN_PERM' }
    ) {
        $base = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-pipe-$([guid]::NewGuid())"
        Set-Content "$base.ps1" @"
Import-Module '$env:FANOTIFYPS_MODULE'
`$mount = '$mount'
Set-Content '$base.pid' `$PID
$Stream
"@
        $pwshLine = (@($pwsh.FilePath) + @($pwsh.Prefix) | ForEach-Object { "'$_'" }) -join ' '
        # sh waits for both sides: the time head ended, and the time and exit code of pwsh.
        $pipeline = "{ $pwshLine -NoProfile -NonInteractive -File '$base.ps1'; echo `$? > '$base.code'; date +%s.%N > '$base.exited'; } | " +
            "{ head -2 > '$base.lines'; date +%s.%N > '$base.head'; }"
        $opener = Start-Bounded sh @('-c', "while :; do cat '$mount/data.txt' >/dev/null; sleep 0.05; done") -TimeoutSeconds 90
        $streamPid = 0
        try {
            $run = Invoke-Bounded sh @('-c', $pipeline) -TimeoutSeconds 45
            $streamPid = [int](Get-Content "$base.pid" -Raw -ErrorAction Ignore)
            $run.ExitCode | Should -Not -Be 137 -Because 'pwsh must end by itself once head has exited, not at the deadline'
            @(Get-Content "$base.lines") | Should -HaveCount 2
            @(Get-Content "$base.lines") | ForEach-Object { $_ | Should -BeLike "$($Event): File $mount/data.txt *" }
            (Get-Content "$base.code" -Raw).Trim() | Should -Be '141'
            $after = [double](Get-Content "$base.exited" -Raw) - [double](Get-Content "$base.head" -Raw)
            $after | Should -BeLessThan 5 -Because 'pwsh notices the closed pipe within a fraction of a second'
            $streamPid | Should -BeGreaterThan 1
            Test-Path "/proc/$streamPid" | Should -BeFalse -Because 'the process is gone, and its fanotify groups with it'
        }
        finally {
            $opener.Kill($true)
            # Only the pid this test started, and only if it still runs this test's script.
            if ($streamPid -gt 1 -and "$(Get-Content "/proc/$streamPid/cmdline" -Raw -ErrorAction Ignore)" -like "*$base.ps1*") {
                & kill -KILL $streamPid
            }
            Remove-Item "$base*" -ErrorAction Ignore
        }
        (Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5).ExitCode | Should -Be 0
    }
}
