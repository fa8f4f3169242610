#Requires -Version 7.4
# What an unprivileged user may do (Linux 5.13+): run as root, each test starts a fresh pwsh as nobody under
# setpriv (no capabilities, no groups), with the module copied where nobody can read it and the pwsh of this run
# bind-mounted where nobody can reach it (the tool store is under /root, mode 0700). Everything it watches is a
# directory nobody owns on a tmpfs from New-TestMount; every child runs under a hard deadline (SIGKILL).

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    $script:mount = New-TestMount
    $script:nobodyHome = Join-Path $mount 'home'
    $null = New-Item -ItemType Directory -Path $nobodyHome
    # The module and the child's scripts: readable by all, writable by root only.
    $script:share = Join-Path $mount 'share'
    $null = New-Item -ItemType Directory -Path $share
    Copy-Item -Recurse -LiteralPath $env:FANOTIFYPS_MODULE -Destination (Join-Path $share 'FanotifyPS')
    & chmod -R a+rX $share
    # This run's pwsh, where nobody can reach it: a bind mount of its directory (not inside $mount, so that the
    # tmpfs unmounts on its own).
    $pwsh = Get-PwshCommand
    $script:pwshDir = Join-Path '/tmp/fanotifyps-tests' "pwsh-$([IO.Path]::GetRandomFileName())"
    $null = New-Item -ItemType Directory -Path $pwshDir
    & mount --bind $PSHOME $pwshDir
    if ($LASTEXITCODE -ne 0) { throw "mount --bind $PSHOME $pwshDir failed." }
    $script:childCommand = if ($pwsh.Prefix.Count -gt 0) {
        @($pwsh.FilePath, (Join-Path $pwshDir ([IO.Path]::GetFileName($pwsh.Prefix[0]))))
    } else {
        @((Join-Path $pwshDir ([IO.Path]::GetFileName($pwsh.FilePath))))
    }
    & chown -R nobody:nogroup $nobodyHome
    & chmod 755 $mount

    # Runs a script as nobody in a fresh pwsh that has imported the module; returns its JSON lines as objects.
    function Invoke-AsNobody([string] $Script, [int] $TimeoutSeconds = 90) {
        $file = Join-Path $share "child-$([IO.Path]::GetRandomFileName()).ps1"
        Set-Content -LiteralPath $file -Value @"
`$ErrorActionPreference = 'Stop'
`$ProgressPreference = 'SilentlyContinue'
Import-Module '$share/FanotifyPS'
`$nobodyHome = '$nobodyHome'
function Get-ErrorFacts([scriptblock] `$Call) {
    try { & `$Call; `$null }
    catch { [pscustomobject]@{ Id = `$_.FullyQualifiedErrorId; Category = "`$(`$_.CategoryInfo.Category)"; Message = `$_.Exception.Message } }
}
$Script
"@
        & chmod a+r $file
        $arguments = @('--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--',
            'env', "HOME=$nobodyHome", 'POWERSHELL_TELEMETRY_OPTOUT=1', 'DOTNET_CLI_TELEMETRY_OPTOUT=1', 'DOTNET_NOLOGO=1') +
            $childCommand + @('-NoProfile', '-NonInteractive', '-File', $file)
        $run = Invoke-Bounded setpriv $arguments -TimeoutSeconds $TimeoutSeconds
        Remove-Item -LiteralPath $file -ErrorAction Ignore
        $run.ExitCode | Should -Be 0 -Because $run.Output
        @($run.Output -split "`n" | Where-Object { $_.StartsWith('{') } | ForEach-Object { $_ | ConvertFrom-Json })
    }

    # A directory nobody owns, fresh for each test.
    function New-NobodyDirectory {
        $dir = Join-Path $nobodyHome ([IO.Path]::GetRandomFileName())
        $null = New-Item -ItemType Directory -Path $dir
        & chown nobody:nogroup $dir
        $dir
    }
}

AfterAll {
    & umount $pwshDir 2>$null
    if ($LASTEXITCODE -ne 0) { & umount -l $pwshDir 2>$null }
    Remove-Item -LiteralPath $pwshDir -Force -ErrorAction Ignore
    Remove-TestMount $mount
}

