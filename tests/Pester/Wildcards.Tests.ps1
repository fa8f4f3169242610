#Requires -Version 7.4
# Wildcards: the module's matcher against PowerShell's own WildcardPattern (case-sensitive, culture-invariant),
# pattern by pattern and path by path, accept and reject alike; then a bracket rule at work on a real filesystem.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # Glob.IsMatch(string, string): one pattern as a rule applies it (validated, compiled, head and tail first).
    $glob = [FanotifyPS.FanotifyEvent].Assembly.GetType('FanotifyPS.Watching.Glob', $true)
    $script:isMatch = $glob.GetMethod('IsMatch', [Reflection.BindingFlags]'NonPublic, Public, Static', $null,
        [type[]]@([string], [string]), $null)
    if (-not $script:isMatch) { throw 'FanotifyPS.Watching.Glob has no IsMatch(string, string).' }

    function script:Get-PowerShellVerdict([string] $Pattern, [string] $Text) {
        try {
            $wildcard = [Management.Automation.WildcardPattern]::new($Pattern, [Management.Automation.WildcardOptions]::CultureInvariant)
            "$($wildcard.IsMatch($Text))"
        }
        catch {
            # WildcardPatternException, or the ArgumentException of the regex it builds for a [set].
            $e = $_.Exception.GetBaseException()
            if ($e -is [Management.Automation.WildcardPatternException] -or $e -is [ArgumentException]) { 'Rejected' }
            else { "Error $($e.GetType().Name): $($e.Message)" }
        }
    }

    function script:Get-ModuleVerdict([string] $Pattern, [string] $Text) {
        try { "$($script:isMatch.Invoke($null, @($Pattern, $Text)))" }
        catch {
            $e = $_.Exception.GetBaseException()
            if ($e.GetType().FullName -eq 'FanotifyPS.Watching.WatchException' -and $e.ErrorId -eq 'InvalidWildcard') { 'Rejected' }
            else { "Error $($e.GetType().Name): $($e.Message)" }
        }
    }

    function script:Get-LikePattern([string[]] $Part) {
        # A -BeLike pattern for text holding these parts in this order (they are full of wildcard characters).
        '*' + (($Part | ForEach-Object { [Management.Automation.WildcardPattern]::Escape($_) }) -join '*') + '*'
    }

    function script:Compare-Matcher([string[]] $Patterns, [string[]] $Texts) {
        foreach ($p in $Patterns) {
            foreach ($t in $Texts) {
                $expected = Get-PowerShellVerdict $p $t
                $actual = Get-ModuleVerdict $p $t
                if ($expected -ne $actual) { "pattern '$p' text '$t': WildcardPattern $expected, FanotifyPS $actual" }
            }
        }
    }

    # Paths and pieces of paths: every special character alone and in company, non-ASCII letters, a character
    # outside the BMP (two UTF-16 units, as .NET strings and both matchers see it). No ignorable or combining
    # characters: see the last test for why.
    $script:texts = @(
        '', 'a', 'b', 'c', 'z', 'A', '-', ']', '[', '`', '*', '?', '!', '^', '\', ':', '.', '_', ' ',
        'ab', 'ba', 'ac', 'abc', 'a]', ']a', '[ab', 'a[]b', 'a[b', 'a`b', 'a*b', 'a?b', 'aXb', 'a-b', 'x-y',
        'a.txt', 'b.txt', 'c.txt', 'ab.txt', '/tmp/a.txt', '/tmp/sub/b.txt', '/tmp/[ab].txt', '/usr/bin/cat',
        'é', 'É', 'ÿ', 'ü', '日本', '日', '😀', 'a😀b', '[]', '``', '**', '[:', '::', '[:alpha:]]', 'aa', 'zz', '0', '/'
    )
}

