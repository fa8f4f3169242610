#Requires -Version 7.4
# Filesystem and Mount scope, told apart by a bind mount of the watched tmpfs.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'Scope' -Tag 'RequireRoot' {
    BeforeEach {
        $mount = New-TestMount
        $bind = Join-Path '/tmp/fanotifyps-tests' ([IO.Path]::GetRandomFileName())
        $null = New-Item -ItemType Directory -Path $bind
        & mount --bind $mount $bind
        $LASTEXITCODE | Should -Be 0
    }
    AfterEach {
        if ($watch) { Stop-FanotifyWatch $watch }
        Remove-TestMount $bind
        Remove-TestMount $mount
    }

    It 'with Filesystem reports a write through a bind mount of the filesystem' {
        $watch = Start-FanotifyWatch -Path $mount -Scope Filesystem -Event CloseWrite
        $watch.Scope | Should -Be 'Filesystem'
        (Invoke-Bounded sh @('-c', "echo via-bind > $bind/f.txt")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$bind/f.txt" }
        $events | Where-Object Path -eq "$bind/f.txt" | Should -HaveCount 1
    }

    It 'with Mount does not report a write through another mount, and does report one through its own' {
        $watch = Start-FanotifyWatch -Path $mount -Scope Mount -Event CloseWrite
        $watch.Scope | Should -Be 'Mount'
        (Invoke-Bounded sh @('-c', "echo via-bind > $bind/f.txt")).ExitCode | Should -Be 0
        (Invoke-Bounded sh @('-c', "echo direct > $mount/g.txt")).ExitCode | Should -Be 0
        # The direct write comes after the bind one: once it is seen, the bind one would have been too.
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/g.txt" }
        $events | Where-Object Path -eq "$mount/g.txt" | Should -HaveCount 1
        $events | Where-Object Path -like "$bind/*" | Should -BeNullOrEmpty
        $events | Where-Object Path -eq "$mount/f.txt" | Should -BeNullOrEmpty
    }
}
