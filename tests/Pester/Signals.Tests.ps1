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

Describe 'Ctrl+Z in a terminal, under the dotnet pwsh wrapper' -Tag 'RequireRoot', 'Fault' {
    # The README's run command is `dotnet pwsh ./build.ps1 -Task Run`: pwsh runs under the dotnet muxer and the tool
    # shim, in their process group. Here an interactive bash in a tmux pane (a job-control shell on a terminal) runs
    # such a pwsh, and tmux types the keys. Everything started is killed by pid at the end, and by a deadline.
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        $repo = (Resolve-Path (Join-Path $PSScriptRoot '../..')).ProviderPath
        $clockTicks = [double](& getconf CLK_TCK)

        function Invoke-Tmux([string[]] $Arguments) {
            $run = Invoke-Bounded tmux (@('-L', $socket) + $Arguments) -TimeoutSeconds 10
            if ($run.ExitCode -ne 0) { throw "tmux $($Arguments -join ' ') failed ($($run.ExitCode)): $($run.Output)" }
            $run.Output
        }

        function Send-Line([string] $Text) {
            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', '-l', $Text)
            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'Enter')
        }

        function Get-Screen { (Invoke-Tmux @('capture-pane', '-p', '-J', '-t', 'ctrlz', '-S', '-300')) -join "`n" }

        # CPU seconds (user + system) a process has used: fields 14 and 15 of /proc/PID/stat.
        function Get-CpuSecond([int] $Id) {
            $stat = Get-Content "/proc/$Id/stat" -Raw
            $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
            ([double]$fields[11] + [double]$fields[12]) / $clockTicks
        }

        # The share of one core a process uses over a few seconds.
        function Measure-Cpu([int] $Id, [double] $Seconds = 4) {
            $before = Get-CpuSecond $Id
            $clock = [Diagnostics.Stopwatch]::StartNew()
            Start-Sleep -Seconds $Seconds
            ((Get-CpuSecond $Id) - $before) / $clock.Elapsed.TotalSeconds
        }

        # The processes of the pane's session (bash leads it) in state T, stopped.
        function Get-StoppedInPane {
            foreach ($dir in Get-ChildItem /proc -Directory -ErrorAction Ignore | Where-Object Name -Match '^\d+$') {
                $stat = Get-Content "$($dir.FullName)/stat" -Raw -ErrorAction Ignore
                if (-not $stat) { continue }
                $fields = $stat.Substring($stat.LastIndexOf(')') + 2).Split(' ')
                if ([int]$fields[3] -eq $panePid -and $fields[0] -eq 'T') { "$($dir.Name) $(Get-Content "$($dir.FullName)/cmdline" -Raw -ErrorAction Ignore)" }
            }
        }

        function Test-Answered {
            $open = Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5
            $open.ExitCode -eq 0 -and $open.Output -eq 'payload'
        }

        # A pane with an interactive bash that runs $Setup, and a script for pwsh to run: it writes its pid first.
        function Start-Pane([string] $Setup, [string] $Script) {
            $script:socket = "fanotifyps-$([guid]::NewGuid().ToString('N').Substring(0, 12))"
            $script:base = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-ctrlz-$([guid]::NewGuid())"
            $script:pwshPid = 0
            $script:killer = $null
            Set-Content "$base.ps1" @"
Set-Content '$base.tmp' `$PID; Move-Item '$base.tmp' '$base.pid'
Import-Module '$env:FANOTIFYPS_MODULE'
`$mount = '$mount'
$Script
"@
            $null = Invoke-Tmux @('-f', '/dev/null', 'new-session', '-d', '-s', 'ctrlz', '-x', '160', '-y', '50', 'bash --norc --noprofile -i')
            $script:serverPid = [int](Invoke-Tmux @('display-message', '-p', '-t', 'ctrlz', '#{pid}'))
            $script:panePid = [int](Invoke-Tmux @('display-message', '-p', '-t', 'ctrlz', '#{pane_pid}'))
            Send-Line "$Setup; cd '$repo'"
        }

        # Waits for the pid the script writes, arms a deadline for that pwsh, and waits for the screen to show $Text.
        function Wait-Pwsh([string] $Text) {
            Wait-Until { Test-Path "$base.pid" } -TimeoutSeconds 120 | Should -BeTrue -Because "pwsh must start in the pane: $(Get-Screen)"
            $script:pwshPid = [int](Get-Content "$base.pid" -Raw)
            $pwshPid | Should -BeGreaterThan 1
            $script:killer = Start-Bounded sh @('-c', "sleep 170; grep -q '$base' /proc/$pwshPid/cmdline && kill -KILL $pwshPid") -TimeoutSeconds 180
            Wait-Until { (Get-Screen) -like "*$Text*" } -TimeoutSeconds 60 | Should -BeTrue -Because "the watch must start: $(Get-Screen)"
        }

        function Stop-Pane {
            # The watcher first, by pid and only while it runs this test's script: its death allows every opener.
            if ($pwshPid -gt 1 -and "$(Get-Content "/proc/$pwshPid/cmdline" -Raw -ErrorAction Ignore)" -like "*$base*") {
                & kill -KILL $pwshPid
            }
            if ($killer -and -not $killer.HasExited) { $killer.Kill($true) }
            $null = Invoke-Bounded tmux @('-L', $socket, 'kill-server') -TimeoutSeconds 10
            foreach ($id in $panePid, $serverPid) {
                if ($id -gt 1 -and (Test-Path "/proc/$id")) { & kill -KILL $id 2>$null }
            }
            Remove-Item "$base*" -ErrorAction Ignore
        }

        # Once pwsh has ended: the shell has the terminal back (its prompt answers), and opens are answered.
        function Assert-Ended {
            Wait-Until { -not (Test-Path "/proc/$pwshPid") } -TimeoutSeconds 30 | Should -BeTrue -Because "pwsh must end: $(Get-Screen)"
            Send-Line 'echo "shell-$((6 * 7))"'
            Wait-Until { (Get-Screen) -like '*shell-42*' } -TimeoutSeconds 15 | Should -BeTrue -Because "the shell must have its terminal back: $(Get-Screen)"
            Test-Answered | Should -BeTrue
        }
    }
    AfterAll { Remove-TestMount $mount }

    It 'Ctrl+Z stops nothing, the watch answers at a low CPU, and Ctrl+C ends it: <Name>' -ForEach @(
        @{ Name = 'the Run task''s table, on a terminal that stops background writers (stty tostop)'; Setup = 'stty tostop'
            Script = 'Get-FanotifyEvent -Path $mount | Format-Table'; Note = $true }
        # The note is written too, but the bar's next redraw may clear it.
        @{ Name = 'a timed stream and its progress bar'; Setup = 'true'
            Script = 'Get-FanotifyEvent -Path $mount -Timeout 600 | Format-Table'; Note = $false }
    ) {
        Start-Pane -Setup $Setup -Script $Script
        try {
            Send-Line "dotnet pwsh -NoProfile -File '$base.ps1'"
            Wait-Pwsh 'waits for this pwsh'
            Test-Answered | Should -BeTrue

            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'C-z')
            Start-Sleep -Seconds 2
            foreach ($i in 1..3) { Test-Answered | Should -BeTrue -Because 'the watch must answer after Ctrl+Z' }
            # Spinning took a core or more; a pwsh that prints a few lines takes a small share of one.
            Measure-Cpu $pwshPid | Should -BeLessThan 0.2 -Because 'pwsh must not spin after Ctrl+Z'
            Get-StoppedInPane | Should -BeNullOrEmpty -Because 'Ctrl+Z must stop nothing while a permission watch runs (neither pwsh nor the wrapper)'
            if ($Note) { Get-Screen | Should -BeLike '*Ctrl+Z does not stop this pwsh*' -Because 'Ctrl+Z is answered by a note' }

            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'C-c')
            Assert-Ended
        }
        finally {
            Stop-Pane
        }
    }

    It 'Ctrl+Z stops nothing in an interactive pwsh with a permission watch job, whose prompt then works at a low CPU' {
        Start-Pane -Setup 'true' -Script '$w = Start-FanotifyWatch -Path $mount -Event OpenPerm'
        try {
            Send-Line 'dotnet pwsh -NoProfile'
            Wait-Until { (Get-Screen) -like '*PS *>*' } -TimeoutSeconds 120 | Should -BeTrue -Because "the prompt must come: $(Get-Screen)"
            Send-Line ". '$base.ps1'"
            Wait-Pwsh 'waits for this pwsh'
            # Ctrl+Z while a command runs (at the prompt the terminal sends it as a key): the prompt then comes back.
            Send-Line 'Start-Sleep -Seconds 3; "slept-$(6 * 7)"'
            Start-Sleep -Seconds 1
            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'C-z')
            Wait-Until { (Get-Screen) -like '*slept-42*' } -TimeoutSeconds 20 | Should -BeTrue -Because "the command must go on: $(Get-Screen)"
            Start-Sleep -Seconds 1
            Test-Answered | Should -BeTrue
            Measure-Cpu $pwshPid | Should -BeLessThan 0.2 -Because 'pwsh at its prompt must not spin after Ctrl+Z'
            Get-StoppedInPane | Should -BeNullOrEmpty

            # A program pwsh runs gets the Ctrl+Z too: it goes on, since nothing could offer fg.
            Send-Line 'sleep 3; "native-$(6 * 7)"'
            Start-Sleep -Seconds 1
            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'C-z')
            Wait-Until { (Get-Screen) -like '*native-42*' } -TimeoutSeconds 20 | Should -BeTrue -Because "the program must go on: $(Get-Screen)"
            Get-StoppedInPane | Should -BeNullOrEmpty

            Send-Line 'Stop-FanotifyWatch $w; "stopped-$(6 * 7)"'
            Wait-Until { (Get-Screen) -like '*stopped-42*' } -TimeoutSeconds 30 | Should -BeTrue -Because "$(Get-Screen)"
            Send-Line 'exit'
            Assert-Ended
        }
        finally {
            Stop-Pane
        }
    }

    It 'a signal to the wrapper''s process group (timeout around dotnet pwsh) still ends pwsh and gives the terminal back' {
        # pwsh has left that group for one of its own: it ends when the wrapper does, as the signal would have ended it.
        Start-Pane -Setup 'true' -Script 'Get-FanotifyEvent -Path $mount | Format-Table'
        try {
            Send-Line "timeout 35 dotnet pwsh -NoProfile -File '$base.ps1'; echo `"rc-`$?`""
            Wait-Pwsh 'waits for this pwsh'
            Test-Answered | Should -BeTrue
            Wait-Until { (Get-Screen) -like '*rc-124*' } -TimeoutSeconds 75 | Should -BeTrue -Because "timeout must end the job: $(Get-Screen)"
            Assert-Ended
            Get-StoppedInPane | Should -BeNullOrEmpty
        }
        finally {
            Stop-Pane
        }
    }

    It 'Ctrl+Z stops a notification watch, wrapper and all; fg resumes it and Ctrl+C ends it' {
        Start-Pane -Setup 'true' -Script 'Get-FanotifyEvent -Path $mount -Event Open | Format-Table'
        try {
            Send-Line "dotnet pwsh -NoProfile -File '$base.ps1'"
            Wait-Pwsh 'Watching the whole filesystem'
            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'C-z')
            Wait-Until { @(Get-StoppedInPane) -match 'pwsh' } -TimeoutSeconds 10 | Should -BeTrue -Because 'without a permission watch, Ctrl+Z stops pwsh as before'
            Test-Answered | Should -BeTrue -Because 'a notification watch holds no opener'
            Measure-Cpu $pwshPid -Seconds 2 | Should -BeLessThan 0.05

            Send-Line 'fg'
            Wait-Until { -not (Get-StoppedInPane) } -TimeoutSeconds 10 | Should -BeTrue
            Test-Answered | Should -BeTrue
            Wait-Until { (Get-Screen) -like '*data.txt*' } -TimeoutSeconds 15 | Should -BeTrue -Because "the stream goes on after fg: $(Get-Screen)"
            $null = Invoke-Tmux @('send-keys', '-t', 'ctrlz', 'C-c')
            Assert-Ended
        }
        finally {
            Stop-Pane
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