Describe 'The matcher is WildcardPattern''s' {
    It 'agrees with WildcardPattern on a table of patterns and paths, results and rejections' {
        $patterns = @(
            # plain, * and ?
            '', '*', '**', '?', '??', 'a', 'abc', 'a*', '*a', '*a*', 'a*c', 'a?c', '*/cat', '/tmp/*.txt', '/tmp/?.txt',
            # sets, ranges, ] first, - at either end, escapes inside
            '[ab]', '[ab]*', '*[ab]', '[a-c]', '[a-c]?', '[a-zA-Z]', '[]a]', '[]]', '[]-a]', '[a`]]', '[`]]', '[``]',
            '[`-]', '[a-]', '[-a]', '[-]', '[a`-c]', '[`a-c]', '[a-c-e]', '[--0]', '[!--]', '[a-a]', '[[]', '[[-a]',
            '[a[]', '[#-Z[]', '[!a]', '[^a]', '[\]', '[.]', '[:]', '[[:alpha:]]', '[[::]', '[[:a:]', '[`[]',
            # * and ? in sets are themselves
            '[*]', '[?]', '[*?]', '[*]*', '*[]]*', '[?]?',
            # escapes outside sets, a trailing backtick, the lone backtick (the empty pattern)
            '`*', '`?', '`[', '`]', '``', '`', 'a`', 'a``', '```', '`a', 'a`b', '[ab]`', '`[ab`]', '*`*', '`**', 'a`*b',
            # ] outside a set is itself
            ']', 'a]', 'a]b]', '[a]]',
            # non-ASCII
            '[é]', '[à-ÿ]', '[日本]', '日*', '??', '?😀?', 'a[😀]b', '*[É]',
            # path-shaped
            '/tmp/[ab].txt', '/tmp/[ab]*.txt', '*/[ab]*.txt', '/tmp/`[ab`].txt', '/tmp/*/[a-c].txt',
            # what WildcardPattern rejects
            '[ab', 'a[]b', '[z-a]', '[', '[]', '[`]', 'a[', '[a--]', '[#-[]', '[A-[bc]', '[[-[]', 'x[a]y[', '[a-c', '`[[', '[`', 'ab[`]', '[b-a]*'
        )
        $patterns.Count | Should -BeGreaterOrEqual 40
        $script:texts.Count | Should -BeGreaterOrEqual 10

        # The oracle rejects what the issue says it does, so that agreeing with it means something.
        foreach ($p in '[ab', 'a[]b', '[z-a]') { Get-PowerShellVerdict $p 'a' | Should -Be 'Rejected' }
        Get-PowerShellVerdict '[]a]' ']' | Should -Be 'True'
        Get-PowerShellVerdict '[a`]]' ']' | Should -Be 'True'

        $differences = Compare-Matcher $patterns $script:texts
        ($differences -join "`n") | Should -BeNullOrEmpty
    }

    It 'agrees with WildcardPattern on 1500 random patterns over the special characters' {
        # Fixed seed: a failure can be reproduced. Short patterns and texts over a small alphabet reach every
        # corner of the parser (escapes in and out of sets, ranges, ] first, unclosed sets) many times over.
        $random = [Random]::new(11)
        $alphabet = 'a', 'b', 'z', '-', '[', ']', '`', '*', '?'
        $patterns = foreach ($i in 1..1500) { -join (1..$random.Next(0, 8) | ForEach-Object { $alphabet[$random.Next($alphabet.Count)] }) }
        $texts = @('', 'a', 'b', 'z', '-', '[', ']', '`', '*', '?', 'ab', 'a-', '[a', 'a]', '`a', 'zz', 'a*', '??', 'ba]') +
            @(foreach ($i in 1..12) { -join (1..$random.Next(1, 5) | ForEach-Object { $alphabet[$random.Next($alphabet.Count)] }) })
        $differences = @(Compare-Matcher $patterns $texts)
        ($differences | Select-Object -First 20) -join "`n" | Should -BeNullOrEmpty
    }

    It 'agrees with WildcardPattern on every character of the BMP for a few sets' {
        foreach ($p in '[a-c]', '[]`-^]', '[!--/]', '[à-ÿ日]', '[`]-a]') {
            $wildcard = [Management.Automation.WildcardPattern]::new($p, [Management.Automation.WildcardOptions]::CultureInvariant)
            $differences = [Collections.Generic.List[string]]::new()
            $matched = 0
            foreach ($code in 0..0xFFFF) {
                [string] $c = [char] $code
                $expected = $wildcard.IsMatch($c)
                if ($expected) { $matched++ }
                if ($script:isMatch.Invoke($null, @($p, $c)) -ne $expected) { $differences.Add(('U+{0:X4}' -f $code)) }
            }
            $matched | Should -BeGreaterThan 0
            "$p`: $($differences -join ', ')" | Should -Be "$p`: "
        }
    }

    It 'compares ordinally where WildcardPattern''s shortcut for literal patterns compares by culture' {
        # WildcardPattern matches a pattern without wildcards (or with one trailing *) with an InvariantCulture
        # comparison, which skips ignorable characters such as the soft hyphen, and its own matcher, used for
        # every other pattern, compares ordinally. Paths are bytes: two names that differ are two files.
        $soft = "a$([char]0xAD)b"
        Get-ModuleVerdict 'ab' $soft | Should -Be 'False'
        Get-ModuleVerdict 'a*' $soft | Should -Be 'True'
        Get-ModuleVerdict 'ab*' $soft | Should -Be 'False'
        Get-PowerShellVerdict '[a]b' $soft | Should -Be 'False'   # WildcardPattern itself, off its shortcut
        Get-ModuleVerdict '[a]b' $soft | Should -Be 'False'
    }
}

