#Requires -Version 7.4
# Bad input and refused kernels: a clear error with the right category and id, nothing leaked, nothing hung.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:pwsh = Get-PwshCommand
}

Describe 'Parameter errors' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount; $baseline = Get-FanotifyFdCount }
    AfterAll { Remove-TestMount $mount }

    It 'a missing path is ObjectNotFound and names the path' {
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path "$mount/no/such/dir" }
        $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'ObjectNotFound'
        $e.Message | Should -BeLike "*'$mount/no/such/dir'*does not exist*"

        $e = Get-ErrorFacts { Get-FanotifyEvent -Path "$mount/missing" -Timeout 1 }
        $e.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.GetFanotifyEventCommand'
    }

    It 'a path of another provider is InvalidArgument' {
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path 'Env:' }
        $e.Id | Should -Be 'PathNotOnFileSystem,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'InvalidArgument'
    }

    It 'asking for Overflow, or for no event, is InvalidArgument' {
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Overflow }).Id | Should -Be 'InvalidEventSelection,FanotifyPS.Commands.StartFanotifyWatchCommand'
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event None }).Category | Should -Be 'InvalidArgument'
    }

    It 'a scope that cannot carry the events, or a file for a directory scope, is InvalidArgument' {
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Scope Mount -Event Create, Open }
        $e.Id | Should -Be 'InvalidScope,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'InvalidArgument'
        $e.Message | Should -BeLike '*Mount cannot report Create*'

        Set-Content "$mount/plain.txt" 'x'
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path "$mount/plain.txt" -Scope Tree }
        $e.Id | Should -Be 'InvalidScope,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Message | Should -BeLike '*needs a directory*'

        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Scope Directory -Event FsError }).Id | Should -BeLike 'InvalidScope,*'
    }

    It 'rules without permission events, -AuditOnly without rules, or an unknown user are InvalidArgument' {
        $e = Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Open -DenyPath '*' }
        $e.Id | Should -Be 'InvalidRule,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Message | Should -BeLike '*-Event OpenPerm*'
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -AuditOnly }).Id | Should -BeLike 'InvalidRule,*'
        $e = Get-ErrorFacts { New-FanotifyRule -User 'no-such-user-fanotifyps' }
        $e.Id | Should -Be 'InvalidRule,FanotifyPS.Commands.NewFanotifyRuleCommand'
        $e.Message | Should -BeLike "*'no-such-user-fanotifyps'*does not exist*"
    }

    It 'an unknown event name or a zero buffer is refused at binding' {
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -Event Bogus }).Id | Should -BeLike 'CannotConvertArgumentNoMessage,*'
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -BufferSize 0 }).Id | Should -BeLike 'ParameterArgumentValidationError,*'
        (Get-ErrorFacts { Start-FanotifyWatch -Path $mount -SpinMicroseconds 1001 }).Id | Should -BeLike 'ParameterArgumentValidationError,*'
    }

    It 'an unknown watch id or name is a non-terminating ObjectNotFound error' {
        $watch = Start-FanotifyWatch -Path $mount
        try {
            $out = Stop-FanotifyWatch -Id 987654, $watch.Id -PassThru -ErrorVariable errs -ErrorAction SilentlyContinue
            $errs | Should -HaveCount 1
            $errs[0].FullyQualifiedErrorId | Should -Be 'WatchNotFound,FanotifyPS.Commands.StopFanotifyWatchCommand'
            $errs[0].CategoryInfo.Category | Should -Be 'ObjectNotFound'
            $out.Id | Should -Be $watch.Id
            $watch.State | Should -Be 'Stopped'

            Get-FanotifyWatch -Name 'no-such-watch' -ErrorVariable errs -ErrorAction SilentlyContinue
            $errs[0].FullyQualifiedErrorId | Should -Be 'WatchNotFound,FanotifyPS.Commands.GetFanotifyWatchCommand'
            Get-FanotifyWatch -Name 'no-such-*' -ErrorVariable errs -ErrorAction SilentlyContinue
            $errs | Should -HaveCount 0 -Because 'a wildcard that matches nothing is not an error'
        }
        finally {
            Stop-FanotifyWatch $watch
        }
    }

    It '-WhatIf starts nothing' {
        Start-FanotifyWatch -Path $mount -WhatIf | Should -BeNullOrEmpty
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'left no fanotify descriptor open after all these errors' {
        Get-FanotifyFdCount | Should -Be $baseline
    }
}

Describe 'Without CAP_SYS_ADMIN' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'Start-FanotifyWatch and Get-FanotifyEvent fail with PermissionDenied and say what is needed' {
        $script = @"
Import-Module '$env:FANOTIFYPS_MODULE'
foreach (`$call in { Start-FanotifyWatch -Path '$mount' }, { Get-FanotifyEvent -Path '$mount' -Timeout 1 }) {
    try { & `$call; 'no error' }
    catch { [pscustomobject]@{ Id = `$_.FullyQualifiedErrorId; Category = "`$(`$_.CategoryInfo.Category)"; Message = `$_.Exception.Message } | ConvertTo-Json -Compress }
}
"@
        $run = Invoke-Bounded setpriv (@('--bounding-set', '-sys_admin', '--', $pwsh.FilePath) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) -TimeoutSeconds 60
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $results = $run.Output -split "`n" | ForEach-Object { $_ | ConvertFrom-Json }
        $results | Should -HaveCount 2
        $results[0].Id | Should -Be 'FanotifyNeedsCapSysAdmin,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $results[1].Id | Should -Be 'FanotifyNeedsCapSysAdmin,FanotifyPS.Commands.GetFanotifyEventCommand'
        $results | ForEach-Object {
            $_.Category | Should -Be 'PermissionDenied'
            $_.Message | Should -BeLike '*root or the CAP_SYS_ADMIN capability*'
        }
    }
}

Describe 'Kernel limits' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $baseline = Get-FanotifyFdCount
        $groups = '/proc/sys/fs/fanotify/max_user_groups'
        $marks = '/proc/sys/fs/fanotify/max_user_marks'
        $savedGroups = (Get-Content $groups -Raw).Trim()
        $savedMarks = (Get-Content $marks -Raw).Trim()
    }
    AfterAll {
        Set-Sysctl $groups $savedGroups
        Set-Sysctl $marks $savedMarks
        Remove-TestMount $mount
    }

    It 'the group limit is LimitsExceeded and names the sysctl' {
        try {
            Set-Sysctl $groups 0
            $e = Get-ErrorFacts { Start-FanotifyWatch -Path $mount }
        }
        finally {
            Set-Sysctl $groups $savedGroups
        }
        $e.Id | Should -Be 'FanotifyGroupLimit,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'LimitsExceeded'
        $e.Message | Should -BeLike '*/proc/sys/fs/fanotify/max_user_groups = 0*'
    }

    It 'the mark limit is LimitsExceeded, names the sysctl, and leaves no group open' {
        try {
            Set-Sysctl $marks 0
            $e = Get-ErrorFacts { Start-FanotifyWatch -Path $mount }
        }
        finally {
            Set-Sysctl $marks $savedMarks
        }
        $e.Id | Should -Be 'FanotifyMarkLimit,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'LimitsExceeded'
        $e.Message | Should -BeLike '*/proc/sys/fs/fanotify/max_user_marks = 0*'
        Get-FanotifyFdCount | Should -Be $baseline
        Get-FanotifyWatch | Where-Object State -eq 'Running' | Should -BeNullOrEmpty
    }
}
