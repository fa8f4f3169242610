# The attribution proof harness (issue 13): a workload of short-lived programs whose file names say which
# program acted on them, FanotifyPS and fatrace watching it at once, and a judge that scores each tool's events
# as right, wrong or missing program. Used by tests/Pester/Attribution.Tests.ps1 and by the benchmark.
#
# Safety: the watch is on a tmpfs the caller mounted, in a child pwsh under a hard deadline (SIGKILL); the
# stopped mode (SIGSTOP while the workload runs) takes notification events only, and the workload's commands
# never depend on a watcher answering.

Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot '../../Pester/TestHelpers.psm1')

# The workload's directories on the watched tmpfs. Each holds the files of one program; in bash/ and mv/ the
# event says which of two (bash creates w.N, mv moves it to mv/m.N, rm deletes it). fatrace reports only the
# directory of a directory-entry event, so that a directory and an event kind must name one program.
$script:Layout = [ordered]@{
    'bash'        = @{ Name = '^w\.\d+$'; Program = 'bash'; Kind = @{ Rename = 'mv'; MovedFrom = 'mv'; MoveSelf = 'mv' } }
    # rm's unlink drops m.N's link count: an Attrib by rm. An fd event read after the rename names the file
    # by its name then (mv/m.N, deleted): it is bash's write of w.N, as mv and rm open nothing.
    'mv'          = @{ Name = '^m\.\d+$'; Program = 'bash'; Kind = @{ Rename = 'mv'; MovedTo = 'mv'; MoveSelf = 'mv'; Delete = 'rm'; DeleteSelf = 'rm'; Attrib = 'rm' } }
    'cat'         = @{ Name = '^r$'; Program = 'cat' }
    'cp'          = @{ Name = '^(s|c\.\d+)$'; Program = 'cp' }
    'touch'       = @{ Name = '^t\.\d+$'; Program = 'touch' }
    'sub'         = @{ Name = '^sub\.\d+\.\d+\.\d+$'; Program = 'bash' }
    'script'      = @{ Name = '^x\.\d+$'; Program = 'script' }
    'static'      = @{ Name = '^f\.\d+$'; Program = 'static' }
    'ontmpfs'     = @{ Name = '^f\.\d+$'; Program = 'tmpwriter' }
    'deleted'     = @{ Name = '^f\.\d+$'; Program = 'deleted' }
    'reuse-tee'   = @{ Name = '^tee\.\d+\.\d+$'; Program = 'tee' }
    'reuse-touch' = @{ Name = '^touch\.\d+\.\d+$'; Program = 'touch' }
}

# The special cases of issue 13, each a set of the judged events (Case), so that each can be asserted alone.
$script:Cases = [ordered]@{
    'exec-last-command'     = 'rm deletes mv/m.N, exec''d in place of bash -c (same pid)'
    'dash-exec'             = 'sh -c "cat r": dash execs cat'
    'subshell'              = 'a forked subshell without exec: bash, with the outer bash as ParentProcessId'
    'script'                = 'a #!/bin/sh script: its program is dash (/proc/PID/exe), its comm the script''s name'
    'static'                = 'a static binary'
    'program-on-tmpfs'      = 'a program living on the watched tmpfs'
    'program-on-usr'        = 'a program on another filesystem (/usr/bin/touch)'
    'deleted-while-running' = 'a program deleted while it runs'
    'pid-reuse'             = 'two processes with the same pid one after the other (tee, then touch)'
}

$script:Classes = @{
    OpenPerm = 'permission'; AccessPerm = 'permission'; OpenExecPerm = 'permission'
    Open = 'fd'; CloseWrite = 'fd'; CloseNoWrite = 'fd'; Modify = 'fd'; Access = 'fd'; OpenExec = 'fd'
    Create = 'entry'; Delete = 'entry'; Rename = 'entry'; MovedFrom = 'entry'; MovedTo = 'entry'
    Attrib = 'inode'; DeleteSelf = 'inode'; MoveSelf = 'inode'
}

# fatrace's letters (fatrace(8)): O open, R read, W write, C close; + create, D delete, < > move.
$script:FatraceKinds = @{ 'O' = 'Open'; 'R' = 'Access'; 'W' = 'Modify'; 'C' = 'CloseWrite'; '+' = 'Create'; 'D' = 'Delete'; '<' = 'MovedFrom'; '>' = 'MovedTo' }

