#Requires -Version 7.4
# The package that build.ps1 -Task Package (and -Task Test) writes: it installs from a folder repository
# with PSResourceGet, imports by name in a fresh pwsh, and runs a watch.

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'The package' -Tag 'RequireRoot' {
    BeforeAll {
        $repository = $env:FANOTIFYPS_REPOSITORY
        $modules = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-modules-$([guid]::NewGuid())"
        $null = New-Item -ItemType Directory -Path $modules
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        $name = "FanotifyPSTest$PID"
        Register-PSResourceRepository -Name $name -Uri $repository -Trusted
    }
    AfterAll {
        Unregister-PSResourceRepository -Name $name
        Remove-Item $modules -Recurse -Force -ErrorAction Ignore
        Remove-TestMount $mount
    }

    It 'is in the repository with the manifest version' -Skip:(-not $env:FANOTIFYPS_REPOSITORY) {
        $version = (Import-PowerShellDataFile (Join-Path $env:FANOTIFYPS_MODULE 'FanotifyPS.psd1')).ModuleVersion
        Test-Path (Join-Path $repository "FanotifyPS.$version.nupkg") | Should -BeTrue
        $found = Find-PSResource -Name FanotifyPS -Repository $name
        "$($found.Version)" | Should -Be $version
        $found.Tags | Should -Contain 'fanotify'
    }

    It 'installs into a module path, imports by name in a fresh pwsh and runs a watch' -Skip:(-not $env:FANOTIFYPS_REPOSITORY) {
        Save-PSResource -Name FanotifyPS -Repository $name -Path $modules -TrustRepository
        Test-Path (Join-Path $modules 'FanotifyPS/*/FanotifyPS.psd1') | Should -BeTrue
        $pwsh = Get-PwshCommand
        $script = "`$env:PSModulePath = '$modules' + [IO.Path]::PathSeparator + `$env:PSModulePath; Import-Module FanotifyPS; " +
            "`$w = Start-FanotifyWatch -Path '$mount' -Event OpenPerm; & cat '$mount/data.txt' | Out-Null; Start-Sleep -Milliseconds 300; " +
            "`$e = @(Get-FanotifyEvent -Watch `$w); Stop-FanotifyWatch `$w; (Get-Module FanotifyPS).ModuleBase; `$e[0].ToString()"
        $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) -TimeoutSeconds 60
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $lines = $run.Output -split "`n"
        $lines[0] | Should -BeLike "$modules/FanotifyPS/*"
        $lines[1] | Should -BeLike "FAN_OPEN_PERM: File $mount/data.txt Exe */cat"
    }
}