Describe 'As an unprivileged user (setpriv nobody, no capabilities)' -Tag 'RequireRoot' {
    It 'runs without CAP_SYS_ADMIN' {
        $facts = Invoke-AsNobody @'
$capEff = [Convert]::ToUInt64((((Get-Content /proc/self/status) -match '^CapEff:') -split '\s+')[1], 16)
[pscustomobject]@{ Uid = [int](& id -u); CapEff = $capEff } | ConvertTo-Json -Compress
'@
        $facts[0].Uid | Should -Be 65534
        $facts[0].CapEff | Should -Be 0
    }

    It 'watches a directory it owns: entry and attribute events, right paths, no process named' {
        $dir = New-NobodyDirectory
        $facts = Invoke-AsNobody @"
`$dir = '$dir'
`$w = Start-FanotifyWatch -Path `$dir -Scope Directory -Event Create, Delete, Move, Rename, Attrib, CloseWrite, CloseNoWrite -InformationVariable info
& sh -c "echo a > `$dir/one; cat `$dir/one >/dev/null; ls `$dir >/dev/null; mv `$dir/one `$dir/two; chmod 600 `$dir/two; rm `$dir/two; mkdir `$dir/sub"
`$deadline = [DateTime]::UtcNow.AddSeconds(20)
`$events = @()
while ([DateTime]::UtcNow -lt `$deadline -and -not (`$events | Where-Object { `$_.Event -band [FanotifyPS.FanotifyEventType]::Create -and `$_.IsDirectory })) {
    `$events += @(Get-FanotifyEvent -Watch `$w -Timeout 0.2)
}
`$w | Stop-FanotifyWatch
[pscustomobject]@{ Info = "`$info"; State = "`$(`$w.State)"; Reason = "`$(`$w.JobStateInfo.Reason)" } | ConvertTo-Json -Compress
foreach (`$e in `$events) {
    [pscustomobject]@{ Event = "`$(`$e.Event)"; Path = `$e.Path; Name = `$e.Name; DirectoryPath = `$e.DirectoryPath; OldPath = `$e.OldPath; NewPath = `$e.NewPath
        IsDirectory = `$e.IsDirectory; ProcessId = `$e.ProcessId; Exe = `$e.Exe } | ConvertTo-Json -Compress
}
"@
        $start = $facts[0]
        $start.Reason | Should -BeNullOrEmpty
        $start.Info | Should -BeLike '*Without root*no ProcessId*no Exe*'
        $events = @($facts | Select-Object -Skip 1)
        $find = { param($event, $path) @($events | Where-Object { $_.Event -like "*$event*" -and $_.Path -eq $path }) }
        (& $find 'Create' "$dir/one") | Should -Not -BeNullOrEmpty -Because ($events | ConvertTo-Json)
        (& $find 'CloseWrite' "$dir/one") | Should -Not -BeNullOrEmpty
        (& $find 'CloseNoWrite' "$dir/one") | Should -Not -BeNullOrEmpty
        # As in a root watch, the directory's own opens and closes (ls) are not reported; its entries' are.
        @($events | Where-Object { $_.Event -like '*CloseNoWrite*' -and $_.IsDirectory }) | Should -BeNullOrEmpty
        $rename = @(& $find 'Rename' "$dir/two")
        $rename | Should -HaveCount 1
        $rename[0].OldPath | Should -Be "$dir/one"
        $rename[0].NewPath | Should -Be "$dir/two"
        (& $find 'MovedFrom' "$dir/one") | Should -Not -BeNullOrEmpty
        (& $find 'MovedTo' "$dir/two") | Should -Not -BeNullOrEmpty
        (& $find 'Attrib' "$dir/two") | Should -Not -BeNullOrEmpty
        $delete = @(& $find 'Delete' "$dir/two")
        $delete | Should -HaveCount 1
        $delete[0].Name | Should -Be 'two'
        $delete[0].DirectoryPath | Should -Be $dir
        $sub = @(& $find 'Create' "$dir/sub")
        $sub[0].IsDirectory | Should -BeTrue
        # The kernel names no other process to an unprivileged watcher: nothing, never a wrong one.
        foreach ($e in $events) {
            $e.ProcessId | Should -BeIn @(0, $null)
            $e.Exe | Should -BeNullOrEmpty
            $e.Path | Should -Not -BeLike '*(unresolved)*'
        }
    }

    It 'watches a file (-Scope File) by its own handle, and says unresolved once it has moved' {
        $dir = New-NobodyDirectory
        $facts = Invoke-AsNobody @"
`$file = '$dir/watched.txt'
Set-Content `$file 'x'
`$w = Start-FanotifyWatch -Path `$file -Scope File -Event Modify, Attrib, CloseWrite, MoveSelf
function Receive-Until([scriptblock] `$Done) {
    `$deadline = [DateTime]::UtcNow.AddSeconds(20)
    while ([DateTime]::UtcNow -lt `$deadline -and -not (& `$Done)) { `$script:events += @(Get-FanotifyEvent -Watch `$w -Timeout 0.2) }
}
`$events = @()
# In two steps, so that the events before the move are resolved before it (the watcher resolves as it reads).
& sh -c "echo more >> `$file; chmod 640 `$file"
Receive-Until { `$events | Where-Object { `$_.Event -band [FanotifyPS.FanotifyEventType]::Attrib } }
& sh -c "mv `$file '$dir/moved.txt'; chmod 600 '$dir/moved.txt'"
`$deadline = [DateTime]::UtcNow.AddSeconds(20)
while ([DateTime]::UtcNow -lt `$deadline -and @(`$events | Where-Object { `$_.Event -band [FanotifyPS.FanotifyEventType]::Attrib }).Count -lt 2) {
    `$events += @(Get-FanotifyEvent -Watch `$w -Timeout 0.2)
}
`$w | Stop-FanotifyWatch
foreach (`$e in `$events) {
    [pscustomobject]@{ Event = "`$(`$e.Event)"; Path = `$e.Path; Name = `$e.Name; OldPath = `$e.OldPath; ProcessId = `$e.ProcessId } | ConvertTo-Json -Compress
}
"@
        $text = $facts | ConvertTo-Json
        @($facts | Where-Object { $_.Event -like '*Modify*' -and $_.Path -eq "$dir/watched.txt" }) | Should -Not -BeNullOrEmpty -Because $text
        @($facts | Where-Object { $_.Event -like '*Attrib*' -and $_.Path -eq "$dir/watched.txt" }) | Should -HaveCount 1 -Because $text
        $moved = @($facts | Where-Object { $_.Event -like '*MoveSelf*' })
        $moved | Should -HaveCount 1 -Because $text
        $moved[0].Path | Should -Be '(unresolved)'
        $moved[0].OldPath | Should -Be "$dir/watched.txt"
        # After the move its directory is not known to an inode mark (the kernel gives the name): never the old path.
        $after = @($facts | Where-Object { $_.Event -like '*Attrib*' })[-1]
        $after.Path | Should -Be '(unresolved)/moved.txt' -Because $text
    }

    It 'says unresolved, not the old path, after a directory above the watched one is renamed' {
        $parent = New-NobodyDirectory
        $facts = Invoke-AsNobody @"
`$null = New-Item -ItemType Directory '$parent/a/w'
`$w = Start-FanotifyWatch -Path '$parent/a/w' -Scope Directory -Event Create
& sh -c "touch '$parent/a/w/before'; mv '$parent/a' '$parent/b'; touch '$parent/b/w/after'"
`$deadline = [DateTime]::UtcNow.AddSeconds(20)
`$events = @()
while ([DateTime]::UtcNow -lt `$deadline -and `$events.Count -lt 2) { `$events += @(Get-FanotifyEvent -Watch `$w -Timeout 0.2) }
`$w | Stop-FanotifyWatch
foreach (`$e in `$events) { [pscustomobject]@{ Path = `$e.Path; Name = `$e.Name } | ConvertTo-Json -Compress }
"@
        $facts | Should -HaveCount 2
        # "before" may be read after the rename too: then it is unresolved as well; never under the old name.
        $facts[0].Path | Should -BeIn @("$parent/a/w/before", '(unresolved)/before')
        $facts[1].Path | Should -Be '(unresolved)/after'
        $facts[1].Name | Should -Be 'after'
    }

    It 'captures with Get-FanotifyEvent -Path, as a watch does' {
        $dir = New-NobodyDirectory
        $facts = Invoke-AsNobody @"
# Files made for 5 s, from before the capture starts (its start takes a while) until after.
`$null = [Diagnostics.Process]::Start('sh', '-c "for i in 1 2 3 4 5 6 7 8 9 10; do touch $dir/captured.`$i; sleep 0.5; done"')
Get-FanotifyEvent -Path '$dir' -Scope Directory -Event Create -Timeout 3 |
    ForEach-Object { [pscustomobject]@{ Event = "`$(`$_.Event)"; Path = `$_.Path; ProcessId = `$_.ProcessId } | ConvertTo-Json -Compress }
"@
        $facts | Should -Not -BeNullOrEmpty
        foreach ($f in $facts) {
            $f.Event | Should -Be 'Create'
            $f.Path | Should -Match "^$([regex]::Escape($dir))/captured\.([1-9]|10)`$"
            $f.ProcessId | Should -BeIn @(0, $null)
        }
    }

    It 'refuses what needs root with FanotifyNeedsCapSysAdmin, saying what this user can do' {
        $dir = New-NobodyDirectory
        $facts = Invoke-AsNobody @"
`$dir = '$dir'
foreach (`$call in { Start-FanotifyWatch -Path `$dir -Event Create },
    { Start-FanotifyWatch -Path `$dir -Scope Filesystem -Event Create },
    { Start-FanotifyWatch -Path `$dir -Scope Mount -Event Open },
    { Start-FanotifyWatch -Path `$dir -Scope Directory -Event OpenPerm },
    { Start-FanotifyWatch -Path `$dir -Scope Directory -Event Create -ThreadId },
    { Start-FanotifyWatch -Path `$dir -Scope Directory -Event Create -Exe /usr/bin/sh },
    { Start-FanotifyWatch -Path `$dir -Scope Directory -Event Create -User root },
    { Get-FanotifyEvent -Path `$dir -Event OpenPerm -Scope Directory -Timeout 1 }) {
    `$f = Get-ErrorFacts `$call
    `$f | Add-Member Fds @(Get-ChildItem /proc/self/fd | Where-Object { "`$(`$_.LinkTarget)" -eq 'anon_inode:[fanotify]' }).Count
    `$f | Add-Member Watches @(Get-FanotifyWatch).Count
    `$f | ConvertTo-Json -Compress
}
"@
        $facts | Should -HaveCount 8
        foreach ($f in $facts) {
            $f.Id | Should -BeLike 'FanotifyNeedsCapSysAdmin,FanotifyPS.Commands.*'
            $f.Category | Should -Be 'PermissionDenied'
            $f.Message | Should -BeLike '*root or the CAP_SYS_ADMIN capability*-Scope Directory or -Scope File*'
            $f.Fds | Should -Be 0
            $f.Watches | Should -Be 0
        }
        $facts[0].Message | Should -BeLike '*-Scope Filesystem (the default)*'
        $facts[2].Message | Should -BeLike '*-Scope Mount*'
        $facts[3].Message | Should -BeLike '*permission events (OpenPerm)*'
        $facts[4].Message | Should -BeLike '*-ThreadId*'
        $facts[5].Message | Should -BeLike '*-Exe*could never match*'
        $facts[6].Message | Should -BeLike '*-User*could never match*'
    }

    It 'Get-FanotifyCapability reports what this user may do, and leaves what it cannot probe null' {
        $facts = Invoke-AsNobody @'
Get-FanotifyCapability | Select-Object Privileged, ReportsProcesses, Fanotify, FileHandleReporting, DirectoryEntryNames, RenameEvents,
    PermissionEvents, FilesystemMark, MountMark, UnlimitedQueue, PidFd, ThreadId, FsErrorEvents, ProcessEvents,
    @{ n = 'Scopes'; e = { "$($_.AvailableScopes)" } }, @{ n = 'Events'; e = { [long]$_.AvailableEvents } } | ConvertTo-Json -Compress
'@
        $caps = $facts[0]
        $caps.Privileged | Should -BeFalse
        $caps.ReportsProcesses | Should -BeFalse
        $caps.Fanotify | Should -BeTrue
        $caps.FileHandleReporting | Should -BeTrue
        $caps.DirectoryEntryNames | Should -BeTrue
        $caps.RenameEvents | Should -BeTrue
        foreach ($rootOnly in 'PermissionEvents', 'FilesystemMark', 'MountMark', 'UnlimitedQueue', 'PidFd', 'ThreadId', 'FsErrorEvents', 'ProcessEvents') {
            $caps.$rootOnly | Should -BeNullOrEmpty -Because "$rootOnly is not probed without root (not False)"
        }
        $caps.Scopes | Should -Be 'Directory File'
        $events = [FanotifyPS.FanotifyEventType]$caps.Events
        foreach ($event in 'Create', 'Delete', 'MovedFrom', 'MovedTo', 'Rename', 'Attrib', 'Modify', 'CloseWrite', 'DeleteSelf', 'MoveSelf') {
            $events.HasFlag([FanotifyPS.FanotifyEventType]$event) | Should -BeTrue -Because "$event is allowed without root ($events)"
        }
        foreach ($event in 'OpenPerm', 'AccessPerm', 'OpenExecPerm', 'FsError') {
            $events.HasFlag([FanotifyPS.FanotifyEventType]$event) | Should -BeFalse -Because "$event needs root"
        }
    }
}

Describe 'Get-FanotifyCapability as root' -Tag 'RequireRoot' {
    It 'says it may do everything the kernel has' {
        $caps = Get-FanotifyCapability
        $caps.Privileged | Should -BeTrue
        $caps.ReportsProcesses | Should -BeTrue
        $caps.AvailableScopes | Should -Contain ([FanotifyPS.FanotifyScope]::Filesystem)
        $caps.AvailableEvents.HasFlag([FanotifyPS.FanotifyEventType]::OpenPerm) | Should -Be ([bool]$caps.PermissionEvents)
        $caps.AvailableEvents.HasFlag([FanotifyPS.FanotifyEventType]::Create) | Should -BeTrue
        $caps.PermissionEvents | Should -Not -BeNullOrEmpty
    }
}