function New-AttributionTool {
    <#
    Compiles the workload's C helpers into WorkPath (on another filesystem than the watched one), writes its
    #! script and its fifo, and returns their paths and the expected program of each key (Exe as
    /proc/PID/exe shows it, Comm as /proc/PID/comm does).
    #>
    param([Parameter(Mandatory)] [string] $WorkPath)
    $null = New-Item -ItemType Directory -Path $WorkPath -Force
    $source = $PSScriptRoot
    function Build([string[]] $Arguments) {
        $output = & cc @Arguments 2>&1
        if ($LASTEXITCODE -ne 0) { throw "cc $($Arguments -join ' ') failed: $output" }
    }
    Build @('-O2', '-Wall', '-Werror', '-o', "$WorkPath/attrwriter", "$source/attrwriter.c")
    Build @('-O2', '-Wall', '-Werror', '-o', "$WorkPath/attrreuse", "$source/attrreuse.c")
    # A static binary needs libc.a (libc6-dev); without it the case is run with a dynamic copy and says so.
    & cc -O2 -Wall -Werror -static -o "$WorkPath/statwriter" "$source/attrwriter.c" 2>$null
    $static = $LASTEXITCODE -eq 0
    if (-not $static) { Copy-Item "$WorkPath/attrwriter" "$WorkPath/statwriter" }
    Set-Content -Path "$WorkPath/shscript" -Value "#!/bin/sh`necho z > `"`$1`"" -NoNewline
    & chmod +x "$WorkPath/shscript"
    Remove-Item "$WorkPath/fifo" -ErrorAction Ignore
    & mkfifo "$WorkPath/fifo"
    if ($LASTEXITCODE -ne 0) { throw "mkfifo $WorkPath/fifo failed." }

    function Resolve-Program([string] $Name) { (& readlink -f (Get-Command $Name -CommandType Application | Select-Object -First 1).Source) }
    $programs = @{}
    foreach ($name in 'bash', 'mv', 'rm', 'cat', 'cp', 'touch', 'tee') {
        $programs[$name] = [pscustomobject]@{ Exe = Resolve-Program $name; Comm = $name }
    }
    $programs['script'] = [pscustomobject]@{ Exe = (& readlink -f /bin/sh); Comm = 'shscript' }
    $programs['static'] = [pscustomobject]@{ Exe = "$WorkPath/statwriter"; Comm = 'statwriter' }
    [pscustomobject]@{
        WorkPath = $WorkPath
        Workload = Join-Path $source 'workload.sh'
        IsStatic = $static
        Programs = $programs
    }
}

function New-AttributionLayout {
    <# Makes the workload's directories and input files on the mount, before any watch starts. #>
    param([Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] $Tool)
    foreach ($dir in @($script:Layout.Keys) + 'bin') { $null = New-Item -ItemType Directory -Path (Join-Path $Mount $dir) -Force }
    Set-Content -Path "$Mount/cat/r" -Value 'r'
    Set-Content -Path "$Mount/cp/s" -Value 's'
    Copy-Item "$($Tool.WorkPath)/attrwriter" "$Mount/bin/tmpwriter"
}

function Invoke-AttributionWorkload {
    <# Runs the workload (tests/tools/attribution/workload.sh) under a hard deadline; returns its pid-reuse pairs. #>
    param([Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] $Tool, [int] $Iterations = 200, [int] $TimeoutSeconds = 120)
    $clock = [Diagnostics.Stopwatch]::StartNew()
    $errorFile = "$($Tool.WorkPath)/workload.err"
    $lines = & timeout --signal=KILL $TimeoutSeconds bash $Tool.Workload $Mount $Tool.WorkPath $Iterations 2>$errorFile
    $exit = $LASTEXITCODE
    $seconds = $clock.Elapsed.TotalSeconds
    $errors = (Get-Content $errorFile -Raw -ErrorAction Ignore) + ''
    if ($exit -ne 0 -or $errors.Trim()) { throw "The attribution workload failed (exit $exit): $errors" }
    [pscustomobject]@{
        Iterations = $Iterations
        Seconds    = [math]::Round($seconds, 2)
        Pairs      = @($lines | Where-Object { $_ -like '{*' } | ConvertFrom-Json)
    }
}

