#Requires -Version 7.4
# Tab completion of user names (-User, -DenyUser, -LoginUser) and of process ids with their names (-ProcessId,
# -ExcludeProcessId), against this machine's real users and a real process.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    function Get-Completion([string] $Line) {
        (TabExpansion2 -inputScript $Line -cursorColumn $Line.Length).CompletionMatches
    }
}

Describe 'Completion of user names' {
    It 'completes <Line> with root, its uid as tooltip' -ForEach @(
        @{ Line = 'Start-FanotifyWatch -DenyUser ro' }
        @{ Line = 'Start-FanotifyWatch -LoginUser ro' }
        @{ Line = 'Get-FanotifyEvent -LoginUser ro' }
        @{ Line = 'Start-FanotifyWatch -User ro' }
        @{ Line = 'Get-FanotifyEvent -Id 1 -User ro' }
        @{ Line = 'New-FanotifyRule -User ro' }
        @{ Line = 'New-FanotifyRule -LoginUser ro' }
        @{ Line = "New-FanotifyRule -User 'ro" }
    ) {
        $root = @(Get-Completion $Line | Where-Object CompletionText -eq 'root')
        $root | Should -HaveCount 1
        $root[0].ToolTip | Should -BeLike 'uid 0*'
        $root[0].ResultType | Should -Be 'ParameterValue'
    }

    It 'offers every user of /etc/passwd whose name starts with the word, and only those' {
        $passwd = @(Get-Content /etc/passwd | Where-Object { $_ -match '^[^:#]+:[^:]*:\d+:' } | ForEach-Object { $_.Split(':')[0] })
        $offered = @((Get-Completion 'New-FanotifyRule -User ').CompletionText)
        ($offered | Sort-Object -Unique) | Should -Be ($passwd | Sort-Object -Unique)
        @(Get-Completion 'New-FanotifyRule -User no-such-user-prefix') | Should -HaveCount 0
    }

    It 'completes a numeric uid with the user it names' {
        $zero = @(Get-Completion 'New-FanotifyRule -User 0' | Where-Object CompletionText -eq '0')
        $zero | Should -HaveCount 1
        $zero[0].ListItemText | Should -Be '0 (root)'
    }
}

Describe 'Completion of process ids' {
    BeforeAll {
        # A real process, named sleep, killed at the end (and ending by itself in two minutes anyway).
        $sleep = [Diagnostics.Process]::Start('sleep', '120')
        Wait-Until { (Get-Content "/proc/$($sleep.Id)/comm" -ErrorAction Ignore) -eq 'sleep' } | Should -BeTrue
    }
    AfterAll {
        if (-not $sleep.HasExited) { $sleep.Kill() }
        $sleep.WaitForExit(5000)
    }

    It 'completes <Command> <Parameter> with the pid of a running sleep, by a prefix of its pid, with its name and command line' -ForEach @(
        @{ Command = 'Start-FanotifyWatch'; Parameter = '-ProcessId' }
        @{ Command = 'Start-FanotifyWatch'; Parameter = '-ExcludeProcessId' }
        @{ Command = 'Get-FanotifyEvent'; Parameter = '-ProcessId' }
        @{ Command = 'Get-FanotifyEvent'; Parameter = '-ExcludeProcessId' }
    ) {
        $id = "$($sleep.Id)"
        $prefix = $id.Substring(0, $id.Length - 1)
        $offered = @(Get-Completion "$Command $Parameter $prefix")
        $mine = @($offered | Where-Object CompletionText -eq $id)
        $mine | Should -HaveCount 1
        $mine[0].ListItemText | Should -Be "$id (sleep)"
        $mine[0].ToolTip | Should -Be 'sleep 120'
        foreach ($result in $offered) { $result.CompletionText | Should -BeLike "$prefix*" }
    }

    It 'completes a process name with the pids of the processes of that name' {
        $offered = @(Get-Completion 'Get-FanotifyEvent -ProcessId slee')
        $offered.CompletionText | Should -Contain "$($sleep.Id)"
        foreach ($result in $offered) {
            $result.CompletionText | Should -Match '^\d+$'
            $result.ListItemText | Should -Match '^\d+ \('
            "$($result.ListItemText) $($result.ToolTip)" | Should -BeLike '*slee*'
        }
        @(Get-Completion 'Get-FanotifyEvent -ProcessId no-such-process-name') | Should -HaveCount 0
    }

    It 'matches the program name of the command line too, which comm cuts at 15 characters' {
        $dir = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-completion-$([guid]::NewGuid())"
        $null = New-Item -ItemType Directory -Path $dir
        $long = Join-Path $dir 'sleep-with-a-long-name'
        Copy-Item (& readlink -f (Get-Command sleep -CommandType Application | Select-Object -First 1).Source) $long
        $process = [Diagnostics.Process]::Start($long, '120')
        try {
            Wait-Until { (Get-Content "/proc/$($process.Id)/comm" -ErrorAction Ignore) -eq 'sleep-with-a-lo' } | Should -BeTrue
            $offered = @(Get-Completion 'Get-FanotifyEvent -ProcessId sleep-with-a-long')
            $offered.CompletionText | Should -Contain "$($process.Id)"
            @(Get-Completion 'Get-FanotifyEvent -ProcessId sleep-with-a-lo').CompletionText | Should -Contain "$($process.Id)"
        }
        finally {
            $process.Kill()
            $null = $process.WaitForExit(5000)
            Remove-Item $dir -Recurse -Force
        }
    }

    It 'offers this pwsh by its own pid' {
        @(Get-Completion "Start-FanotifyWatch -ProcessId $PID").CompletionText | Should -Contain "$PID"
    }
}
