#Requires -Version 7.4
# Events that leave the session and come back: Export-Clixml and Import-Clixml in another pwsh, a background
# job, ConvertTo-Json. Event and Response must still compare and print by name, not as the numbers CliXml keeps.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # Runs a script in a fresh pwsh (nothing of this session loaded) and returns what it wrote as JSON.
    function Invoke-FreshPwsh([string] $Script) {
        $pwsh = Get-PwshCommand
        $file = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-roundtrip-$([guid]::NewGuid()).ps1"
        Set-Content -Path $file -Value "`$ErrorActionPreference = 'Stop'`n$Script"
        try {
            $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', $file)) -TimeoutSeconds 90
        }
        finally { Remove-Item $file -ErrorAction Ignore }
        $run.ExitCode | Should -Be 0 -Because $run.Output
        $run.Output | ConvertFrom-Json
    }
}

Describe 'Events that survive a round trip' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/public.txt" 'x'
        Set-Content "$mount/secret.txt" 'x'
        $deny = New-FanotifyRule -Name deny-secret -Path "$mount/secret.txt" -Action Deny
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, Open -Rule $deny
        try {
            (Invoke-Bounded cat @("$mount/public.txt")).ExitCode | Should -Be 0
            (Invoke-Bounded cat @("$mount/secret.txt")).ExitCode | Should -Be 1
            $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/secret.txt" -and $_.Event -eq 'OpenPerm' }
        }
        finally { Stop-FanotifyWatch $watch }
        $events = @($events | Where-Object Exe -like '*/cat')
        $saved = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-events-$([guid]::NewGuid()).xml"
        # A note added by the user travels too.
        $events | ForEach-Object { $_ | Add-Member -NotePropertyName Host -NotePropertyValue 'here' -Force }
        $events | Export-Clixml -Path $saved
    }
    AfterAll {
        Remove-Item $saved -ErrorAction Ignore
        Remove-TestMount $mount
    }

    It 'has a denied, an allowed and a notification event to save' {
        @($events | Where-Object { $_.Path -eq "$mount/secret.txt" -and $_.Response -eq 'Deny' }) | Should -HaveCount 1
        @($events | Where-Object { $_.Path -eq "$mount/public.txt" -and $_.Response -eq 'Allow' }) | Should -HaveCount 1
        @($events | Where-Object { $_.Event -eq 'Open' }) | Should -Not -BeNullOrEmpty
    }

    It 'Import-Clixml in a fresh pwsh gives events whose Event and Response compare and print by name' {
        $facts = Invoke-FreshPwsh @"
Import-Module '$env:FANOTIFYPS_MODULE'
`$e = Import-Clixml '$saved'
`$denied = @(`$e | Where-Object Response -eq 'Deny')
[ordered]@{
    Type      = `$e[0].GetType().FullName
    OpenPerm  = @(`$e | Where-Object Event -eq 'OpenPerm').Count
    Open      = @(`$e | Where-Object { `$_.Event -band 'Open' }).Count
    Denied    = `$denied.Count
    DeniedPath = `$denied[0].Path
    Event     = "`$(`$denied[0].Event)"
    Response  = "`$(`$denied[0].Response)"
    Rule      = `$denied[0].Rule
    UserName  = `$denied[0].UserName
    Iso       = `$e.TimeStampIso -join ' '
    Host      = `$denied[0].Host
    Table     = `$e | Out-String -Width 200
    List      = `$denied | Format-List | Out-String -Width 200
} | ConvertTo-Json -Depth 3
"@
        $facts.Type | Should -Be 'FanotifyPS.FanotifyEvent'
        $facts.OpenPerm | Should -Be @($events | Where-Object Event -eq 'OpenPerm').Count
        $facts.OpenPerm | Should -BeGreaterOrEqual 2
        $facts.Open | Should -Be @($events | Where-Object Event -eq 'Open').Count
        $facts.Denied | Should -Be 1
        $facts.DeniedPath | Should -Be "$mount/secret.txt"
        $facts.Event | Should -Be 'OpenPerm'
        $facts.Response | Should -Be 'Deny'
        $facts.Rule | Should -Be 'deny-secret'
        $facts.UserName | Should -Be 'root'
        $facts.Iso | Should -Be ($events.TimeStampIso -join ' ') -Because 'the time is kept to the tick'

        $facts.Host | Should -Be 'here'
        # The table is laid out for the width of the child's host: at 80 columns the verdict goes below the name.
        $facts.Table | Should -Match 'OpenPerm (\(denied\) +)?[^\n]*/secret\.txt'
        $facts.Table | Should -BeLike '*(denied)*'
        $facts.Table | Should -Not -Match '\d\.\d{3} +(65536|32)\b'
        $facts.List | Should -BeLike '*Event*: OpenPerm*'
        $facts.List | Should -BeLike '*Response*: Deny*'
    }

    It 'prints names for events deserialized before the module was imported' {
        $facts = Invoke-FreshPwsh @"
`$e = Import-Clixml '$saved'
Import-Module '$env:FANOTIFYPS_MODULE'
[ordered]@{
    Type  = `$e[0].PSObject.TypeNames[0]
    Table = `$e | Out-String -Width 200
    List  = `$e | Format-List | Out-String -Width 200
    Seed  = `$e | Format-Table -View Seed | Out-String -Width 200
} | ConvertTo-Json
"@
        $facts.Type | Should -Be 'Deserialized.FanotifyPS.FanotifyEvent'
        $facts.Table | Should -Match 'OpenPerm (\(denied\) +)?[^\n]*/secret\.txt'
        $facts.Table | Should -BeLike '*(denied)*'
        $facts.Table | Should -Match 'Open +[^\n]*/public\.txt'
        $facts.Table | Should -Not -Match '\d\.\d{3} +(65536|32)\b'
        $facts.List | Should -Not -Match 'Event +: \d'
        $facts.List | Should -Not -Match 'Response +: \d'
        $facts.List | Should -BeLike '*Response*: Deny*'
        $facts.Seed | Should -BeLike "*FAN_OPEN_PERM: File $mount/secret.txt Exe */cat (denied)*"
    }

    It 'loads events saved by another version or machine: a 32-bit Response, a property missing, another user name' {
        # The previous version wrote Response as a 32-bit enum; a version without CommandLine would leave it out.
        $xml = Get-Content $saved -Raw
        $xml = [regex]::Replace($xml, '(<Obj N="Response"(?:(?!</Obj>).)*?)<I64>(\d+)</I64>', '$1<I32>$2</I32>', 'Singleline')
        $xml = $xml -replace '<S N="CommandLine">[^<]*</S>', ''
        # Saved on a machine where uid 0 has another name: the recorded name stays.
        $xml = $xml -replace '<S N="UserName">root</S>', '<S N="UserName">toor</S>'
        [regex]::IsMatch($xml, '<Obj N="Response"(?:(?!</Obj>).)*?<I64>', 'Singleline') | Should -BeFalse
        $other = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-other-$([guid]::NewGuid()).xml"
        try {
            Set-Content -Path $other -Value $xml
            $loaded = @(Import-Clixml $other)
        }
        finally { Remove-Item $other -ErrorAction Ignore }
        $loaded | Should -HaveCount $events.Count
        foreach ($event in $loaded) { $event | Should -BeOfType ([FanotifyPS.FanotifyEvent]) }
        $denied = @($loaded | Where-Object Response -eq 'Deny')
        $denied | Should -HaveCount 1
        $denied[0].Path | Should -Be "$mount/secret.txt"
        $denied[0].CommandLine | Should -BeExactly ''
        $denied[0].UserId | Should -Be 0
        $denied[0].UserName | Should -BeExactly 'toor'
    }

    It 'rehydrates the events of a background job' {
        # Notification events only in the job's process: nothing there can hold an opener.
        $job = Start-Job -ArgumentList $env:FANOTIFYPS_MODULE, $mount -ScriptBlock {
            param($ModulePath, $Path)
            Import-Module $ModulePath
            $watch = Start-FanotifyWatch -Path $Path -Event Open
            & cat "$Path/public.txt" > $null
            # By path: cat may have exited before it could be named.
            Get-FanotifyEvent -Watch $watch -Wait -Timeout 1 | Where-Object Path -eq "$Path/public.txt"
            Remove-FanotifyWatch $watch
        }
        try {
            $null = Wait-Job $job -Timeout 60
            $job.State | Should -Be 'Completed'
            $received = @(Receive-Job $job)
        }
        finally { Remove-Job $job -Force }
        $received | Should -HaveCount 1
        $received[0] | Should -BeOfType ([FanotifyPS.FanotifyEvent])
        $received[0].Event | Should -Be ([FanotifyPS.FanotifyEventType]::Open)
        @($received | Where-Object Event -eq 'Open') | Should -HaveCount 1
        $received[0].Path | Should -Be "$mount/public.txt"
    }

    It 'ConvertTo-Json writes Event and Response by name, without -EnumsAsStrings' {
        $denied = $events | Where-Object Response -eq 'Deny'
        $json = $denied | ConvertTo-Json -Compress
        $json | Should -BeLike '*"Event":"OpenPerm"*'
        $json | Should -BeLike '*"Response":"Deny"*'
        $back = Import-Clixml $saved | Where-Object Response -eq 'Deny' | ConvertTo-Json -Compress
        $back | Should -BeLike '*"Event":"OpenPerm"*'
        $back | Should -BeLike '*"Response":"Deny"*'
        $deny | ConvertTo-Json -Compress | Should -BeLike '*"Action":"Deny"*'
    }

    It 'Export-Csv keeps the exact time in TimeStampIso' {
        $csv = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-events-$([guid]::NewGuid()).csv"
        try {
            $events | Export-Csv -Path $csv
            $rows = @(Import-Csv $csv)
        }
        finally { Remove-Item $csv -ErrorAction Ignore }
        $rows | Should -HaveCount $events.Count
        foreach ($i in 0..($rows.Count - 1)) {
            [datetimeoffset]::Parse($rows[$i].TimeStampIso).UtcDateTime | Should -Be $events[$i].TimeStamp.ToUniversalTime()
            $rows[$i].Event | Should -Be "$($events[$i].Event)"
            $rows[$i].Response | Should -Be "$($events[$i].Response)"
        }
    }
}

Describe 'Properties without a value are null, not a placeholder' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'x'
        $threadopen = Get-LoadTool threadopen
        $cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source

        # With -ThreadId: a thread that is not its process's main thread, so ThreadId differs from ProcessId.
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -ThreadId
        try {
            $run = Invoke-Bounded $threadopen @("$mount/data.txt")
            $run.ExitCode | Should -Be 0
            $processId, $threadId = $run.Output.Trim().Split(' ') | ForEach-Object { [int]$_ }
            $threaded = @((Receive-UntilEvent $watch { $_.ThreadId -eq $threadId }) | Where-Object ThreadId -eq $threadId)[0]
        }
        finally { Stop-FanotifyWatch $watch }

        # Without -ThreadId; cat as root: a real uid.
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
        try {
            (Invoke-Bounded $cat @("$mount/data.txt")).ExitCode | Should -Be 0
            $plain = @((Receive-UntilEvent $watch { $_.Exe -eq $cat }) | Where-Object Exe -eq $cat)[0]
        }
        finally { Stop-FanotifyWatch $watch }

        $saved = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-nulls-$([guid]::NewGuid()).xml"
        @($threaded, $plain) | Export-Clixml -Path $saved
    }
    AfterAll {
        Remove-Item $saved -ErrorAction Ignore
        Remove-TestMount $mount
    }

    It 'has ThreadId with -ThreadId, $null without; UserId of a real process; no FsError values on other events' {
        $threaded.ThreadId | Should -Be $threadId
        $threaded.ProcessId | Should -Be $processId
        $plain.ThreadId | Should -BeNullOrEmpty
        $null -eq $plain.ThreadId | Should -BeTrue
        $plain.UserId | Should -Be 0
        $plain.UserName | Should -BeExactly 'root'
        foreach ($e in $threaded, $plain) {
            $null -eq $e.FsErrorCode | Should -BeTrue
            $null -eq $e.FsErrorCount | Should -BeTrue
        }
    }

    It 'ConvertTo-Json writes null where there is no value and the value where there is one' {
        $json = $plain | ConvertTo-Json -Compress
        $json | Should -BeLike '*"ThreadId":null*'
        $json | Should -BeLike '*"FsErrorCode":null*'
        $json | Should -BeLike '*"FsErrorCount":null*'
        $json | Should -BeLike '*"UserId":0,*'
        $threaded | ConvertTo-Json -Compress | Should -BeLike "*`"ThreadId`":$threadId,*"
    }

    It 'Export-Csv writes an empty field where there is no value' {
        $csv = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-nulls-$([guid]::NewGuid()).csv"
        try {
            @($threaded, $plain) | Export-Csv -Path $csv
            $rows = @(Import-Csv $csv)
        }
        finally { Remove-Item $csv -ErrorAction Ignore }
        $rows[0].ThreadId | Should -BeExactly "$threadId"
        $rows[1].ThreadId | Should -BeExactly ''
        $rows[1].UserId | Should -BeExactly '0'
        foreach ($row in $rows) {
            $row.FsErrorCode | Should -BeExactly ''
            $row.FsErrorCount | Should -BeExactly ''
        }
    }

    It 'Import-Clixml in a fresh pwsh keeps $null and the values' {
        $facts = Invoke-FreshPwsh @"
Import-Module '$env:FANOTIFYPS_MODULE'
`$e = Import-Clixml '$saved'
[ordered]@{
    Type          = `$e[0].GetType().FullName
    ThreadId      = `$e[0].ThreadId
    PlainThreadId = `$e[1].ThreadId
    PlainIsNull   = `$null -eq `$e[1].ThreadId
    UserId        = `$e[1].UserId
    FsErrorNull   = @(`$e | Where-Object { `$null -eq `$_.FsErrorCode -and `$null -eq `$_.FsErrorCount }).Count
    ThreadedList  = `$e[0] | Format-List | Out-String -Width 200
    PlainList     = `$e[1] | Format-List | Out-String -Width 200
} | ConvertTo-Json
"@
        $facts.Type | Should -Be 'FanotifyPS.FanotifyEvent'
        $facts.ThreadId | Should -Be $threadId
        $facts.PlainIsNull | Should -BeTrue
        $facts.UserId | Should -Be 0
        $facts.FsErrorNull | Should -Be 2
        # The list view shows ThreadId where there is one.
        $facts.ThreadedList | Should -Match "ThreadId +: $threadId"
        $facts.PlainList | Should -Not -BeLike '*ThreadId*'
        $facts.PlainList | Should -Not -BeLike '*FsError*'
    }

    It 'loads events saved before these were nullable: ThreadId 0, UserId -1 and FsError 0 become $null' {
        $xml = Get-Content $saved -Raw
        foreach ($name in 'ThreadId', 'FsErrorCode', 'FsErrorCount') {
            $xml = $xml -replace "<Nil N=`"$name`" />", "<I32 N=`"$name`">0</I32>"
        }
        $xml = $xml -replace '<I32 N="UserId">0</I32>', '<I32 N="UserId">-1</I32>'
        $xml = $xml -replace '<S N="UserName">root</S>', '<S N="UserName"></S>'
        $xml | Should -BeLike '*<I32 N="ThreadId">0</I32>*'
        $xml | Should -BeLike '*<I32 N="UserId">-1</I32>*'
        $old = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-old-$([guid]::NewGuid()).xml"
        try {
            Set-Content -Path $old -Value $xml
            $loaded = @(Import-Clixml $old)
        }
        finally { Remove-Item $old -ErrorAction Ignore }
        $loaded | Should -HaveCount 2
        $loaded[0].ThreadId | Should -Be $threadId
        $null -eq $loaded[1].ThreadId | Should -BeTrue
        foreach ($e in $loaded) {
            $null -eq $e.UserId | Should -BeTrue
            $e.UserName | Should -BeExactly ''
            $null -eq $e.FsErrorCode | Should -BeTrue
            $null -eq $e.FsErrorCount | Should -BeTrue
        }
    }
}
