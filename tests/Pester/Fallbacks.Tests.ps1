#Requires -Version 7.4
# Kernels without a feature: the fallbacks and errors that this kernel never takes on its own. Each test runs a
# child pwsh under tests/tools/nofeature, a seccomp filter that makes fanotify_init or fanotify_mark refuse one
# flag the way an older kernel does (EINVAL), or refuse fanotify altogether (ENOSYS). The child reports what it
# saw as JSON lines; it runs under a hard deadline, and its watches are on this suite's tmpfs.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:nofeature = Get-LoadTool nofeature
    $script:helpers = Join-Path $PSScriptRoot 'TestHelpers.psm1'
    $script:pwsh = Get-PwshCommand

    # The events of a shell that writes a file and then execs rm in its place: each names bash (the write) or rm
    # (the delete), or nobody (Unknown): never the other one.
    function Assert-ShellThenRm {
        param([object[]] $Events)
        foreach ($event in $Events) {
            $expected = if ($event.Event -like '*Delete*') { '/usr/bin/rm' } else { '/usr/bin/bash' }
            if ($event.Exe) {
                $event.Exe | Should -Be $expected -Because "a named process must be the right one: $($event | ConvertTo-Json -Compress)"
            }
            else {
                $event.Source | Should -Be 'Unknown'
            }
        }
    }

    # Runs a script in a child pwsh whose kernel refuses what the rules say; returns its JSON lines as objects.
    function Invoke-WithoutFeature {
        param([Parameter(Mandatory)] [string[]] $Rule, [Parameter(Mandatory)] [string] $Script)
        $prelude = "`$ErrorActionPreference = 'Stop'; Import-Module '$env:FANOTIFYPS_MODULE'; Import-Module '$helpers'; `$mount = '$mount'`n"
        $arguments = @($Rule) + @('--', $pwsh.FilePath) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $prelude + $Script)
        $run = Invoke-Bounded $nofeature $arguments -TimeoutSeconds 90
        $run.ExitCode | Should -Be 0 -Because $run.Output
        @($run.Output -split "`n" | Where-Object { $_.StartsWith('{') } | ForEach-Object { $_ | ConvertFrom-Json })
    }
}

