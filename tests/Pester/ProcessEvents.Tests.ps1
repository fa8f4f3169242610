#Requires -Version 7.4
# The process events connector, where it cannot be had: a kernel without it (tests/tools/nofeature refusing
# the netlink socket), a network namespace of its own, a pid namespace of its own (the kernel ignores the
# listen request there). Each case runs a child pwsh that imports the module, acquires its listener through
# reflection (it is internal) and reports as JSON lines; under a hard deadline. Also: module removal closes it.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:nofeature = Get-LoadTool nofeature
    $script:pwsh = Get-PwshCommand

    # Runs a script in a child pwsh started through $Prefix (nofeature, unshare); returns its JSON lines.
    function Invoke-Child([string[]] $Prefix, [string] $Script) {
        $prelude = @'
$ErrorActionPreference = 'Stop'
Import-Module $env:FANOTIFYPS_MODULE
$flags = [Reflection.BindingFlags]'Public,NonPublic,Static,Instance'
$type = [FanotifyPS.Watching.ModuleLifetime].Assembly.GetType('FanotifyPS.Watching.ProcessEventsListener', $true)
function Get-Internal($object, $name) { $type.GetProperty($name, $flags).GetValue($object) }
$warnings = [Collections.Generic.List[string]]::new()
$warn = [Action[string]] { param($message) $warnings.Add($message) }

'@
        $arguments = @($Prefix) + @($pwsh.FilePath) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $prelude + $Script)
        $run = Invoke-Bounded $arguments[0] @($arguments | Select-Object -Skip 1) -TimeoutSeconds 90
        $run.ExitCode | Should -Be 0 -Because $run.Output
        @($run.Output -split "`n" | Where-Object { $_.StartsWith('{') } | ForEach-Object { $_ | ConvertFrom-Json })
    }

    $script:report = @'
$listener = $type.GetMethod('Acquire', $flags).Invoke($null, @())
$type.GetMethod('WarnOnce', $flags).Invoke($null, @($warn))
$type.GetMethod('WarnOnce', $flags).Invoke($null, @($warn))
[pscustomobject]@{ Acquired = $null -ne $listener; Reason = Get-Internal $null 'UnavailableReason'; Warnings = @($warnings) } | ConvertTo-Json -Compress
'@
}

Describe 'The process events connector' -Tag 'RequireRoot' {
    It 'is acquired here, with nothing to warn of' {
        $facts = Invoke-Child @('env') $report
        $facts | Should -HaveCount 1
        $facts[0].Acquired | Should -BeTrue
        $facts[0].Reason | Should -BeNullOrEmpty
        $facts[0].Warnings | Should -HaveCount 0
    }

    It 'is unavailable, with a reason warned of once, where the kernel has no netlink connector' {
        $facts = Invoke-Child @($nofeature, 'socket:16:11:EPROTONOSUPPORT', '--') $report
        $facts[0].Acquired | Should -BeFalse
        $facts[0].Reason | Should -BeLike "*process events connector is not available: this kernel has no netlink connector (CONFIG_CONNECTOR)*"
        $facts[0].Reason | Should -BeLike '*Processes that exit before their events are read may be named less often; names stay correct.'
        $facts[0].Warnings | Should -Be @($facts[0].Reason)
    }

    It 'is unavailable where the socket is refused' {
        $facts = Invoke-Child @($nofeature, 'socket:16:11:EACCES', '--') $report
        $facts[0].Acquired | Should -BeFalse
        $facts[0].Reason | Should -BeLike '*socket(PF_NETLINK, NETLINK_CONNECTOR) was refused: Permission denied (errno 13)*'
    }

    It 'is unavailable in a network namespace of its own, which has no connector' {
        $facts = Invoke-Child @('unshare', '--net', '--') $report
        $facts[0].Acquired | Should -BeFalse
        $facts[0].Reason | Should -BeLike '*this network namespace has none*'
    }

    It 'is unavailable in a pid namespace of its own, where the kernel ignores the request to listen' {
        $facts = Invoke-Child @('unshare', '--pid', '--fork', '--') $report
        $facts[0].Acquired | Should -BeFalse
        $facts[0].Reason | Should -BeLike '*did not answer the request to listen*pid namespace*'
        $facts[0].Warnings | Should -HaveCount 1
    }

    It 'ends its thread and closes its socket when the module is removed, though a user still holds it' {
        $facts = Invoke-Child @('env') @'
$listener = $type.GetMethod('Acquire', $flags).Invoke($null, @())
$fd = "/proc/self/fd/$(Get-Internal $listener 'SocketFd')"
$before = [IO.File]::ResolveLinkTarget($fd, $false).FullName
Remove-Module FanotifyPS
$after = if (Test-Path $fd) { [IO.File]::ResolveLinkTarget($fd, $false).FullName }
[pscustomobject]@{ Before = $before; After = $after; Finished = Get-Internal $listener 'IsFinished'; Failure = Get-Internal $listener 'Failure' } | ConvertTo-Json -Compress
'@
        $facts[0].Before | Should -BeLike '*socket:`[*'
        $facts[0].After | Should -Not -Be $facts[0].Before
        $facts[0].Finished | Should -BeTrue
        $facts[0].Failure | Should -BeNullOrEmpty
    }
}
