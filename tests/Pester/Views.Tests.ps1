#Requires -Version 7.4
# The views, in plain text and in colour. The event table on terminals of 80, 120 and 200 columns (tmux) and in
# redirected output: the file name of a long path whole, Path aligned, the user, Exe from 120 columns, merged flags
# and verdicts in words; the seed view, the list, the date of a table that spans days. The watch's table and list,
# Get-Job with a watch first, the rule table, at 80 columns.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    function Get-Line([string] $Text) { @($Text -split "`r?`n") }

    # A table printed at 80 columns: no line longer, the header on one line (the next line is its dashes).
    function Assert-Table([string] $Text, [string[]] $Label) {
        $lines = Get-Line $Text
        $widest = ($lines | Measure-Object -Property Length -Maximum).Maximum
        $widest | Should -BeLessOrEqual 80 -Because "no line is wider than the output:`n$Text"
        $header = @(0..($lines.Count - 1) | Where-Object { $lines[$_] -match "^\s*$($Label[0])\s" })
        $header | Should -Not -BeNullOrEmpty -Because "the table has a header:`n$Text"
        foreach ($at in $header) {
            $lines[$at] | Should -Match ('^\s*' + ($Label -join '\s+') + '\s*$') -Because "the header is one line:`n$Text"
            $lines[$at + 1] | Should -Match '^[\s-]+$' -Because "the header's next line is its dashes:`n$Text"
        }
    }

    # The table row (or list) line of an event, by a text it holds.
    function Get-Row([string] $Text, [string] $Like) { @(Get-Line $Text | Where-Object { $_ -like $Like }) }

    # Text that PowerShell wrapped, joined again: without any whitespace, so that a break at a space does not count.
    function Get-Unwrapped([string] $Text) { $Text -replace '\s', '' }

    # The event table read back from its lines: each header (where each column starts), each row with the lines
    # its Event column wrapped onto (Text joins them), and any line that is none of these (a line wrapped by
    # PowerShell or the terminal).
    function Read-EventTable([string[]] $Lines) {
        # Colour and the header's style aside (PowerShell writes them to a pipe too, where the host takes VT).
        $Lines = @($Lines | ForEach-Object { $_ -replace "`e\[[0-9;]*m", '' })
        $headers = [Collections.Generic.List[object]]::new()
        $rows = [Collections.Generic.List[object]]::new()
        $stray = [Collections.Generic.List[string]]::new()
        $header = $null
        $row = $null
        for ($i = 0; $i -lt $Lines.Count; $i++) {
            $line = $Lines[$i]
            if ($line -match '^Time +Event +Pid User +(Process|Exe) +Path$') {
                $process = $Matches[1]
                $start = [ordered]@{}
                foreach ($label in 'Time', 'Event', 'User', $process, 'Path') { $start[$label] = $line.IndexOf($label) }
                $start['Process'] = $start[$process]
                # Pid is right-aligned in 7 cells.
                $start['Pid'] = $line.IndexOf(' Pid ') + 4 - 7
                $header = [pscustomobject]@{ Line = $line; Dashes = $Lines[$i + 1]; Process = $process; Start = $start }
                $headers.Add($header)
                $row = $null
                $i++
            }
            elseif ($header -and $line -match '^\d\d:\d\d:\d\d\.\d{3} ') {
                $row = [pscustomobject]@{ Line = $line; More = [Collections.Generic.List[string]]::new(); Header = $header; Text = $line }
                $rows.Add($row)
            }
            elseif ($row -and $line -match '^ {13}\S') {
                $row.More.Add($line.Trim())
                $row.Text += ' ' + $line.Trim()
            }
            elseif ($line.Trim() -and $line -notmatch '^   Date: \d{4}-\d\d-\d\d$') {
                $stray.Add($line)
                $row = $null
            }
        }
        [pscustomobject]@{ Headers = $headers; Rows = $rows; Stray = $stray }
    }

    # A table laid out for a terminal of $Columns: no line in its last column, nothing wrapped, the labels over
    # their dashes, Path left-aligned where its label starts.
    function Assert-EventTable($Table, [int] $Columns, [string] $Because) {
        $Table.Headers | Should -Not -BeNullOrEmpty -Because "the table has a header: $Because"
        $Table.Rows | Should -Not -BeNullOrEmpty -Because "the table has rows: $Because"
        $Table.Stray | Should -BeNullOrEmpty -Because "no line is wrapped: $Because"
        foreach ($header in $Table.Headers) {
            $header.Dashes | Should -Match '^---- +----- +--- ---- +-{3,7} +----$' -Because $Because
            $header.Process | Should -Be $(if ($Columns -ge 120) { 'Exe' } else { 'Process' }) -Because $Because
        }
        foreach ($row in $Table.Rows) {
            $row.Line.Length | Should -BeLessOrEqual ($Columns - 1) -Because "PowerShell leaves the last column free: $Because"
            $path = $row.Header.Start['Path']
            if ($row.Line.Length -gt $path) {
                $row.Line[$path - 1] | Should -Be ' ' -Because "Path starts where its label does: $($row.Line)"
                $row.Line[$path] | Should -Not -Be ' ' -Because "Path starts where its label does: $($row.Line)"
            }
            # What the Event column wrapped stays in it.
            foreach ($more in $row.More) { $more.Length | Should -BeLessOrEqual ($row.Header.Start['Pid'] - 1 - 13) }
        }
    }

    # The cell of a column in a row's first line.
    function Get-Cell($Row, [string] $Column) {
        $start = $Row.Header.Start
        $from = $start[$Column]
        $to = @($start.Values | Where-Object { $_ -gt $from } | Sort-Object)[0]
        $cell = if ($null -eq $to) { $Row.Line.Substring([Math]::Min($from, $Row.Line.Length)) }
            else { $Row.Line.Substring($from, [Math]::Min($to, $Row.Line.Length) - $from) }
        $cell.TrimEnd()
    }
}

