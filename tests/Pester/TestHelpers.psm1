# Helpers of the Pester tests: private tmpfs mounts, bounded external processes, child pwsh, fd counts.
# Every watch in the tests is placed on a tmpfs made here, never on / or on the repo's filesystem.

$script:MountRoot = '/tmp/fanotifyps-tests'

function New-TestMount {
    <# Mounts a fresh tmpfs under /tmp/fanotifyps-tests and returns its path. #>
    param([string] $Size = '64m')
    $null = New-Item -ItemType Directory -Path $script:MountRoot -Force
    $dir = Join-Path $script:MountRoot ([IO.Path]::GetRandomFileName())
    $null = New-Item -ItemType Directory -Path $dir
    & mount -t tmpfs -o "size=$Size" fanotifyps-test $dir
    if ($LASTEXITCODE -ne 0) { throw "mount -t tmpfs on $dir failed." }
    $dir
}

function Remove-TestMount {
    <# Unmounts (lazily if busy) and removes a mount made by New-TestMount or a bind mount. #>
    param([Parameter(Mandatory)] [string] $Path)
    if (-not (Test-Path $Path)) { return }
    & umount $Path 2>$null
    if ($LASTEXITCODE -ne 0) { & umount -l $Path 2>$null }
    Remove-Item $Path -Force -Recurse -ErrorAction Ignore
}

function Invoke-Bounded {
    <# Runs a program under a hard deadline (SIGKILL) and returns its exit code, output and duration. #>
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int] $TimeoutSeconds = 20
    )
    $watch = [Diagnostics.Stopwatch]::StartNew()
    $output = & timeout --signal=KILL $TimeoutSeconds $FilePath @ArgumentList 2>&1
    [pscustomobject]@{
        ExitCode = $LASTEXITCODE
        Output   = ($output | Out-String).TrimEnd()
        Seconds  = $watch.Elapsed.TotalSeconds
    }
}

function Start-Bounded {
    <# Starts a program in the background under a hard deadline (SIGKILL); returns the Process. #>
    param(
        [Parameter(Mandatory)] [string] $FilePath,
        [string[]] $ArgumentList = @(),
        [int] $TimeoutSeconds = 30
    )
    $info = [Diagnostics.ProcessStartInfo]::new('timeout')
    foreach ($a in @('--signal=KILL', "$TimeoutSeconds", $FilePath) + $ArgumentList) { $info.ArgumentList.Add($a) }
    $info.RedirectStandardOutput = $true
    $info.RedirectStandardError = $true
    $info.UseShellExecute = $false
    [Diagnostics.Process]::Start($info)
}

function Get-PwshCommand {
    <# The program and leading arguments that start another pwsh like this one (also under `dotnet pwsh`). #>
    $exe = [Environment]::ProcessPath
    $prefix = @()
    if ([IO.Path]::GetFileNameWithoutExtension($exe) -eq 'dotnet') {
        $prefix = @([Reflection.Assembly]::GetEntryAssembly().Location)
    }
    [pscustomobject]@{ FilePath = $exe; Prefix = $prefix }
}

function Get-LoadTool {
    <# The path of a compiled tests/tools program, e.g. openloop. #>
    param([Parameter(Mandatory)] [string] $Name)
    $path = Join-Path $env:FANOTIFYPS_TOOLS $Name
    if (-not (Test-Path $path)) { throw "Test tool $path is missing: run build.ps1 -Task Test." }
    $path
}

function Get-FdTarget {
    <# The targets of a process's open file descriptors. #>
    param([int] $ProcessId = $PID)
    foreach ($fd in Get-ChildItem "/proc/$ProcessId/fd" -ErrorAction Ignore) {
        try { [IO.File]::ResolveLinkTarget($fd.FullName, $false).FullName } catch { $null }
    }
}

function Get-FanotifyFdCount {
    param([int] $ProcessId = $PID)
    @(Get-FdTarget -ProcessId $ProcessId | Where-Object { $_ -like '*anon_inode:`[fanotify`]' }).Count
}

function Wait-Until {
    <# Polls a condition until it holds or the deadline passes; returns whether it held. #>
    param([Parameter(Mandatory)] [scriptblock] $Condition, [double] $TimeoutSeconds = 10)
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    do {
        if (& $Condition) { return $true }
        Start-Sleep -Milliseconds 50
    } while ([DateTime]::UtcNow -lt $deadline)
    [bool](& $Condition)
}

function Receive-UntilEvent {
    <#
    Reads a watch's events until one satisfies the predicate (or the deadline passes) and returns all
    that were read, so that a test can assert on the event it waited for and on what came with it.
    #>
    param(
        [Parameter(Mandatory)] $Watch,
        [Parameter(Mandatory)] [scriptblock] $Predicate,
        [double] $TimeoutSeconds = 10
    )
    $events = [Collections.Generic.List[object]]::new()
    $deadline = [DateTime]::UtcNow.AddSeconds($TimeoutSeconds)
    while ([DateTime]::UtcNow -lt $deadline) {
        foreach ($e in Get-FanotifyEvent -Watch $Watch -Timeout 0.2) {
            $events.Add($e)
        }
        if ($events | Where-Object $Predicate) { break }
    }
    , $events.ToArray()
}

