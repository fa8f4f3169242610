#Requires -Version 7.4
# Rules that do what they say: each bypass of issue "a policy that does what it says" reproduced as a real open by
# another process, on a private tmpfs with a symlink, a bind mount and a hard link.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source
}

Describe 'Paths a rule or a root is written with' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/real"
        Set-Content "$mount/real/a.txt" 'a'
        Set-Content "$mount/real/b.txt" 'b'
        $null = New-Item -ItemType SymbolicLink -Path "$mount/link" -Target "$mount/real"
        $null = New-Item -ItemType SymbolicLink -Path "$mount/catlink" -Target $cat
        $fdsBefore = Get-FanotifyFdCount
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It 'a Tree root given through a symlink watches its real path, and its rule denies' {
        $watch = Start-FanotifyWatch "$mount/link" -Scope Tree -DenyPath '*/a.txt' -InformationAction Ignore
        $watch.Path | Should -Be "$mount/real"
        (Invoke-Bounded cat @("$mount/link/a.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$mount/link/b.txt")).Output | Should -Be 'b'
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/real/b.txt" }
        ($events | Where-Object Path -eq "$mount/real/a.txt").Response | Should -Be 'Deny'
        $watch.FilteredCount | Should -Be 0 -Because 'opens inside the tree are not outside it'
    }

    It 'a -DenyPath through a symlinked directory denies the real file' {
        $watch = Start-FanotifyWatch $mount -DenyPath "$mount/link/a*" -InformationAction Ignore
        $watch.Rules[0].Path | Should -Be "$mount/real/a*"
        (Invoke-Bounded cat @("$mount/real/a.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$mount/real/b.txt")).ExitCode | Should -Be 0
    }

    It 'an -ExcludePath through a symlink leaves the real file out' {
        $watch = Start-FanotifyWatch $mount -Event Open -ExcludePath "$mount/link/a.txt" -InformationAction Ignore
        $null = Invoke-Bounded cat @("$mount/real/a.txt")
        $null = Invoke-Bounded cat @("$mount/real/b.txt")
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/real/b.txt" }
        $events.Path | Should -Not -Contain "$mount/real/a.txt"
    }

    It 'relative -DenyPath and -ExcludePath patterns are taken against the current location' {
        Push-Location "$mount/real"
        try {
            $watch = Start-FanotifyWatch $mount -DenyPath 'a*' -InformationAction Ignore
            $watch.Rules[0].Path | Should -Be "$mount/real/a*"
            (Invoke-Bounded cat @("$mount/real/a.txt")).ExitCode | Should -Be 1
            Stop-FanotifyWatch $watch
            $watch = Start-FanotifyWatch $mount -Event Open -ExcludePath 'a.txt', './../real/../real/b.txt' -InformationAction Ignore
            Set-Content "$mount/real/c.txt" 'c'
            foreach ($f in 'a', 'b', 'c') { $null = Invoke-Bounded cat @("$mount/real/$f.txt") }
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/real/c.txt" }
            $events.Path | Should -Not -Contain "$mount/real/a.txt"
            $events.Path | Should -Not -Contain "$mount/real/b.txt"
            (New-FanotifyRule -Path 'b*').Path | Should -Be "$mount/real/b*"
        }
        finally {
            Pop-Location
        }
    }

    It 'a program pattern that can only match a relative name is InvalidArgument, and says how to write it' {
        foreach ($call in { Start-FanotifyWatch $mount -DenyExe 'cat' }, { Start-FanotifyWatch $mount -Exe 'cat' },
            { New-FanotifyRule -Exe 'cat' }, { Get-FanotifyEvent $mount -ExcludeExe 'cat' -Timeout 0.1 }) {
            $facts = Get-ErrorFacts $call
            $facts.Id | Should -BeLike 'InvalidRule,*'
            $facts.Category | Should -Be 'InvalidArgument'
            $facts.Message | Should -BeLike "*'*/cat'*"
        }
        Get-FanotifyFdCount | Should -Be $fdsBefore
    }

    It 'an error that quotes a path escapes its control characters, as the views do' {
        $facts = Get-ErrorFacts { Start-FanotifyWatch "$mount/no`e[2J$([char]0x202e)such" }
        $facts.Id | Should -BeLike 'PathNotFound,*'
        $facts.Message.Contains([char]27) | Should -BeFalse
        $facts.Message.Contains([char]0x202e) | Should -BeFalse
        $facts.Message | Should -BeLike '*no\x1b`[2J\u202esuch*'
    }

    It 'a -DenyExe given through a symlink matches the real program' {
        $watch = Start-FanotifyWatch $mount -DenyExe "$mount/catlink" -InformationAction Ignore
        $watch.Rules[0].Exe | Should -Be $cat
        (Invoke-Bounded $cat @("$mount/real/a.txt")).ExitCode | Should -Be 1
        (Invoke-Bounded head @("$mount/real/a.txt")).ExitCode | Should -Be 0
    }

    It 'a rule path outside every watched path is a warning' {
        $watch = Start-FanotifyWatch "$mount/real" -Scope Tree -DenyPath '/etc/*' -WarningVariable warned -WarningAction SilentlyContinue -InformationAction Ignore
        "$warned" | Should -BeLike "*'/etc/`**outside every watched path*"
        Stop-FanotifyWatch $watch
        $watch = Start-FanotifyWatch "$mount/real" -Scope Tree -DenyPath "$mount/real/*", '*.pem' -WarningVariable warned -InformationAction Ignore
        # Only the once-per-session warning that this pwsh passes every rule may come.
        $warned | Where-Object Message -NotLike '*never apply to this pwsh*' | Should -BeNullOrEmpty
    }
}

