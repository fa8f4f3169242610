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

Describe 'Tree, Directory and File scopes' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory -Path "$mount/top/a/b/c", "$mount/other", "$mount/top/sub"
        foreach ($f in "$mount/top/a/b/c/deep.txt", "$mount/other/out.txt", "$mount/top/child.txt", "$mount/top/sub/grand.txt", "$mount/single.txt", "$mount/neighbour.txt") {
            Set-Content $f 'x'
        }
    }
    AfterAll { Remove-TestMount $mount }

    It 'Tree reports the directory at any depth (3 levels down), answers outside it at once and does not report it' {
        $watch = Start-FanotifyWatch -Path "$mount/top/" -Scope Tree -Event OpenPerm, Create
        try {
            $watch.Scope | Should -Be 'Tree'
            $watch.Path | Should -BeExactly "$mount/top"   # a trailing slash changes nothing
            (Invoke-Bounded cat @("$mount/other/out.txt") -TimeoutSeconds 5).Output | Should -Be 'x'
            (Invoke-Bounded sh @('-c', "cat $mount/top/a/b/c/deep.txt; touch $mount/top/a/b/c/new.txt")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/top/a/b/c/new.txt" }
            $events | Where-Object Path -eq "$mount/top/a/b/c/deep.txt" | Should -HaveCount 1
            $events | Where-Object Path -like "$mount/other/*" | Should -BeNullOrEmpty
            $watch.FilteredCount | Should -BeGreaterOrEqual 1
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'Directory reports the directory and its children, not its grandchildren' {
        $watch = Start-FanotifyWatch -Path "$mount/top" -Scope Directory -Event OpenPerm, Create
        try {
            (Invoke-Bounded sh @('-c', "cat $mount/top/sub/grand.txt $mount/top/child.txt; touch $mount/top/sub/new-grand.txt $mount/top/new-child.txt")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/top/new-child.txt" }
            $events | Where-Object Path -eq "$mount/top/child.txt" | Should -HaveCount 1
            $events | Where-Object { $_.Path -eq "$mount/top/new-child.txt" -and $_.Event -eq 'Create' } | Should -HaveCount 1
            $events | Where-Object Path -like "$mount/top/sub/*" | Should -BeNullOrEmpty
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'File reports one file only' {
        $watch = Start-FanotifyWatch -Path "$mount/single.txt" -Scope File -Event OpenPerm, Attrib
        try {
            (Invoke-Bounded sh @('-c', "cat $mount/neighbour.txt; cat $mount/single.txt; chmod 600 $mount/single.txt")).ExitCode | Should -Be 0
            $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::Attrib }
            $events | Where-Object Path -ne "$mount/single.txt" | Should -BeNullOrEmpty
            ($events | Where-Object Event -eq 'OpenPerm').Path | Should -BeExactly "$mount/single.txt"
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'refuses -Scope File on a directory as it refuses -Scope Tree on a file, before anything is watched' {
        $fds = Get-FanotifyFdCount
        foreach ($call in { Start-FanotifyWatch "$mount/top" -Scope File -Event OpenPerm }, { Get-FanotifyEvent "$mount/top" -Scope File -Timeout 0.1 },
            { Start-FanotifyWatch "$mount/single.txt", "$mount/top" -Scope File }) {
            $facts = Get-ErrorFacts $call
            $facts.Id | Should -BeLike 'InvalidScope,*'
            $facts.Category | Should -Be 'InvalidArgument'
            $facts.Message | Should -BeLike "*-Scope File needs a file, and '$mount/top' is a directory*-Scope Directory*"
        }
        $facts = Get-ErrorFacts { Start-FanotifyWatch "$mount/single.txt" -Scope Tree }
        $facts.Id | Should -BeLike 'InvalidScope,*'
        $facts.Category | Should -Be 'InvalidArgument'
        Get-FanotifyFdCount | Should -Be $fds
    }

    It 'takes several paths in one watch' {
        $second = New-TestMount
        try {
            Set-Content "$second/two.txt" 'y'
            $watch = Start-FanotifyWatch -Path "$mount/top", $second -Scope Tree -Event OpenPerm
            try {
                $watch.Path | Should -Be @("$mount/top", $second)
                (Invoke-Bounded sh @('-c', "cat $mount/top/child.txt $second/two.txt")).ExitCode | Should -Be 0
                $events = Receive-UntilEvent $watch { $_.Path -eq "$second/two.txt" }
                $events | Where-Object Path -eq "$mount/top/child.txt" | Should -HaveCount 1
            }
            finally { Stop-FanotifyWatch $watch }
        }
        finally { Remove-TestMount $second }
    }
}