function Get-AttributionExpectation {
    <#
    The program expected for an event kind on a path of the mount: an object with Case, Key, Exe and Comm, or
    $null when the path is none of the workload's files. With -DirectoryOnly the path is a directory (fatrace's
    directory-entry events name no file): the expectation then rests on the directory and the kind alone.
    #>
    param(
        [Parameter(Mandatory)] [string] $Path,
        [Parameter(Mandatory)] [string] $Kind,
        [Parameter(Mandatory)] [string] $Mount,
        [Parameter(Mandatory)] $Tool,
        [switch] $DirectoryOnly
    )
    $prefix = $Mount.TrimEnd('/') + '/'
    if (-not $Path.StartsWith($prefix, [StringComparison]::Ordinal)) { return $null }
    $relative = $Path.Substring($prefix.Length)
    if ($DirectoryOnly) { $dir = $relative; $name = $null }
    else {
        $slash = $relative.IndexOf('/')
        if ($slash -lt 0) { return $null }
        $dir = $relative.Substring(0, $slash); $name = $relative.Substring($slash + 1)
    }
    if (-not $script:Layout.Contains($dir)) { return $null }
    $entry = $script:Layout[$dir]
    if ($null -ne $name -and $name -notmatch $entry.Name) { return $null }
    $key = $entry.Program
    if ($entry.ContainsKey('Kind') -and $entry.Kind.ContainsKey($Kind)) { $key = $entry.Kind[$Kind] }
    if (-not $key) { return [pscustomobject]@{ Case = 'unexpected'; Key = $null; Exe = $null; Comm = $null } }

    $case = switch ($dir) {
        'mv' { if ($key -eq 'rm') { 'exec-last-command' } else { $key } }
        'cat' { 'dash-exec' }
        'sub' { 'subshell' }
        'script' { 'script' }
        'static' { 'static' }
        'ontmpfs' { 'program-on-tmpfs' }
        'touch' { 'program-on-usr' }
        'deleted' { 'deleted-while-running' }
        { $_ -like 'reuse-*' } { 'pid-reuse' }
        default { $dir }
    }
    switch ($key) {
        'tmpwriter' { $exe = "$Mount/bin/tmpwriter"; $comm = 'tmpwriter' }
        'deleted' {
            # Each run of the deleted program is its own copy, delw.N, for f.N; fatrace's directory events give
            # no N, so that only the form of the comm can be checked there.
            if ($null -ne $name) { $n = $name.Substring(2); $exe = "$($Tool.WorkPath)/delw.$n"; $comm = "delw.$n" }
            else { $exe = $null; $comm = '^delw\.\d+$' }
        }
        default { $exe = $Tool.Programs[$key].Exe; $comm = $Tool.Programs[$key].Comm }
    }
    [pscustomobject]@{ Case = $case; Key = $key; Exe = $exe; Comm = $comm; Name = $name }
}

function Get-EventKind {
    <# The kinds (FanotifyEventType names) of an event's Event text: merged kernel events carry several. #>
    param([string] $Event)
    @($Event -split ',\s*' | Where-Object { $_ })
}

function New-Tally { [ordered]@{ Events = 0; Right = 0; Wrong = 0; Missing = 0; NameNamed = 0; NameWrong = 0 } }

function Add-Tally($tally, [string] $verdict, [string] $nameVerdict) {
    $tally.Events++
    $tally[$verdict]++
    if ($nameVerdict -ne 'Missing') { $tally.NameNamed++ }
    if ($nameVerdict -eq 'Wrong') { $tally.NameWrong++ }
}

function Test-Comm([string] $Actual, [string] $Expected) {
    if ($Expected.StartsWith('^')) { return $Actual -cmatch $Expected }
    $Actual -ceq $Expected
}