Describe 'Another mount or another name of the same file' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/srv/secret"
        Set-Content "$mount/srv/secret/k" 'key'
        Set-Content "$mount/srv/public" 'public'
        $bind = Join-Path ([IO.Path]::GetDirectoryName($mount)) "bind-$([IO.Path]::GetFileName($mount))"
        $null = New-Item -ItemType Directory $bind
        & mount --bind "$mount/srv" $bind
        if ($LASTEXITCODE -ne 0) { throw "mount --bind failed" }
        $null = New-Item -ItemType HardLink -Path "$mount/innocent" -Target "$mount/srv/secret/k"
    }
    AfterAll {
        Remove-TestMount $bind
        Remove-TestMount $mount
    }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It 'a Filesystem path rule denies the file through a bind mount too, and reports the path it was opened by' {
        $watch = Start-FanotifyWatch "$mount/srv" -DenyPath "$mount/srv/secret/*" -InformationAction Ignore
        (Invoke-Bounded cat @("$mount/srv/secret/k")).ExitCode | Should -Be 1
        $viaBind = Invoke-Bounded cat @("$bind/secret/k")
        $viaBind.ExitCode | Should -Be 1
        $viaBind.Output | Should -BeLike '*Operation not permitted*'
        (Invoke-Bounded cat @("$bind/public")).Output | Should -Be 'public'
        $events = Receive-UntilEvent $watch { $_.Path -eq "$bind/public" }
        $denied = $events | Where-Object Path -eq "$bind/secret/k"
        $denied.Response | Should -Be 'Deny'
        $denied.Rule | Should -Be 'Deny'
    }

    It 'a Tree watch sees its files opened through a bind mount' {
        $watch = Start-FanotifyWatch "$mount/srv/secret" -Scope Tree -Event Open -InformationAction Ignore
        $null = Invoke-Bounded cat @("$bind/secret/k")
        $events = Receive-UntilEvent $watch { $_.Path -eq "$bind/secret/k" }
        $events.Path | Should -Contain "$bind/secret/k"
    }

    It 'a rule written with the bind mount path warns that it can never match' {
        $watch = Start-FanotifyWatch "$mount/srv" -DenyPath "$bind/secret/*" -WarningVariable warned -WarningAction SilentlyContinue -InformationAction Ignore
        "$warned" | Should -BeLike "*through another mount ($bind)*"
    }

    It 'a path rule cannot see a hard link; a -DenyFile rule can, and follows renames and bind mounts' {
        $watch = Start-FanotifyWatch $mount -DenyPath "$mount/srv/secret/k" -InformationAction Ignore
        (Invoke-Bounded cat @("$mount/innocent")).Output | Should -Be 'key' -Because 'a path rule names one name of the file'
        Stop-FanotifyWatch $watch

        $watch = Start-FanotifyWatch $mount -DenyFile "$mount/srv/secret/k" -InformationAction Ignore
        $watch.Rules[0].File | Should -Be "$mount/srv/secret/k"
        (Invoke-Bounded cat @("$mount/innocent")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$bind/secret/k")).ExitCode | Should -Be 1
        Move-Item "$mount/innocent" "$mount/renamed"
        (Invoke-Bounded cat @("$mount/renamed")).ExitCode | Should -Be 1
        (Invoke-Bounded cat @("$mount/srv/public")).Output | Should -Be 'public'
        Move-Item "$mount/renamed" "$mount/innocent"
    }

    It 'New-FanotifyRule -File takes wildcards, refuses a directory and a missing file' {
        (New-FanotifyRule -File "$mount/srv/secret/*").File | Should -Be "$mount/srv/secret/k"
        (Get-ErrorFacts { New-FanotifyRule -File "$mount/srv/secret" }).Id | Should -BeLike 'InvalidRule,*'
        (Get-ErrorFacts { New-FanotifyRule -File "$mount/nothing" }).Id | Should -BeLike 'PathNotFound,*'
    }
}

