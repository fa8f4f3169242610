#Requires -Version 7.4
# Help: the compiled MAML is found by Get-Help, and docs/help never drifts from the cmdlets (as PSReadLine's
# CheckHelp.ps1 does: every parameter's metadata compared with the markdown's yaml).

BeforeDiscovery {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    $commands = (Get-Command -Module FanotifyPS).Name
}

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    $docs = Join-Path $PSScriptRoot '../../docs/help'

    # The parameters of a platyPS markdown file: name -> list of yaml blocks (key -> value).
    function Read-HelpMarkdown([string] $Path) {
        $parameters = [ordered]@{}
        $current = $null
        $inYaml = $false
        foreach ($line in Get-Content $Path) {
            if ($line -match '^## ') { $current = $null; continue }
            if ($line -match '^### -(\w+)') { $current = $Matches[1]; $parameters[$current] = [Collections.Generic.List[hashtable]]::new(); continue }
            if ($line -match '^### ') { $current = $null; continue }
            if ($current -and $line -eq '```yaml') { $inYaml = $true; $block = @{}; continue }
            if ($inYaml -and $line -eq '```') { $inYaml = $false; $parameters[$current].Add($block); continue }
            if ($inYaml -and $line -match '^([^:]+):\s*(.*)$') { $block[$Matches[1]] = $Matches[2].Trim() }
        }
        $parameters
    }

    function Get-TypeName([type] $Type) {
        if ($Type.IsArray) { return (Get-TypeName $Type.GetElementType()) + '[]' }
        $Type.Name
    }
}

Describe 'Help of <_>' -ForEach $commands {
    BeforeAll {
        $name = $_
        $file = Join-Path $docs "$name.md"
        $help = Get-Help $name -Full
        $command = Get-Command $name
        $common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name
    }

    It 'has a markdown file' {
        Test-Path $file | Should -BeTrue
    }

    It 'shows the synopsis, the parameters and at least two examples with Get-Help -Full' {
        $synopsis = ((Get-Content $file -Raw) -split '## SYNOPSIS\s*')[1].Split("`n")[0].Trim()
        $help.Synopsis | Should -BeExactly $synopsis
        $help.description.Text | Should -Not -BeNullOrEmpty
        @($help.examples.example).Count | Should -BeGreaterOrEqual 2
        $documented = @($help.parameters.parameter.name)
        $command.Parameters.Keys | Where-Object { $_ -notin $common } | ForEach-Object { $documented | Should -Contain $_ }
        @($help.parameters.parameter) | Where-Object { $_ -and $_.name } | ForEach-Object { $_.description.Text | Should -Not -BeNullOrEmpty -Because "-$($_.name) needs a description" }
    }

    It 'shows one syntax per parameter set, a set without parameters too' {
        $syntax = @($help.syntax.syntaxItem)
        $syntax.Count | Should -Be $command.ParameterSets.Count
        foreach ($set in $command.ParameterSets) {
            $names = @($set.Parameters.Name | Where-Object { $_ -notin $common } | Sort-Object)
            @($syntax | Where-Object { @($_.parameter.name | Where-Object { $_ } | Sort-Object) -join ',' -eq ($names -join ',') }) |
                Should -Not -BeNullOrEmpty -Because "the set $($set.Name) ($($names -join ', ')) needs its syntax"
        }
    }

    It 'gives the real default of each parameter that has one' {
        $markdown = Read-HelpMarkdown $file
        $fresh = [Activator]::CreateInstance($command.ImplementingType)
        foreach ($parameter in $command.Parameters.Values | Where-Object { $_.Name -notin $common }) {
            $property = $command.ImplementingType.GetProperty($parameter.Name)
            if (-not $property) { continue }   # -WhatIf, -Confirm
            $value = $property.GetValue($fresh)
            if ($null -eq $value -or $value -is [System.Management.Automation.SwitchParameter] -or
                ($value -is [array] -and $value.Count -eq 0) -or ($value -is [ValueType] -and $value -eq 0)) { continue }
            # An automatic choice is a sentinel (-1), documented by what it means.
            $expected = if ($value -is [int] -and $value -eq -1) { 'Automatic' } else { $value -join ', ' }
            @($markdown[$parameter.Name] | Where-Object { $_['Default value'] -like "$expected*" }) |
                Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) defaults to $expected"
        }
    }

    It 'documents exactly the parameters the cmdlet has, with the same metadata' {
        $markdown = Read-HelpMarkdown $file
        $actual = $command.Parameters.Values | Where-Object { $_.Name -notin $common }
        @($markdown.Keys | Sort-Object) | Should -Be @($actual.Name | Sort-Object) -Because 'a parameter is missing from the markdown, or the markdown names one that does not exist'

        foreach ($parameter in $actual) {
            $blocks = $markdown[$parameter.Name]
            foreach ($set in $parameter.ParameterSets.GetEnumerator()) {
                $setName = if ($set.Key -eq '__AllParameterSets') { '(All)' } else { $set.Key }
                $yaml = $blocks | Where-Object { ($_['Parameter Sets'] -split ',\s*') -contains $setName } | Select-Object -First 1
                $yaml | Should -Not -BeNullOrEmpty -Because "-$($parameter.Name) in set $setName needs a yaml block"
                $meta = $set.Value
                $yaml['Type'] | Should -Be (Get-TypeName $parameter.ParameterType) -Because "-$($parameter.Name) type"
                $yaml['Required'] | Should -Be "$($meta.IsMandatory)" -Because "-$($parameter.Name) in $setName mandatory"
                $yaml['Position'] | Should -Be $(if ($meta.Position -ge 0) { "$($meta.Position)" } else { 'Named' }) -Because "-$($parameter.Name) in $setName position"
                $pipeline = @(if ($meta.ValueFromPipeline) { 'ByValue' }; if ($meta.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
                $yaml['Accept pipeline input'] | Should -Be $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' }) -Because "-$($parameter.Name) in $setName pipeline input"
                @(($yaml['Aliases'] -split ',\s*') | Where-Object { $_ }) | Should -Be @($parameter.Aliases) -Because "-$($parameter.Name) aliases"
            }
            $documentedSets = $blocks | ForEach-Object { $_['Parameter Sets'] -split ',\s*' } | Sort-Object -Unique
            $actualSets = $parameter.ParameterSets.Keys | ForEach-Object { if ($_ -eq '__AllParameterSets') { '(All)' } else { $_ } } | Sort-Object -Unique
            @($documentedSets) | Should -Be @($actualSets) -Because "-$($parameter.Name) parameter sets"
        }
    }
}

Describe 'about_FanotifyPS' {
    It 'is shown by Get-Help' {
        $about = Get-Help about_FanotifyPS | Out-String
        $about | Should -BeLike '*about_FanotifyPS*'
        $about | Should -BeLike '*SHORT DESCRIPTION*'
        $about | Should -BeLike '*fails open*'
    }
}

Describe 'What the help says of -Event' {
    It 'says in <_> that notification events are merged and cannot count, and that permission events can' -ForEach 'Start-FanotifyWatch', 'Get-FanotifyEvent' {
        $text = (@((Get-Help $_ -Full).parameters.parameter | Where-Object name -eq 'Event').description.Text -join ' ') -replace '\s+', ' '
        $text | Should -BeLike '*kernel merges an event into an identical one*unread in its queue*cannot count*'
        $text | Should -BeLike '*Permission events are never merged*can count them*'
    }
}