function Measure-FanotifyAttribution {
    <#
    Judges FanotifyPS events (objects with Event, Path, OldPath, NewPath, Exe, ProcessName, ProcessId,
    ParentProcessId, and ProcessStartTime if the module has it) against the workload. Returns the tallies per
    event class and per special case, what was not the workload's (Other), the overflows, and the wrong events.
    #>
    param([Parameter(Mandatory)] [object[]] $Event, [Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] $Tool, $Workload,
        # Read after the second life of a reused pid was forked (always in the Stopped mode; when the reader lags in
        # the others), which life raised the events between the two execs is knowable only if the first life's exit
        # is ahead of them in the batch; the kernel merges an unread exit into the exec event. The first life's
        # events named none are counted apart (Unknowable), out of every tally; named wrong, they count as wrong.
        [switch] $EarlierLifeUnknowable)
    $classes = [ordered]@{}
    $cases = [ordered]@{}
    foreach ($c in $script:Cases.Keys) { $cases[$c] = New-Tally }
    $other = 0; $overflows = 0; $unexpected = 0; $unexpectedKinds = @{}; $unknowable = 0
    $wrong = [Collections.Generic.List[object]]::new()
    $missing = [Collections.Generic.List[object]]::new()
    $subshellBad = [Collections.Generic.List[object]]::new()
    $byFile = @{}
    $hasStartTime = $false
    foreach ($e in $Event) {
        $kinds = @(Get-EventKind "$($e.Event)")
        if ($kinds -contains 'Overflow') { $overflows++; continue }
        $kind = $kinds[0]
        $path = "$($e.Path)"
        # A rename is the renamer's: judge it on its old path (bash/w.N: mv), as a MovedFrom would be.
        if ($kind -eq 'Rename' -and "$($e.OldPath)") { $path = "$($e.OldPath)" }
        $expected = Get-AttributionExpectation -Path $path -Kind $kind -Mount $Mount -Tool $Tool
        if (-not $expected) { $other++; continue }
        if ($expected.Case -eq 'unexpected') { $unexpected++; $unexpectedKinds["$($e.Event) $([IO.Path]::GetFileName([IO.Path]::GetDirectoryName($path)))/"]++; continue }
        $class = $script:Classes[$kind]
        if (-not $class) { $class = 'other' }
        $exe = "$($e.Exe)"
        $verdict = if (-not $exe) { 'Missing' } elseif ($exe -ceq $expected.Exe -or $exe -ceq "$($expected.Exe) (deleted)") { 'Right' } else { 'Wrong' }
        $name = "$($e.ProcessName)"
        # ProcessName is comm; the basename of the program is accepted too (a #! script's comm is the script's).
        $nameVerdict = if (-not $name) { 'Missing' } elseif ((Test-Comm $name $expected.Comm) -or $name -ceq [IO.Path]::GetFileName($expected.Exe)) { 'Right' } else { 'Wrong' }
        if ($expected.Case -eq 'subshell' -and $verdict -eq 'Right') {
            # sub.N.OUTER.SUB: $$ of the outer bash and $BASHPID of the subshell.
            $parts = $expected.Name.Split('.')
            if ("$($e.ProcessId)" -ne $parts[3] -or "$($e.ParentProcessId)" -ne $parts[2]) {
                $verdict = 'Wrong'
                $subshellBad.Add([pscustomobject]@{ Path = $path; ProcessId = $e.ProcessId; ParentProcessId = $e.ParentProcessId; Expected = "pid $($parts[3]), parent $($parts[2])" })
            }
        }
        if ($EarlierLifeUnknowable -and $verdict -eq 'Missing' -and $expected.Case -eq 'pid-reuse' -and $path -like "$Mount/reuse-tee/*") {
            $unknowable++
            $byFile[$path] = [pscustomobject]@{ Verdict = 'Unknowable'; ProcessId = "$($e.ProcessId)"; StartTime = $null }
            continue
        }
        if (-not $classes.Contains($class)) { $classes[$class] = New-Tally }
        Add-Tally $classes[$class] $verdict $nameVerdict
        if ($cases.Contains($expected.Case)) { Add-Tally $cases[$expected.Case] $verdict $nameVerdict }
        if ($verdict -eq 'Wrong' -or $nameVerdict -eq 'Wrong') {
            $wrong.Add([pscustomobject]@{ Event = "$($e.Event)"; Path = $path; ProcessId = $e.ProcessId; Exe = $exe; ProcessName = $name; ExpectedExe = $expected.Exe; ExpectedComm = $expected.Comm })
        }
        if ($verdict -eq 'Missing') {
            $missing.Add([pscustomobject]@{ Event = "$($e.Event)"; Path = $path; ProcessId = $e.ProcessId; ProcessName = $name; ExpectedExe = $expected.Exe; Case = $expected.Case })
        }
        if ($expected.Case -eq 'pid-reuse') {
            # To the tick (the two lives start milliseconds apart); an event that does not know it keeps what another said.
            $start = $null
            if ($e.PSObject.Properties['ProcessStartTimeIso']) { $hasStartTime = $true; $start = "$($e.ProcessStartTimeIso)" }
            if (-not $start -and $byFile[$path]) { $start = $byFile[$path].StartTime }
            $byFile[$path] = [pscustomobject]@{ Verdict = $verdict; ProcessId = "$($e.ProcessId)"; StartTime = $start }
        }
    }
    [pscustomobject]@{
        Tool       = 'FanotifyPS'
        Classes    = $classes
        Cases      = $cases
        Other      = $other
        Unexpected = $unexpected
        UnexpectedKinds = $unexpectedKinds
        Overflows  = $overflows
        Unknowable = $unknowable
        Wrong      = $wrong.ToArray()
        Missing    = $missing.ToArray()
        Subshell   = $subshellBad.ToArray()
        PidReuse   = Measure-PidReuse -ByFile $byFile -Mount $Mount -Workload $Workload -HasStartTime $hasStartTime
    }
}