function Start-ChildWatcher {
    <#
    Runs a script in a child pwsh that has imported the module under test, with $mount and $ready set. The
    script calls Send-Ready once its watch runs (it writes the pid through "$ready.tmp", so that the file never
    reads empty); this returns once it has. The child runs under a hard deadline (SIGKILL), so that a hung
    watcher always ends.
    #>
    param([Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] [string] $Script, [int] $TimeoutSeconds = 120,
        # A program (and its arguments) that runs the child pwsh, such as tests/tools/nofeature with its rules and --.
        [string[]] $Launcher = @())
    $ready = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-ready-$([guid]::NewGuid())"
    Set-Content -Path "$ready.ps1" -Value @"
`$ErrorActionPreference = 'Stop'
Import-Module '$env:FANOTIFYPS_MODULE'
`$mount = '$Mount'
`$ready = '$ready'
function Send-Ready { Set-Content "`$ready.tmp" `$PID; Move-Item "`$ready.tmp" `$ready }
$Script
"@
    $pwsh = Get-PwshCommand
    $command = @($Launcher) + @($pwsh.FilePath) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', "$ready.ps1")
    $child = Start-Bounded $command[0] @($command | Select-Object -Skip 1) -TimeoutSeconds $TimeoutSeconds
    if (-not (Wait-Until { Test-Path $ready } -TimeoutSeconds 60)) {
        $child.Kill($true)
        throw "The child watcher did not get ready: $($child.StandardError.ReadToEnd())"
    }
    $childPid = [int](Get-Content $ready -Raw)
    # Never signal pid 0 or 1: kill -STOP 0 would stop this test run's own process group.
    if ($childPid -le 1) { $child.Kill($true); throw "The child watcher reported pid '$childPid'." }
    [pscustomobject]@{ Process = $child; Pid = $childPid; Ready = $ready }
}

function Stop-ChildWatcher {
    <# Kills a child watcher if it still runs and removes its files. #>
    param([Parameter(Mandatory)] $Child)
    if (-not $Child.Process.HasExited) { $Child.Process.Kill($true) }
    Remove-Item "$($Child.Ready)*" -ErrorAction Ignore
}

function Invoke-InTerminal {
    <#
    Runs a script in a child pwsh, which has imported the module under test, on a terminal of a fixed size: a
    tmux pane on a tmux server of its own. Returns the lines the terminal shows once the script has ended (its
    scrollback included), as a user would see them. The child runs under a hard deadline (SIGKILL).
    The child's process group is one of its own, in the terminal's background (timeout(1) makes one, as under
    `timeout` in a shell script or in a job started with &): a change of the terminal's modes stops it with
    SIGTTOU. -Foreground runs it in the terminal's foreground process group instead, as at a shell prompt.
    -OutputLog names a file that gets every byte the child writes to the terminal, escape sequences included.
    #>
    param([Parameter(Mandatory)] [string] $Script, [int] $Columns = 80, [int] $Rows = 50, [int] $TimeoutSeconds = 60,
        [switch] $Foreground, [string] $OutputLog)
    $base = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-terminal-$([guid]::NewGuid().ToString('n'))"
    Set-Content -Path "$base.ps1" -Value @"
`$ErrorActionPreference = 'Stop'
Import-Module '$env:FANOTIFYPS_MODULE'
$Script
"@
    $pwsh = Get-PwshCommand
    $words = @('timeout') + @(if ($Foreground) { '--foreground' }) + @('--signal=KILL', "$TimeoutSeconds", $pwsh.FilePath) + @($pwsh.Prefix) + @('-NoProfile', '-NonInteractive', '-File', "$base.ps1")
    # The pane stays after the script, so that its screen can be read; "; touch" says the script has ended.
    $command = (($words | ForEach-Object { "'$_'" }) -join ' ') + "; touch '$base.done'; sleep $($TimeoutSeconds + 30)"
    $socket = Split-Path $base -Leaf
    $socketPath = $null
    try {
        & tmux -L $socket -f /dev/null new-session -d -x $Columns -y $Rows $command
        if ($LASTEXITCODE -ne 0) { throw "tmux did not start a $Columns-column terminal." }
        # Long before the child's pwsh has started and written anything.
        if ($OutputLog) { & tmux -L $socket pipe-pane -O "cat >> '$OutputLog'" }
        $socketPath = & tmux -L $socket display-message -p '#{socket_path}'
        if (-not (Wait-Until { Test-Path "$base.done" } -TimeoutSeconds ($TimeoutSeconds + 10))) {
            throw "The script in the terminal did not end within $TimeoutSeconds seconds."
        }
        @(& tmux -L $socket capture-pane -p -S - -E -)
    }
    finally {
        & tmux -L $socket kill-server 2>$null
        # A killed server leaves its socket file.
        if ($socketPath) { Remove-Item -LiteralPath $socketPath -ErrorAction Ignore }
        Remove-Item "$base.*" -ErrorAction Ignore
    }
}

function Get-ErrorFacts {
    <# The error of a call, as data (FullyQualifiedErrorId, category, message), or $null when it did not fail. #>
    param([Parameter(Mandatory)] [scriptblock] $Call)
    try { & $Call; $null }
    catch { [pscustomobject]@{ Id = $_.FullyQualifiedErrorId; Category = "$($_.CategoryInfo.Category)"; Message = $_.Exception.Message } }
}

function Set-Sysctl {
    <# Writes a /proc/sys value in one write() (Set-Content does not reach procfs handlers). #>
    param([Parameter(Mandatory)] [string] $Path, [Parameter(Mandatory)] [string] $Value)
    [IO.File]::WriteAllText($Path, "$Value`n")
    if ((Get-Content $Path -Raw).Trim() -ne $Value) { throw "Could not set $Path to $Value." }
}

Export-ModuleMember -Function *
