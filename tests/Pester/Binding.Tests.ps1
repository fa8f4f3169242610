#Requires -Version 7.4
# Parameters that bind as people expect: paths from the pipeline (-Path by value, -LiteralPath/PSPath by property
# name), wildcards, one watch of every piped path, a non-terminating error per bad path, Get-FanotifyEvent's -Id
# named only, the read filters -Event/-Path/-User, Stop-FanotifyWatch once per watch and past other jobs, the
# progress of a timed or counted stream, and the warning that this pwsh's own events pass every rule.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    function Get-PipelineFacts([string] $Command, [string] $Name) {
        $parameter = (Get-Command $Command).Parameters[$Name]
        @($parameter.ParameterSets.GetEnumerator() | Sort-Object Key | ForEach-Object {
                $m = $_.Value
                "$($_.Key) mandatory=$($m.IsMandatory) position=$($m.Position) byValue=$($m.ValueFromPipeline) byName=$($m.ValueFromPipelineByPropertyName)"
            }) -join '; '
    }

    # Runs a script in a fresh runspace of this process with $ProgressPreference Continue and returns its output
    # and progress records. The script's watches report notification events only: nothing waits on this process.
    function Invoke-WithProgress([string] $Script, [scriptblock] $Meanwhile, [string] $Preference = 'Continue') {
        $ps = [powershell]::Create()
        try {
            $null = $ps.AddScript("`$ProgressPreference = '$Preference'; Import-Module '$env:FANOTIFYPS_MODULE'; $Script")
            $handle = $ps.BeginInvoke()
            if ($Meanwhile) { & $Meanwhile }
            if (-not $handle.AsyncWaitHandle.WaitOne(30000)) { $ps.Stop(); throw 'The capture did not end within 30 s.' }
            $output = $ps.EndInvoke($handle)
            [pscustomobject]@{ Output = @($output); Progress = @($ps.Streams.Progress); Errors = @($ps.Streams.Error) }
        }
        finally { $ps.Dispose() }
    }
}

Describe 'How the path parameters bind' {
    It 'Start-FanotifyWatch: -Path by value and by property name, -LiteralPath (alias PSPath) by property name, each in its set' {
        Get-PipelineFacts Start-FanotifyWatch Path | Should -Be 'Path mandatory=False position=0 byValue=True byName=True'
        Get-PipelineFacts Start-FanotifyWatch LiteralPath | Should -Be 'LiteralPath mandatory=True position=-2147483648 byValue=False byName=True'
        (Get-Command Start-FanotifyWatch).Parameters['LiteralPath'].Aliases | Should -Be 'PSPath'
        (Get-Command Start-FanotifyWatch).DefaultParameterSet | Should -Be 'Path'
    }

    It 'Get-FanotifyEvent: -Path by value only in the Path set (an event''s Path must not bind), a named filter in Watch and Id' {
        Get-PipelineFacts Get-FanotifyEvent Path | Should -Be ('Id mandatory=False position=-2147483648 byValue=False byName=False; ' +
            'Path mandatory=False position=0 byValue=True byName=False; Watch mandatory=False position=-2147483648 byValue=False byName=False')
        Get-PipelineFacts Get-FanotifyEvent LiteralPath | Should -Be 'LiteralPath mandatory=True position=-2147483648 byValue=False byName=True'
    }

    It 'Get-FanotifyEvent -Id is named only: Get-FanotifyEvent 1 is the directory 1' {
        Get-PipelineFacts Get-FanotifyEvent Id | Should -Be 'Id mandatory=True position=-2147483648 byValue=False byName=True'
        Push-Location $TestDrive
        try {
            # No directory 1 here: the error says so, rather than that no watch has the id 1.
            $e = Get-ErrorFacts { Get-FanotifyEvent 1 -Timeout 0 }
            $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.GetFanotifyEventCommand'
            $e.Message | Should -BeLike "*$TestDrive/1*"
        }
        finally { Pop-Location }
    }

    It 'Get-FanotifyEvent PATH -Wait binds (a watch of its own streams anyway)' {
        $e = Get-ErrorFacts { Get-FanotifyEvent "$TestDrive/missing" -Wait -Timeout 0 }
        $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.GetFanotifyEventCommand'
    }

    It 'an empty pipeline is no watch of the current directory' {
        $e = Get-ErrorFacts { @() | Start-FanotifyWatch -Event CloseWrite }
        $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Message | Should -BeLike '*No path came down the pipeline*'
    }

    It 'a -User that names nobody is an error, for a watch and for a read' {
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path $TestDrive -Event CloseWrite -User 'no-such-user-fanotifyps' }
        $e.Id | Should -Be 'InvalidRule,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'ObjectNotFound'
        $e.Message | Should -BeLike "*-User names the user 'no-such-user-fanotifyps', who does not exist*"
        $e = Get-ErrorFacts { Get-FanotifyEvent -Id 987654 -User 'no-such-user-fanotifyps' -ErrorAction SilentlyContinue }
        $e.Id | Should -Be 'InvalidRule,FanotifyPS.Commands.GetFanotifyEventCommand'
    }
}