Describe 'Rules that deny everything, and rules that can never apply' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/f.txt" 'f'
        $null = New-Item -ItemType Directory "$mount/d"
        $fdsBefore = Get-FanotifyFdCount
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It 'a rule that denies every open of a filesystem needs -Force where nobody can be asked' {
        $all = New-FanotifyRule -Name All -Force
        foreach ($call in { Start-FanotifyWatch $mount -DenyPath '*' }, { Start-FanotifyWatch $mount -DenyPath '/*' -Scope Mount },
            { Start-FanotifyWatch $mount -DenyUser root }, { Start-FanotifyWatch $mount -DenyExe '*' }, { Start-FanotifyWatch $mount -Rule $all }) {
            $facts = Get-ErrorFacts $call
            $facts.Id | Should -BeLike 'InvalidRule,*'
            $facts.Message | Should -BeLike '*every open*-Force*'
        }
        Get-FanotifyFdCount | Should -Be $fdsBefore

        $watch = Start-FanotifyWatch $mount -DenyPath '*' -Force -InformationAction Ignore
        (Invoke-Bounded cat @("$mount/f.txt")).ExitCode | Should -Be 1
    }

    It 'narrower rules, a Tree, and -AuditOnly need no -Force' {
        $watch = Start-FanotifyWatch $mount -DenyUser root -DenyPath "$mount/d/*" -InformationAction Ignore
        Stop-FanotifyWatch $watch
        $watch = Start-FanotifyWatch "$mount/d" -Scope Tree -DenyPath '*' -InformationAction Ignore
        (Invoke-Bounded cat @("$mount/f.txt")).ExitCode | Should -Be 0
        Stop-FanotifyWatch $watch
        $watch = Start-FanotifyWatch $mount -DenyPath '*' -AuditOnly -InformationAction Ignore
        (Invoke-Bounded cat @("$mount/f.txt")).ExitCode | Should -Be 0
    }

    It 'New-FanotifyRule refuses a rule with no condition without -Force, and -Errno on an Allow rule' {
        (Get-ErrorFacts { New-FanotifyRule -Name Nothing }).Message | Should -BeLike '*no condition*-Force*'
        (Get-ErrorFacts { New-FanotifyRule -Action Allow }).Message | Should -BeLike '*no rule after it can ever match*'
        (Get-ErrorFacts { New-FanotifyRule -Action Allow -Path '/x/*' -Errno EIO }).Id | Should -BeLike 'InvalidRule,*'
        (New-FanotifyRule -Name Everything -Force).ToString() | Should -BeLike 'Everything: Deny everything*'
    }

    It 'refuses process ids below 1 and events a scope can never report' {
        (Get-ErrorFacts { Start-FanotifyWatch $mount -ProcessId 0 }).Id | Should -BeLike 'ParameterArgumentValidationError,*'
        (Get-ErrorFacts { Get-FanotifyEvent $mount -ExcludeProcessId -5 }).Id | Should -BeLike 'ParameterArgumentValidationError,*'
        $facts = Get-ErrorFacts { Start-FanotifyWatch "$mount/f.txt" -Scope File -Event Create, Open }
        $facts.Id | Should -BeLike 'InvalidScope,*'
        $facts.Message | Should -BeLike '*-Scope Directory*'
        Get-FanotifyFdCount | Should -Be $fdsBefore
    }

    It '-WhatIf names the rules it would apply' {
        $pwsh = Get-PwshCommand
        $script = "Import-Module '$env:FANOTIFYPS_MODULE'; Start-FanotifyWatch '$mount' -DenyPath '$mount/d/*' -DenyUser 65534 -WhatIf; " +
            "Start-FanotifyWatch '$mount/d' -DenyExe '*/cat' -WhatIf"
        $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-c', $script))
        $run.Output | Should -BeLike "*What if:*with rules: Deny: Deny Path $mount/d/`* and User 65534*"
        $run.Output -split "`n" | Where-Object { $_ -like '*User 65534*' } | Should -Not -BeLike '*rules without a path*' -Because 'that rule has a path of its own'
        $run.Output | Should -BeLike "*What if:*with rules: Deny: Deny Exe `*/cat*; rules without a path apply under $mount/d only*"
    }
}

