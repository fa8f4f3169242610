#Requires -Version 7.4
# The fault suite: what users rely on when the watcher is stopped, starved, flooded or running from the
# filesystem it watches. Each watcher that could hang runs in a child pwsh under a hard deadline (SIGKILL).

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:openloop = Get-LoadTool openloop
    $script:pwsh = Get-PwshCommand
}

Describe 'Faults' -Tag 'RequireRoot', 'Fault' {
    BeforeAll { $mount = New-TestMount -Size 1g; Set-Content "$mount/data.txt" 'payload' }
    AfterAll { Remove-TestMount $mount }

    It 'SIGSTOP and SIGCONT of the watcher: openers wait, then all complete, and nothing is lost' {
        $child = Start-ChildWatcher -Mount $mount -Script @'
$w = Start-FanotifyWatch -Path $mount -Event OpenPerm
Send-Ready
while (-not (Test-Path "$ready.done")) { Start-Sleep -Milliseconds 50 }
Start-Sleep -Milliseconds 300
$events = @(Get-FanotifyEvent -Watch $w)
"$(@($events | Where-Object Exe -like '*/cat').Count) $($w.DroppedCount)"
'@
        $openers = @()
        try {
            & kill -STOP $child.Pid
            $openers = 1..5 | ForEach-Object { Start-Bounded cat @("$mount/data.txt") -TimeoutSeconds 60 }
            Start-Sleep -Seconds 1
            $openers | ForEach-Object { $_.HasExited | Should -BeFalse -Because 'a stopped watcher cannot answer' }
            & kill -CONT $child.Pid
            foreach ($opener in $openers) {
                $opener.WaitForExit(10000) | Should -BeTrue
                $opener.ExitCode | Should -Be 0
            }
            Set-Content "$($child.Ready).done" 'done'
            $child.Process.WaitForExit(30000) | Should -BeTrue
            $child.Process.StandardOutput.ReadToEnd().Trim() | Should -Be '5 0'
        }
        finally {
            $openers | Where-Object { -not $_.HasExited } | ForEach-Object { $_.Kill() }
            Stop-ChildWatcher $child
        }
    }

    It 'does not deadlock when .NET, pwsh and the module run from the filesystem it watches (50,000 opens, cold start)' {
        # A private copy of the runtime, pwsh, the module and the load program, all on the watched tmpfs.
        $runtimeDir = Split-Path ([object].Assembly.Location)                  # .../shared/Microsoft.NETCore.App/<version>
        $dotnetRoot = Split-Path (Split-Path (Split-Path $runtimeDir))
        $pwshDir = Split-Path ([Reflection.Assembly]::GetEntryAssembly().Location)
        $root = "$mount/selfhost"
        $null = New-Item -ItemType Directory -Path "$root/dotnet/shared/Microsoft.NETCore.App", "$root/pwsh", "$root/bin"
        Copy-Item "$dotnetRoot/dotnet" "$root/dotnet/"
        Copy-Item "$dotnetRoot/host" "$root/dotnet/" -Recurse
        Copy-Item $runtimeDir "$root/dotnet/shared/Microsoft.NETCore.App/" -Recurse
        Copy-Item "$pwshDir/*" "$root/pwsh/" -Recurse
        Copy-Item $env:FANOTIFYPS_MODULE "$root/FanotifyPS" -Recurse
        Copy-Item $openloop "$root/bin/openloop"
        Set-Content "$root/data.txt" 'payload'

        $script = @"
`$w = Start-FanotifyWatch -Path '$root' -Event OpenPerm, CloseWrite
& '$root/bin/openloop' '$root/data.txt' 50000
`$loop = `$LASTEXITCODE
`$count = (Get-FanotifyEvent -Watch `$w | Measure-Object).Count
`$own = @(Get-ChildItem '$root/pwsh' -Recurse | Select-Object -First 50).Count
Stop-FanotifyWatch `$w
"`$loop `$count `$(`$w.DroppedCount) `$own"
"@
        $env:DOTNET_ROOT = "$root/dotnet"
        try {
            $run = Invoke-Bounded "$root/dotnet/dotnet" @("$root/pwsh/pwsh.dll", '-NoProfile', '-NonInteractive', '-Command',
                "Import-Module '$root/FanotifyPS'; $script") -TimeoutSeconds 180
        }
        finally {
            Remove-Item Env:DOTNET_ROOT
        }
        $run.ExitCode | Should -Be 0 -Because "a deadlocked watcher is killed at the deadline: $($run.Output)"
        $loop, $count, $dropped, $own = $run.Output.Trim().Split(' ') | ForEach-Object { [long]$_ }
        $loop | Should -Be 0
        ($count + $dropped) | Should -BeGreaterOrEqual 50001   # the exec of openloop is an OpenPerm too
        $own | Should -Be 50
        $run.Seconds | Should -BeLessThan 170
    }

    It 'fd exhaustion: openers never hang, the loss is counted and reported, and the watch recovers' {
        $child = Start-ChildWatcher -Mount $mount -Script @'
$w = Start-FanotifyWatch -Path $mount -Event OpenPerm
Send-Ready
# While starved of fds this process must not need one: a stat() and a plain sleep need none.
while (-not [IO.File]::Exists("$ready.done")) { [Threading.Thread]::Sleep(50) }
Start-Sleep -Milliseconds 300
$events = @(Get-FanotifyEvent -Watch $w -WarningVariable warnings -WarningAction SilentlyContinue)
[pscustomobject]@{ Lost = $w.LostCount; State = "$($w.State)"; Warning = "$warnings"; Recovered = @($events | Where-Object { $_.Path -like '*after.txt' -and $_.Exe -like '*/cat' }).Count } | ConvertTo-Json -Compress
'@
        try {
            Set-Content "$mount/after.txt" 'after'
            # Leave the watcher no room for event fds: a new fd takes the lowest free number, so a soft limit
            # at that number refuses every new one.
            $used = Get-ChildItem "/proc/$($child.Pid)/fd" | ForEach-Object { [int]$_.Name }
            $lowestFree = 0
            while ($used -contains $lowestFree) { $lowestFree++ }
            $hard = (& prlimit --pid $child.Pid --nofile --output HARD --noheadings).Trim()
            & prlimit --pid $child.Pid --nofile="$($lowestFree):$hard"
            $LASTEXITCODE | Should -Be 0
            $starved = Invoke-Bounded $openloop @("$mount/data.txt", '200') -TimeoutSeconds 30
            $starved.ExitCode | Should -Not -Be 137 -Because 'an opener must never hang'
            & prlimit --pid $child.Pid --nofile="$($hard):$hard"
            (Invoke-Bounded cat @("$mount/after.txt") -TimeoutSeconds 10).Output | Should -Be 'after'
            Set-Content "$($child.Ready).done" 'done'
            $child.Process.WaitForExit(30000) | Should -BeTrue
            $output = $child.Process.StandardOutput.ReadToEnd()
            $result = $output | ConvertFrom-Json
            $result.Lost | Should -BeGreaterThan 0 -Because "$output $($child.Process.StandardError.ReadToEnd())"
            $result.State | Should -Be 'Running'
            $result.Warning | Should -BeLike '*lost*ulimit -n*'
            $result.Recovered | Should -Be 1
        }
        finally {
            Stop-ChildWatcher $child
        }
    }

    It 'a burst of 1,500 waiting opens under a low fd limit: the kernel denies none, nothing is lost' {
        # The kernel opens an fd for each event a read returns; one it cannot open is a permission event it denies
        # by itself, and the read does not say so. Reads must stay within the fds the watcher may still open.
        $child = Start-ChildWatcher -Mount $mount -Script @'
& prlimit --pid $PID --nofile=512:512
$w = Start-FanotifyWatch -Path $mount -Event OpenPerm
Send-Ready
while (-not (Test-Path "$ready.done")) { Start-Sleep -Milliseconds 50 }
Start-Sleep -Milliseconds 300
$events = @(Get-FanotifyEvent -Watch $w -WarningAction SilentlyContinue)
[pscustomobject]@{ Events = $events.Count; Allowed = $w.AllowedCount; Lost = $w.LostCount; Dropped = $w.DroppedCount; Limit = "$(& prlimit --pid $PID --nofile --output SOFT --noheadings)".Trim() } | ConvertTo-Json -Compress
'@
        $burst = $null
        try {
            & kill -STOP $child.Pid
            $burst = Start-Bounded (Get-LoadTool burstopen) @("$mount/data.txt", '1500') -TimeoutSeconds 60
            Start-Sleep -Seconds 3   # every thread waits in open() for the stopped watcher
            $burst.HasExited | Should -BeFalse -Because 'a stopped watcher cannot answer'
            & kill -CONT $child.Pid
            $burst.WaitForExit(30000) | Should -BeTrue
            $burst.StandardOutput.ReadToEnd().Trim() | Should -Be '{"opened":1500,"failed":0,"first_errno":0}'
            Set-Content "$($child.Ready).done" 'done'
            $child.Process.WaitForExit(30000) | Should -BeTrue
            $result = $child.Process.StandardOutput.ReadToEnd() | ConvertFrom-Json
            $result.Limit | Should -Be '512'
            $result.Allowed | Should -Be 1500
            $result.Events | Should -Be 1500
            $result.Lost | Should -Be 0
            $result.Dropped | Should -Be 0
        }
        finally {
            if ($burst -and -not $burst.HasExited) { $burst.Kill($true) }
            Stop-ChildWatcher $child
        }
    }

    It 'a slow consumer does not slow the openers down: drops are counted and reported with a warning' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -BufferSize 100
        $consumer = [powershell]::Create()
        try {
            $null = $consumer.AddScript("param(`$w) Import-Module '$env:FANOTIFYPS_MODULE'; Get-FanotifyEvent -Watch `$w -Wait -WarningVariable +warned -WarningAction SilentlyContinue | ForEach-Object { Start-Sleep -Milliseconds 5 }; `$warned").AddArgument($watch)
            $async = $consumer.BeginInvoke()
            $run = Invoke-Bounded $openloop @("$mount/data.txt", '20000') -TimeoutSeconds 60
            $run.ExitCode | Should -Be 0
            $run.Seconds | Should -BeLessThan 30 -Because 'openers are answered before anything waits on the consumer'
            Wait-Until { $watch.EventCount -ge 20000 } | Should -BeTrue
            $watch.DroppedCount | Should -BeGreaterThan 0
            Stop-FanotifyWatch $watch
            $async.AsyncWaitHandle.WaitOne(30000) | Should -BeTrue
            "$($consumer.EndInvoke($async))" | Should -BeLike '*dropped*events*-BufferSize*'
        }
        finally {
            Stop-FanotifyWatch $watch
            $consumer.Dispose()
        }
    }

    It '10 watches at once, started and removed 1,000 times: no leaked fds, threads or memory' {
        $threads = { @(Get-ChildItem "/proc/$PID/task").Count }
        $fanotify = { @(Get-FdTarget | Where-Object { $_ -like '*anon_inode:`[fanotify`]' -or $_ -like '*anon_inode:`[eventfd`]' }).Count }
        # One round first: what the runtime creates once (thread pool threads, JIT) is not a leak.
        1..10 | ForEach-Object { Start-FanotifyWatch -Path $mount -Event OpenPerm, Create -Name "churn$_" } | Remove-FanotifyWatch
        [GC]::Collect(); [GC]::WaitForPendingFinalizers()
        $fdsBefore = & $fanotify
        $listenerFds = if ((Get-FanotifyCapability -Path $mount).ProcessEvents) { 1 } else { 0 }
        $threadsBefore = & $threads
        $memoryBefore = [GC]::GetTotalMemory($true)

        for ($round = 0; $round -lt 1000; $round++) {
            $watches = 1..10 | ForEach-Object { Start-FanotifyWatch -Path $mount -Event OpenPerm, Create -Name "churn$_" }
            # 2 groups + 1 eventfd each, and the eventfd of the module's process events listener, which the first holds
            if ($round -eq 0) { (& $fanotify) | Should -Be ($fdsBefore + 30 + $listenerFds) }
            $watches | Remove-FanotifyWatch
        }
        Get-FanotifyWatch -Name 'churn*' | Should -BeNullOrEmpty
        Invoke-Bounded cat @("$mount/data.txt") -TimeoutSeconds 5 | Select-Object -ExpandProperty ExitCode | Should -Be 0

        [GC]::Collect(); [GC]::WaitForPendingFinalizers()
        & $fanotify | Should -Be $fdsBefore
        & $threads | Should -BeLessOrEqual ($threadsBefore + 2)
        ([GC]::GetTotalMemory($true) - $memoryBefore) / 1MB | Should -BeLessThan 5
    }
}

Describe 'Awkward paths' -Tag 'RequireRoot', 'Fault' {
    BeforeAll {
        $mount = New-TestMount
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, Create
    }
    AfterAll {
        Stop-FanotifyWatch $watch
        Remove-TestMount $mount
    }

    It 'reports a name with spaces' {
        (Invoke-Bounded sh @('-c', "echo x > '$mount/with space.txt'")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/with space.txt" }
        ($events | Where-Object Event -eq 'Create').Name | Should -BeExactly 'with space.txt'
    }

    It 'reports a name with a newline exactly, and escapes it where printed' {
        (Invoke-Bounded sh @('-c', "printf x > '$mount/line`nbreak'")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/line`nbreak" }
        $create = $events | Where-Object { $_.Event -eq 'Create' -and $_.Path -eq "$mount/line`nbreak" }
        $create | Should -HaveCount 1
        $create.ToString() | Should -BeLike "FAN_CREATE: File $mount/line\nbreak *"
        $create.ToString() | Should -Not -Match "`n"
        ($create | Format-Table -Wrap | Out-String -Width 400) | Should -BeLike '*line\nbreak*'
    }

    It 'keeps a name that is not UTF-8 byte for byte, and prints the bytes as \xNN' {
        (Invoke-Bounded sh @('-c', "printf x > `"`$(printf '$mount/bad\377\376name')`"")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Name -like 'bad*name' }
        $create = $events | Where-Object { $_.Event -eq 'Create' -and $_.Name -like 'bad*name' }
        $create | Should -HaveCount 1
        [int[]][char[]]$create.Name | Should -Be @(98, 97, 100, 0xDCFF, 0xDCFE, 110, 97, 109, 101)
        $create.ToString() | Should -BeLike "FAN_CREATE: File $mount/bad\xff\xfename *"
    }

    It 'reports a 255-byte name and a deep path' {
        $long = 'n' * 255
        $deep = "$mount/" + ((1..30 | ForEach-Object { 'd' * 100 }) -join '/')
        $null = New-Item -ItemType Directory -Path $deep -Force
        (Invoke-Bounded sh @('-c', "echo x > '$deep/$long'")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$deep/$long" }
        ($events | Where-Object { $_.Event -eq 'Create' -and $_.Path -eq "$deep/$long" }).Name | Should -BeExactly $long
        ($events | Where-Object { $_.Event -eq 'OpenPerm' -and $_.Path -eq "$deep/$long" }) | Should -Not -BeNullOrEmpty
    }

    It 'escapes a backslash where printed, so that no two names print the same' {
        (Invoke-Bounded sh @('-c', "echo x > '$mount/back\xff'")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/back\xff" }
        ($events | Where-Object { $_.Event -eq 'Create' -and $_.Path -eq "$mount/back\xff" }).ToString() | Should -BeLike "*$mount/back\\xff *"
    }
}