Describe 'Paths from the pipeline, with a running watch' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        foreach ($d in 'a', 'b', '[ab]', 'c') { $null = New-Item -ItemType Directory -Path (Join-Path $mount $d) }
    }
    AfterEach { Get-FanotifyWatch | Remove-FanotifyWatch }
    AfterAll { Remove-TestMount $mount }

    It 'takes a path string by value' {
        $watch = "$mount/a" | Start-FanotifyWatch -Event CloseWrite -Scope Directory
        @($watch).Count | Should -Be 1
        $watch.Path | Should -Be "$mount/a"
    }

    It 'takes Get-Item output by its PSPath (-LiteralPath)' {
        $watch = Get-Item "$mount/a" | Start-FanotifyWatch -Event CloseWrite -Scope Directory
        $watch.Path | Should -Be "$mount/a"
    }

    It 'starts one watch of every piped path, and it reports events of each' {
        $before = @(Get-FanotifyWatch).Count
        $watch = "$mount/a", "$mount/b" | Start-FanotifyWatch -Event CloseWrite -Scope Directory
        @($watch).Count | Should -Be 1
        @(Get-FanotifyWatch).Count | Should -Be ($before + 1)
        $watch.Path | Should -Be @("$mount/a", "$mount/b")
        (Invoke-Bounded sh @('-c', "echo x > '$mount/a/f'; echo y > '$mount/b/g'")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/b/g" }
        $events += Receive-UntilEvent $watch { $_.Path -eq "$mount/a/f" } -TimeoutSeconds 2
        $events.Path | Sort-Object -Unique | Should -Be @("$mount/a/f", "$mount/b/g")
    }

    It '-Path expands wildcards; -LiteralPath takes them as written' {
        (Start-FanotifyWatch -Path "$mount/[ab]" -Event CloseWrite -Scope Directory).Path | Should -Be @("$mount/a", "$mount/b")
        (Start-FanotifyWatch -LiteralPath "$mount/[ab]" -Event CloseWrite -Scope Directory).Path | Should -Be "$mount/[ab]"
    }

    It 'writes a non-terminating error per missing path or empty wildcard, and watches the rest' {
        $watch = Start-FanotifyWatch -Path "$mount/a", "$mount/missing", "$mount/zz*" -Event CloseWrite -Scope Directory -ErrorVariable errs -ErrorAction SilentlyContinue
        $watch.Path | Should -Be "$mount/a"
        $errs.Count | Should -Be 2
        $errs.FullyQualifiedErrorId | Should -Be @('PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand', 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand')
        $errs.CategoryInfo.Category | Should -Be @('ObjectNotFound', 'ObjectNotFound')
        $errs[0].TargetObject | Should -Be "$mount/missing"
        $errs[1].Exception.Message | Should -BeLike '*no file or directory matches it*'
        # Piped, the same.
        $watch = "$mount/missing", "$mount/b" | Start-FanotifyWatch -Event CloseWrite -Scope Directory -ErrorAction SilentlyContinue
        $watch.Path | Should -Be "$mount/b"
    }

    It 'with -ErrorAction Stop, a bad path stops the command before any watch starts' {
        $before = @(Get-FanotifyWatch).Count
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path "$mount/a", "$mount/missing" -Event CloseWrite -ErrorAction Stop }
        $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand'
        @(Get-FanotifyWatch).Count | Should -Be $before
    }

    It 'with no valid path left, is a terminating error' {
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path "$mount/missing1", "$mount/missing2" -Event CloseWrite -ErrorAction SilentlyContinue }
        $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Message | Should -BeLike '*None of the 2 paths*'
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path "$mount/missing1" -Event CloseWrite }
        $e.Message | Should -BeLike "*Cannot watch '$mount/missing1' because it does not exist*"
    }

    It 'Get-FanotifyEvent takes paths from the pipeline too, into one watch of its own' {
        $writer = Start-Bounded sh @('-c', "sleep 1; echo x > '$mount/a/p'; echo y > '$mount/b/q'") -TimeoutSeconds 20
        $events = @("$mount/a", "$mount/b" | Get-FanotifyEvent -Event CloseWrite -Scope Directory -Count 2 -Timeout 10)
        $writer.WaitForExit(10000) | Should -BeTrue
        $events.Path | Sort-Object | Should -Be @("$mount/a/p", "$mount/b/q")
        @($events.WatchId | Select-Object -Unique).Count | Should -Be 1
    }

    It 'Get-FanotifyEvent binds piped events by their WatchId (-Id), not by their Path' {
        $watch = Start-FanotifyWatch -Path "$mount/c" -Event CloseWrite -Scope Directory
        (Invoke-Bounded sh @('-c', "echo 1 > '$mount/c/one'")).ExitCode | Should -Be 0
        $first = Receive-UntilEvent $watch { $_.Path -eq "$mount/c/one" }
        (Invoke-Bounded sh @('-c', "echo 2 > '$mount/c/two'")).ExitCode | Should -Be 0
        Wait-Until { $watch.BufferedCount -gt 0 } | Should -BeTrue
        $next = @($first | Get-FanotifyEvent -ErrorVariable errs)
        $errs | Should -BeNullOrEmpty
        $next.Path | Should -Contain "$mount/c/two"
        $next.WatchId | Select-Object -Unique | Should -Be $watch.Id
    }
}

