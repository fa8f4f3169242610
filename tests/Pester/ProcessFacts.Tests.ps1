#Requires -Version 7.4
# More of who: a process's container (from its cgroup), audit login uid and session, and start time, read with
# the rest of its facts, and the filters and rules that take them. Real processes moved into real cgroups, with
# their loginuid really set, and a pid really used twice (ns_last_pid).

BeforeDiscovery {
    # Where cgroup v2 is mounted: /sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid one.
    $cgroup2 = (Get-Content /proc/mounts | Where-Object { ($_ -split ' ')[2] -eq 'cgroup2' } | Select-Object -First 1) -split ' ' | Select-Object -Index 1
    # A login uid can be set once only where it is unset (loginuid_immutable aside).
    $unsetHere = (Get-Content /proc/self/loginuid -Raw).Trim() -eq '4294967295'
}

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:cgroup2 = (Get-Content /proc/mounts | Where-Object { ($_ -split ' ')[2] -eq 'cgroup2' } | Select-Object -First 1) -split ' ' | Select-Object -Index 1
    $script:id = -join (1..64 | ForEach-Object { '{0:x}' -f (Get-Random -Maximum 16) })
}

Describe 'Errors of the new filters and rules' {
    It 'an unknown -LoginUser of a rule is an InvalidRule error' {
        $facts = Get-ErrorFacts { New-FanotifyRule -LoginUser no-such-user-fpstest }
        $facts.Id | Should -BeLike 'InvalidRule*'
        $facts.Category | Should -Be 'ObjectNotFound'
        $facts.Message | Should -BeLike "*no-such-user-fpstest*does not exist*"
    }

    It 'a rule with only -LoginUser has a condition, and says so' {
        $rule = New-FanotifyRule -Name l -LoginUser 0
        $rule.LoginUser | Should -Be @('0')
        "$rule" | Should -BeLike '*LoginUser 0*'
    }
}

