#Requires -Version 7.4
# Get-FanotifyCapability where it cannot make its probe directory (read-only filesystems, procfs), and when
# fanotify itself refuses: real values or a FanotifyPS error, never a .NET exception, nothing left behind.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:features = [FanotifyPS.FanotifyCapability].GetProperties().Where({ $_.PropertyType -in [bool], [Nullable[bool]] }).Name

    # Probes $Path and checks what must hold on any filesystem: no error, the path reported, nothing left.
    function Invoke-Probe([string] $Path) {
        $before = Get-FanotifyFdCount
        $failure = $null
        try { $caps = Get-FanotifyCapability -Path $Path }
        catch { $failure = "$($_.FullyQualifiedErrorId): $($_.Exception.Message)" }
        $failure | Should -BeNullOrEmpty -Because "probing $Path gives real values"
        Get-FanotifyFdCount | Should -Be $before -Because 'every probe group is closed'
        @(Get-ChildItem -LiteralPath $Path -Filter 'fanotifyps-probe-*' -Force -ErrorAction Ignore) | Should -HaveCount 0
        $caps.Path | Should -BeExactly $Path
        $caps.Fanotify | Should -BeTrue
        $caps
    }
}

Describe 'Get-FanotifyCapability on filesystems it cannot write' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'probes a read-only tmpfs on the directory itself, and finds what it finds on the same tmpfs read-write' {
        $writable = Invoke-Probe $mount
        & mount -o remount,ro $mount
        $LASTEXITCODE | Should -Be 0
        try {
            { [IO.File]::WriteAllText("$mount/x", 'x') } | Should -Throw -Because 'the tmpfs is read-only now'
            $readOnly = Invoke-Probe $mount
        }
        finally { & mount -o remount,rw $mount }
        foreach ($feature in $features) {
            $readOnly.$feature | Should -Be $writable.$feature -Because "$feature does not depend on write access"
        }
        $readOnly.PermissionEvents | Should -BeTrue
        $readOnly.FileHandleReporting | Should -BeTrue
    }

    It 'says where the marks went when it cannot make a probe directory' {
        & mount -o remount,ro $mount
        try { $verbose = Get-FanotifyCapability -Path $mount -Verbose 4>&1 | Where-Object { $_ -is [Management.Automation.VerboseRecord] } }
        finally { & mount -o remount,rw $mount }
        "$verbose" | Should -BeLike "*Cannot make a probe directory in '$mount'*Read-only file system*probing on the directory itself*"
    }

    It 'probes a squashfs image' {
        if (-not (Get-Command mksquashfs -ErrorAction Ignore)) {
            Set-ItResult -Skipped -Because 'mksquashfs (squashfs-tools) is not installed'
            return
        }
        $work = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-squash-$([guid]::NewGuid())"
        $squash = Join-Path '/tmp/fanotifyps-tests' ([IO.Path]::GetRandomFileName())
        $null = New-Item -ItemType Directory -Path "$work/content", $squash -Force
        try {
            Set-Content "$work/content/file" 'x'
            & mksquashfs "$work/content" "$work/image" -quiet -noappend -no-progress
            $LASTEXITCODE | Should -Be 0
            & mount -t squashfs -o loop,ro "$work/image" $squash 2>$null
            if ($LASTEXITCODE -ne 0) {
                Set-ItResult -Skipped -Because 'this kernel cannot mount squashfs'
                return
            }
            $caps = Invoke-Probe $squash
            $caps.PermissionEvents | Should -BeTrue
            $caps.FilesystemMark | Should -BeTrue
            $caps.MountMark | Should -BeTrue
        }
        finally {
            Remove-TestMount $squash
            Remove-Item $work -Recurse -Force -ErrorAction Ignore
        }
    }

    It 'probes /proc, where the kernel refuses permission events' {
        $caps = Invoke-Probe '/proc'
        # procfs is FS_DISALLOW_NOTIFY_PERM: its opens take locks that a permission event could deadlock on.
        $caps.PermissionEvents | Should -BeFalse
        $caps.OpenExecPermission | Should -BeFalse
        $caps.OpenExecEvents | Should -BeTrue
        $caps.FsErrorEvents | Should -BeFalse
    }

    It 'probes /sys, where a directory cannot be made' {
        $null = Invoke-Probe '/sys'
    }
}