Describe 'Reading a running watch with -Event, -Path and -User' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory -Path "$mount/sub"
        & chmod 0777 $mount "$mount/sub"
    }
    AfterEach { Get-FanotifyWatch | Remove-FanotifyWatch }
    AfterAll { Remove-TestMount $mount }

    It '-Event binds to -Watch and -Id, and matches an event by any of its flags; what it leaves out stays buffered' {
        $watch = Start-FanotifyWatch -Path $mount -Event Modify, CloseWrite
        # Writes in a burst: the kernel merges a file's queued Modify and CloseWrite into one event.
        (Invoke-Bounded sh @('-c', "for i in `$(seq 300); do echo `$i >> '$mount/burst'; done; echo end > '$mount/last'")).ExitCode | Should -Be 0
        Wait-Until { (Get-FanotifyEvent -Watch $watch -Keep).Path -contains "$mount/last" } | Should -BeTrue
        $all = @(Get-FanotifyEvent -Watch $watch -Keep)
        $closeWrites = @(Get-FanotifyEvent -Watch $watch -Event CloseWrite)
        $closeWrites.Count | Should -Be @($all | Where-Object { $_.Event -band 'CloseWrite' }).Count
        $closeWrites | Where-Object { -not ($_.Event -band 'CloseWrite') } | Should -BeNullOrEmpty
        # The Modify-only events are still there, for the next reader; by id too.
        $rest = @(Get-FanotifyEvent -Id $watch.Id -Event Modify, Overflow)
        $rest.Count | Should -Be ($all.Count - $closeWrites.Count)
        $rest | Where-Object { $_.Event -band 'CloseWrite' } | Should -BeNullOrEmpty
        if (-not ($closeWrites | Where-Object { "$($_.Event)" -like '*,*' })) {
            Set-ItResult -Inconclusive -Because 'the kernel merged no Modify with a CloseWrite this time'
        }
    }

    It '-Event that the watch never reports is an error, not a read that finds nothing' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $e = Get-ErrorFacts { Get-FanotifyEvent -Watch $watch -Event Open }
        $e.Id | Should -Be 'InvalidEventSelection,FanotifyPS.Commands.GetFanotifyEventCommand'
        $e.Message | Should -BeLike '*can never match*'
    }

    It '-Path includes the events whose path matches a wildcard (relative to the location); the others stay buffered' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        (Invoke-Bounded sh @('-c', "echo x > '$mount/keep.txt'; echo x > '$mount/skip.log'; echo x > '$mount/sub/deep.txt'")).ExitCode | Should -Be 0
        Wait-Until { @(Get-FanotifyEvent -Watch $watch -Keep).Count -ge 3 } | Should -BeTrue
        Push-Location $mount
        try { $txt = @(Get-FanotifyEvent -Watch $watch -Path '*.txt' -Timeout 0) } finally { Pop-Location }
        $txt.Path | Sort-Object | Should -Be @("$mount/keep.txt", "$mount/sub/deep.txt")
        Push-Location "$mount/sub"
        try { @(Get-FanotifyEvent -Watch $watch -Path '../*.log').Path | Should -Be "$mount/skip.log" } finally { Pop-Location }
        @(Get-FanotifyEvent -Watch $watch) | Should -BeNullOrEmpty
    }

    It '-User keeps the events of processes running as those users: in a read, and in the watcher' {
        $read = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $own = Start-FanotifyWatch -Path $mount -Event CloseWrite -User nobody
        # Each writer lives on after its write: a notification event is read after the fact, and the uid of a
        # process that has exited is unknown (-User then leaves the event out, as -Exe does).
        (Invoke-Bounded sh @('-c', "echo root > '$mount/by-root'; sleep 1")).ExitCode | Should -Be 0
        (Invoke-Bounded setpriv @('--reuid=65534', '--regid=65534', '--clear-groups', 'sh', '-c', "echo nobody > '$mount/by-nobody'; sleep 1")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $own { $_.Path -eq "$mount/by-nobody" }
        $events.Path | Should -Be "$mount/by-nobody"
        $events.UserId | Should -Be 65534
        Wait-Until { $own.FilteredCount -ge 1 } | Should -BeTrue
        Wait-Until { @(Get-FanotifyEvent -Watch $read -Keep).Count -ge 2 } | Should -BeTrue
        @(Get-FanotifyEvent -Watch $read -User 65534).Path | Should -Be "$mount/by-nobody"
        @(Get-FanotifyEvent -Watch $read -User root).Path | Should -Be "$mount/by-root"
    }
}

