#Requires -Version 7.4
# The terminal is not an input channel: a file or process name must not reach the screen raw. C1 controls
# (U+009B is CSI to many terminals), bidirectional controls ("Trojan Source") and line separators are shown
# as \uXXXX in every view, while the properties keep the exact name.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source

    # Each character that must never be printed raw, by a short label.
    $script:unsafe = [ordered]@{
        NEL = 0x0085; CSI = 0x009B; C1first = 0x0080; C1last = 0x009F
        LRE = 0x202A; RLE = 0x202B; PDF = 0x202C; LRO = 0x202D; RLO = 0x202E
        LRI = 0x2066; RLI = 0x2067; FSI = 0x2068; PDI = 0x2069
        LRM = 0x200E; RLM = 0x200F; ALM = 0x061C; LS = 0x2028; PS = 0x2029; BOM = 0xFEFF
    }

    function Get-Escape([int] $CodePoint) { '\u{0:x4}' -f $CodePoint }

    # Every text a user sees of one event: the table (laid out for this host's width, and the row a terminal of
    # 500 columns shows), the list, the seed view and ToString.
    function Get-Shown($Event) {
        [ordered]@{
            Table    = $Event | Out-String -Width 500
            Wide     = [FanotifyPS.FanotifyEventTable]::Row($Event, 500, $null, $null, $null)
            List     = $Event | Format-List | Out-String -Width 500
            Seed     = $Event | Format-Table -View Seed | Out-String -Width 500
            ToString = $Event.ToString()
        }
    }

    function Assert-NoRawUnsafe([string] $Text, [string] $Because) {
        foreach ($entry in $script:unsafe.GetEnumerator()) {
            $Text.IndexOf([char]$entry.Value) | Should -Be -1 -Because "$Because must not hold $($entry.Key) raw"
        }
    }
}