Describe 'Get-FanotifyCapability when fanotify or the directory refuses' -Tag 'RequireRoot' {
    BeforeAll {
        $nofeature = Get-LoadTool nofeature
        $pwsh = Get-PwshCommand
        $helpers = Join-Path $PSScriptRoot 'TestHelpers.psm1'
        # Runs a script in a child pwsh started through $Prefix (nofeature, env), returns its JSON lines.
        function Invoke-Child([string[]] $Prefix, [string] $Script) {
            $prelude = "`$ErrorActionPreference = 'Stop'; Import-Module '$env:FANOTIFYPS_MODULE'; Import-Module '$helpers'`n"
            $arguments = @($Prefix) + @($pwsh.FilePath) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $prelude + $Script)
            $run = Invoke-Bounded $arguments[0] @($arguments | Select-Object -Skip 1) -TimeoutSeconds 90
            $run.ExitCode | Should -Be 0 -Because $run.Output
            @($run.Output -split "`n" | Where-Object { $_.StartsWith('{') } | ForEach-Object { $_ | ConvertFrom-Json })
        }
        $report = @'
$facts = Get-ErrorFacts { Get-FanotifyCapability }
[pscustomobject]@{ Id = $facts.Id; Category = $facts.Category; Message = $facts.Message; Fds = (Get-FanotifyFdCount) } | ConvertTo-Json -Compress
'@
    }

    It 'is a FanotifyGroupLimit error, not "no fanotify", when no group can be created (EMFILE)' {
        $facts = Invoke-Child @($nofeature, 'init:0:0:EMFILE', '--') $report
        $facts | Should -HaveCount 1
        $facts[0].Id | Should -Be 'FanotifyGroupLimit,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
        $facts[0].Category | Should -Be 'LimitsExceeded'
        $facts[0].Message | Should -BeLike '*max_user_groups*ulimit -n*'
        $facts[0].Fds | Should -Be 0
    }

    It 'is a FanotifyMarkLimit error, not every feature False, when no mark can be added (ENOSPC)' {
        $facts = Invoke-Child @($nofeature, 'mark:0:0:ENOSPC', '--') $report
        $facts[0].Id | Should -Be 'FanotifyMarkLimit,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
        $facts[0].Category | Should -Be 'LimitsExceeded'
        $facts[0].Message | Should -BeLike '*max_user_marks*'
        $facts[0].Fds | Should -Be 0
    }

    It 'is a ProbeFailed error when even a plain mark is refused' {
        $facts = Invoke-Child @($nofeature, 'mark:0:0:ENODEV', '--') $report
        $facts[0].Id | Should -Be 'ProbeFailed,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
        $facts[0].Category | Should -Be 'InvalidOperation'
        $facts[0].Message | Should -BeLike '*refused even a plain inode mark*No such device*'
        $facts[0].Fds | Should -Be 0
    }

    It 'is a ProbeFailed ObjectNotFound error when the temporary directory does not exist' {
        $missing = "/tmp/fanotifyps-missing-$([guid]::NewGuid())"
        $facts = Invoke-Child @('env', "TMPDIR=$missing") $report
        $facts[0].Id | Should -Be 'ProbeFailed,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
        $facts[0].Category | Should -Be 'ObjectNotFound'
        $facts[0].Message | Should -BeLike "*'$missing'*No such file or directory*"
        $facts[0].Fds | Should -Be 0
        Test-Path $missing | Should -BeFalse
    }
}