Describe 'Stop-FanotifyWatch from the pipeline' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterEach { Get-FanotifyWatch | Remove-FanotifyWatch }
    AfterAll { Remove-TestMount $mount }

    It 'returns each watch once for events piped from several watches' {
        $one = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $two = Start-FanotifyWatch -Path $mount -Event CloseWrite
        (Invoke-Bounded sh @('-c', "for f in 1 2 3; do echo x > '$mount/'`$f; done")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $one { $_.Path -eq "$mount/3" }
        $events += Receive-UntilEvent $two { $_.Path -eq "$mount/3" }
        $events.Count | Should -BeGreaterOrEqual 6
        $stopped = @($events | Stop-FanotifyWatch -PassThru)
        $stopped.Id | Should -Be @($one.Id, $two.Id)
        $one.State, $two.State | Should -Be @('Stopped', 'Stopped')
    }

    It 'skips the jobs that are not watches, without an error, and leaves them running' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $thread = Start-ThreadJob { Start-Sleep 30 }
        $background = Start-Job { Start-Sleep 30 }
        try {
            $stopped = @(Get-Job | Stop-FanotifyWatch -PassThru -ErrorVariable errs)
            $errs | Should -BeNullOrEmpty
            $stopped.Id | Should -Be $watch.Id
            $watch.State | Should -Be 'Stopped'
            $thread.State | Should -BeIn 'Running', 'NotStarted'   # not stopped; a thread job may wait for its throttle
            $background.State | Should -BeIn 'Running', 'NotStarted'
            # Named, a job that is not a watch is an error.
            $e = @(Stop-FanotifyWatch -Watch $thread -ErrorVariable named -ErrorAction SilentlyContinue)
            $named.FullyQualifiedErrorId | Should -Be 'WatchNotFound,FanotifyPS.Commands.StopFanotifyWatchCommand'
            $e | Should -BeNullOrEmpty
        }
        finally {
            $thread, $background | Stop-Job
            $thread, $background | Remove-Job -Force
        }
    }
}

