#Requires -Version 7.4
# What a user without CAP_SYS_ADMIN sees: build.ps1 -Task Check runs this as a normal user. It runs only in a
# process without CAP_SYS_ADMIN (skipped otherwise), so fanotify_init fails before any mark can be placed;
# the calls ask for no permission event and a Directory scope all the same.

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

    It 'Start-FanotifyWatch and Get-FanotifyEvent fail with PermissionDenied, say what is needed, and leave no fanotify fd' {
        foreach ($call in { Start-FanotifyWatch -Path $dir -Event Open -Scope Directory },
            { Get-FanotifyEvent -Path $dir -Event Open -Scope Directory -Timeout 1 }) {
            $facts = Get-ErrorFacts $call
            $facts.Id | Should -BeLike 'FanotifyNeedsCapSysAdmin,FanotifyPS.Commands.*'
            $facts.Category | Should -Be 'PermissionDenied'
            $facts.Message | Should -BeLike '*root or the CAP_SYS_ADMIN capability*'
        }
        Get-FanotifyWatch | Should -BeNullOrEmpty
        Get-FanotifyFdCount | Should -Be $baseline
    }

    It 'Get-FanotifyCapability fails with PermissionDenied instead of reporting what it could not probe' {
        $facts = Get-ErrorFacts { Get-FanotifyCapability }
        $facts.Id | Should -Be 'FanotifyNeedsCapSysAdmin,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
        $facts.Category | Should -Be 'PermissionDenied'
        $facts.Message | Should -BeLike '*CAP_SYS_ADMIN*'
    }

    It 'still checks its arguments first: a missing path is ObjectNotFound' {
        $facts = Get-ErrorFacts { Start-FanotifyWatch -Path (Join-Path $dir 'no/such/dir') -Event Open -Scope Directory }
        $facts.Id | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $facts.Category | Should -Be 'ObjectNotFound'
    }
}
