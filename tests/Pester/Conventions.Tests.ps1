#Requires -Version 7.4
# PowerShell conventions: the manifest, completion, pipeline binding, Remove-FanotifyWatch.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'The module' {
    It 'exports exactly the cmdlets of its manifest, with approved verbs' {
        $manifest = Import-PowerShellDataFile (Join-Path $env:FANOTIFYPS_MODULE 'FanotifyPS.psd1')
        $commands = Get-Command -Module FanotifyPS
        $commands.Name | Sort-Object | Should -Be ($manifest.CmdletsToExport | Sort-Object)
        $approved = (Get-Verb).Verb
        $commands | ForEach-Object { $_.Verb | Should -BeIn $approved }
    }

    It 'has the same version in the manifest and the assembly' {
        $module = Get-Module FanotifyPS
        $assembly = [FanotifyPS.FanotifyEvent].Assembly.GetName().Version
        "$($assembly.Major).$($assembly.Minor).$($assembly.Build)" | Should -Be "$($module.Version)"
    }
}

Describe 'The repository' {
    It 'has no PowerShell script that fails to parse, the benchmark and soak included (CI does not run them)' {
        $root = (Resolve-Path (Join-Path $PSScriptRoot '../..')).Path
        $scripts = Get-ChildItem $root -Recurse -Include *.ps1, *.psm1, *.psd1 -File |
            Where-Object { $_.FullName -notmatch '/(out|bin|obj|\.git)/' }
        $scripts.Count | Should -BeGreaterThan 10
        foreach ($script in $scripts) {
            $errors = $null
            $null = [System.Management.Automation.Language.Parser]::ParseFile($script.FullName, [ref] $null, [ref] $errors)
            @($errors | ForEach-Object { "$($script.FullName):$($_.Extent.StartLineNumber): $($_.Message)" }) | Should -BeNullOrEmpty
        }
    }
}

Describe 'Completion and pipeline binding' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $watch = Start-FanotifyWatch -Path $mount -Name 'completion target'
    }
    AfterAll {
        Remove-FanotifyWatch $watch
        Remove-TestMount $mount
    }

    It 'completes watch ids and names' {
        $ids = (TabExpansion2 -inputScript 'Stop-FanotifyWatch -Id ' -cursorColumn 23).CompletionMatches.CompletionText
        $ids | Should -Contain "$($watch.Id)"
        $names = (TabExpansion2 -inputScript 'Get-FanotifyWatch -Name compl' -cursorColumn 29).CompletionMatches.CompletionText
        $names | Should -Contain "'completion target'"
    }

    It 'completes enum parameters' {
        (TabExpansion2 -inputScript 'Start-FanotifyWatch -Scope Tr' -cursorColumn 29).CompletionMatches.CompletionText | Should -Contain 'Tree'
        (TabExpansion2 -inputScript 'Start-FanotifyWatch -Event OpenE' -cursorColumn 32).CompletionMatches.CompletionText | Should -Contain 'OpenExecPerm'
    }

    It "binds an event's WatchId to -Id" {
        Set-Content "$mount/f" 'x'
        Invoke-Bounded cat @("$mount/f") | Out-Null
        $events = Receive-UntilEvent $watch { $true }
        $seen = $events | Select-Object -First 1
        ($seen | Get-FanotifyWatch).Id | Should -Be $watch.Id
    }

    It 'formats events as a table by default, as a list, and as the seed line with -View Seed' {
        Set-Content "$mount/shown" 'x'
        Invoke-Bounded cat @("$mount/shown") | Out-Null
        $events = Receive-UntilEvent $watch { $_.Path -eq "$mount/shown" }
        $shown = $events | Where-Object Path -eq "$mount/shown" | Select-Object -First 1
        $shown | Should -Not -BeNullOrEmpty -Because "events: $($events -join '; ')"
        ($shown | Format-Table -View Seed | Out-String -Width 300).Trim() | Should -BeExactly $shown.ToString()
        # Laid out for the width of this host: the process's name below 120 columns, Exe from there on.
        $table = $shown | Out-String -Width 300
        $table | Should -Match 'Time +Event +Pid User +(Process|Exe) +Path'
        $table | Should -Match "OpenPerm +$($shown.ProcessId) root +(cat|\S*/cat) +\S*/shown"
        $list = $shown | Format-List | Out-String -Width 300
        $list | Should -BeLike '*ProcessName*cat*'
        $list | Should -BeLike '*Response*Allow*'
    }

    It 'Remove-FanotifyWatch stops a watch and forgets it' {
        $other = Start-FanotifyWatch -Path $mount -Name 'to remove'
        Get-FanotifyWatch -Name 'to remove' | Remove-FanotifyWatch
        $other.State | Should -Be 'Stopped'
        Get-FanotifyWatch -Name 'to remove' -ErrorAction SilentlyContinue | Should -BeNullOrEmpty
        { Get-FanotifyWatch -Id $other.Id -ErrorAction Stop } | Should -Throw -ErrorId 'WatchNotFound,*'
    }
}

Describe 'Serialization' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'x'
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm, Create -DenyPath '*/nothing' -AuditOnly
        (Invoke-Bounded sh @('-c', "cat $mount/data.txt >/dev/null; touch $mount/new.txt")).ExitCode | Should -Be 0
        $events = Receive-UntilEvent $watch { $_.Name -eq 'new.txt' }
        $properties = [FanotifyPS.FanotifyEvent].GetProperties().Name
    }
    AfterAll {
        Remove-FanotifyWatch $watch
        Remove-TestMount $mount
    }

    It 'round-trips every property through Export-Clixml and Import-Clixml' {
        $file = Join-Path $mount 'events.xml'
        $events | Export-Clixml $file
        $back = Import-Clixml $file
        $back | Should -HaveCount $events.Count
        for ($i = 0; $i -lt $events.Count; $i++) {
            foreach ($p in $properties) {
                $original = $events[$i].$p
                # Enums come back as their value; cast back, they are the same.
                $value = if ($original -is [enum]) { $back[$i].$p -as $original.GetType() } else { $back[$i].$p }
                "$value" | Should -BeExactly "$original" -Because "$p of event $i"
            }
            $back[$i].TimeStamp | Should -Be $events[$i].TimeStamp
        }
    }

    It 'writes JSON with enums as names and times in ISO 8601 (-EnumsAsStrings)' {
        $json = $events | ConvertTo-Json -EnumsAsStrings -Depth 2 | ConvertFrom-Json -DateKind String
        $json | Should -HaveCount $events.Count
        $json[0].Event | Should -Be "$($events[0].Event)"
        $json[0].Response | Should -Be "$($events[0].Response)"
        $json[0].TimeStamp | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+'
    }

    It 'round-trips enums as names through Export-Csv and Import-Csv' {
        $file = Join-Path $mount 'events.csv'
        $events | Export-Csv $file
        $rows = Import-Csv $file
        for ($i = 0; $i -lt $events.Count; $i++) {
            [FanotifyPS.FanotifyEventType]$rows[$i].Event | Should -Be $events[$i].Event
            [FanotifyPS.FanotifyResponse]$rows[$i].Response | Should -Be $events[$i].Response
            $rows[$i].Path | Should -BeExactly $events[$i].Path
            [bool]::Parse($rows[$i].IsDirectory) | Should -Be $events[$i].IsDirectory
            [datetime]::Parse($rows[$i].TimeStampIso) | Should -Be $events[$i].TimeStamp -Because 'TimeStampIso keeps the exact time'
            $rows[$i].TimeStampIso | Should -Match '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}[+-]\d\d:\d\d$'
        }
    }
}