Describe 'The progress of a timed or counted stream' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'shows elapsed and remaining time, events and drops while -Timeout runs, a few times a second, and completes last' {
        $run = Invoke-WithProgress "Get-FanotifyEvent '$mount' -Event CloseWrite -Timeout 2" {
            Start-Sleep -Milliseconds 500
            (Invoke-Bounded sh @('-c', "for i in `$(seq 200); do echo `$i > '$mount/p'`$i; done")).ExitCode | Should -Be 0
        }
        $run.Errors | Should -BeNullOrEmpty
        $run.Output.Count | Should -Be 200
        $records = $run.Progress
        $records.Count | Should -BeGreaterOrEqual 3
        # At most one every quarter second (and the completion), not one per event.
        $records.Count | Should -BeLessOrEqual 12
        $records[-1].RecordType | Should -Be 'Completed'
        @($records | Select-Object -SkipLast 1).RecordType | Select-Object -Unique | Should -Be 'Processing'
        $records[0].Activity | Should -BeLike "Get-FanotifyEvent: watch * on $mount"
        $records[0].StatusDescription | Should -Match '^0 events, 0 s of 2 s \(2 s left\), 0 dropped$'
        $records[-2].StatusDescription | Should -Match '^200 events, [12] s of 2 s \([01] s left\), 0 dropped$'
        $records[1].SecondsRemaining | Should -BeIn 1, 2
        $records[-2].PercentComplete | Should -BeGreaterThan $records[0].PercentComplete
    }

    It 'counts up to -Count, for a read of a running watch too, and completes when a command downstream stops it' {
        $run = Invoke-WithProgress @"
`$w = Start-FanotifyWatch -Path '$mount' -Event CloseWrite -Name "count`$([char]27)[2J`$([char]10)bar"
try { Get-FanotifyEvent -Watch `$w -Wait -Count 5 | Select-Object -First 2 } finally { Remove-FanotifyWatch `$w }
"@ {
            Start-Sleep -Milliseconds 800
            (Invoke-Bounded sh @('-c', "echo 1 > '$mount/c1'; sleep 0.5; echo 2 > '$mount/c2'; echo 3 > '$mount/c3'")).ExitCode | Should -Be 0
        }
        $run.Output.Count | Should -Be 2
        $records = $run.Progress
        $records.Count | Should -BeGreaterOrEqual 2
        $records[-1].RecordType | Should -Be 'Completed'
        $records[0].StatusDescription | Should -Match '^0 of 5 events, 0 s, 0 dropped$'
        # The bar is drawn on the terminal: a name cannot drive it (escaped as the views escape it).
        $records[0].Activity | Should -BeLike '*(count\x1B`[2J\nbar)*'
        $records[0].Activity | Should -Not -Match '[\x00-\x1F]'
        $records[0].SecondsRemaining | Should -Be -1
        $records | Where-Object StatusDescription -like '1 of 5 events*' | Should -Not -BeNullOrEmpty
    }

    It 'is not shown for a read of what is buffered, which ends at once' {
        $run = Invoke-WithProgress @"
`$w = Start-FanotifyWatch -Path '$mount' -Event CloseWrite
try { Get-FanotifyEvent -Watch `$w -Count 5 } finally { Remove-FanotifyWatch `$w }
"@
        $run.Errors | Should -BeNullOrEmpty
        $run.Progress | Should -BeNullOrEmpty
    }

    It 'writes nothing with $ProgressPreference SilentlyContinue' {
        $run = Invoke-WithProgress "Get-FanotifyEvent '$mount' -Event CloseWrite -Timeout 0.6" -Preference SilentlyContinue
        $run.Errors | Should -BeNullOrEmpty
        $run.Progress | Should -BeNullOrEmpty
    }
}

Describe 'The progress of a stream on a terminal' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }
    BeforeEach { Remove-Item "$mount/*" -Force -ErrorAction Ignore }

    # pwsh's console host reads the cursor position to draw the bar (it sets the terminal's modes to read the
    # answer): from a process group in the terminal's background, the kernel stops the whole process for that.
    It 'ends within -Timeout with every event, in the terminal''s <Group> process group, the bar drawn only there: <Bar>' -ForEach @(
        @{ Group = 'foreground'; Bar = $true }
        @{ Group = 'background'; Bar = $false }
    ) {
        $log = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-progress-$([guid]::NewGuid().ToString('n')).log"
        try {
            # The writer starts once the watch's mark exists (the fdinfo of a fanotify group lists its marks).
            Set-Content -LiteralPath "$log.sh" -Value @"
until grep -qsE '^fanotify (ino|mnt_id|sdev):' /proc/`$1/fdinfo/*; do sleep 0.05; done
for i in `$(seq 20); do echo `$i > '$mount/t'`$i; sleep 0.05; done
"@
            $screen = Invoke-InTerminal -Columns 160 -Rows 40 -TimeoutSeconds 30 -Foreground:($Group -eq 'foreground') -OutputLog $log -Script @"
`$ProgressPreference = 'Continue'
# Fields 3 and 6 after the name in /proc/PID/stat: this process's group and the terminal's foreground group.
`$stat = ((Get-Content -Raw /proc/`$PID/stat) -replace '^.*\) ') -split ' '
"GROUP `$(if (`$stat[2] -eq `$stat[5]) { 'foreground' } else { 'background' })"
`$info = [Diagnostics.ProcessStartInfo]::new('timeout')
foreach (`$a in '--signal=KILL', '30', 'sh', '$log.sh', `$PID) { `$info.ArgumentList.Add(`$a) }
`$null = [Diagnostics.Process]::Start(`$info)
`$clock = [Diagnostics.Stopwatch]::StartNew()
`$events = @(Get-FanotifyEvent '$mount' -Event CloseWrite -Timeout 4)
"CAPTURED `$(`$events.Count) IN `$(`$clock.Elapsed.TotalSeconds.ToString('0.0', [cultureinfo]::InvariantCulture)) S"
"FILES `$((`$events.Path | ForEach-Object { Split-Path `$_ -Leaf } | Sort-Object { [int]`$_.Substring(1) }) -join ' ')"
"@
            $text = $screen -join "`n"
            $text | Should -Match "(?m)^GROUP $Group$"
            $captured = [regex]::Match($text, '(?m)^CAPTURED (\d+) IN (\d+\.\d) S$')
            $captured.Success | Should -BeTrue -Because "the capture ends and says so on the screen:`n$text"
            $captured.Groups[1].Value | Should -Be 20 -Because 'every file written meanwhile is captured'
            [double]$captured.Groups[2].Value | Should -BeLessThan 6 -Because 'the capture ends at its -Timeout of 4 s, give or take the start and stop of its watch'
            $text | Should -Match "(?m)^FILES $((1..20 | ForEach-Object { "t$_" }) -join ' ')$"
            # Drawn while the stream ran, taken down at its end.
            $drawn = (Get-Content -LiteralPath $log -Raw -ErrorAction Ignore) -match 'Get-FanotifyEvent: watch \d+'
            $drawn | Should -Be $Bar
            $text | Should -Not -Match 'Get-FanotifyEvent: watch'
        }
        finally { Remove-Item -LiteralPath $log, "$log.sh" -ErrorAction Ignore }
    }
}

Describe 'The warning that this pwsh''s own events pass every rule' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; Set-Content "$mount/secret" 'x' }
    AfterAll { Remove-TestMount $mount }

    It 'comes once per session, at the first watch with rules, and says what is true' {
        # In a child under a hard deadline: its watch denies opens on the tmpfs.
        $pwsh = Get-PwshCommand
        $script = @"
Import-Module '$env:FANOTIFYPS_MODULE'
`$plain = Start-FanotifyWatch -Path '$mount' -Event CloseWrite -WarningVariable w0 -WarningAction SilentlyContinue
`$first = Start-FanotifyWatch -Path '$mount' -Event OpenPerm -DenyPath '$mount/secret' -Force -WarningVariable w1 -WarningAction SilentlyContinue
`$second = Start-FanotifyWatch -Path '$mount' -Event OpenPerm -DenyPath '$mount/other' -Force -WarningVariable w2 -WarningAction SilentlyContinue
"plain=`$(@(`$w0 | Where-Object Message -like '*never apply to this pwsh*').Count)"
"first=`$(@(`$w1 | Where-Object Message -like '*never apply to this pwsh*').Count)"
"second=`$(@(`$w2 | Where-Object Message -like '*never apply to this pwsh*').Count)"
"text=`$(`$w1 | Where-Object Message -like '*never apply*' | ForEach-Object Message)"
"self=`$(Get-Content '$mount/secret')"
sh -c 'cat $mount/secret' 2>`$null; "other=`$LASTEXITCODE"
Get-FanotifyWatch | Remove-FanotifyWatch
"@
        $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) -TimeoutSeconds 60
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $lines = $run.Output -split "`n" | ForEach-Object Trim
        $lines | Should -Contain 'plain=0'
        $lines | Should -Contain 'first=1'
        $lines | Should -Contain 'second=0'
        ($lines | Where-Object { $_ -like 'text=*' }) | Should -BeLike "*pid *sh -c 'cat FILE'*once per session*"
        # What it says: this shell reads the denied file, another process is refused.
        $lines | Should -Contain 'self=x'
        $lines | Should -Contain 'other=1'
    }
}
