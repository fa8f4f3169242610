#Requires -Version 7.4
# The permission policy: real opens and execs fail in the other process, with the verdict and rule reported.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source
    $script:nobody = (& getent passwd 65534).Split(':')[0]
}

Describe 'Deny policy' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        foreach ($f in 'secret.txt', 'public.txt') { Set-Content "$mount/$f" $f }
        & chmod 644 "$mount/secret.txt" "$mount/public.txt"
        Copy-Item (& readlink -f /bin/true) "$mount/mytrue"
        & chmod 755 "$mount/mytrue"
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It '-DenyPath makes the open fail with EPERM in the other process, and the event says Deny and names the rule' {
        $watch = Start-FanotifyWatch -Path $mount -DenyPath '*/secret*'
        $denied = Invoke-Bounded cat @("$mount/secret.txt")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Operation not permitted*'
        (Invoke-Bounded cat @("$mount/public.txt")).Output | Should -Be 'public.txt'

        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/public.txt" }
        $deny = $events | Where-Object Path -eq "$mount/secret.txt"
        $deny.Response | Should -Be 'Deny'
        $deny.Rule | Should -Be 'Deny'
        ($events | Where-Object Path -eq "$mount/public.txt").Response | Should -Be 'Allow'
        $watch.DeniedCount | Should -Be 1
        $watch.AllowedCount | Should -BeGreaterOrEqual 1

        # The table shows a denied event in red where the output takes VT sequences, and plain elsewhere.
        $rendering = $PSStyle.OutputRendering
        try {
            # Booleans, not the text: a failure message with ESC in it would be shown raw.
            $PSStyle.OutputRendering = 'Ansi'
            ($deny | Out-String -Width 300).Contains("$($PSStyle.Foreground.Red)OpenPerm$($PSStyle.Reset)") | Should -BeTrue
            ($events | Where-Object Path -eq "$mount/public.txt" | Out-String -Width 300).Contains($PSStyle.Foreground.Red) | Should -BeFalse
            $PSStyle.OutputRendering = 'PlainText'
            ($deny | Out-String -Width 300).Contains([char]27) | Should -BeFalse
        }
        finally {
            $PSStyle.OutputRendering = $rendering
        }
    }

    It '-DenyExe denies one program and not another' {
        $watch = Start-FanotifyWatch -Path $mount -DenyExe '*/cat'
        (Invoke-Bounded cat @("$mount/public.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded head @("$mount/public.txt")).Output | Should -Be 'public.txt'
    }

    It '-DenyExe reads the program fresh: a shell seen before that execs cat is denied as cat' {
        # The shell opens a file first, so its pid is known as sh when cat, in the same process, opens the next.
        $watch = Start-FanotifyWatch -Path $mount -DenyExe '*/cat' -DenyPath '*/secret*'
        $denied = Invoke-Bounded sh @('-c', "exec 3<$mount/public.txt; exec $cat $mount/secret.txt")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Operation not permitted*'
        $events = Receive-UntilEvent $watch { $_.Response -eq 'Deny' }
        $deny = $events | Where-Object Response -eq 'Deny'
        $deny.Exe | Should -Be $cat
        ($events | Where-Object Path -eq "$mount/public.txt").ProcessId | Should -Be $deny.ProcessId
    }

    It '-DenyUser denies a user by name and leaves root alone' {
        $watch = Start-FanotifyWatch -Path $mount -DenyUser $nobody
        $denied = Invoke-Bounded setpriv @('--reuid=65534', '--regid=65534', '--clear-groups', $cat, "$mount/public.txt")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Operation not permitted*'
        (Invoke-Bounded cat @("$mount/public.txt")).Output | Should -Be 'public.txt'
        $events = Receive-UntilEvent $watch { $_.Response -eq 'Deny' }
        ($events | Where-Object Response -eq 'Deny').UserId | Should -Be 65534
    }

    It 'the -Deny parameters combine: a rule matches only when every part matches' {
        $watch = Start-FanotifyWatch -Path $mount -DenyPath '*/secret*' -DenyExe '*/cat'
        (Invoke-Bounded cat @("$mount/secret.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded head @("$mount/secret.txt")).Output | Should -Be 'secret.txt'
        (Invoke-Bounded cat @("$mount/public.txt")).Output | Should -Be 'public.txt'
    }

    It 'a rule with -Errno denies with that errno' {
        $watch = Start-FanotifyWatch -Path $mount -Rule (New-FanotifyRule -Name NoSecrets -Path '*/secret*' -Errno EIO) -WarningVariable warned
        # The once-per-session warning that this pwsh passes every rule may come with the first watch with rules.
        $warned | Where-Object Message -NotLike '*never apply to this pwsh*' | Should -BeNullOrEmpty -Because 'this kernel takes FAN_DENY_ERRNO'
        $denied = Invoke-Bounded cat @("$mount/secret.txt")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Input/output error*'
        $events = Receive-UntilEvent $watch { $_.Response -eq 'Deny' }
        ($events | Where-Object Response -eq 'Deny').Rule | Should -Be 'NoSecrets'
    }

    It 'checks rules in order: the first match wins, and no match allows' {
        $allowHead = New-FanotifyRule -Name AllowHead -Action Allow -Exe '*/head'
        $denySecret = New-FanotifyRule -Name DenySecret -Path '*/secret*'
        $watch = Start-FanotifyWatch -Path $mount -Rule $allowHead, $denySecret
        (Invoke-Bounded head @("$mount/secret.txt")).Output | Should -Be 'secret.txt'
        (Invoke-Bounded cat @("$mount/secret.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$mount/public.txt")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/public.txt" }
        ($events | Where-Object { $_.Path -eq "$mount/secret.txt" -and $_.Response -eq 'Allow' }).Rule | Should -Be 'AllowHead'
        ($events | Where-Object Path -eq "$mount/public.txt").Rule | Should -BeNullOrEmpty
        Stop-FanotifyWatch $watch

        $watch = Start-FanotifyWatch -Path $mount -Rule $denySecret, $allowHead
        (Invoke-Bounded head @("$mount/secret.txt")).ExitCode | Should -Be 1
        $watch.Rules.Name | Should -Be @('DenySecret', 'AllowHead')
    }

    It '-AuditOnly allows everything and marks what would be denied' {
        $watch = Start-FanotifyWatch -Path $mount -DenyPath '*/secret*' -AuditOnly
        (Invoke-Bounded cat @("$mount/secret.txt")).Output | Should -Be 'secret.txt'
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/secret.txt" }
        $audit = $events | Where-Object Path -eq "$mount/secret.txt"
        $audit.Response | Should -Be 'WouldDeny'
        $audit.Rule | Should -Be 'Deny'
        $watch.WouldDenyCount | Should -Be 1
        $watch.DeniedCount | Should -Be 0
    }

    It 'OpenExecPerm rules deny the execution of a program, not reading it' {
        $noExec = New-FanotifyRule -Name NoMyTrue -Path '*/mytrue' -Event OpenExecPerm
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, OpenExecPerm -Rule $noExec
        $run = Invoke-Bounded sh @('-c', "$mount/mytrue")
        $run.ExitCode | Should -Be 126
        (Invoke-Bounded sh @('-c', "cat $mount/mytrue > /dev/null")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Response -eq 'Deny' }
        ($events | Where-Object Response -eq 'Deny').Event | Should -Be 'OpenExecPerm'
    }

    It 'AccessPerm on a whole filesystem warns about its cost' {
        $watch = Start-FanotifyWatch -Path $mount -Event AccessPerm -WarningVariable warnings -WarningAction SilentlyContinue
        "$warnings" | Should -BeLike '*AccessPerm*170 times slower*'
        (Invoke-Bounded cat @("$mount/public.txt")).Output | Should -Be 'public.txt'
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/public.txt" }
        $read = $events | Where-Object Path -eq "$mount/public.txt" | Select-Object -First 1
        $read.Event | Should -Be 'AccessPerm'
        $read.Response | Should -Be 'Allow'
        Stop-FanotifyWatch $watch
        $watch = Start-FanotifyWatch -Path "$mount/public.txt" -Scope File -Event AccessPerm -WarningVariable warnings
        $warnings | Should -BeNullOrEmpty
    }
}

Describe 'Rules without a path of their own apply under the watch path' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/srv", "$mount/lib", "$mount/bin"
        foreach ($f in "$mount/srv/data.txt", "$mount/outside.txt", "$mount/other.txt") { Set-Content $f 'x' }
        & chmod 755 "$mount/srv"
        & chmod 644 "$mount/srv/data.txt" "$mount/outside.txt" "$mount/other.txt"
        # A program named curl (a copy of cat), and this system's C library on the watched filesystem: a program run
        # with LD_LIBRARY_PATH=$mount/lib loads it from there, as every program loads it from / in real use.
        Copy-Item $cat "$mount/bin/curl"
        & chmod 755 "$mount/bin/curl"
        $libc = (Get-Content /proc/self/maps | Where-Object { $_ -match '/libc\.so\.6$' } | Select-Object -First 1) -replace '^.* (/\S+)$', '$1'
        Copy-Item $libc "$mount/lib/libc.so.6"
        $md5sum = & readlink -f (Get-Command md5sum -CommandType Application | Select-Object -First 1).Source
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It '-DenyExe denies the program under the watch path and allows it elsewhere on the same filesystem, and says so' {
        $watch = Start-FanotifyWatch "$mount/srv" -DenyExe '*/cat' -InformationVariable said -InformationAction SilentlyContinue
        "$said" | Should -BeLike "Watching the whole filesystem mounted at $mount*The rule 'Deny' has no path of its own: it applies under $mount/srv only."
        $denied = Invoke-Bounded cat @("$mount/srv/data.txt")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Operation not permitted*'
        (Invoke-Bounded cat @("$mount/outside.txt")).Output | Should -Be 'x'
        (Invoke-Bounded head @("$mount/srv/data.txt")).Output | Should -Be 'x'
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/srv/data.txt" -and $_.Exe -like '*/head' }
        ($events | Where-Object { $_.Path -eq "$mount/srv/data.txt" -and $_.Response -eq 'Deny' }).Rule | Should -Be 'Deny'
        $outside = $events | Where-Object { $_.Path -eq "$mount/outside.txt" -and $_.Exe -eq $cat }
        $outside.Response | Should -Be 'Allow'
        $outside.Rule | Should -BeNullOrEmpty
    }

    It 'allows a program denied under /tmp/x its C library and its files elsewhere on the same filesystem (the md5sum trial)' {
        $null = New-Item -ItemType Directory "$mount/x" -Force
        Set-Content "$mount/x/f" 'f'
        Set-Content "$mount/g" 'g'
        $watch = Start-FanotifyWatch "$mount/x" -DenyExe '*/md5sum' -InformationAction Ignore
        $outside = Invoke-Bounded env @("LD_LIBRARY_PATH=$mount/lib", $md5sum, "$mount/g")
        $outside.Output | Should -BeLike "*  $mount/g"
        $outside.ExitCode | Should -Be 0
        $inside = Invoke-Bounded env @("LD_LIBRARY_PATH=$mount/lib", $md5sum, "$mount/x/f")
        $inside.ExitCode | Should -Be 1
        $inside.Output | Should -BeLike "*$mount/x/f: Operation not permitted*"
        $watch.Rules[0].Path | Should -BeNullOrEmpty
        # Denied, the copy would not stop md5sum (glibc goes on to the system's copy): the verdicts show both loads allowed.
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/x/f" }
        $library = @($events | Where-Object { $_.Path -eq "$mount/lib/libc.so.6" -and $_.Exe -eq $md5sum })
        $library.Count | Should -Be 2
        $library.Response | Should -Be 'Allow', 'Allow'

    }

    It '-DenyUser and -Rule without a path apply under the watch path; a rule with a path keeps it, outside the watch path too' {
        $rules = @(
            New-FanotifyRule -Name NoHead -Exe '*/head'
            New-FanotifyRule -Name NoOutside -Path "$mount/outside.txt"
        )
        $watch = Start-FanotifyWatch "$mount/srv" -DenyUser $nobody -Rule $rules -InformationVariable said -InformationAction SilentlyContinue
        "$said" | Should -BeLike "*The rules 'Deny', 'NoHead' have no path of their own: they apply under $mount/srv only."
        (Invoke-Bounded setpriv @('--reuid=65534', '--regid=65534', '--clear-groups', $cat, "$mount/srv/data.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded setpriv @('--reuid=65534', '--regid=65534', '--clear-groups', $cat, "$mount/other.txt")).Output | Should -Be 'x'
        (Invoke-Bounded head @("$mount/srv/data.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded head @("$mount/other.txt")).Output | Should -Be 'x'
        (Invoke-Bounded cat @("$mount/outside.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$mount/other.txt")).Output | Should -Be 'x'
    }

    It 'a watch of the whole filesystem leaves a rule without a path everywhere on it' {
        $watch = Start-FanotifyWatch $mount -DenyExe '*/cat' -InformationVariable said -InformationAction SilentlyContinue
        "$said" | Should -Not -BeLike '*no path of its own*'
        (Invoke-Bounded cat @("$mount/outside.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$mount/srv/data.txt")).ExitCode | Should -Be 1
    }

    It 'a file opened through a bind mount is judged by its path under the watched mount' {
        $bind = Join-Path ([IO.Path]::GetDirectoryName($mount)) "bind-$([IO.Path]::GetFileName($mount))"
        $null = New-Item -ItemType Directory $bind
        try {
            & mount --bind $mount $bind
            $LASTEXITCODE | Should -Be 0
            $watch = Start-FanotifyWatch "$mount/srv" -DenyExe '*/cat' -InformationAction Ignore
            (Invoke-Bounded cat @("$bind/srv/data.txt")).ExitCode | Should -Be 1
            (Invoke-Bounded cat @("$bind/outside.txt")).Output | Should -Be 'x'
        }
        finally {
            if ($watch) { Stop-FanotifyWatch $watch; $watch = $null }
            Remove-TestMount $bind
        }
    }

    It 'runs Example 2 of Start-FanotifyWatch: audit first, then deny curl and wget under the watch path' {
        # /srv is $mount/srv here; curl is a copy of cat named curl, so that it reads the file it is given.
        $watch = Start-FanotifyWatch "$mount/srv" -DenyExe '*/curl', '*/wget' -AuditOnly -InformationAction Ignore
        (Invoke-Bounded "$mount/bin/curl" @("$mount/srv/data.txt")).Output | Should -Be 'x'
        $events = Receive-UntilEvent $watch { $_.Response -eq 'WouldDeny' }
        ($events | Where-Object Response -eq 'WouldDeny').Path | Should -Be "$mount/srv/data.txt"
        Stop-FanotifyWatch $watch

        $watch = Start-FanotifyWatch "$mount/srv" -DenyExe '*/curl', '*/wget' -InformationAction Ignore
        $denied = Invoke-Bounded "$mount/bin/curl" @("$mount/srv/data.txt")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Operation not permitted*'
        (Invoke-Bounded "$mount/bin/curl" @("$mount/outside.txt")).Output | Should -Be 'x'
        (Invoke-Bounded cat @("$mount/srv/data.txt")).Output | Should -Be 'x'
    }
}

Describe 'The rule examples of the help and the README, run on a tmpfs' -Tag 'RequireRoot' {
    # Each example as written, with /srv, /home and /tmp as directories of a tmpfs, and restic and curl as copies
    # of cat under those names (they read the file they are given).
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/srv/secret", "$mount/home/ann/.ssh", "$mount/tmp", "$mount/bin"
        Set-Content "$mount/srv/secret/key" 'key'
        Set-Content "$mount/srv/index.html" 'index'
        Set-Content "$mount/home/ann/.ssh/id_ed25519" 'private'
        Set-Content "$mount/home/ann/notes.txt" 'notes'
        Set-Content "$mount/outside.txt" 'outside'
        foreach ($name in 'restic', 'curl') { Copy-Item $cat "$mount/bin/$name" }
        Copy-Item (& readlink -f /bin/true) "$mount/tmp/mytrue"
        & chmod -R a+rX $mount
        & chmod 755 "$mount/bin/restic" "$mount/bin/curl" "$mount/tmp/mytrue"
        $nobodyCat = @('--reuid=65534', '--regid=65534', '--clear-groups')
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($w) { Stop-FanotifyWatch $w; $w = $null } }

    It 'Start-FanotifyWatch Example 6: a deny rule tested from another process, and this pwsh passes it' {
        $w = Start-FanotifyWatch "$mount/srv" -DenyPath "$mount/srv/secret/*" -InformationAction Ignore
        $denied = Invoke-Bounded sh @('-c', "cat $mount/srv/secret/key")
        $denied.Output | Should -BeLike "cat: $mount/srv/secret/key: Operation not permitted"
        Get-Content "$mount/srv/secret/key" | Should -Be 'key'
    }

    It 'New-FanotifyRule Example 1: restic may read the keys under /home, any other program fails with EIO' {
        $rules = @(
            New-FanotifyRule -Name BackupMayRead -Action Allow -Exe "$mount/bin/restic"
            New-FanotifyRule -Name NoKeys -Path "$mount/home/*/.ssh/id_*" -Errno EIO
        )
        $w = Start-FanotifyWatch "$mount/home" -Rule $rules -InformationVariable said -InformationAction SilentlyContinue
        "$said" | Should -BeLike "*The rule 'BackupMayRead' has no path of its own: it applies under $mount/home only."
        (Invoke-Bounded "$mount/bin/restic" @("$mount/home/ann/.ssh/id_ed25519")).Output | Should -Be 'private'
        $denied = Invoke-Bounded cat @("$mount/home/ann/.ssh/id_ed25519")
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Input/output error*'
        (Invoke-Bounded cat @("$mount/home/ann/notes.txt")).Output | Should -Be 'notes'
        $events = Receive-UntilEvent $w { $_.Response -eq 'Deny' }
        ($events | Where-Object { $_.Exe -eq "$mount/bin/restic" -and $_.Path -like '*id_ed25519' }).Rule | Should -Be 'BackupMayRead'
    }

    It 'New-FanotifyRule Example 2: programs under /tmp can no longer be executed, and can still be read' {
        $w = Start-FanotifyWatch "$mount/tmp" -Event OpenExecPerm -Rule (New-FanotifyRule -Name NoTmpExec -Path "$mount/tmp/*" -Event OpenExecPerm) -InformationAction Ignore
        (Invoke-Bounded sh @('-c', "$mount/tmp/mytrue")).ExitCode | Should -Be 126
        (Invoke-Bounded sh @('-c', "cat $mount/tmp/mytrue > /dev/null")).ExitCode | Should -Be 0
    }

    It 'the README: a rule matches when all its parts match; a rule without a path applies under the watch path' {
        # www-data there is nobody here: any user but root shows it.
        $w = Start-FanotifyWatch "$mount/srv" -DenyPath "$mount/srv/secret/*" -DenyExe '*/curl', '*/wget' -DenyUser $nobody -InformationAction Ignore
        (Invoke-Bounded setpriv ($nobodyCat + @("$mount/bin/curl", "$mount/srv/secret/key"))).ExitCode | Should -Be 1
        (Invoke-Bounded setpriv ($nobodyCat + @($cat, "$mount/srv/secret/key"))).Output | Should -Be 'key'
        (Invoke-Bounded "$mount/bin/curl" @("$mount/srv/secret/key")).Output | Should -Be 'key'
        (Invoke-Bounded setpriv ($nobodyCat + @("$mount/bin/curl", "$mount/srv/index.html"))).Output | Should -Be 'index'
        Stop-FanotifyWatch $w

        $w = Start-FanotifyWatch "$mount/srv" -DenyExe '*/curl' -InformationAction Ignore
        (Invoke-Bounded "$mount/bin/curl" @("$mount/srv/index.html")).ExitCode | Should -Be 1
        (Invoke-Bounded "$mount/bin/curl" @("$mount/outside.txt")).Output | Should -Be 'outside'
        Stop-FanotifyWatch $w

        # The rules of the README, on the whole tmpfs (/ there), audited: what they would deny, and nothing denied.
        $rules = @(
            New-FanotifyRule -Name BackupMayRead -Action Allow -Exe "$mount/bin/restic"
            New-FanotifyRule -Name NoKeys -Path "$mount/home/*/.ssh/id_*" -Errno EIO
            New-FanotifyRule -Name NoTmpExec -Path "$mount/tmp/*" -Event OpenExecPerm
        )
        $w = Start-FanotifyWatch $mount -Event OpenPerm, OpenExecPerm -Rule $rules -AuditOnly -InformationAction Ignore
        (Invoke-Bounded cat @("$mount/home/ann/.ssh/id_ed25519")).Output | Should -Be 'private'
        (Invoke-Bounded sh @('-c', "$mount/tmp/mytrue")).ExitCode | Should -Be 0
        (Invoke-Bounded "$mount/bin/restic" @("$mount/home/ann/.ssh/id_ed25519")).Output | Should -Be 'private'
        $events = Receive-UntilEvent $w { $_.Event -eq 'OpenExecPerm' -and $_.Response -eq 'WouldDeny' }
        ($events | Where-Object { $_.Response -eq 'WouldDeny' -and $_.Exe -eq $cat }).Rule | Should -Be 'NoKeys'
        ($events | Where-Object { $_.Event -eq 'OpenExecPerm' -and $_.Response -eq 'WouldDeny' }).Rule | Should -Be 'NoTmpExec'
        $w.DeniedCount | Should -Be 0
    }
}
