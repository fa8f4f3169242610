#Requires -Version 7.4
# The views at 80 columns, in plain text and in colour: one header line, the file name of a long path, whole
# merged flags, the verdict in words, the date of a table that spans days; the watch's list, Get-Job with a
# watch first, the rule table.

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
}

Describe 'The event views' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $deep = "$mount/a-rather-long-directory-name/and-another-long-directory-name"
        $null = New-Item -ItemType Directory -Path $deep
        $long = "$deep/final-file-name.txt"
        Set-Content $long 'x'
        Set-Content "$mount/secret.txt" 'x'
        Set-Content "$mount/audited.txt" 'x'
        Set-Content "$mount/written.txt" 'x'
        $rules = @(
            New-FanotifyRule -Name deny-secret -Path "$mount/secret.txt" -Action Deny
        )
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, Open, CloseNoWrite, Modify, CloseWrite -Rule $rules
        $audit = Start-FanotifyWatch -Path $mount -Event OpenPerm -AuditOnly -Rule (New-FanotifyRule -Name audit -Path "$mount/audited.txt")
        try {
            (Invoke-Bounded cat @($long)).ExitCode | Should -Be 0
            (Invoke-Bounded cat @("$mount/secret.txt")).ExitCode | Should -Be 1
            (Invoke-Bounded cat @("$mount/audited.txt")).ExitCode | Should -Be 0
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

    It 'fits the table in 80 columns, keeps the file name of a long path and shows whole merged flags' {
        $PSStyle.OutputRendering = 'PlainText'
        $table = $events | Out-String -Width 80
        Assert-Table $table 'Time', 'Event', 'Pid', 'Exe', 'Path'
        $row = @(Get-Row $table "*$($longRead[0].TimeStamp.ToString('HH:mm:ss.fff'))*OpenPerm*")
        $row | Should -Not -BeNullOrEmpty
        $row[0] | Should -BeLike '* …*final-file-name.txt' -Because 'Path is trimmed on the left, and the file name stays'
        foreach ($event in $merged) {
            # Every merge this kernel made of these five events fits: up to three flags.
            Get-Row $table "* $($event.Event) *$($event.ProcessId) *" | Should -Not -BeNullOrEmpty -Because "'$($event.Event)' is shown whole:`n$table"
        }
    }

    It 'says the verdict in words where there is no colour, and keeps the colour where there is' {
        $PSStyle.OutputRendering = 'PlainText'
        $plain = @($denied) + $audited + $longRead | Out-String -Width 80
        $plain.Contains([char]27) | Should -BeFalse
        Get-Row $plain '* OpenPerm (denied) *secret.txt' | Should -HaveCount 1
        Get-Row $plain '* OpenPerm (would deny) *audited.txt' | Should -HaveCount 1
        Get-Row $plain '*(denied)*final-file-name.txt' | Should -BeNullOrEmpty
        Get-Row $plain '* OpenPerm *final-file-name.txt' | Should -HaveCount 1

        # Out-File writes what a log gets: no VT sequences, the verdict in words.
        $file = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-view-$([guid]::NewGuid()).txt"
        try {
            $PSStyle.OutputRendering = 'Host'
            $denied | Out-File -FilePath $file -Width 80
            $logged = Get-Content $file -Raw
        }
        finally { Remove-Item $file -ErrorAction Ignore }
        $logged.Contains([char]27) | Should -BeFalse
        $logged | Should -BeLike '*OpenPerm (denied)*secret.txt*'

        $PSStyle.OutputRendering = 'Ansi'
        $ansi = $denied | Out-String -Width 80
        # Booleans, not the text: a failure message with ESC in it would be shown raw.
        $ansi.Contains("$($PSStyle.Foreground.Red)OpenPerm$($PSStyle.Reset) (denied)") | Should -BeTrue
        ($audited | Out-String -Width 80).Contains("$($PSStyle.Foreground.Yellow)OpenPerm$($PSStyle.Reset) (would deny)") | Should -BeTrue
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

    It 'heads each day of a table that spans more than one day with its date' {
        $PSStyle.OutputRendering = 'PlainText'
        # The same event read a day earlier: its serialized form, with the time moved back.
        $xml = [Management.Automation.PSSerializer]::Serialize($longRead[0])
        $earlier = $longRead[0].TimeStamp.AddDays(-1)
        $xml = $xml -replace '<DT N="TimeStamp">[^<]+', "<DT N=`"TimeStamp`">$($earlier.ToString('o'))"
        $yesterday = [Management.Automation.PSSerializer]::Deserialize($xml)
        $yesterday.TimeStamp | Should -Be $earlier
        $table = @($yesterday, $longRead[0]) | Out-String -Width 80
        Assert-Table $table 'Time', 'Event', 'Pid', 'Exe', 'Path'
        $dates = @(Get-Line $table | Where-Object { $_ -match '^\s*Date: ' } | ForEach-Object { ($_ -split ': ')[1].Trim() })
        $dates | Should -Be @($earlier.ToString('yyyy-MM-dd'), $longRead[0].TimeStamp.ToString('yyyy-MM-dd'))
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