Describe 'Names that could drive the terminal' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $files = [ordered]@{}
        foreach ($entry in $unsafe.GetEnumerator()) {
            $files[$entry.Key] = "$mount/n-$($entry.Key)-$([char]$entry.Value)x.txt"
            [IO.File]::WriteAllText($files[$entry.Key], 'x')
        }
        # A name that only looks like an escape: a real backslash, then u202e.
        $literal = "$mount/n-literal-\u202ex.txt"
        [IO.File]::WriteAllText($literal, 'x')
        # Printable text beyond the BMP (a surrogate pair whose low half is in U+DC80..U+DCFF) stays as it is.
        $emoji = "$mount/n-emoji-$([char]::ConvertFromUtf32(0x1F4BB)).txt"
        [IO.File]::WriteAllText($emoji, 'x')
    }
    AfterAll { Remove-TestMount $mount }

    It 'shows C1, bidi and separator characters as \uXXXX in the table, list, seed view and ToString, and keeps Path exact' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
        try {
            $run = Invoke-Bounded $cat (@($files.Values) + $emoji + $literal)
            $run.ExitCode | Should -Be 0 -Because $run.Output
            $events = Receive-UntilEvent $watch { $_.Path -ceq $literal }
        }
        finally { Stop-FanotifyWatch $watch }

        foreach ($entry in $unsafe.GetEnumerator()) {
            $path = $files[$entry.Key]
            $seen = @($events | Where-Object { $_.Path -ceq $path })
            $seen | Should -HaveCount 1 -Because "cat opened $($entry.Key) once; events: $($events.Path -join ', ')"
            # Nothing lost: the property holds the name as the kernel gave it.
            [int[]][char[]]$seen[0].Path | Should -Be ([int[]][char[]]$path)
            $escaped = "$mount/n-$($entry.Key)-$(Get-Escape $entry.Value)x.txt"
            $shown = Get-Shown $seen[0]
            foreach ($view in $shown.Keys) {
                Assert-NoRawUnsafe $shown[$view] "the $view of $($entry.Key)"
                # The table of a narrow host trims the path on the left: its file name stays.
                $part = if ($view -eq 'Table') { $escaped.Substring($escaped.LastIndexOf('/') + 1) } else { $escaped }
                $shown[$view].Contains($part) | Should -BeTrue -Because "the $view of $($entry.Key) shows $part, not: $($shown[$view])"
            }
            $seen[0].ToString() | Should -BeExactly "FAN_OPEN_PERM: File $escaped Exe $cat"
        }

        $fake = @($events | Where-Object { $_.Path -ceq $literal })
        $fake | Should -HaveCount 1
        # The backslash is doubled, so the name that looks like an escape never reads like the real RLO.
        $fake[0].ToString() | Should -BeExactly "FAN_OPEN_PERM: File $mount/n-literal-\\u202ex.txt Exe $cat"

        $pair = @($events | Where-Object { $_.Path -ceq $emoji })
        $pair | Should -HaveCount 1
        $pair[0].ToString() | Should -BeExactly "FAN_OPEN_PERM: File $emoji Exe $cat"
        ($pair[0] | Out-String -Width 500).Contains((Split-Path $emoji -Leaf)) | Should -BeTrue
        [FanotifyPS.FanotifyEventTable]::Row($pair[0], 500, $null, $null, $null).Contains($emoji) | Should -BeTrue
    }

    It 'escapes OldPath of a rename in the table and the list' {
        $watch = Start-FanotifyWatch -Path $mount -Event Rename
        try {
            $from = "$mount/old-$([char]0x202E)txt.exe"
            $to = "$mount/new-$([char]0x009B)31m"
            [IO.File]::WriteAllText($from, 'x')
            $run = Invoke-Bounded mv @($from, $to)
            $run.ExitCode | Should -Be 0 -Because $run.Output
            $events = Receive-UntilEvent $watch { $_.Event -band [FanotifyPS.FanotifyEventType]::Rename }
        }
        finally { Stop-FanotifyWatch $watch }
        $rename = @($events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Rename })
        $rename | Should -HaveCount 1
        $rename[0].OldPath | Should -BeExactly $from
        $rename[0].Path | Should -BeExactly $to
        $shown = Get-Shown $rename[0]
        foreach ($view in $shown.Keys) {
            Assert-NoRawUnsafe $shown[$view] "the $view of a rename"
            # The table of a narrow host keeps the end of "OldPath -> Path".
            if ($view -ne 'Table') {
                $shown[$view].Contains("$mount/old-\u202etxt.exe") | Should -BeTrue -Because "the $view shows OldPath escaped: $($shown[$view])"
            }
            $shown[$view].Contains("new-\u009b31m") | Should -BeTrue -Because "the $view shows Path escaped: $($shown[$view])"
        }
        [FanotifyPS.FanotifyEventTable]::Row($rename[0], 500, $null, $null, $null).Contains("$mount/old-\u202etxt.exe -> $mount/new-\u009b31m") |
            Should -BeTrue
    }

    It 'escapes the name and the exe of a process in the list and the table' {
        Set-Content "$mount/plain.txt" 'x'
        $exe = "$mount/cat-$([char]0x202E)"
        Copy-Item $cat $exe
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
        try {
            # A process names itself (comm) with ESC and CSI, then opens a file with a shell redirection, and
            # lives on until its event is read. Then a program whose file name holds RLO opens a file.
            $script = "printf 'x\033[7m\302\233y' > /proc/`$`$/comm; : < $mount/plain.txt; sleep 1"
            $run = Invoke-Bounded sh @('-c', $script)
            $run.ExitCode | Should -Be 0 -Because $run.Output
            # It lives on (reading stdin) until its event is read: the exe of a process that has exited may be
            # stale (the attribution issue), and this test is about the escaping.
            $run = Invoke-Bounded sh @('-c', "sleep 1 | '$exe' $mount/plain.txt -")
            $run.ExitCode | Should -Be 0 -Because $run.Output
            $events = Receive-UntilEvent $watch { $_.Exe -ceq $exe -and $_.Path -eq "$mount/plain.txt" }
        }
        finally { Stop-FanotifyWatch $watch }

        $named = @($events | Where-Object { $_.Path -eq "$mount/plain.txt" -and $_.ProcessName -like 'x*y' })
        $named | Should -HaveCount 1 -Because "events: $($events | ForEach-Object { "$($_.ProcessName)/$($_.Path)" })"
        $named[0].ProcessName | Should -BeExactly "x$([char]27)[7m$([char]0x9B)y"
        $list = $named[0] | Format-List | Out-String -Width 500
        $list.Contains([char]27) | Should -BeFalse -Because 'ESC in a process name must not reach the terminal'
        Assert-NoRawUnsafe $list 'the list of a process named with CSI'
        $list.Contains('x\x1b[7m\u009by') | Should -BeTrue -Because "the list shows the name escaped: $list"
        # The table shows the name below 120 columns (Exe from there on).
        $table = $named[0] | Out-String -Width 500
        $table.Contains("x$([char]27)") | Should -BeFalse -Because 'ESC in a process name must not reach the terminal'
        Assert-NoRawUnsafe $table 'the table of a process named with CSI'
        [FanotifyPS.FanotifyEventTable]::Row($named[0], 119, $null, $null, $null).Contains(' x\x1b[7m\u009by ') | Should -BeTrue

        $ran = @($events | Where-Object { $_.Exe -ceq $exe -and $_.Path -eq "$mount/plain.txt" })
        $ran | Should -HaveCount 1
        $shown = Get-Shown $ran[0]
        foreach ($view in $shown.Keys) {
            Assert-NoRawUnsafe $shown[$view] "the $view of a program named with RLO"
            # The table of a narrow host shows the process's name, not its exe; a wide one the end of a long exe.
            $part = switch ($view) { 'Table' { $null } 'Wide' { '/cat-\u202e ' } default { "$mount/cat-\u202e" } }
            if ($part) {
                $shown[$view].Contains($part) | Should -BeTrue -Because "the $view shows the exe escaped: $($shown[$view])"
            }
        }
    }

    It 'escapes the path of a watch in its table' {
        $dir = "$mount/dir-$([char]0x202E)"
        $null = New-Item -ItemType Directory -Path $dir
        $watch = Start-FanotifyWatch -Path $dir -Scope Directory -Event CloseWrite -Name display-watch
        try {
            $watch.Path | Should -BeExactly $dir
            $table = $watch | Out-String -Width 500
            Assert-NoRawUnsafe $table 'the table of a watch'
            $table.Contains("$mount/dir-\u202e") | Should -BeTrue -Because "the watch's path is shown escaped: $table"
        }
        finally { Remove-FanotifyWatch $watch }
    }

    It 'escapes a path in an error of Get-FanotifyCapability' {
        $file = "$mount/file-$([char]0x009B)"
        [IO.File]::WriteAllText($file, 'x')
        $facts = Get-ErrorFacts { Get-FanotifyCapability -Path $file }
        $facts.Id | Should -Be 'InvalidScope,FanotifyPS.Commands.GetFanotifyCapabilityCommand'
        Assert-NoRawUnsafe $facts.Message 'the error message'
        $facts.Message | Should -BeLike "*$mount/file-\u009b*"
    }
}