Describe 'The event views' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $deep = "$mount/a-rather-long-directory-name/and-another-long-directory-name"
        $null = New-Item -ItemType Directory -Path $deep
        # A file name of 30 characters: whole in the table from 80 columns.
        $name = 'thirty-character-file-name.txt'
        $long = "$deep/$name"
        Set-Content $long 'x'
        Set-Content "$mount/secret.txt" 'x'
        Set-Content "$mount/audited.txt" 'x'
        Set-Content "$mount/written.txt" 'x'
        $cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source
        $rules = @(
            New-FanotifyRule -Name deny-secret -Path "$mount/secret.txt" -Action Deny
        )
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, Open, CloseNoWrite, Modify, CloseWrite -Rule $rules
        $audit = Start-FanotifyWatch -Path $mount -Event OpenPerm -AuditOnly -Rule (New-FanotifyRule -Name audit -Path "$mount/audited.txt")
        try {
            (Invoke-Bounded $cat @($long)).ExitCode | Should -Be 0
            (Invoke-Bounded $cat @("$mount/secret.txt")).ExitCode | Should -Be 1
            (Invoke-Bounded $cat @("$mount/audited.txt")).ExitCode | Should -Be 0
            # Writes and reads back to back, so that the kernel merges some of their events.
            (Invoke-Bounded sh @('-c', "for i in `$(seq 100); do printf x >> '$mount/written.txt'; cat '$mount/written.txt' > /dev/null; done")).ExitCode | Should -Be 0
            # Receive-UntilEvent returns one array: in parentheses, the pipeline takes its events one by one.
            $events = @((Receive-UntilEvent $watch { ($_.Event -band 'CloseNoWrite') -and $_.Path -eq $long }))
            $events += @(Get-FanotifyEvent -Watch $watch -Timeout 0.5)
            if (-not ($events | Where-Object { ("$($_.Event)" -split ', ').Count -ge 2 })) {
                $events += @((Receive-UntilEvent $watch { ("$($_.Event)" -split ', ').Count -ge 2 } -TimeoutSeconds 5))
            }
            $audited = @((Receive-UntilEvent $audit { $_.Path -eq "$mount/audited.txt" }) | Where-Object Path -eq "$mount/audited.txt")
        }
        finally {
            Stop-FanotifyWatch $watch
            Stop-FanotifyWatch $audit
        }
        $denied = @($events | Where-Object Response -eq 'Deny')
        $merged = @($events | Where-Object { ("$($_.Event)" -split ', ').Count -ge 2 })
        $longRead = @($events | Where-Object { $_.Path -eq $long -and $_.Event -eq 'OpenPerm' })
        $rendering = $PSStyle.OutputRendering
        # The width this process lays the table out for; Out-String is given the same.
        $columns = [FanotifyPS.FanotifyEventTable]::Width($Host)

        # The rows of the denied, the would-deny and the long path's read, and every merged event.
        function Assert-EventRow($Table, [int] $Columns) {
            $read = @($Table.Rows | Where-Object { $_.Line.StartsWith($longRead[0].TimeStamp.ToString('HH:mm:ss.fff')) -and $_.Text -match '\bOpenPerm\b' })
            $read | Should -HaveCount 1 -Because "the long path's read is one row: $($Table.Rows.Line -join "`n")"
            $path = Get-Cell $read[0] 'Path'
            # From 80 columns; a narrower host (this one, run on a small terminal) keeps what fits of its end.
            if ($Columns -ge 80) { $path | Should -BeLike "*$name" -Because 'the file name stays whole' }
            if ($path -ne $long) {
                $path | Should -Match '^…' -Because 'a path too long is trimmed on the left'
                $long.EndsWith($path.Substring(1)) | Should -BeTrue -Because "'$path' is the end of $long"
            }
            Get-Cell $read[0] 'User' | Should -BeExactly 'root'
            if ($Columns -ge 120) { Get-Cell $read[0] 'Exe' | Should -BeExactly $cat -Because 'from 120 columns Exe is whole' }
            else { Get-Cell $read[0] 'Process' | Should -BeExactly 'cat' }
            $secret = @($Table.Rows | Where-Object { $_.Line -like '*secret.txt' })
            $secret | Should -HaveCount 1
            $secret[0].Text | Should -Match '\bOpenPerm\b.*\(denied\)' -Because 'the verdict is in words'
            $would = @($Table.Rows | Where-Object { $_.Line -like '*audited.txt' -and $_.Text -like '*(would deny)*' })
            $would | Should -HaveCount 1 -Because "the would-deny read says so: $($Table.Rows.Text -join "`n")"
            foreach ($event in $merged) {
                $row = @($Table.Rows | Where-Object { $_.Line.StartsWith($event.TimeStamp.ToString('HH:mm:ss.fff')) -and (Get-Cell $_ 'Pid') -eq "$($event.ProcessId)" })
                foreach ($flag in "$($event.Event)" -split ', ') {
                    ($row.Text -match "\b$flag\b") | Should -Not -BeNullOrEmpty -Because "'$($event.Event)' is shown whole: $($row.Text)"
                }
            }
        }
    }
    AfterEach { $PSStyle.OutputRendering = $rendering }
    AfterAll { Remove-TestMount $mount }

    It 'has a denied, a would-deny, a merged and a long-path event to show' {
        $denied | Should -HaveCount 1
        $audited | Should -HaveCount 1
        $audited[0].Response | Should -Be 'WouldDeny'
        $merged | Should -Not -BeNullOrEmpty -Because "100 writes and reads merge some events: $(@($events.Event | Sort-Object -Unique) -join '; ')"
        $longRead | Should -HaveCount 1
    }

    Context 'on a terminal' {
        BeforeAll {
            # The events, saved, shown by a pwsh on a terminal of each width (the table reads the terminal's width),
            # and by Out-String there with the same width; then in redirected output.
            $saved = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-views-$([guid]::NewGuid()).xml"
            @($events) + $audited | Export-Clixml -LiteralPath $saved
            $shown = @{}
            foreach ($width in 80, 120, 200) {
                $screen = Invoke-InTerminal -Columns $width -Rows 100 -Script @"
`$events = Import-Clixml -LiteralPath '$saved'
`$events
`$events | Out-String -Width $width | Set-Content -LiteralPath '$saved.$width.txt'
"@
                $shown[$width] = [pscustomobject]@{ Screen = Read-EventTable $screen; Text = Read-EventTable (Get-Content -LiteralPath "$saved.$width.txt") }
            }
            Set-Content -LiteralPath "$saved.ps1" -Value @"
Import-Module '$env:FANOTIFYPS_MODULE'
"columns=`$([FanotifyPS.FanotifyEventTable]::Width(`$Host))"
Import-Clixml -LiteralPath '$saved'
"@
            $pwsh = Get-PwshCommand
            $redirected = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', "$saved.ps1")) -TimeoutSeconds 60
        }
        AfterAll { Remove-Item "$saved*" -ErrorAction Ignore }

        It 'fills <_> columns: the file name whole, Path aligned, the user, merged flags and verdicts in words' -ForEach 80, 120, 200 {
            foreach ($output in 'Screen', 'Text') {
                $table = $shown[$_].$output
                Assert-EventTable $table $_ "the $output at $_ columns:`n$($table.Rows.Line -join "`n")"
                Assert-EventRow $table $_
            }
        }

        It 'gives Exe and Path what a wider terminal adds' {
            $width = @{}
            foreach ($columns in 80, 120, 200) {
                $start = $shown[$columns].Screen.Headers[0].Start
                $width[$columns] = [pscustomobject]@{ Process = $start['Path'] - $start['Process'] - 1; Path = $columns - 1 - $start['Path'] }
            }
            $width[80].Path | Should -BeGreaterOrEqual 31 -Because 'an ellipsis and a file name of 30 fit'
            $width[120].Path | Should -BeGreaterThan $width[80].Path
            $width[200].Path | Should -BeGreaterThan $width[120].Path
            $width[200].Process | Should -BeGreaterThan $width[120].Process
            # Where Path has room, it is whole.
            $read = @($shown[200].Screen.Rows | Where-Object { $_.Line -like "*$mount/secret.txt" })
            $read | Should -HaveCount 1 -Because 'at 200 columns the whole path shows'
        }

        It 'lays redirected output out for the width PowerShell writes it in' {
            $redirected.ExitCode | Should -Be 0 -Because $redirected.Output
            $lines = Get-Line $redirected.Output
            $lines[0] | Should -Match '^columns=\d+$'
            $width = [int]($lines[0] -replace 'columns=')
            $table = Read-EventTable ($lines | Select-Object -Skip 1)
            Assert-EventTable $table $width "redirected output, $width columns:`n$($redirected.Output)"
            Assert-EventRow $table $width
        }
    }

    It 'lays the table out for the width of this host' {
        $PSStyle.OutputRendering = 'PlainText'
        $table = Read-EventTable (Get-Line (@($events) + $audited | Out-String -Width $columns))
        Assert-EventTable $table $columns "at $columns columns"
        Assert-EventRow $table $columns
    }

    It 'says the verdict in words where there is no colour, and keeps the colour where there is' {
        $PSStyle.OutputRendering = 'PlainText'
        $plain = @($denied) + $audited + $longRead | Out-String -Width $columns
        $plain.Contains([char]27) | Should -BeFalse
        $rows = (Read-EventTable (Get-Line $plain)).Rows
        @($rows | Where-Object { $_.Line -like '*secret.txt' }).Text | Should -Match '\bOpenPerm\b.*\(denied\)'
        @($rows | Where-Object { $_.Line -like '*audited.txt' }).Text | Should -Match '\bOpenPerm\b.*\(would deny\)'
        @($rows | Where-Object { $_.Line -like "*$name" }).Text | Should -Not -Match '\(denied\)|\(would deny\)'

        # Out-File writes what a log gets: no VT sequences, the verdict in words.
        $file = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-view-$([guid]::NewGuid()).txt"
        try {
            $PSStyle.OutputRendering = 'Host'
            $denied | Out-File -FilePath $file -Width $columns
            $logged = Get-Content $file -Raw
        }
        finally { Remove-Item $file -ErrorAction Ignore }
        $logged.Contains([char]27) | Should -BeFalse
        $logged | Should -BeLike '*OpenPerm*secret.txt*'
        $logged | Should -BeLike '*(denied)*'

        $PSStyle.OutputRendering = 'Ansi'
        $ansi = $denied | Out-String -Width $columns
        # Booleans, not the text: a failure message with ESC in it would be shown raw.
        $ansi.Contains("$($PSStyle.Foreground.Red)OpenPerm$($PSStyle.Reset)") | Should -BeTrue
        $ansi.Contains('(denied)') | Should -BeTrue
        $ansi.Contains("$($PSStyle.Formatting.TableHeader)Time ") | Should -BeTrue -Because 'the labels are in the header style'
        ($audited | Out-String -Width $columns).Contains("$($PSStyle.Foreground.Yellow)OpenPerm$($PSStyle.Reset)") | Should -BeTrue
    }

    It 'says the verdict in the seed view and wraps a long line rather than cut it' {
        $PSStyle.OutputRendering = 'PlainText'
        $seed = @($denied) + $longRead | Format-Table -View Seed | Out-String -Width 80
        (Get-Line $seed | Measure-Object -Property Length -Maximum).Maximum | Should -BeLessOrEqual 80
        $joined = Get-Unwrapped $seed
        $joined.Contains((Get-Unwrapped "$($denied[0].ToString()) (denied)")) | Should -BeTrue -Because "the seed line says the verdict:`n$seed"
        $joined.Contains((Get-Unwrapped $longRead[0].ToString())) | Should -BeTrue -Because "the long line is whole:`n$seed"
        # One event a line where it fits: exactly its ToString.
        ($longRead | Format-Table -View Seed | Out-String -Width 400).Trim() | Should -BeExactly $longRead[0].ToString()
    }

    It 'shows the time to the microsecond, the verdict and the whole path in the list' {
        $PSStyle.OutputRendering = 'PlainText'
        $list = $denied + $longRead | Format-List | Out-String -Width 80
        (Get-Line $list | Measure-Object -Property Length -Maximum).Maximum | Should -BeLessOrEqual 80
        $list | Should -BeLike "*TimeStamp*: $($denied[0].TimeStamp.ToString('yyyy-MM-dd HH:mm:ss.ffffff'))*"
        $list | Should -BeLike '*Response*: Deny*'
        $list | Should -BeLike '*Rule*: deny-secret*'
        # A long value wraps in a list: joined again, it is whole.
        (Get-Unwrapped $list).Contains("Path:$long") | Should -BeTrue -Because $list
    }

    It 'heads each day of a table that spans more than one day with its date and the labels' {
        $PSStyle.OutputRendering = 'PlainText'
        # The same event read a day earlier: its serialized form, with the time moved back.
        $xml = [Management.Automation.PSSerializer]::Serialize($longRead[0])
        $earlier = $longRead[0].TimeStamp.AddDays(-1)
        $xml = $xml -replace '<DT N="TimeStamp">[^<]+', "<DT N=`"TimeStamp`">$($earlier.ToString('o'))"
        $yesterday = [Management.Automation.PSSerializer]::Deserialize($xml)
        $yesterday.TimeStamp | Should -Be $earlier
        $text = @($yesterday, $longRead[0]) | Out-String -Width $columns
        $table = Read-EventTable (Get-Line $text)
        Assert-EventTable $table $columns $text
        $table.Headers | Should -HaveCount 2 -Because "each day's table has its labels:`n$text"
        $table.Rows | Should -HaveCount 2
        $dates = @(Get-Line $text | Where-Object { $_ -match '^\s*Date: ' } | ForEach-Object { ($_ -split ': ')[1].Trim() })
        $dates | Should -Be @($earlier.ToString('yyyy-MM-dd'), $longRead[0].TimeStamp.ToString('yyyy-MM-dd'))
    }

    It 'shows an event deserialized before the module was imported, with its names for numbers' {
        $PSStyle.OutputRendering = 'PlainText'
        # What a remote session or a job gives back: properties only, Event and Response as numbers.
        $bare = [pscustomobject]@{
            TimeStamp = $denied[0].TimeStamp; Event = [ulong]$denied[0].Event; Response = [long]$denied[0].Response
            ProcessId = $denied[0].ProcessId; UserName = ''; UserId = 0; ProcessName = 'cat'; Exe = $cat
            IsProcessGone = $false; Path = $denied[0].Path; OldPath = ''; IsDeleted = $false
        }
        $bare.PSObject.TypeNames.Insert(0, 'Deserialized.FanotifyPS.FanotifyEvent')
        $table = Read-EventTable (Get-Line ($bare | Out-String -Width $columns))
        Assert-EventTable $table $columns 'a deserialized event'
        $table.Rows[0].Text | Should -Match '\bOpenPerm\b.*\(denied\)'
        Get-Cell $table.Rows[0] 'User' | Should -BeExactly '0' -Because 'without a name, the uid'
    }
}

Describe 'The watch views' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $dir = "$mount/a-rather-long-directory-name/watched-directory"
        $null = New-Item -ItemType Directory -Path $dir
        $rule = New-FanotifyRule -Name deny-keys -Path "$dir/*.key" -Errno EBUSY
        $rendering = $PSStyle.OutputRendering
    }
    AfterEach { $PSStyle.OutputRendering = $rendering }
    AfterAll { Remove-TestMount $mount }

    It 'fits the watch table in 80 columns and keeps the end of a long path' {
        $PSStyle.OutputRendering = 'PlainText'
        $watch = Start-FanotifyWatch -Path $dir -Scope Directory -Event CloseWrite -Name narrow
        try {
            # Another process: the events of this one are not reported.
            (Invoke-Bounded sh @('-c', "printf x > '$dir/file.txt'")).ExitCode | Should -Be 0
            $null = Wait-Until { $watch.EventCount -gt 0 }
            $table = $watch | Out-String -Width 80
        }
        finally { Remove-FanotifyWatch $watch }
        Assert-Table $table 'Id', 'Name', 'State', 'Scope', 'Events', 'Losses', 'Path'
        $row = @(Get-Row $table "* narrow *")
        $row | Should -HaveCount 1
        $row[0] | Should -Match "^\s*$($watch.Id) narrow\s+Running\s+Directory\s+1\s+0\s+…\S*watched-directory$"
    }

    It 'lists a watch by what it watches and counts, without the job plumbing' {
        $PSStyle.OutputRendering = 'PlainText'
        $escaped = "$mount/dir-$([char]0x202E)"
        $null = New-Item -ItemType Directory -Path $escaped
        $watch = Start-FanotifyWatch -Path $dir, $escaped -Scope Directory -Event OpenPerm -Rule $rule -Name listed
        try { $list = $watch | Format-List | Out-String -Width 80 }
        finally { Remove-FanotifyWatch $watch }
        $names = @(Get-Line $list | Where-Object { $_ -match '^(\w+)\s+:' } | ForEach-Object { $Matches[1] })
        $names[0..2] | Should -Be @('Id', 'Name', 'State')
        foreach ($name in 'Path', 'Scope', 'Event', 'Rules', 'EventCount', 'BufferedCount', 'DroppedCount', 'OverflowCount',
            'LostCount', 'FilteredCount', 'OwnEventCount', 'AllowedCount', 'DeniedCount', 'WouldDenyCount', 'StartTime') {
            $names | Should -Contain $name
        }
        foreach ($plumbing in 'Finished', 'ChildJobs', 'Output', 'Error', 'InstanceId', 'JobStateInfo', 'Command') {
            $names | Should -Not -Contain $plumbing
        }
        $list | Should -Not -BeLike '*ManualResetEvent*'
        $list | Should -BeLike "*Id *: $($watch.Id)*"
        $list | Should -BeLike '*Scope *: Directory*'
        (Get-Unwrapped $list).Contains((Get-Unwrapped "Rules : deny-keys: Deny with EBUSY Path $dir/*.key (OpenPerm, AccessPerm, OpenExecPerm)")) |
            Should -BeTrue -Because $list
        # Each path on its line, escaped.
        $list.Contains("$mount/dir-\u202e") | Should -BeTrue -Because $list
        $list.Contains([char]0x202E) | Should -BeFalse
    }

    It 'keeps the type and command of other jobs in Get-Job when a watch comes first' {
        $PSStyle.OutputRendering = 'PlainText'
        $watch = Start-FanotifyWatch -Path $dir -Scope Directory -Event CloseWrite -Name first
        $thread = Start-ThreadJob { 'tj-cmd' }
        $background = Start-Job { 'bg-cmd' }
        try {
            $null = Wait-Job $thread, $background -Timeout 60
            $table = Get-Job -Id $watch.Id, $thread.Id, $background.Id | Out-String -Width 80
        }
        finally {
            Remove-Job $thread, $background -Force
            Remove-FanotifyWatch $watch
        }
        Assert-Table $table 'Id', 'Name', 'State', 'Scope', 'Events', 'Losses', 'Path'
        @(Get-Row $table '* first *')[0] | Should -Match "^\s*$($watch.Id) first\s+Running\s+Directory\s.*watched-directory$"
        @(Get-Row $table "* $($thread.Name) *")[0] | Should -Match "^\s*$($thread.Id) $($thread.Name)\s+Completed\s+ThreadJob\s+'tj-cmd'$"
        @(Get-Row $table "* $($background.Name) *")[0] | Should -Match "^\s*$($background.Id) $($background.Name)\s+Completed\s+BackgroundJob\s+'bg-cmd'$"
    }

    It 'shows the whole events and the errno of each rule in the rule table' {
        $PSStyle.OutputRendering = 'PlainText'
        $rules = @(
            $rule
            New-FanotifyRule -Name audit-exec -Exe '/usr/bin/cat' -User root -Event OpenExecPerm -Errno ETXTBSY
            New-FanotifyRule -Name allow-rest -Action Allow -Path "$mount/odd-$([char]0x202E)"
        )
        foreach ($table in @(($rules | Out-String -Width 80), ($rules | Format-Table | Out-String -Width 80))) {
            Assert-Table $table 'Name', 'Action', 'Errno', 'Event', 'Match'
            @(Get-Row $table 'deny-keys *')[0] | Should -Match '^deny-keys\s+Deny\s+EBUSY\s+OpenPerm\s+Path '
            Get-Row $table '* AccessPerm*' | Should -HaveCount 2
            Get-Row $table '* OpenExecPerm*' | Should -HaveCount 3
            @(Get-Row $table 'audit-exec *')[0] | Should -Match '^audit-exec\s+Deny\s+ETXTBSY\s+OpenExecPerm\s+Exe /usr/bin/cat\s*$'
            Get-Row $table '* User root' | Should -HaveCount 1
            @(Get-Row $table 'allow-rest *')[0] | Should -Match '^allow-rest\s+Allow\s+OpenPerm\s+Path '
            $table.Contains([char]0x202E) | Should -BeFalse -Because 'a pattern is shown escaped'
            # The Match column starts at 45: its lines joined again.
            (Get-Unwrapped ((Get-Line $table) -replace '^.{45}', '')).Contains("Path$mount/odd-\u202e") | Should -BeTrue -Because $table
        }
    }
}