function Measure-PidReuse {
    <# For each pair of attrreuse that got the same pid twice: were both programs right, and their start times different? #>
    param($ByFile, [string] $Mount, $Workload, [bool] $HasStartTime)
    $pairs = @(if ($Workload) { $Workload.Pairs })
    $reused = @($pairs | Where-Object { $_.first -eq $_.second })
    $bothRight = 0; $firstUnknowable = 0; $differentStart = 0; $sameStart = 0; $seen = 0
    foreach ($p in $reused) {
        $tee = $ByFile["$Mount/reuse-tee/tee.$($p.i).$($p.first)"]
        $touch = $ByFile["$Mount/reuse-touch/touch.$($p.i).$($p.second)"]
        if (-not $tee -or -not $touch) { continue }
        $seen++
        if ($tee.Verdict -eq 'Right' -and $touch.Verdict -eq 'Right' -and $tee.ProcessId -eq "$($p.first)" -and $touch.ProcessId -eq "$($p.first)") { $bothRight++ }
        if ($tee.Verdict -eq 'Unknowable' -and $touch.Verdict -eq 'Right' -and $touch.ProcessId -eq "$($p.first)") { $firstUnknowable++ }
        if ($HasStartTime -and $tee.StartTime -and $touch.StartTime -and $tee.StartTime -ne $touch.StartTime) { $differentStart++ }
        if ($HasStartTime -and $tee.StartTime -and $touch.StartTime -and $tee.StartTime -eq $touch.StartTime) { $sameStart++ }
    }
    [pscustomobject]@{
        Pairs = $pairs.Count; Reused = $reused.Count; Seen = $seen; BothRight = $bothRight; FirstUnknowable = $firstUnknowable
        HasStartTime = $HasStartTime; DifferentStartTime = $differentStart; SameStartTime = $sameStart
    }
}

function Read-FatraceLog {
    <# fatrace's lines, "comm(pid): TYPES path", as objects; lines it could not give a path ("device M:N inode I") are kept with an empty Path. #>
    param([Parameter(Mandatory)] [string] $Path)
    foreach ($line in [IO.File]::ReadLines($Path)) {
        if ($line -match '^(?<comm>.*)\((?<pid>\d+)\): (?<types>[A-Z+<>]+)\s+(?<path>.*)$') {
            $file = $Matches.path
            [pscustomobject]@{ Comm = $Matches.comm; ProcessId = [int]$Matches.pid; Types = $Matches.types; Path = $(if ($file.StartsWith('/')) { $file } else { '' }) }
        }
    }
}

function Measure-FatraceAttribution {
    <#
    Judges fatrace's lines against the workload by comm (fatrace reads /proc/PID/comm when it reads the event,
    and prints "unknown" when the process is gone: that counts as missing). A line is one kernel event, with
    its merged letters; its class is that of its letters (fd: O R W C; entry: + D < >).
    #>
    param([Parameter(Mandatory)] [AllowEmptyCollection()] [object[]] $Line, [Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] $Tool)
    $classes = [ordered]@{}
    $cases = [ordered]@{}
    foreach ($c in $script:Cases.Keys) { $cases[$c] = New-Tally }
    $other = 0; $unexpected = 0
    $wrong = [Collections.Generic.List[object]]::new()
    foreach ($l in $Line) {
        if (-not $l.Path) { $other++; continue }
        $letters = @($l.Types.ToCharArray() | ForEach-Object { "$_" })
        $entryLetters = @($letters | Where-Object { $_ -in '+', 'D', '<', '>' })
        $isEntry = $entryLetters.Count -gt 0
        $kind = $script:FatraceKinds[$(if ($isEntry) { $entryLetters[0] } else { $letters[0] })]
        $expected = Get-AttributionExpectation -Path $l.Path -Kind $kind -Mount $Mount -Tool $Tool -DirectoryOnly:$isEntry
        if (-not $expected) { $other++; continue }
        if ($expected.Case -eq 'unexpected') { $unexpected++; continue }
        $class = if ($isEntry) { 'entry' } else { 'fd' }
        $verdict = if ($l.Comm -eq 'unknown' -or -not $l.Comm) { 'Missing' } elseif (Test-Comm $l.Comm $expected.Comm) { 'Right' } else { 'Wrong' }
        if (-not $classes.Contains($class)) { $classes[$class] = New-Tally }
        Add-Tally $classes[$class] $verdict $verdict
        if ($cases.Contains($expected.Case)) { Add-Tally $cases[$expected.Case] $verdict $verdict }
        if ($verdict -eq 'Wrong') { $wrong.Add([pscustomobject]@{ Types = $l.Types; Path = $l.Path; ProcessId = $l.ProcessId; Comm = $l.Comm; ExpectedComm = $expected.Comm }) }
    }
    [pscustomobject]@{ Tool = 'fatrace'; Classes = $classes; Cases = $cases; Other = $other; Unexpected = $unexpected; Overflows = $null; Wrong = $wrong.ToArray() }
}