Describe 'Kernels without a feature' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/tree"
        Set-Content "$mount/tree/data.txt" 'data'
        Set-Content "$mount/secret.txt" 'secret'
        # The same tmpfs through a second mount: a filesystem mark sees opens there, a mount mark does not.
        $bind = Join-Path '/tmp/fanotifyps-tests' ([IO.Path]::GetRandomFileName())
        $null = New-Item -ItemType Directory $bind
        & mount --bind $mount $bind
        if ($LASTEXITCODE -ne 0) { throw "mount --bind $mount $bind failed." }
    }
    AfterAll {
        Remove-TestMount $bind
        Remove-TestMount $mount
    }

    It 'the filter refuses what it is told to and nothing else' {
        $facts = Invoke-WithoutFeature 'init:0:0x80:EINVAL' @'
[pscustomobject]@{ PidFd = (Get-FanotifyCapability).PidFd; Fanotify = (Get-FanotifyCapability).Fanotify; ThreadId = (Get-FanotifyCapability).ThreadId } | ConvertTo-Json -Compress
'@
        $facts.PidFd | Should -BeFalse
        $facts.Fanotify | Should -BeTrue
        $facts.ThreadId | Should -Be (Get-FanotifyCapability).ThreadId
    }

    It 'without filesystem marks (before 4.20) a Filesystem watch warns and watches its mount' {
        $facts = Invoke-WithoutFeature 'mark:1:0x100:EINVAL' @'
$watch = Start-FanotifyWatch -Path $mount -Event Open -WarningVariable warned -WarningAction SilentlyContinue
& cat "$mount/tree/data.txt" | Out-Null
& cat "$bind/tree/data.txt" | Out-Null
& cat "$mount/secret.txt" | Out-Null
$events = Receive-UntilEvent $watch { $_.Path -eq "$mount/secret.txt" }
Stop-FanotifyWatch $watch
[pscustomobject]@{ Scope = "$($watch.Scope)"; Warning = "$warned"; Paths = @($events | ForEach-Object Path | Sort-Object -Unique) } | ConvertTo-Json -Compress
'@.Replace('$bind', $bind)
        $facts.Scope | Should -Be 'Mount'
        $facts.Warning | Should -BeLike "*refused a filesystem mark on '$mount'*its mount only*"
        $facts.Paths | Should -Contain "$mount/tree/data.txt"
        $facts.Paths | Should -Contain "$mount/secret.txt"
        $facts.Paths | Should -Not -Contain "$bind/tree/data.txt" -Because 'a mount mark does not see another mount'
    }

    It 'without filesystem marks a Tree watch stays a Tree, watched through its mount' {
        $facts = Invoke-WithoutFeature 'mark:1:0x100:EINVAL' @'
$watch = Start-FanotifyWatch -Path "$mount/tree" -Scope Tree -Event OpenPerm -WarningVariable warned -WarningAction SilentlyContinue
& cat "$mount/secret.txt" | Out-Null
& cat "$mount/tree/data.txt" | Out-Null
$events = Receive-UntilEvent $watch { $_.Path -eq "$mount/tree/data.txt" }
Stop-FanotifyWatch $watch
[pscustomobject]@{ Scope = "$($watch.Scope)"; Warning = "$warned"; Paths = @($events | ForEach-Object Path | Sort-Object -Unique); Allowed = $watch.AllowedCount } | ConvertTo-Json -Compress
'@
        $facts.Scope | Should -Be 'Tree'
        $facts.Warning | Should -BeLike '*the tree through its mount*'
        $facts.Paths | Should -Be @("$mount/tree/data.txt")
        $facts.Allowed | Should -BeGreaterOrEqual 2 -Because 'the open outside the tree was answered too'
    }

    It 'without FAN_REPORT_PIDFD (before 5.15) notification events still name their process' {
        # A process that stays alive: a short-lived one may be reaped before any watcher reads the event.
        $facts = Invoke-WithoutFeature 'init:0:0x80:EINVAL' @'
$watch = Start-FanotifyWatch -Path $mount -Event Open, CloseWrite
$opener = [Diagnostics.Process]::Start('sh', [string[]] @('-c', "exec 3< '$mount/tree/data.txt'; echo more >> '$mount/tree/data.txt'; sleep 3"))
$events = Receive-UntilEvent $watch { ($_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite) -and $_.ProcessId -eq $opener.Id }
Stop-FanotifyWatch $watch
$events | Where-Object ProcessId -eq $opener.Id | ForEach-Object { [pscustomobject]@{ Event = "$($_.Event)"; Exe = $_.Exe; Name = $_.ProcessName; Parent = $_.ParentProcessId; Gone = $_.IsProcessGone; Self = $PID } | ConvertTo-Json -Compress }
'@
        # The kernel may merge the two into one event ("CloseWrite, Open").
        $facts.Event -join ', ' | Should -Match '\bOpen\b'
        $facts.Event -join ', ' | Should -Match '\bCloseWrite\b'
        foreach ($fact in $facts) {
            $fact.Exe | Should -Be (& readlink -f /bin/sh)
            $fact.Name | Should -Be 'sh'
            $fact.Parent | Should -Be $fact.Self
            $fact.Gone | Should -BeFalse
        }
    }

    It 'without FAN_REPORT_TARGET_FID (before 5.17) entry events still report names and renames' {
        $facts = Invoke-WithoutFeature 'init:0:0x1000:EINVAL' @'
$watch = Start-FanotifyWatch -Path $mount -Event Create, Rename
& sh -c "echo x > '$mount/tree/new.txt' && mv '$mount/tree/new.txt' '$mount/tree/renamed.txt'"
$events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::Rename }
Stop-FanotifyWatch $watch
$events | ForEach-Object { [pscustomobject]@{ Event = "$($_.Event)"; Path = $_.Path; OldPath = $_.OldPath; NewPath = $_.NewPath } | ConvertTo-Json -Compress }
'@
        ($facts | Where-Object Event -eq 'Create').Path | Should -Contain "$mount/tree/new.txt"
        $rename = $facts | Where-Object Event -like '*Rename*'
        $rename.OldPath | Should -Be "$mount/tree/new.txt"
        $rename.NewPath | Should -Be "$mount/tree/renamed.txt"
    }

    It 'without deny-with-errno (before 6.14) a rule with -Errno warns and denies with EPERM' {
        # Refusing pre-content groups makes the watch's probe, and Get-FanotifyCapability's, find no FAN_DENY_ERRNO.
        $facts = Invoke-WithoutFeature 'init:0:0x8:EINVAL' @'
$watch = Start-FanotifyWatch -Path $mount -Rule (New-FanotifyRule -Name NoSecrets -Path '*/secret*' -Errno EIO) -WarningVariable warned -WarningAction SilentlyContinue
$denied = & sh -c "cat '$mount/secret.txt' 2>&1"
$events = Receive-UntilEvent $watch { $_.Rule -eq 'NoSecrets' }
Stop-FanotifyWatch $watch
[pscustomobject]@{ Warning = "$warned"; Denied = "$denied"; Response = "$(($events | Where-Object Rule -eq NoSecrets)[0].Response)"; DenyErrno = (Get-FanotifyCapability).DenyErrno } | ConvertTo-Json -Compress
'@
        $facts.Warning | Should -BeLike '*cannot deny with a chosen errno (FAN_DENY_ERRNO, Linux 6.14)*EPERM*'
        $facts.Denied | Should -BeLike '*Operation not permitted*'
        $facts.Response | Should -Be 'Deny'
        $facts.DenyErrno | Should -BeFalse
    }

    It 'a kernel without fanotify is NotImplemented and says so' {
        $facts = Invoke-WithoutFeature 'init:0:0:ENOSYS' @'
Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open } | ConvertTo-Json -Compress
Get-ErrorFacts { Get-FanotifyEvent -Path $mount -Event Open -Timeout 1 } | ConvertTo-Json -Compress
[pscustomobject]@{ Fanotify = (Get-FanotifyCapability).Fanotify; Fds = (Get-FanotifyFdCount) } | ConvertTo-Json -Compress
'@
        $facts | Should -HaveCount 3
        $facts[0].Id | Should -Be 'FanotifyNotSupported,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts[1].Id | Should -Be 'FanotifyNotSupported,FanotifyPS.Commands.GetFanotifyEventCommand'
        $facts[0].Category | Should -Be 'NotImplemented'
        $facts[0].Message | Should -BeLike '*no fanotify support (CONFIG_FANOTIFY*'
        $facts[2].Fanotify | Should -BeFalse
        $facts[2].Fds | Should -Be 0
    }

    It 'a kernel without permission events refuses a permission watch, and a notification watch still runs' {
        $facts = Invoke-WithoutFeature 'init:0:0xc:EINVAL' @'
Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event OpenPerm } | ConvertTo-Json -Compress
$watch = Start-FanotifyWatch -Path $mount -Event Open
& cat "$mount/secret.txt" | Out-Null
$events = Receive-UntilEvent $watch { $_.Path -eq "$mount/secret.txt" }
Stop-FanotifyWatch $watch
[pscustomobject]@{ Seen = @($events | Where-Object Path -eq "$mount/secret.txt").Count; PermissionEvents = (Get-FanotifyCapability).PermissionEvents } | ConvertTo-Json -Compress
'@
        $facts[0].Id | Should -Be 'PermissionEventsNotSupported,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts[0].Category | Should -Be 'NotImplemented'
        $facts[0].Message | Should -BeLike '*-Event Open, CloseWrite*'
        $facts[1].Seen | Should -BeGreaterThan 0
        $facts[1].PermissionEvents | Should -BeFalse
    }

    It 'a filesystem that refuses permission marks is NotImplemented and leaves no group open' {
        $facts = Invoke-WithoutFeature 'mark:2:0x10000:EINVAL' @'
Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event OpenPerm } | ConvertTo-Json -Compress
[pscustomobject]@{ Fds = (Get-FanotifyFdCount); Watches = @(Get-FanotifyWatch).Count } | ConvertTo-Json -Compress
'@
        $facts[0].Id | Should -Be 'PermissionEventsNotSupported,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts[0].Message | Should -BeLike "*'$mount'*refused*OpenPerm*"
        $facts[1].Fds | Should -Be 0
        $facts[1].Watches | Should -Be 0
    }

    It 'without file-handle reporting (before 5.9) entry events are refused by name, and Open still works' {
        $facts = Invoke-WithoutFeature 'init:0:0x400:EINVAL' @'
Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Create } | ConvertTo-Json -Compress
Get-ErrorFacts { $w = Start-FanotifyWatch -Path $mount -Event Open; Stop-FanotifyWatch $w } | ConvertTo-Json -Compress
'@
        $facts | Should -HaveCount 1 -Because 'the Open watch started (no error, so no line)'
        $facts[0].Id | Should -Be 'FeatureNotSupported,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts[0].Message | Should -BeLike '*FAN_REPORT_DFID_NAME, Linux 5.9*Create*'
    }

    It 'without FAN_REPORT_TID (before 4.20) -ThreadId is refused by name' {
        $facts = Invoke-WithoutFeature 'init:0:0x100:EINVAL' @'
Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open -ThreadId } | ConvertTo-Json -Compress
'@
        $facts[0].Id | Should -Be 'FeatureNotSupported,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts[0].Message | Should -BeLike '*FAN_REPORT_TID*without -ThreadId*'
    }

    It 'without exec events (before 4.19) a watch warns once, and names no process wrongly' {
        $facts = Invoke-WithoutFeature 'mark:2:0x1000:EINVAL' @'
$first = Start-FanotifyWatch -Path $mount -Event CloseWrite, Delete -WarningVariable warned -WarningAction SilentlyContinue
$second = Start-FanotifyWatch -Path $mount -Event CloseWrite -WarningVariable warnedAgain -WarningAction SilentlyContinue
Stop-FanotifyWatch $second
# A shell writes a file, then execs rm in its place, under the same pid: without exec events nothing says when.
foreach ($i in 1..5) { & bash -c "echo x > '$mount/fb-bash-$i'; exec rm '$mount/fb-bash-$i'" }
& bash -c "echo x > '$mount/fb-end'"
$events = Receive-UntilEvent $first { $_.Path -eq "$mount/fb-end" }
Stop-FanotifyWatch $first
[pscustomobject]@{
    Warning = "$warned"; WarningAgain = "$warnedAgain"; ExecEvents = $first.ExecEventCount
    Events = @($events | Where-Object Path -like "$mount/fb-*" | ForEach-Object { [pscustomobject]@{ Path = $_.Path; Event = "$($_.Event)"; Exe = $_.Exe; Source = "$($_.ProcessSource)" } })
} | ConvertTo-Json -Compress -Depth 3
'@
        $facts[0].Warning | Should -BeLike '*no exec events (FAN_OPEN_EXEC, Linux 4.19)*Names stay correct*'
        $facts[0].WarningAgain | Should -BeNullOrEmpty -Because 'the module says it once'
        $facts[0].ExecEvents | Should -Be 0
        $facts[0].Events.Count | Should -BeGreaterOrEqual 11 -Because ($facts[0].Events | ConvertTo-Json -Compress)
        Assert-ShellThenRm $facts[0].Events
    }

    It 'without the process connector a watch warns once, names what it is sure of, and nothing wrongly' {
        $facts = Invoke-WithoutFeature 'socket:16:11:EPROTONOSUPPORT' @'
$capability = Get-FanotifyCapability
$first = Start-FanotifyWatch -Path $mount -Event CloseWrite, Delete -WarningVariable warned -WarningAction SilentlyContinue
$second = Start-FanotifyWatch -Path $mount -Event CloseWrite -WarningVariable warnedAgain -WarningAction SilentlyContinue
Stop-FanotifyWatch $second
foreach ($i in 1..5) { & bash -c "echo x > '$mount/pc-bash-$i'; exec rm '$mount/pc-bash-$i'" }
& bash -c "echo x > '$mount/pc-end'"
$events = Receive-UntilEvent $first { $_.Path -eq "$mount/pc-end" }
Stop-FanotifyWatch $first
[pscustomobject]@{
    Capability = $capability.ProcessEvents; Reason = $capability.ProcessEventsReason
    Warning = "$warned"; WarningAgain = "$warnedAgain"
    Events = @($events | Where-Object Path -like "$mount/pc-*" | ForEach-Object { [pscustomobject]@{ Path = $_.Path; Event = "$($_.Event)"; Exe = $_.Exe; Source = "$($_.ProcessSource)" } })
} | ConvertTo-Json -Compress -Depth 3
'@
        $facts[0].Capability | Should -BeFalse
        $facts[0].Reason | Should -BeLike '*CONFIG_CONNECTOR*'
        $facts[0].Warning | Should -BeLike '*process events connector is not available*names stay correct*'
        $facts[0].WarningAgain | Should -BeNullOrEmpty -Because 'the module says it once'
        $facts[0].Events.Count | Should -BeGreaterOrEqual 11 -Because ($facts[0].Events | ConvertTo-Json -Compress)
        Assert-ShellThenRm $facts[0].Events
    }
}
