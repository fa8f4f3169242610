<#
.SYNOPSIS
    Builds, runs and tests FanotifyPS.
.DESCRIPTION
    -Task Build (default): build the module into out/FanotifyPS (what Import-Module takes and what ships).
    -Task Run:  build, import the module and stream the events of -Path's filesystem as a table until Ctrl+C.
    -Task Package: build, then write out/repository/FanotifyPS.<version>.nupkg, a PowerShell Gallery package
                (Publish-PSResource to a local folder repository).
    -Task Bench: build, then compare FanotifyPS with a C reference listener (bench/), print the table and
                the promises as ratios, write out/bench.json; then a soak of -SoakMinutes (tagged Slow work).
                -BenchRow Attribution,Exec runs only those rows (seconds, not the 25 minutes of the rest).
    -Task Test: build, then run the unit tests and the Pester tests (in a fresh child pwsh, against
                out/FanotifyPS, under a hard deadline); write out/TestResults/*.xml; the last line is
                "N passed, N failed, N skipped". Exits non-zero on any failure or when no test ran.
    -Task Check: what a normal user can check: build, the unit tests, and the Pester tests not tagged
                RequireRoot (help, conventions, parsing). Installs nothing and mounts nothing; same closing
                line and exit code as Test.
    Needs root for Run, Bench and Test (fanotify needs CAP_SYS_ADMIN; the tests mount tmpfs).
#>
[CmdletBinding()]
param(
    [ValidateSet('Build', 'Run', 'Test', 'Check', 'Bench', 'Package')]
    [string] $Task = 'Build',

    # Run: the directory whose filesystem is watched (default: the current directory).
    [string] $Path = $PWD.ProviderPath,

    # Test, Check: Pester tags to run or to leave out (Check always leaves out RequireRoot).
    [string[]] $Tag,
    [string[]] $ExcludeTag,

    # Test, Check: the hard deadline of the Pester run, after which its process is killed with SIGKILL.
    [int] $TestTimeoutMinutes = 30,

    # Bench: operations per workload run, and the minutes of the soak (0: none).
    [int] $Operations = 100000,
    [int] $SoakMinutes = 10,

    # Bench: run only these rows (Attribution, Exec: the attribution and exec-heavy rows), in seconds; default all.
    # Also as one comma-separated argument: `pwsh -File build.ps1 -Task Bench -BenchRow Attribution,Exec` (no space).
    [string[]] $BenchRow
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = $PSScriptRoot
$Out = Join-Path $Root 'out'
$ModuleOut = Join-Path $Out 'FanotifyPS'
$PesterVersion = '5.7.1'

function Invoke-Native {
    param([string] $Command, [string[]] $Arguments)
    & $Command @Arguments
    if ($LASTEXITCODE -ne 0) { throw "$Command $($Arguments -join ' ') failed with exit code $LASTEXITCODE." }
}

function Build-Module {
    $version = (Import-PowerShellDataFile (Join-Path $Root 'FanotifyPS.psd1')).ModuleVersion
    $project = Join-Path $Root 'src/FanotifyPS/FanotifyPS.csproj'
    $bin = Join-Path $Out 'bin/FanotifyPS'
    Invoke-Native dotnet @('build', $project, '-c', 'Release', '--nologo', '-v', 'quiet', "-p:Version=$version", '-o', $bin)

    $dll = Join-Path $bin 'FanotifyPS.dll'
    if (-not (Test-Path $dll)) { throw "The build did not produce $dll." }

    if (Test-Path $ModuleOut) { Remove-Item $ModuleOut -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $ModuleOut
    Copy-Item $dll, (Join-Path $bin 'FanotifyPS.pdb') -Destination $ModuleOut
    Copy-Item (Join-Path $Root 'FanotifyPS.psd1') -Destination $ModuleOut
    Copy-Item (Join-Path $Root 'src/FanotifyPS/FanotifyPS.format.ps1xml'), (Join-Path $Root 'src/FanotifyPS/FanotifyPS.types.ps1xml') -Destination $ModuleOut
    Build-Help
    Write-Host "Built FanotifyPS $version into $ModuleOut"
}

# A PowerShell Gallery compatible .nupkg of out/FanotifyPS, in a local folder repository.
function New-ModulePackage {
    $repository = Join-Path $Out 'repository'
    if (Test-Path $repository) { Remove-Item $repository -Recurse -Force }
    $null = New-Item -ItemType Directory -Path $repository
    $name = "FanotifyPSBuild$PID"
    Register-PSResourceRepository -Name $name -Uri $repository -Trusted
    try {
        Publish-PSResource -Path $ModuleOut -Repository $name
    }
    finally {
        Unregister-PSResourceRepository -Name $name
    }
    $package = Get-ChildItem $repository -Filter 'FanotifyPS.*.nupkg'
    if (-not $package) { throw "Publish-PSResource wrote no package into $repository." }
    Write-Host "Packaged $($package.FullName)"
    $repository
}

# docs/help (platyPS markdown) -> en-US/FanotifyPS.dll-Help.xml and about_FanotifyPS.help.txt: with platyPS where
# it is installed, else with the project's own compiler (tools/HelpCompiler: Markdig and YamlDotNet).
function Build-Help {
    $source = Join-Path $Root 'docs/help'
    $target = Join-Path $ModuleOut 'en-US'
    if (Get-Module -ListAvailable platyPS) {
        Import-Module platyPS
        $null = New-ExternalHelp -Path $source -OutputPath $target -Force
        return
    }
    Invoke-Native dotnet @('run', '--project', (Join-Path $Root 'tools/HelpCompiler'), '-c', 'Release', '-v', 'quiet', '--', $source, $target)
}

function Assert-Root {
    if ((id -u) -ne '0') { throw 'fanotify needs root (or CAP_SYS_ADMIN): run this as root.' }
}

# What the tests run besides pwsh: a C compiler for the test load programs, util-linux's setpriv and mount,
# mkfs.ext4 for the loop-mounted ext4 image, sshd for the remoting test (run on 127.0.0.1 by the test itself),
# gdb for the fault test that closes a watcher's fanotify descriptor under it, fatrace as the attribution test's
# and benchmark's peer, tmux for the event table on terminals of a fixed size and for the Ctrl+Z tests (a
# terminal where an interactive bash runs `dotnet pwsh`), vim as an editor of the attribution load test.
function Install-TestPrerequisite {
    $missing = @()
    if (-not (Get-Command cc -ErrorAction Ignore)) { $missing += 'gcc', 'libc6-dev' }
    if (-not (Get-Command setpriv -ErrorAction Ignore)) { $missing += 'util-linux' }
    if (-not (Get-Command mount -ErrorAction Ignore)) { $missing += 'mount' }
    if (-not (Get-Command timeout -ErrorAction Ignore)) { $missing += 'coreutils' }
    if (-not (Get-Command mkfs.ext4 -ErrorAction Ignore)) { $missing += 'e2fsprogs' }
    if (-not (Get-Command mksquashfs -ErrorAction Ignore)) { $missing += 'squashfs-tools' }
    if (-not (Get-Command script -ErrorAction Ignore)) { $missing += 'bsdutils' }   # script(1): a pseudo-terminal for the Ctrl+Z warning test
    if (-not (Get-Command tmux -ErrorAction Ignore)) { $missing += 'tmux' }   # terminals of a fixed size: the view tests, the Ctrl+Z tests
    if (-not (Get-Command getent -ErrorAction Ignore)) { $missing += 'libc-bin' }
    if (-not (Test-Path /usr/sbin/sshd)) { $missing += 'openssh-server' }
    if (-not (Get-Command ssh-keygen -ErrorAction Ignore)) { $missing += 'openssh-client' }
    if (-not (Get-Command ss -ErrorAction Ignore)) { $missing += 'iproute2' }
    if (-not (Get-Command gdb -ErrorAction Ignore)) { $missing += 'gdb' }
    if (-not (Get-Command fatrace -ErrorAction Ignore)) { $missing += 'fatrace' }
    if (-not (Get-Command vim -ErrorAction Ignore)) { $missing += 'vim' }   # the attribution load test's editor (vim -> vim.basic)
    if ($missing) {
        if (-not (Get-Command apt-get -ErrorAction Ignore)) { throw "The tests need these packages: $($missing -join ', ')." }
        Write-Host "Installing test prerequisites: $($missing -join ', ')"
        $env:DEBIAN_FRONTEND = 'noninteractive'
        Invoke-Native apt-get @('update', '-qq')
        Invoke-Native apt-get (@('install', '-y', '-qq', '--no-install-recommends') + $missing)
    }
}

function Get-PesterModule {
    $packages = Join-Path $Out 'packages'
    Invoke-Native dotnet @('restore', (Join-Path $Root 'tests/TestDependencies.csproj'), '--packages', $packages, '--nologo', '-v', 'quiet')
    $manifest = Join-Path $packages "pester/$PesterVersion/tools/Pester.psd1"
    if (-not (Test-Path $manifest)) { throw "Pester $PesterVersion was not restored to $manifest." }
    $manifest
}

function Build-CTool {
    param([string] $From = 'tests/tools', [string] $To = 'test-tools')
    $tools = Join-Path $Out $To
    $null = New-Item -ItemType Directory -Path $tools -Force
    foreach ($source in Get-ChildItem (Join-Path $Root $From) -Filter *.c) {
        Invoke-Native cc @('-O2', '-Wall', '-Werror', '-pthread', '-o', (Join-Path $tools $source.BaseName), $source.FullName)
    }
}

function Invoke-UnitTest {
    $results = Join-Path $Out 'TestResults'
    $trx = Join-Path $results 'unit.trx'
    Remove-Item $trx -ErrorAction Ignore
    & dotnet test (Join-Path $Root 'tests/FanotifyPS.Tests/FanotifyPS.Tests.csproj') -c Release --nologo -v quiet `
        --logger "trx;LogFileName=$trx" --results-directory $results | Out-Host
    if (-not (Test-Path $trx)) { return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }
    $counters = ([xml](Get-Content $trx -Raw)).TestRun.ResultSummary.Counters
    [pscustomobject]@{
        Passed  = [int]$counters.passed
        Failed  = [int]$counters.failed + [int]$counters.error + [int]$counters.timeout + [int]$counters.aborted
        Skipped = [int]$counters.notExecuted
    }
}

function Invoke-PesterTest {
    param([string] $PesterManifest, [string[]] $ExcludeTag)
    $summary = Join-Path $Out 'TestResults/pester-summary.json'
    Remove-Item $summary -ErrorAction Ignore
    $runner = Join-Path $Root 'tests/Pester/Invoke-PesterTests.ps1'
    $pwshArgs = @('-NoProfile', '-NonInteractive', '-File', $runner,
        '-ModulePath', $ModuleOut, '-PesterPath', $PesterManifest, '-ToolPath', (Join-Path $Out 'test-tools'),
        '-ResultPath', (Join-Path $Out 'TestResults/pester.xml'), '-SummaryPath', $summary)
    if ($Tag) { $pwshArgs += @('-Tag', ($Tag -join ',')) }
    if ($ExcludeTag) { $pwshArgs += @('-ExcludeTag', ($ExcludeTag -join ',')) }

    # A fresh pwsh (an assembly cannot be unloaded), killed with SIGKILL at the deadline: a watcher that
    # hangs is released only by a fatal signal, and its death allows every pending permission event.
    $pwsh = [Environment]::ProcessPath
    $entry = [System.Reflection.Assembly]::GetEntryAssembly().Location
    $prefix = @(if ([IO.Path]::GetFileNameWithoutExtension($pwsh) -eq 'dotnet') { $entry })
    & timeout --signal=KILL "$($TestTimeoutMinutes * 60)" $pwsh @prefix @pwshArgs | Out-Host
    $exit = $LASTEXITCODE
    if ($exit -eq 137) { Write-Host "The Pester run passed its deadline of $TestTimeoutMinutes minutes and was killed." }
    if (-not (Test-Path $summary)) { return [pscustomobject]@{ Passed = 0; Failed = 1; Skipped = 0 } }
    Get-Content $summary -Raw | ConvertFrom-Json
}

# The closing line of Test and Check, "N passed, N failed, N skipped"; exits 1 on a failure or when no test ran.
function Write-TestSummary {
    param($Unit, $Integration)
    $passed = $Unit.Passed + $Integration.Passed
    $failed = $Unit.Failed + $Integration.Failed
    $skipped = $Unit.Skipped + $Integration.Skipped
    Write-Host "unit: $($Unit.Passed) passed, $($Unit.Failed) failed; Pester: $($Integration.Passed) passed, $($Integration.Failed) failed, $($Integration.Skipped) skipped"
    Write-Host "$passed passed, $failed failed, $skipped skipped"
    if ($failed -gt 0 -or $passed -eq 0) { exit 1 }
}

switch ($Task) {
    'Build' {
        Build-Module
    }
    'Run' {
        Assert-Root
        Build-Module
        Import-Module $ModuleOut -Force
        Write-Host "Watching the filesystem of $Path (OpenPerm, CloseWrite). Ctrl+C stops."
        Get-FanotifyEvent -Path $Path | Format-Table
    }
    'Package' {
        Build-Module
        $null = New-ModulePackage
    }
    'Bench' {
        Assert-Root
        Build-Module
        Install-TestPrerequisite
        Build-CTool -From 'bench' -To 'bench-tools'
        $only = @($BenchRow -split ',' | ForEach-Object { $_.Trim() } | Where-Object { $_ })
        foreach ($row in $only) { if ($row -notin 'Attribution', 'Exec') { throw "-BenchRow takes Attribution and Exec, not '$row'." } }
        & (Join-Path $Root 'bench/Invoke-Benchmark.ps1') -ModulePath $ModuleOut -ToolPath (Join-Path $Out 'bench-tools') `
            -OutFile (Join-Path $Out 'bench.json') -Operations $Operations -SoakMinutes $SoakMinutes -Only $only
    }
    'Test' {
        Assert-Root
        Build-Module
        $env:FANOTIFYPS_REPOSITORY = New-ModulePackage
        Install-TestPrerequisite
        $pester = Get-PesterModule
        Build-CTool
        $unit = Invoke-UnitTest
        $integration = Invoke-PesterTest -PesterManifest $pester -ExcludeTag $ExcludeTag
        Write-TestSummary $unit $integration
    }
    'Check' {
        # No Assert-Root, no Install-TestPrerequisite, no package, no C tools: the RequireRoot tests need those.
        Build-Module
        $pester = Get-PesterModule
        $unit = Invoke-UnitTest
        $integration = Invoke-PesterTest -PesterManifest $pester -ExcludeTag (@($ExcludeTag) + 'RequireRoot' | Where-Object { $_ })
        Write-TestSummary $unit $integration
    }
}