Describe 'Process facts of real processes' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/file" 'x'
        Set-Content "$mount/other" 'y'
        $cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It 'an unknown -LoginUser is an InvalidRule error, and starts no watch' {
        $before = @(Get-FanotifyWatch).Count
        $facts = Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open -LoginUser no-such-user-fpstest }
        $facts.Id | Should -BeLike 'InvalidRule*'
        $facts.Message | Should -BeLike "*no-such-user-fpstest*does not exist*"
        @(Get-FanotifyWatch).Count | Should -Be $before
    }

    It 'a -ContainerId that no 64-hex id can match is an InvalidRule error that says what would' {
        $before = @(Get-FanotifyWatch).Count
        $facts = Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open -ContainerId 3f2a1b4c5d6e }
        $facts.Id | Should -BeLike 'InvalidRule*'
        $facts.Message | Should -BeLike "*64 hex digits*'3f2a1b4c5d6e`*'*"
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open -ContainerId web-frontend }).Id | Should -BeLike 'InvalidRule*'
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open -ContainerId '' }).Id | Should -BeLike 'ParameterArgumentValidationError*'
        @(Get-FanotifyWatch).Count | Should -Be $before
    }

    Context 'A process in a container runtime''s cgroup' {
        BeforeAll {
            $slice = Join-Path $cgroup2 "fpstest-$PID.slice"
            $scope = Join-Path $slice "docker-$id.scope"
            if ($cgroup2) { $null = New-Item -ItemType Directory -Path $scope -Force }
            # sh moves itself into the container's cgroup, then execs cat, which opens the file there.
            $inContainer = { param($Path) Invoke-Bounded sh @('-c', "echo `$`$ > '$scope/cgroup.procs' && exec cat '$Path'") }
        }
        AfterAll {
            # A cgroup goes once its processes have ended: they all have (Invoke-Bounded waits).
            if ($cgroup2) { & rmdir $scope $slice 2>$null }
            Test-Path $slice | Should -BeFalse
        }

        It 'gives the container id and the cgroup path' -Skip:(-not $cgroup2) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
            $run = & $inContainer "$mount/file"
            $run.ExitCode | Should -Be 0 -Because $run.Output
            (Invoke-Bounded cat @("$mount/other")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/other" }
            $contained = @($events | Where-Object Path -eq "$mount/file")
            $contained | Should -HaveCount 1
            $contained[0].Exe | Should -Be $cat
            $contained[0].ContainerId | Should -BeExactly $id
            $contained[0].Cgroup | Should -BeExactly "/fpstest-$PID.slice/docker-$id.scope"
            $hosted = @($events | Where-Object Path -eq "$mount/other")
            $hosted[0].ContainerId | Should -BeExactly ''
            $hosted[0].Cgroup | Should -Not -BeNullOrEmpty
            ($contained[0] | Format-List | Out-String -Width 200) | Should -BeLike "*ContainerId*: $id*"
            ($hosted[0] | Format-List | Out-String -Width 200) | Should -Not -BeLike '*ContainerId*'
        }

        It '-ContainerId reports that container''s processes only, by a short id with *, in any case' -Skip:(-not $cgroup2) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -ContainerId "$($id.Substring(0, 12).ToUpperInvariant())*"
            (Invoke-Bounded cat @("$mount/other")).ExitCode | Should -Be 0
            (& $inContainer "$mount/file").ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/file" }
            @($events | Where-Object Path -eq "$mount/file") | Should -HaveCount 1
            @($events | Where-Object Path -eq "$mount/other") | Should -HaveCount 0 -Because 'a host process is in no container'
        }

        It '-ContainerId of another container leaves it out; Get-FanotifyEvent -ContainerId narrows a read' -Skip:(-not $cgroup2) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
            (& $inContainer "$mount/file").ExitCode | Should -Be 0
            (Invoke-Bounded cat @("$mount/other")).ExitCode | Should -Be 0
            $null = Wait-Until { $watch.EventCount -ge 2 }
            $other = '0' * 64
            @(Get-FanotifyEvent -Watch $watch -ContainerId $other -Keep) | Should -HaveCount 0
            $mine = @(Get-FanotifyEvent -Watch $watch -ContainerId '*' -Keep)
            $mine | Should -HaveCount 1
            $mine[0].Path | Should -Be "$mount/file"
        }
    }

    Context 'A process whose login uid was set' {
        BeforeAll {
            $sessionFile = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-session-$PID"
            # Setting the login uid gives the process a new audit session; its children keep both.
            $asLogin = { param($Path, $Uid = 1234) Invoke-Bounded sh @('-c', "echo $Uid > /proc/self/loginuid && cat /proc/self/sessionid > '$sessionFile' && exec cat '$Path'") }
        }
        AfterAll { Remove-Item $sessionFile -ErrorAction Ignore }

        It 'gives LoginUserId, LoginUserName and SessionId; a process of no login has none' -Skip:(-not $unsetHere) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
            $run = & $asLogin "$mount/file"
            $run.ExitCode | Should -Be 0 -Because $run.Output
            (Invoke-Bounded cat @("$mount/other")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/other" }
            $login = @($events | Where-Object Path -eq "$mount/file")
            $login | Should -HaveCount 1
            $login[0].LoginUserId | Should -Be 1234
            $entry = & getent passwd 1234
            $login[0].LoginUserName | Should -Be $(if ($entry) { ($entry -split ':')[0] } else { '1234' })
            $login[0].SessionId | Should -Be ([long](Get-Content $sessionFile -Raw).Trim())
            $none = @($events | Where-Object Path -eq "$mount/other")
            $none[0].LoginUserId | Should -BeNullOrEmpty
            $none[0].LoginUserName | Should -BeExactly ''
            $none[0].SessionId | Should -BeNullOrEmpty
        }

        It '-LoginUser 1234 reports that login''s process and not one of no login' -Skip:(-not $unsetHere) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -LoginUser 1234
            (Invoke-Bounded cat @("$mount/other")).ExitCode | Should -Be 0
            (& $asLogin "$mount/file").ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/file" }
            @($events | Where-Object Path -eq "$mount/file") | Should -HaveCount 1
            @($events | Where-Object Path -eq "$mount/other") | Should -HaveCount 0
        }

        It '-LoginUser of another id leaves it out' -Skip:(-not $unsetHere) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -LoginUser 4321
            (& $asLogin "$mount/file").ExitCode | Should -Be 0
            Wait-Until { $watch.FilteredCount -ge 1 } | Should -BeTrue
            @(Get-FanotifyEvent -Watch $watch -Timeout 0.5) | Should -HaveCount 0
        }

        It 'New-FanotifyRule -LoginUser denies that login''s process and not another' -Skip:(-not $unsetHere) {
            $rule = New-FanotifyRule -Name NoLogin1234 -LoginUser 1234
            $watch = Start-FanotifyWatch -Path $mount -Rule $rule
            $denied = & $asLogin "$mount/file"
            $denied.ExitCode | Should -Be 1
            $denied.Output | Should -BeLike '*Operation not permitted*'
            (& $asLogin "$mount/file" 4321).ExitCode | Should -Be 0
            (Invoke-Bounded cat @("$mount/other")).Output | Should -Be 'y'
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/other" }
            $deny = @($events | Where-Object Response -eq 'Deny')
            $deny | Should -HaveCount 1
            $deny[0].Rule | Should -Be 'NoLogin1234'
            $deny[0].LoginUserId | Should -Be 1234
            $watch.DeniedCount | Should -Be 1
        }

        It 'the facts survive Export-Clixml and Import-Clixml, and CSV keeps the exact start time' -Skip:(-not $unsetHere) {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
            (& $asLogin "$mount/file").ExitCode | Should -Be 0
            $event = (Receive-UntilEvent $watch { $_.Path -eq "$mount/file" }) | Where-Object Path -eq "$mount/file" | Select-Object -First 1
            $saved = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-facts-$PID.xml"
            $csv = "$saved.csv"
            try {
                $event | Export-Clixml $saved
                $back = Import-Clixml $saved
                $event | Export-Csv $csv
                $row = Import-Csv $csv
            }
            finally { Remove-Item $saved, $csv -ErrorAction Ignore }
            $back | Should -BeOfType ([FanotifyPS.FanotifyEvent])
            foreach ($name in 'LoginUserId', 'LoginUserName', 'SessionId', 'ProcessStartTime', 'ProcessStartTimeIso', 'Cgroup', 'ContainerId') {
                $back.$name | Should -Be $event.$name -Because $name
            }
            $back.ProcessStartTime | Should -Not -BeNullOrEmpty
            [datetimeoffset]::Parse($row.ProcessStartTimeIso).UtcDateTime | Should -Be $event.ProcessStartTime.ToUniversalTime()
            $row.LoginUserId | Should -Be '1234'
            ($event | ConvertTo-Json -Compress) | Should -BeLike '*"LoginUserId":1234*'
        }
    }

    Context 'Two processes that get the same pid one after the other' {
        BeforeAll {
            # bash forks each opener with ns_last_pid just below a free pid, so that the kernel gives that pid to both;
            # $EPOCHREALTIME (a builtin: no fork) is the time of each fork.
            # With -SecondLives, the second runs for a second and is then killed: alive when its event is read.
            function Invoke-ReusedPid([string] $First, [string] $Second, [switch] $SecondLives) {
                $end = if ($SecondLives) { 'sleep 1; kill $p2; ' } else { '' }
                foreach ($try in 1..20) {
                    $free = 0
                    foreach ($candidate in (Get-Random -Minimum 10000 -Maximum ($pidMax - 1000))..($pidMax - 1)) {
                        if (-not (Test-Path "/proc/$candidate")) { $free = $candidate; break }
                    }
                    $script = "echo $($free - 1) > /proc/sys/kernel/ns_last_pid; t1=`$EPOCHREALTIME; $First & p1=`$!; wait; sleep 0.1; " +
                        "echo $($free - 1) > /proc/sys/kernel/ns_last_pid; t2=`$EPOCHREALTIME; $Second & p2=`$!; $($end)wait; echo `$p1 `$t1 `$p2 `$t2"
                    $run = Invoke-Bounded bash @('-c', $script)
                    $p1, $t1, $p2, $t2 = ($run.Output -split '\s+')[-4..-1]
                    if ($run.ExitCode -in 0, 143 -and $p1 -eq $p2 -and $p1 -eq "$free") {
                        return [pscustomobject]@{ Pid = [int]$p1; Started = [datetimeoffset]::FromUnixTimeMilliseconds([long]([double]$t1 * 1000)).UtcDateTime, [datetimeoffset]::FromUnixTimeMilliseconds([long]([double]$t2 * 1000)).UtcDateTime }
                    }
                }
                throw 'Another process took the pid every time: no reused pid.'
            }
            $pidMax = [int](Get-Content /proc/sys/kernel/pid_max -Raw)
            $pidMax | Should -BeGreaterThan 11000
        }

        It 'a cat and then a tail that still runs on one pid have different ProcessStartTime, each its own' {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
            $reuse = Invoke-ReusedPid "cat '$mount/file'" "tail -f '$mount/other'" -SecondLives
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/other" }
            $first = $events | Where-Object Path -eq "$mount/file" | Select-Object -First 1
            $second = $events | Where-Object Path -eq "$mount/other" | Select-Object -First 1
            $first.ProcessId | Should -Be $reuse.Pid
            $second.ProcessId | Should -Be $reuse.Pid
            $second.Exe | Should -BeLike '*/tail'
            $second.ProcessStartTime | Should -BeGreaterThan $first.ProcessStartTime
            ($first.ProcessStartTime.ToUniversalTime() - $reuse.Started[0]).Duration().TotalSeconds | Should -BeLessThan 1
            ($second.ProcessStartTime.ToUniversalTime() - $reuse.Started[1]).Duration().TotalSeconds | Should -BeLessThan 1
        }

        # Depends on the process table rewrite (issue 13): a pid cache that compares the exe link alone takes the
        # second cat for the first and gives it the first's facts.
        It 'two cats on one pid have different ProcessStartTime, each its own' {
            $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
            $reuse = Invoke-ReusedPid "cat '$mount/file'" "cat '$mount/other'"
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/other" }
            $first = $events | Where-Object Path -eq "$mount/file" | Select-Object -First 1
            $second = $events | Where-Object Path -eq "$mount/other" | Select-Object -First 1
            $first.ProcessId | Should -Be $reuse.Pid
            $second.ProcessId | Should -Be $reuse.Pid
            ($first.ProcessStartTime.ToUniversalTime() - $reuse.Started[0]).Duration().TotalSeconds | Should -BeLessThan 1
            $second.ProcessStartTime | Should -BeGreaterThan $first.ProcessStartTime -Because 'the second process started later (needs the process table fix)'
            ($second.ProcessStartTime.ToUniversalTime() - $reuse.Started[1]).Duration().TotalSeconds | Should -BeLessThan 1
        }
    }
}