Describe 'Malformed wildcards are errors' {
    It 'New-FanotifyRule refuses an unclosed set, names the pattern and shows the escaped form' {
        $e = Get-ErrorFacts { New-FanotifyRule -Path '/srv/[ab' }
        $e.Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.NewFanotifyRuleCommand'
        $e.Category | Should -Be 'InvalidArgument'
        $e.Message | Should -BeLike (Get-LikePattern "'/srv/[ab'", 'never closed', "'/srv/``[ab'")
    }

    It 'New-FanotifyRule refuses a backward range and an -Exe pattern too' {
        $e = Get-ErrorFacts { New-FanotifyRule -Path '/srv/[z-a]' }
        $e.Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.NewFanotifyRuleCommand'
        $e.Message | Should -BeLike (Get-LikePattern "'/srv/[z-a]'", "'z-a'", "'a-z'", "'/srv/[z``-a]'")
        (Get-ErrorFacts { New-FanotifyRule -Exe '*/a[]b' }).Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.NewFanotifyRuleCommand'
        (New-FanotifyRule -Path '/srv/[ab]*').Path | Should -Be '/srv/[ab]*'
    }
}

Describe 'Wildcard rules on a real filesystem' -Tag 'RequireRoot' {
    BeforeAll {
        function script:Read-Literally([string] $Path) {
            # Through the environment: pwsh globs native arguments on Linux, and '[ab].txt' would become 'a.txt'.
            $env:FANOTIFYPS_READ = $Path
            try { Invoke-Bounded sh @('-c', 'exec cat -- "$FANOTIFYPS_READ"') }
            finally { Remove-Item Env:FANOTIFYPS_READ }
        }

        $mount = New-TestMount
        $files = 'a.txt', 'b.txt', 'c.txt', '[ab].txt', ']x.txt', 'x]'
        foreach ($f in $files) { Set-Content -LiteralPath "$mount/$f" $f }
        $baseline = Get-FanotifyFdCount
    }
    AfterAll { Remove-TestMount $mount }
    AfterEach { if ($watch) { Stop-FanotifyWatch $watch; $watch = $null } }

    It '-DenyPath <Pattern> denies exactly the files WildcardPattern matches' -ForEach @(
        @{ Pattern = '[ab]*.txt' }, @{ Pattern = '[]a]*' }, @{ Pattern = '*[a`]]*' }
    ) {
        $full = "$mount/$Pattern"
        $wildcard = [Management.Automation.WildcardPattern]::new($full, [Management.Automation.WildcardOptions]::CultureInvariant)
        $watch = Start-FanotifyWatch -Path $mount -DenyPath $full
        $denied = 0
        foreach ($f in $files) {
            $path = "$mount/$f"
            $result = Read-Literally $path
            if ($wildcard.IsMatch($path)) {
                $denied++
                $result.ExitCode | Should -Be 1 -Because "$f matches $full"
                $result.Output | Should -BeLike '*Operation not permitted*'
            }
            else {
                $result.ExitCode | Should -Be 0 -Because "$f does not match $full"
                $result.Output | Should -Be $f
            }
        }
        $denied | Should -BeGreaterThan 0
        $denied | Should -BeLessThan $files.Count
        $watch.DeniedCount | Should -Be $denied
    }

    It 'an escaped bracket is a literal bracket: the rule denies the file named [ab].txt and no other' {
        $watch = Start-FanotifyWatch -Path $mount -DenyPath "$mount/``[ab``].txt"
        $denied = Read-Literally "$mount/[ab].txt"
        $denied.ExitCode | Should -Be 1
        $denied.Output | Should -BeLike '*Operation not permitted*'
        (Read-Literally "$mount/a.txt").Output | Should -Be 'a.txt'
        (Read-Literally "$mount/b.txt").Output | Should -Be 'b.txt'
    }

    It 'Start-FanotifyWatch refuses a malformed -DenyPath, -DenyExe or -ExcludePath and leaves no fanotify fd open' {
        $watches = @(Get-FanotifyWatch).Count
        $e = Get-ErrorFacts { Start-FanotifyWatch $mount -DenyPath "$mount/[ab" }
        $e.Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $e.Category | Should -Be 'InvalidArgument'
        $e.Message | Should -BeLike (Get-LikePattern "'$mount/[ab'", "'$mount/``[ab'")
        (Get-ErrorFacts { Start-FanotifyWatch $mount -DenyExe '[z-a]' }).Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.StartFanotifyWatchCommand'
        (Get-ErrorFacts { Start-FanotifyWatch $mount -Exe '/usr/bin/[' }).Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.StartFanotifyWatchCommand'
        (Get-ErrorFacts { Start-FanotifyWatch $mount -ExcludeExe '*[' }).Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.StartFanotifyWatchCommand'
        (Get-ErrorFacts { Start-FanotifyWatch $mount -ExcludePath 'a[]b' }).Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.StartFanotifyWatchCommand'
        $rule = New-FanotifyRule -Path "$mount/*"
        (Get-ErrorFacts { Start-FanotifyWatch $mount -Rule $rule -DenyPath '[' }).Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.StartFanotifyWatchCommand'
        Get-FanotifyFdCount | Should -Be $baseline
        @(Get-FanotifyWatch).Count | Should -Be $watches
    }

    It 'Get-FanotifyEvent refuses a malformed filter, on its own watch and on a running one' {
        $e = Get-ErrorFacts { Get-FanotifyEvent -Path $mount -ExcludePath '[ab' -Timeout 1 }
        $e.Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.GetFanotifyEventCommand'
        Get-FanotifyFdCount | Should -Be $baseline

        $watch = Start-FanotifyWatch -Path $mount -Event Open
        $e = Get-ErrorFacts { Get-FanotifyEvent -Watch $watch -Exe '[b-a]' -Timeout 0.1 }
        $e.Id | Should -Be 'InvalidWildcard,FanotifyPS.Commands.GetFanotifyEventCommand'
        $e.Category | Should -Be 'InvalidArgument'
    }
}