function Get-ChildPid([int] $ProcessId) {
    foreach ($task in Get-ChildItem "/proc/$ProcessId/task" -ErrorAction Ignore) {
        foreach ($c in ((Get-Content "$($task.FullName)/children" -Raw -ErrorAction Ignore) + '').Split(' ', [StringSplitOptions]::RemoveEmptyEntries)) { [int]$c }
    }
}

function Test-FanotifyMarked([int] $ProcessId) {
    <# Whether a process holds a fanotify group with a mark (its fdinfo lists "fanotify ino:/mnt_id:/sdev:" lines). #>
    foreach ($fd in Get-ChildItem "/proc/$ProcessId/fdinfo" -ErrorAction Ignore) {
        $text = Get-Content $fd.FullName -Raw -ErrorAction Ignore
        if ($text -and $text -match '(?m)^fanotify (ino|mnt_id|sdev):') { return $true }
    }
    $false
}

function Start-Fatrace {
    <# fatrace on the mount (-c: the mount of its current directory), writing to LogPath, under a hard deadline. #>
    param([Parameter(Mandatory)] [string] $Mount, [Parameter(Mandatory)] [string] $LogPath, [int] $TimeoutSeconds = 120)
    if (-not (Get-Command fatrace -ErrorAction Ignore)) { throw 'fatrace is not installed (build.ps1 -Task Test installs it).' }
    # The letters FanotifyPS's watch is given too: open, close; create, delete, move.
    $process = Start-Bounded sh @('-c', "cd '$Mount' && exec fatrace -c -f 'OC+D<' -o '$LogPath'") -TimeoutSeconds $TimeoutSeconds
    $ready = Wait-Until {
        $script:found = @(Get-ChildPid $process.Id | Where-Object { ((Get-Content "/proc/$_/comm" -ErrorAction Ignore) + '') -eq 'fatrace' })
        $script:found.Count -gt 0 -and (Test-FanotifyMarked $script:found[0])
    } -TimeoutSeconds 20
    if (-not $ready) {
        if (-not $process.HasExited) { $process.Kill($true) }
        throw "fatrace did not start: $($process.StandardError.ReadToEnd())"
    }
    $fatracePid = $script:found[0]
    [pscustomobject]@{ Process = $process; Pid = $fatracePid; LogPath = $LogPath }
}

function Stop-Fatrace {
    <# SIGINT (fatrace then flushes its output file and exits), SIGKILL after 10 seconds. #>
    param([Parameter(Mandatory)] $Fatrace)
    if ($Fatrace.Process.HasExited) { return }
    & kill -CONT $Fatrace.Pid 2>$null
    & kill -INT $Fatrace.Pid 2>$null
    if (-not $Fatrace.Process.WaitForExit(10000)) { $Fatrace.Process.Kill($true) }
}