Describe 'The start message' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/d"
    }
    AfterAll { Remove-TestMount $mount }

    It 'says in words what a watch covers and who waits, on the Information stream, and can be silenced' {
        $null = Get-FanotifyEvent "$mount/d" -Timeout 0.1 -InformationVariable said
        "$said" | Should -Be "Watching the whole filesystem mounted at $mount (tmpfs) for CloseWrite, OpenPerm. OpenPerm: every open on that filesystem waits for this pwsh (pid $PID) to answer."
        $null = Get-FanotifyEvent "$mount/d" -Event Open -Scope Tree -Timeout 0.1 -InformationVariable said
        "$said" | Should -Be "Watching the tree $mount/d, through a mark on the whole filesystem mounted at $mount (tmpfs) for Open."
        $watch = Start-FanotifyWatch "$mount/d" -Scope Directory -Event OpenExecPerm -InformationVariable said
        Stop-FanotifyWatch $watch
        "$said" | Should -BeLike "Watching the directory $mount/d and its entries for OpenExecPerm. OpenExecPerm: every program start of an entry*"
        $silenced = Get-FanotifyEvent "$mount/d" -Timeout 0.1 -InformationAction Ignore 6>&1
        $silenced | Should -BeNullOrEmpty
    }
}

Describe 'Rules that deny the dynamic loader or the C library' -Tag 'RequireRoot' {
    # The watcher runs in a child pwsh in a mount namespace of its own, where this system's C library is a copy on a
    # tmpfs (a bind mount over the file): there, the library every program loads is on the watched filesystem, as
    # it is on / in real use, and no permission watch ever covers / or the repo. Only that namespace sees the copy.
    BeforeAll {
        $mount = New-TestMount
        $null = New-Item -ItemType Directory "$mount/lib", "$mount/data", "$mount/other"
        Set-Content "$mount/data/f" 'f'
        Set-Content "$mount/other/g" 'g'
        $libc = (Get-Content /proc/self/maps | Where-Object { $_ -match '/libc\.so\.6$' } | Select-Object -First 1) -replace '^.* (/\S+)$', '$1'
        Copy-Item $libc "$mount/lib/libc.so.6"
        $md5sum = & readlink -f (Get-Command md5sum -CommandType Application | Select-Object -First 1).Source
        $work = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-libc-$([guid]::NewGuid())"
        $null = New-Item -ItemType Directory $work
        # $1: the answers to prompts (printf %b); $2: the copy; $3: the library it hides; then the command.
        Set-Content "$work/launch.sh" @'
answers=$1 copy=$2 libc=$3
shift 3
printf '%b' "$answers" | unshare --mount --propagation private sh -c 'mount --bind "$1" "$2" || exit 99; shift 2; exec "$@"' sh "$copy" "$libc" "$@"
'@
        $pwsh = Get-PwshCommand
        $prelude = @"
Import-Module '$env:FANOTIFYPS_MODULE'
Import-Module '$(Join-Path $PSScriptRoot 'TestHelpers.psm1')'
`$mount = '$mount'; `$md5sum = '$md5sum'; `$libc = '$libc'
`$WarningPreference = 'SilentlyContinue'; `$InformationPreference = 'SilentlyContinue'
"@
        function Invoke-InNamespace([string] $Script, [string] $Answers = '', [switch] $Interactive) {
            Set-Content "$work/child.ps1" ($prelude + "`n" + $Script)
            $arguments = @("$work/launch.sh", $Answers, "$mount/lib/libc.so.6", $libc, $pwsh.FilePath) + @($pwsh.Prefix) +
                @('-NoProfile') + @(if (-not $Interactive) { '-NonInteractive' }) + @('-File', "$work/child.ps1")
            Invoke-Bounded sh $arguments -TimeoutSeconds 120
        }
    }
    AfterAll {
        Remove-TestMount $mount
        Remove-Item $work -Recurse -Force -ErrorAction Ignore
    }

    It 'asks first (-Force where nobody can be asked) when a rule covers the C library, and not when it is outside the rule' {
        $run = Invoke-InNamespace @'
$facts = [ordered]@{ LibraryOn = "$(& stat -f -c %T $libc)" }
$facts.Whole = Get-ErrorFacts { Start-FanotifyWatch $mount -DenyExe '*/md5sum' }
$facts.LibDir = Get-ErrorFacts { Start-FanotifyWatch "$mount/lib" -DenyExe '*/md5sum' }
$facts.PathRule = Get-ErrorFacts { Start-FanotifyWatch "$mount/data" -DenyPath "$mount/lib/*" }
$facts.Fds = Get-FanotifyFdCount

# Confined to a directory that does not hold the library: no question; md5sum starts, and is denied there only.
$w = Start-FanotifyWatch "$mount/data" -DenyExe '*/md5sum'
$facts.Inside = Invoke-Bounded $md5sum "$mount/data/f"
$facts.Outside = Invoke-Bounded $md5sum "$mount/other/g"
Stop-FanotifyWatch $w
# An Allow rule for the libraries before it: no question either.
$w = Start-FanotifyWatch $mount -Rule (New-FanotifyRule -Name Libs -Action Allow -Path "$mount/lib/*"), (New-FanotifyRule -Name NoMd5sum -Exe '*/md5sum')
$facts.Shielded = Invoke-Bounded $md5sum "$mount/other/g"
Stop-FanotifyWatch $w
$w = Start-FanotifyWatch $mount -DenyExe '*/md5sum' -AuditOnly
$facts.Audit = Invoke-Bounded $md5sum "$mount/other/g"
Stop-FanotifyWatch $w

# -Force: it really denies; md5sum cannot even start, other programs can.
$w = Start-FanotifyWatch $mount -DenyExe '*/md5sum' -Force
$facts.Forced = Invoke-Bounded $md5sum "$mount/other/g"
$facts.ForcedCat = Invoke-Bounded cat "$mount/other/g"
$facts.ForcedDenied = @(Get-FanotifyEvent -Watch $w | Where-Object Response -eq 'Deny' | ForEach-Object { "$($_.Exe) $($_.Path)" })
Stop-FanotifyWatch $w
$facts | ConvertTo-Json -Depth 3
'@
        $facts = $run.Output | ConvertFrom-Json
        $facts.LibraryOn | Should -Be 'tmpfs' -Because 'the namespace hides the C library under its copy'
        foreach ($refused in $facts.Whole, $facts.LibDir, $facts.PathRule) {
            $refused.Id | Should -BeLike 'InvalidRule,*'
            $refused.Category | Should -Be 'InvalidArgument'
            $refused.Message | Should -BeLike "*'Deny' denies the dynamic loader or the C library ($libc)*cannot even start*-Force*"
        }
        $facts.Fds | Should -Be 0
        $facts.Inside.ExitCode | Should -Be 1
        $facts.Inside.Output | Should -BeLike "*$mount/data/f: Operation not permitted*"
        $facts.Outside.ExitCode | Should -Be 0
        $facts.Outside.Output | Should -BeLike "*  $mount/other/g"
        $facts.Shielded.Output | Should -BeLike "*$mount/other/g: Operation not permitted*" -Because 'md5sum starts, and its rule still denies it the file'
        $facts.Audit.ExitCode | Should -Be 0
        $facts.Forced.ExitCode | Should -Be 127
        $facts.Forced.Output | Should -BeLike '*libc.so.6: cannot open shared object file: Operation not permitted*'
        $facts.ForcedCat.Output | Should -Be 'g'
        $facts.ForcedDenied | Should -Contain "$md5sum $libc" -Because "an event names the file by the path it was opened by"
    }

    It 'asks at the prompt, and a no starts nothing while a yes starts a watch that denies' {
        $run = Invoke-InNamespace -Interactive -Answers 'n\ny\n' @'
$first = Start-FanotifyWatch $mount -DenyExe '*/md5sum'
"After no: $(@(Get-FanotifyWatch).Count) watches"
$second = Start-FanotifyWatch $mount -DenyExe '*/md5sum'
"After yes: $(@(Get-FanotifyWatch).Count) watches"
"md5sum: $((Invoke-Bounded $md5sum "$mount/other/g").ExitCode)"
Stop-FanotifyWatch $second
'@
        # The host wraps the prompt at its width.
        ($run.Output -replace '\s+', ' ') | Should -BeLike "*Deny the system's libraries?*'Deny' denies the dynamic loader or the C library ($libc)*Start the watch anyway?*"
        $run.Output | Should -BeLike '*After no: 0 watches*'
        $run.Output | Should -BeLike '*After yes: 1 watches*'
        $run.Output | Should -BeLike '*md5sum: 127*'
    }
}
