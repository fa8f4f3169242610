#Requires -Version 7.4
# The parameters that start a watch: declared once for Start-FanotifyWatch and Get-FanotifyEvent, in the Path and
# LiteralPath sets only, so that Get-FanotifyEvent cannot be told to read a running watch with a scope it never had.
# -Event is the exception: in Get-FanotifyEvent's Watch and Id sets it is a read filter (Binding.Tests.ps1).

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $shared = 'Scope', 'BufferSize', 'ThreadId', 'SpinMicroseconds'

    # What binding and validation see of a parameter: its sets with their metadata, and its attributes.
    function Get-ParameterFacts([string] $Command, [string] $Name) {
        $parameter = (Get-Command $Command).Parameters[$Name]
        [pscustomobject]@{
            Type       = $parameter.ParameterType.FullName
            Sets       = @($parameter.ParameterSets.GetEnumerator() | Sort-Object Key | ForEach-Object {
                    $m = $_.Value
                    "$($_.Key) mandatory=$($m.IsMandatory) position=$($m.Position) byValue=$($m.ValueFromPipeline) byName=$($m.ValueFromPipelineByPropertyName)"
                }) -join '; '
            Attributes = @($parameter.Attributes | Where-Object { $_ -isnot [Parameter] } | ForEach-Object {
                    $a = $_
                    switch ($a) {
                        { $_ -is [ValidateRange] } { "ValidateRange($($a.MinRange), $($a.MaxRange))"; break }
                        default { $a.GetType().Name }
                    }
                } | Sort-Object) -join ', '
        }
    }
}

Describe 'The parameters that start a watch' {
    It 'are in the Path and LiteralPath sets only, in both commands' {
        foreach ($command in 'Start-FanotifyWatch', 'Get-FanotifyEvent') {
            foreach ($name in $shared + 'LiteralPath') {
                $expected = if ($name -eq 'LiteralPath') { @('LiteralPath') } else { @('LiteralPath', 'Path') }
                @((Get-Command $command).Parameters[$name].ParameterSets.Keys | Sort-Object) | Should -Be $expected -Because "-$name of $command"
            }
        }
        @((Get-Command Start-FanotifyWatch).Parameters['Event'].ParameterSets.Keys | Sort-Object) | Should -Be @('LiteralPath', 'Path')
        @((Get-Command Get-FanotifyEvent).Parameters['Event'].ParameterSets.Keys | Sort-Object) | Should -Be @('Id', 'LiteralPath', 'Path', 'Watch')
        @((Get-Command Get-FanotifyEvent).Parameters['Path'].ParameterSets.Keys | Sort-Object) | Should -Be @('Id', 'Path', 'Watch')
        (Get-Command Get-FanotifyEvent).DefaultParameterSet | Should -Be 'Path'
        @((Get-Command Start-FanotifyWatch).ParameterSets.Name | Sort-Object) | Should -Be @('LiteralPath', 'Path')
        (Get-Command Start-FanotifyWatch).DefaultParameterSet | Should -Be 'Path'
    }

    It 'have the same type, metadata and validation in both commands' {
        foreach ($name in $shared + 'LiteralPath') {
            $start = Get-ParameterFacts Start-FanotifyWatch $name
            $get = Get-ParameterFacts Get-FanotifyEvent $name
            $get.Type | Should -Be $start.Type -Because "-$name type"
            $get.Sets | Should -Be $start.Sets -Because "-$name sets"
            $get.Attributes | Should -Be $start.Attributes -Because "-$name attributes"
        }
        (Get-ParameterFacts Start-FanotifyWatch BufferSize).Attributes | Should -Be 'ValidateRange(1, 16777216)'
        (Get-ParameterFacts Start-FanotifyWatch SpinMicroseconds).Attributes | Should -Be 'ValidateRange(0, 1000)'
        (Get-ParameterFacts Get-FanotifyEvent Event).Type | Should -Be (Get-ParameterFacts Start-FanotifyWatch Event).Type
        (Get-ParameterFacts Get-FanotifyEvent Event).Attributes | Should -Be (Get-ParameterFacts Start-FanotifyWatch Event).Attributes
    }

    It '-Path differs: both take it from the pipeline by value, only Start-FanotifyWatch by property name too' {
        (Get-ParameterFacts Start-FanotifyWatch Path).Sets | Should -Be 'Path mandatory=False position=0 byValue=True byName=True'
        (Get-ParameterFacts Get-FanotifyEvent Path).Sets | Should -Be ('Id mandatory=False position=-2147483648 byValue=False byName=False; ' +
            'Path mandatory=False position=0 byValue=True byName=False; Watch mandatory=False position=-2147483648 byValue=False byName=False')
    }

    It 'cannot be given to Get-FanotifyEvent with -Id' {
        foreach ($call in { Get-FanotifyEvent -Id 1 -Scope Tree }, { Get-FanotifyEvent -Id 1 -SpinMicroseconds 5 }, { Get-FanotifyEvent -Id 1 -ThreadId }) {
            $e = $null
            try { & $call } catch { $e = $_ }
            $e | Should -Not -BeNullOrEmpty -Because "$call must not bind"
            $e.Exception | Should -BeOfType ([System.Management.Automation.ParameterBindingException])
            $e.FullyQualifiedErrorId | Should -Be 'AmbiguousParameterSet,FanotifyPS.Commands.GetFanotifyEventCommand'
        }
    }

    It 'bind in Start-FanotifyWatch also when none of them is given' {
        # Bound, the command goes on to resolve the path, which is missing: an error of its own, not of binding.
        foreach ($call in { Start-FanotifyWatch -Path "$TestDrive/missing" -Name 'no Path-set parameter' },
            { Start-FanotifyWatch -Path "$TestDrive/missing" -DenyUser root -AuditOnly }, { Start-FanotifyWatch -Path "$TestDrive/missing" -Scope Tree }) {
            $e = $null
            try { & $call } catch { $e = $_ }
            $e.FullyQualifiedErrorId | Should -Be 'PathNotFound,FanotifyPS.Commands.StartFanotifyWatchCommand' -Because "$call must bind"
        }
    }
}

Describe 'The parameters that start a watch, with a running watch' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'cannot be given to Get-FanotifyEvent with -Watch' {
        # In a child under a hard deadline: it starts a watch (notification events only).
        $pwsh = Get-PwshCommand
        $script = @"
Import-Module '$env:FANOTIFYPS_MODULE'
`$w = Start-FanotifyWatch -Path '$mount' -Event CloseWrite
try { Get-FanotifyEvent -Watch `$w -Scope Tree; 'bound' } catch { `$_.FullyQualifiedErrorId }
try { Get-FanotifyEvent -Watch `$w -BufferSize 10; 'bound' } catch { `$_.FullyQualifiedErrorId }
Remove-FanotifyWatch `$w
"@
        $run = Invoke-Bounded $pwsh.FilePath (@($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-Command', $script)) -TimeoutSeconds 60
        $run.ExitCode | Should -Be 0 -Because $run.Output
        @($run.Output -split "`n" | ForEach-Object Trim) | Should -Be @(
            'AmbiguousParameterSet,FanotifyPS.Commands.GetFanotifyEventCommand'
            'AmbiguousParameterSet,FanotifyPS.Commands.GetFanotifyEventCommand')
    }
}