function Invoke-AttributionRun {
    <#
    One run: FanotifyPS (a child pwsh) and optionally fatrace watch the mount, the workload runs, and both are
    judged. -Mode Live: the watchers read as the workload runs. -Mode Stopped: both are stopped with SIGSTOP
    for the whole workload, then continued and drained; then every process has exited before its events are
    read. The stopped mode takes notification events only (a stopped permission watch would freeze the mount).
    #>
    param(
        [Parameter(Mandatory)] [string] $Mount,
        [Parameter(Mandatory)] $Tool,
        [ValidateSet('Live', 'Stopped')] [string] $Mode = 'Live',
        [int] $Iterations = 200,
        [string[]] $Event = @('Open', 'CloseWrite', 'Create', 'Delete', 'Rename', 'Attrib'),
        [switch] $Fatrace,
        [int] $TimeoutSeconds = 120
    )
    $permission = @($Event | Where-Object { $_ -like '*Perm' })
    if ($Mode -eq 'Stopped' -and $permission) { throw "The stopped mode takes notification events only, not $($permission -join ', ')." }
    $run = Join-Path $Tool.WorkPath ("run-" + [IO.Path]::GetRandomFileName())
    $null = New-Item -ItemType Directory -Path $run
    $csv = "$run/events.csv"; $stats = "$run/stats.json"; $log = "$run/fatrace.log"
    $eventList = ($Event | ForEach-Object { "'$_'" }) -join ','
    # Every property, DateTime to the tick (Export-Csv would cut it to the second).
    $script = @"
`$watch = Start-FanotifyWatch -Path `$mount -Event $eventList -BufferSize 1000000
Send-Ready
`$events = [Collections.Generic.List[object]]::new()
while (-not (Test-Path "`$ready.stop")) { foreach (`$e in Get-FanotifyEvent -Watch `$watch -Timeout 0.2) { `$events.Add(`$e) } }
do { `$before = `$events.Count; foreach (`$e in Get-FanotifyEvent -Watch `$watch -Timeout 1) { `$events.Add(`$e) } } while (`$events.Count -ne `$before)
`$counts = [ordered]@{ events = `$watch.EventCount; dropped = `$watch.DroppedCount; overflows = `$watch.OverflowCount; lost = `$watch.LostCount; processEventsLost = `$watch.ProcessEventLossCount }
Stop-FanotifyWatch `$watch
`$events | ForEach-Object {
    `$row = [ordered]@{}
    foreach (`$p in `$_.PSObject.Properties) { `$v = `$p.Value; if (`$v -is [datetime]) { `$v = `$v.ToString('o') }; `$row[`$p.Name] = `$v }
    [pscustomobject]`$row
} | Export-Csv -Path '$csv'
`$counts | ConvertTo-Json -Compress | Set-Content '$stats'
"@
    $child = $null; $peer = $null
    try {
        $child = Start-ChildWatcher -Mount $Mount -Script $script -TimeoutSeconds $TimeoutSeconds
        if ($Fatrace) { $peer = Start-Fatrace -Mount $Mount -LogPath $log -TimeoutSeconds $TimeoutSeconds }
        if ($Mode -eq 'Stopped') {
            & kill -STOP $child.Pid
            if ($peer) { & kill -STOP $peer.Pid }
        }
        $workload = Invoke-AttributionWorkload -Mount $Mount -Tool $Tool -Iterations $Iterations -TimeoutSeconds $TimeoutSeconds
        if ($Mode -eq 'Stopped') {
            & kill -CONT $child.Pid
            if ($peer) { & kill -CONT $peer.Pid }
        }
        Set-Content -Path "$($child.Ready).stop" -Value 'stop'
        if ($peer) {
            # fatrace reads continuously; give it the time FanotifyPS's drain takes before it is stopped.
            Start-Sleep -Seconds 1
            Stop-Fatrace $peer
        }
        if (-not $child.Process.WaitForExit($TimeoutSeconds * 1000)) { throw 'The FanotifyPS child watcher did not finish.' }
        if (-not (Test-Path $stats)) { throw "The FanotifyPS child watcher wrote no result: $($child.Process.StandardError.ReadToEnd())" }
        $counts = Get-Content $stats -Raw | ConvertFrom-Json
        $events = @(if ((Get-Item $csv).Length -gt 0) { Import-Csv $csv })
        $fanotify = Measure-FanotifyAttribution -Event $events -Mount $Mount -Tool $Tool -Workload $workload -EarlierLifeUnknowable
        $fanotify | Add-Member -NotePropertyName WatchCounts -NotePropertyValue $counts
        $fatraceResult = $null
        if ($peer) {
            $lines = @(Read-FatraceLog -Path $log)
            $fatraceResult = Measure-FatraceAttribution -Line $lines -Mount $Mount -Tool $Tool
            $fatraceResult | Add-Member -NotePropertyName Lines -NotePropertyValue $lines.Count
        }
        [pscustomobject]@{ Mode = $Mode; Event = $Event; Workload = $workload; FanotifyPS = $fanotify; Fatrace = $fatraceResult; IsStatic = $Tool.IsStatic }
    }
    finally {
        if ($peer) { Stop-Fatrace $peer }
        if ($child) {
            & kill -CONT $child.Pid 2>$null
            Stop-ChildWatcher $child
        }
        # The mount is the caller's; empty the workload's files so that a next run starts from the layout.
        foreach ($dir in $script:Layout.Keys) {
            Get-ChildItem (Join-Path $Mount $dir) -ErrorAction Ignore | Where-Object { $_.Name -notin 'r', 's' } | Remove-Item -Force -ErrorAction Ignore
        }
        Remove-Item $run -Recurse -Force -ErrorAction Ignore
    }
}

function Get-Percent([long] $Part, [long] $Whole) { if ($Whole -eq 0) { return $null }; [math]::Round(100.0 * $Part / $Whole, 1) }

function Format-AttributionReport {
    <# The issue's table (right, wrong, no program; per tool, per class), then the special cases, as text. #>
    param([Parameter(Mandatory)] $Run)
    $rows = foreach ($result in @($Run.FanotifyPS, $Run.Fatrace) | Where-Object { $_ }) {
        $label = if ($result.Tool -eq 'fatrace') { 'fatrace 0.17 (comm)' } else { 'FanotifyPS (Exe)' }
        $all = New-Tally
        foreach ($t in $result.Classes.Values) { foreach ($k in @($all.Keys)) { $all[$k] += $t[$k] } }
        $parts = [ordered]@{ all = $all }
        foreach ($k in $result.Classes.Keys) { $parts[$k] = $result.Classes[$k] }
        foreach ($class in $parts.Keys) {
            $t = $parts[$class]
            [pscustomobject][ordered]@{
                Tool = $label; Class = $class; Events = $t.Events
                'right %' = Get-Percent $t.Right $t.Events; 'wrong %' = Get-Percent $t.Wrong $t.Events; 'no program %' = Get-Percent $t.Missing $t.Events
                Right = $t.Right; Wrong = $t.Wrong; Missing = $t.Missing
                'name named %' = $(if ($result.Tool -eq 'fatrace') { $null } else { Get-Percent $t.NameNamed $t.Events })
                'name wrong' = $(if ($result.Tool -eq 'fatrace') { $null } else { $t.NameWrong })
            }
        }
    }
    $text = [Text.StringBuilder]::new()
    $counts = $Run.FanotifyPS.WatchCounts
    $null = $text.AppendLine("Attribution, mode $($Run.Mode): $($Run.Workload.Iterations) iterations in $($Run.Workload.Seconds) s; FanotifyPS -Event $($Run.Event -join ','): $($counts.events) events, $($counts.dropped) dropped, $($counts.overflows) overflows, $($counts.processEventsLost) process connector messages lost, $($Run.FanotifyPS.Other) not the workload's, $($Run.FanotifyPS.Unexpected) of an unexpected kind$(if ($Run.Fatrace) { "; fatrace: $($Run.Fatrace.Lines) lines, $($Run.Fatrace.Other) not the workload's, $($Run.Fatrace.Unexpected) of an unexpected kind" })")
    $null = $text.Append(($rows | Format-Table -AutoSize | Out-String -Width 200))
    $caseRows = foreach ($name in $script:Cases.Keys) {
        $f = $Run.FanotifyPS.Cases[$name]
        $row = [ordered]@{ Case = $name; 'FanotifyPS events' = $f.Events; 'right' = $f.Right; 'wrong' = $f.Wrong; 'missing' = $f.Missing }
        if ($Run.Fatrace) { $g = $Run.Fatrace.Cases[$name]; $row['fatrace events'] = $g.Events; $row['fatrace right'] = $g.Right; $row['fatrace wrong'] = $g.Wrong; $row['fatrace missing'] = $g.Missing }
        [pscustomobject]$row
    }
    $null = $text.Append(($caseRows | Format-Table -AutoSize | Out-String -Width 200))
    $p = $Run.FanotifyPS.PidReuse
    $null = $text.AppendLine("pid reuse: $($p.Reused) of $($p.Pairs) pairs got the same pid; $($p.BothRight) of $($p.Seen) seen pairs named both programs right, $($p.FirstUnknowable) the second only (the first unknowable, $($Run.FanotifyPS.Unknowable) events); ProcessStartTime $(if ($p.HasStartTime) { "differs in $($p.DifferentStartTime) of $($p.Seen), is the same in $($p.SameStartTime)" } else { 'is not a property of this module' })")
    if (-not $Run.IsStatic) { $null = $text.AppendLine('static: no libc.a here, the "static" case ran a dynamic copy') }
    $null = $text.AppendLine("subshell pid/parent mismatches: $($Run.FanotifyPS.Subshell.Count)")
    $missing = @($Run.FanotifyPS.Missing)
    if ($missing.Count) {
        $null = $text.AppendLine("FanotifyPS: $($missing.Count) named no program; the first ones:")
        $null = $text.Append(($missing | Select-Object -First 8 | Format-Table -AutoSize | Out-String -Width 240))
        $null = $text.AppendLine("named none, by case: $(($missing | Group-Object Case | ForEach-Object { "$($_.Name) $($_.Count)" }) -join ', '); by iteration: $(($missing | Group-Object { ($_.Path -split '[./]')[-2..-1] -join '.' } | Select-Object -First 12 | ForEach-Object Name) -join ' ')")
    }
    foreach ($result in @($Run.FanotifyPS, $Run.Fatrace) | Where-Object { $_ }) {
        $wrong = @($result.Wrong)
        if ($wrong.Count) {
            $null = $text.AppendLine("$($result.Tool): $($wrong.Count) wrong (program or name); the first ones:")
            $null = $text.Append(($wrong | Select-Object -First 5 | Format-Table -AutoSize | Out-String -Width 240))
        }
    }
    $text.ToString()
}

Export-ModuleMember -Function New-AttributionTool, New-AttributionLayout, Invoke-AttributionWorkload, Get-AttributionExpectation,
    Measure-FanotifyAttribution, Measure-FatraceAttribution, Read-FatraceLog, Invoke-AttributionRun, Format-AttributionReport, Get-Percent
