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
        $facts.Table | Should -BeLike '*OpenPerm (denied)*'
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
        $facts.Table | Should -BeLike "*OpenPerm (denied)*$mount/secret.txt*"
        $facts.Table | Should -BeLike "*Open *$mount/public.txt*"
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
