#Requires -Version 7.4
# What the running kernel supports, and a real ext4 filesystem (a loop-mounted image) besides tmpfs.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'Get-FanotifyCapability' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'reports this kernel, found by trying (on a tmpfs of its own)' {
        $caps = Get-FanotifyCapability -Path $mount
        $caps.KernelRelease | Should -Be "Linux $((Get-Content /proc/sys/kernel/osrelease -Raw).Trim())"
        $caps.Fanotify | Should -BeTrue
        # Everything the other tests use must be there; they would fail otherwise.
        foreach ($feature in 'PermissionEvents', 'FilesystemMark', 'MountMark', 'UnlimitedQueue', 'FileHandleReporting',
            'DirectoryEntryNames', 'RenameEvents', 'PidFd', 'ThreadId', 'OpenExecPermission') {
            $caps.$feature | Should -BeTrue -Because "$feature is used by this test suite"
        }
        $caps.MaxQueuedEvents | Should -Be ([long](Get-Content /proc/sys/fs/fanotify/max_queued_events))
        $caps.MaxUserGroups | Should -Be ([long](Get-Content /proc/sys/fs/fanotify/max_user_groups))
        $caps.MaxUserMarks | Should -Be ([long](Get-Content /proc/sys/fs/fanotify/max_user_marks))
        $caps.PSObject.Properties.Name | Should -Contain 'DenyErrno'
        $caps.PSObject.Properties.Name | Should -Contain 'FsErrorEvents'
    }

    It 'leaves no fanotify descriptor and no probe directory behind' {
        $before = Get-FanotifyFdCount
        $null = Get-FanotifyCapability $mount
        Get-FanotifyFdCount | Should -Be $before
        Get-ChildItem $mount -Filter 'fanotifyps-probe-*' | Should -BeNullOrEmpty
    }

    It 'refuses a path that is not a directory' {
        Set-Content "$mount/file" 'x'
        { Get-FanotifyCapability "$mount/file" } | Should -Throw -ErrorId 'InvalidScope,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
    }
}

Describe 'A loop-mounted ext4 filesystem' -Tag 'RequireRoot' {
    BeforeAll {
        $image = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-$([guid]::NewGuid()).img"
        & truncate -s 32M $image
        & mkfs.ext4 -q -F $image
        $mount = Join-Path '/tmp/fanotifyps-tests' ([IO.Path]::GetRandomFileName())
        $null = New-Item -ItemType Directory -Path $mount -Force
        & mount -o loop $image $mount
        if ($LASTEXITCODE -ne 0) { throw "mount -o loop $image failed." }
    }
    AfterAll {
        Remove-TestMount $mount
        Remove-Item $image -ErrorAction Ignore
    }

    It 'reports fd events, entry events with names, and renames on ext4' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, CloseWrite, Create, Rename, Delete
        try {
            (Invoke-Bounded sh @('-c', "mkdir $mount/d && echo x > $mount/d/f && mv $mount/d/f $mount/d/g && cat $mount/d/g && rm $mount/d/g")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::Delete }
            ($events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Create -and $_.IsDirectory }).Path | Should -BeExactly "$mount/d"
            ($events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite }).Path | Should -BeExactly "$mount/d/f"
            $rename = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Rename }
            $rename.OldPath | Should -BeExactly "$mount/d/f"
            $rename.NewPath | Should -BeExactly "$mount/d/g"
            ($events | Where-Object { $_.Event -eq 'OpenPerm' -and $_.Path -eq "$mount/d/g" }).Response | Should -Be 'Allow'
            ($events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Delete }).Path | Should -BeExactly "$mount/d/g"
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'reports an ext4 error as FsError with its errno and count (last: it aborts the filesystem)' {
        $watch = Start-FanotifyWatch -Path $mount -Event FsError
        try {
            & mount -o remount,abort $mount
            $events = Receive-UntilEvent $watch { $_.Event -eq 'FsError' }
            $fsError = $events | Where-Object Event -eq 'FsError'
            $fsError | Should -HaveCount 1
            $fsError.FsErrorCode | Should -Be 108   # ESHUTDOWN: the filesystem was aborted
            $fsError.FsErrorCount | Should -BeGreaterOrEqual 1
            $fsError.Path | Should -BeExactly $mount
            $fsError | Format-List | Out-String -Width 200 | Should -Match 'FsErrorCode +: 108'
        }
        finally { Stop-FanotifyWatch $watch }
    }
}
