#Requires -Version 7.4
# What a user without CAP_SYS_ADMIN sees: build.ps1 -Task Check runs this as a normal user. It runs only in a
# process without CAP_SYS_ADMIN (skipped otherwise; UnprivilegedUser.Tests.ps1 runs the same as nobody from root):
# what needs root is refused before any group is opened, a Directory watch of entry events works (Linux 5.13+).

BeforeDiscovery {
    # CAP_SYS_ADMIN is bit 21 of the effective capability set.
    $capEff = [Convert]::ToUInt64((((Get-Content /proc/self/status) -match '^CapEff:') -split '\s+')[1], 16)
    $hasCapSysAdmin = (($capEff -shr 21) -band 1) -eq 1
}

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'Without CAP_SYS_ADMIN, in this process' -Skip:$hasCapSysAdmin {
    BeforeAll {
        $dir = Join-Path $TestDrive 'watched'
        $null = New-Item -ItemType Directory -Path $dir
        $baseline = Get-FanotifyFdCount
    }

    It 'Start-FanotifyWatch and Get-FanotifyEvent refuse what needs root with PermissionDenied, say what can be done, and leave no fanotify fd' {
        foreach ($call in { Start-FanotifyWatch -Path $dir -Event Open },
            { Get-FanotifyEvent -Path $dir -Event OpenPerm -Scope Directory -Timeout 1 }) {
            $facts = Get-ErrorFacts $call
            $facts.Id | Should -BeLike 'FanotifyNeedsCapSysAdmin,FanotifyPS.Commands.*'
            $facts.Category | Should -Be 'PermissionDenied'
            $facts.Message | Should -BeLike '*root or the CAP_SYS_ADMIN capability*-Scope Directory or -Scope File*'
        }
        Get-FanotifyWatch | Should -BeNullOrEmpty
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'watches a directory of its own for entry events, without naming other processes' {
        $w = Start-FanotifyWatch -Path $dir -Scope Directory -Event Create
        try {
            & sh -c "touch '$dir/new'"
            $events = Receive-UntilEvent -Watch $w -Predicate { $_.Path -eq "$dir/new" }
            $created = @($events | Where-Object Path -eq "$dir/new")
            $created | Should -HaveCount 1
            $created[0].ProcessId | Should -BeIn @(0, $null)
            $created[0].Exe | Should -BeNullOrEmpty
        }
        finally { $w | Stop-FanotifyWatch; $w | Remove-FanotifyWatch -Confirm:$false }
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'Get-FanotifyCapability reports what this user may do' {
        $caps = Get-FanotifyCapability
        $caps.Privileged | Should -BeFalse
        $caps.AvailableScopes | Should -Be @('Directory', 'File')
        $caps.PermissionEvents | Should -BeNullOrEmpty
    }

    It 'still checks its arguments first: a missing path is ObjectNotFound' {
        $facts = Get-ErrorFacts { Start-FanotifyWatch -Path (Join-Path $dir 'no/such/dir') -Event Open -Scope Directory }
        $facts.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts.Category | Should -Be 'ObjectNotFound'
    }
}
