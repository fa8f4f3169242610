<#
.SYNOPSIS
    Writes docs/help/<Cmdlet>.md (platyPS markdown schema 2.0.0) for every cmdlet of the built module, like
    platyPS's New-MarkdownHelp: the yaml of each parameter comes from the cmdlet's metadata, the prose from the
    tables below. A file that exists is kept unless -Force: docs/help is the source, edited by hand after this.
#>
param(
    [string] $ModulePath = (Join-Path $PSScriptRoot '../out/FanotifyPS'),
    [string] $OutputPath = (Join-Path $PSScriptRoot '../docs/help'),
    [switch] $Force
)

$ErrorActionPreference = 'Stop'
Import-Module $ModulePath -Force

$parameterText = @{
    'Path'             = 'The directories (or, with -Scope File, files) to watch. Relative paths are resolved against the current location. The default is the current directory.'
    'Scope'            = 'What is marked for each path: Filesystem (the whole filesystem behind the path, through every mount of it; the default), Mount (the mount the path is on; no directory-entry events), Tree (the directory and everything below it), Directory (the directory and its direct children) or File (one file).'
    'Event'            = 'The events to watch, by name, with the shorthands Close, Move and All (every non-permission event). The default is OpenPerm and CloseWrite, the events of the fanotify(7) example.'
    'BufferSize'       = 'How many events the watch keeps for its readers (Get-FanotifyEvent and Receive-Job share them). When the readers are slower, further events are dropped and counted in DroppedCount, and a warning says how many. The default is 65536.'
    'ExcludePath'      = 'Leaves out events whose path matches any of these wildcards, matched case-sensitively. A path without wildcards becomes a kernel ignore mark where no rule could deny there.'
    'ProcessId'        = 'Reports only the events of these processes.'
    'ExcludeProcessId' = 'Leaves out the events of these processes.'
    'Exe'              = 'Reports only the events of programs whose path matches any of these wildcards.'
    'ExcludeExe'       = 'Leaves out the events of programs whose path matches any of these wildcards.'
    'SpinMicroseconds' = 'After a batch of events, the watcher keeps reading for up to this many microseconds before it sleeps in poll(): on a busy watch the next event often comes sooner than a sleep and a wake-up take. The spin is adaptive: one that finds nothing makes the next ones rarer (up to every 64th batch), so a trickle of events costs no spinning and an idle watch none at all. 0 turns it off. When the parameter is not given, the spin is 20 when permission verdicts wait for a read (a rule that names a program, a user or a path, or a Tree scope: the responder then has little to do after a verdict and would sleep just before the next event), and 0 otherwise. The SpinMicroseconds property of the watch says which.'
    'IncludeSelf'      = 'Also reports the events of this pwsh process. They are always allowed, and without this switch they are only counted in OwnEventCount.'
    'DenyPath'         = 'Denies permission events on files whose path matches any of these wildcards. Combined with -DenyExe and -DenyUser into one rule that matches when every given part matches.'
    'DenyExe'          = 'Denies permission events of programs whose path matches any of these wildcards.'
    'DenyUser'         = 'Denies permission events of processes whose effective user is one of these names or numeric ids.'
    'Rule'             = 'Rules from New-FanotifyRule, checked in order after the rule of the -Deny parameters. The first rule that matches decides; an event that no rule matches is allowed.'
    'AuditOnly'        = 'Evaluates the rules but allows every event; events that a rule would deny get Response WouldDeny and the rule''s name.'
    'ThreadId'         = 'Reports the thread that caused each event in ThreadId (FAN_REPORT_TID). Without it, notification groups use FAN_REPORT_PIDFD for race-free process attribution.'
    'Watch'            = 'The watches, as returned by Start-FanotifyWatch or Get-FanotifyWatch.'
    'Id'               = 'The ids of the watches. An event''s WatchId binds to this parameter by property name.'
    'Wait'             = 'Keeps streaming new events after the buffered ones, until -Count, -Timeout, Ctrl+C, or the end of the watches.'
    'Count'            = 'Stops after this many events.'
    'Timeout'          = 'Stops after this many seconds. For a running watch it implies -Wait.'
    'PassThru'         = 'Writes the stopped watches to the pipeline.'
    'Action'           = 'What the rule does with the events it matches: Deny (the default) or Allow.'
    'User'             = 'User names or numeric ids, matched against the process''s effective uid.'
    'WhatIf'           = 'Shows what would happen if the cmdlet runs. The cmdlet is not run.'
    'Confirm'          = 'Prompts you for confirmation before running the cmdlet.'
    'Errno'            = 'The errno that a denied call fails with: EPERM (the kernel''s default), EIO, EAGAIN, EBUSY, ETXTBSY, ENOSPC or EDQUOT. Needs FAN_DENY_ERRNO (Linux 6.14); elsewhere the watch warns and denies with EPERM.'
}

$commandText = @{
    'Start-FanotifyWatch' = @{
        Synopsis    = 'Starts a background fanotify watch and returns it.'
        Description = @(
            'Start-FanotifyWatch opens the fanotify groups the requested events need, starts a responder thread for each, and marks the paths. The responder answers every permission event first: before the verdict it reads only what the verdict needs (the process when a rule names a program or a user, or when the process was never seen; the path when a rule names one or the scope is Tree), and hands typed events to a bounded buffer that Get-FanotifyEvent reads.'
            'A permission policy (-DenyPath, -DenyExe, -DenyUser, -Rule) is compiled before the mark is placed and evaluated on the responder thread before each verdict. Events of this pwsh process are always allowed.'
            'The watch is also a PowerShell job (PSJobTypeName FanotifyWatch): Get-Job lists it under the same id, Receive-Job takes events from the buffer that Get-FanotifyEvent reads (-Keep leaves them there), Wait-Job returns when the watch has stopped or failed, Stop-Job stops it, and Remove-Job removes a stopped watch (with -Force, a running one). Warnings about dropped events and the error of a failed watch are in its Warning and Error streams.')
        Examples    = @(
            @{ Title = 'Example 1: Watch a directory''s filesystem'; Code = '$w = Start-FanotifyWatch -Path /srv/data' + "`n" + 'Get-FanotifyEvent -Watch $w | Where-Object Exe -like ''*vim*'''; Remarks = 'Starts a watch with the default events (OpenPerm and CloseWrite) and reads what vim did.' }
            @{ Title = 'Example 2: Deny a program, audit first'; Code = 'Start-FanotifyWatch /srv -DenyExe ''*/curl'', ''*/wget'' -AuditOnly' + "`n" + 'Start-FanotifyWatch /srv -DenyExe ''*/curl'', ''*/wget'''; Remarks = 'The first watch only marks what would be denied (Response WouldDeny); the second denies it: curl and wget fail with EPERM when they open files under /srv.' }
            @{ Title = 'Example 3: Directory entries in a tree'; Code = 'Start-FanotifyWatch /srv/www -Scope Tree -Event Create, Delete, Rename -ExcludePath ''*.swp'''; Remarks = 'Reports created, deleted and renamed entries anywhere below /srv/www, with DirectoryPath, Name, OldPath and NewPath.' }
            @{ Title = 'Example 4: As a job'; Code = '$w = Start-FanotifyWatch /srv -Event CloseWrite' + "`n" + 'Get-Job' + "`n" + 'Receive-Job $w -Keep | Export-Csv writes.csv' + "`n" + 'Remove-Job $w -Force'; Remarks = 'Get-Job lists the watch next to other jobs; Receive-Job -Keep exports the buffered events and leaves them for Get-FanotifyEvent; Remove-Job -Force stops the watch and removes it.' })
        Outputs     = @{ 'FanotifyPS.FanotifyWatch' = 'The watch: Id, Name, Path, Scope, Event, State (its job state: Running, then Stopped or Failed), StartTime, StopTime, Rules, AuditOnly, SpinMicroseconds, EventCount, DroppedCount, OverflowCount, LostCount, FilteredCount, OwnEventCount, AllowedCount, DeniedCount, WouldDenyCount, BufferedCount, BufferSize and FailureReason; and, as a PowerShell job, InstanceId, JobStateInfo, HasMoreData, Command, Location, PSJobTypeName, PSBeginTime, PSEndTime and the Output, Error and Warning streams.' }
    }
    'Get-FanotifyEvent' = @{
        Synopsis    = 'Gets fanotify events: from a watch of its own, or from running watches.'
        Description = @(
            'With -Path (the default set), Get-FanotifyEvent starts a watch of its own, streams its events until Ctrl+C, -Count or -Timeout, and stops the watch when the command ends, also when a command further down the pipeline has enough (Select-Object -First).'
            'With -Watch or -Id, it returns the events that running watches have buffered, taking them from the buffer (the one Receive-Job reads too); with -Wait it keeps streaming. The filter parameters narrow what it returns. Drops and lost events are reported as warnings, and a watch that failed as an error: both come from the watch''s job streams, so whichever reader takes them reports them once.')
        Examples    = @(
            @{ Title = 'Example 1: Ten seconds of a filesystem'; Code = 'Get-FanotifyEvent /srv/data -Timeout 10'; Remarks = 'Watches the filesystem of /srv/data for ten seconds and shows the events as a table.' }
            @{ Title = 'Example 2: Export what a program writes'; Code = 'Get-FanotifyEvent -Watch $w -Exe ''*/vim*'' | Export-Csv vim.csv'; Remarks = 'Takes the buffered events of the watch in $w, keeps those of vim, and writes them to a CSV file (the module''s own writes to it are not reported).' }
            @{ Title = 'Example 3: The seed''s line'; Code = 'Get-FanotifyEvent -Count 5 | Format-Table -View Seed'; Remarks = 'Prints five events of the current directory''s filesystem as FAN_OPEN_PERM: File /tmp/test.txt Exe /usr/bin/vim.basic.' })
        Inputs      = @{ 'FanotifyPS.FanotifyWatch' = 'Watches, by value (-Watch).'; 'System.Int32' = 'Watch ids, by property name (-Id, alias WatchId).' }
        Outputs     = @{ 'FanotifyPS.FanotifyEvent' = 'An event: TimeStamp, TimeStampIso (the same time in ISO 8601, exact in CSV), Event, Path, DirectoryPath, Name, OldPath, NewPath, IsDirectory, IsDeleted, ProcessId, ThreadId, Exe, ProcessName, CommandLine, ParentProcessId, UserId, UserName, IsProcessGone, Response, Rule, FsErrorCode, FsErrorCount and WatchId. ToString() gives the line of the fanotify(7) example.' }
    }
    'Stop-FanotifyWatch' = @{
        Synopsis    = 'Stops fanotify watches.'
        Description = @('Stop-FanotifyWatch signals the responders of each watch, which close their fanotify groups; any permission event still pending is allowed by the kernel. It returns within a second. The watch keeps its counters and its unread events, and Get-FanotifyWatch still lists it until Remove-FanotifyWatch. Stop-Job does the same.')
        Examples    = @(
            @{ Title = 'Example 1: Stop a watch'; Code = 'Stop-FanotifyWatch $w -PassThru | Format-List *Count'; Remarks = 'Stops the watch in $w and shows its counters.' }
            @{ Title = 'Example 2: Stop watches by name'; Code = 'Stop-FanotifyWatch -Name audit-*'; Remarks = 'Stops every watch whose name starts with audit-.' })
        Inputs      = @{ 'FanotifyPS.FanotifyWatch' = 'Watches, by value.'; 'System.Int32' = 'Watch ids, by property name.' }
        Outputs     = @{ 'FanotifyPS.FanotifyWatch' = 'With -PassThru, the stopped watches.' }
    }
    'Remove-FanotifyWatch' = @{
        Synopsis    = 'Stops fanotify watches and forgets them.'
        Description = @('Remove-FanotifyWatch stops each watch if it runs and removes it from the session: neither Get-FanotifyWatch nor Get-Job lists it any more, and its memory goes. Remove-Job -Force does the same.')
        Examples    = @(
            @{ Title = 'Example 1: Remove stopped watches'; Code = 'Get-FanotifyWatch | Where-Object State -ne Running | Remove-FanotifyWatch'; Remarks = 'Forgets every watch that has ended.' }
            @{ Title = 'Example 2: Remove a watch by id'; Code = 'Remove-FanotifyWatch -Id 3'; Remarks = 'Stops watch 3 and forgets it.' })
        Inputs      = @{ 'FanotifyPS.FanotifyWatch' = 'Watches, by value.'; 'System.Int32' = 'Watch ids, by property name.' }
        Outputs     = @{ 'None' = 'Nothing.' }
    }
    'Get-FanotifyWatch' = @{
        Synopsis    = 'Gets the fanotify watches of this session.'
        Description = @('Get-FanotifyWatch lists the watches started in this pwsh process, running or ended, with their counters. Watches that Get-FanotifyEvent starts for itself are not listed.')
        Examples    = @(
            @{ Title = 'Example 1: All watches'; Code = 'Get-FanotifyWatch'; Remarks = 'Shows every watch as a table: Id, Name, State, Scope, events, buffered, dropped, overflows and path.' }
            @{ Title = 'Example 2: A watch by name'; Code = 'Get-FanotifyWatch -Name srv | Format-List'; Remarks = 'Shows the watch named srv with all its properties.' })
        Inputs      = @{ 'System.Int32' = 'Watch ids, by property name.' }
        Outputs     = @{ 'FanotifyPS.FanotifyWatch' = 'The watches.' }
    }
    'New-FanotifyRule' = @{
        Synopsis    = 'Creates a rule for a permission policy.'
        Description = @('New-FanotifyRule creates a rule for Start-FanotifyWatch -Rule. A rule matches a permission event when every part it gives matches: -Path (the file), -Exe (the program) and -User (the effective user), each matching if any of its values does. Rules are checked in order and the first match decides.')
        Examples    = @(
            @{ Title = 'Example 1: Allow one program, deny the rest'; Code = '$rules = @(' + "`n" + '    New-FanotifyRule -Name BackupMayRead -Action Allow -Exe /usr/bin/restic' + "`n" + '    New-FanotifyRule -Name NoKeys -Path ''*.pem'', ''*/id_*'' -Errno EIO' + "`n" + ')' + "`n" + 'Start-FanotifyWatch /home -Rule $rules'; Remarks = 'restic may read keys; any other program that opens one fails with EIO.' }
            @{ Title = 'Example 2: Stop programs from running'; Code = 'Start-FanotifyWatch /tmp -Event OpenExecPerm -Rule (New-FanotifyRule -Name NoTmpExec -Path ''/tmp/*'' -Event OpenExecPerm)'; Remarks = 'Programs under /tmp can no longer be executed; reading them still works.' })
        Outputs     = @{ 'FanotifyPS.FanotifyRule' = 'The rule: Name, Action, Path, Exe, User, Event and Errno.' }
    }
    'Get-FanotifyCapability' = @{
        Synopsis    = 'Reports what the running kernel''s fanotify supports.'
        Description = @('Get-FanotifyCapability tries each fanotify feature on a throwaway group (marks go on a private temporary directory) and reports which work: permission events, filesystem and mount marks, file-handle reporting, directory-entry names, rename and fs-error events, pidfds, thread ids, ignore marks, the pre-content class, deny with errno, the unlimited queue, and the fanotify sysctl limits.')
        Examples    = @(
            @{ Title = 'Example 1: This kernel'; Code = 'Get-FanotifyCapability'; Remarks = 'Shows every feature with True or False, and the limits, probed on the temporary directory''s filesystem.' }
            @{ Title = 'Example 2: Check before relying on a feature'; Code = 'if ((Get-FanotifyCapability).DenyErrno) { $errno = ''EIO'' } else { $errno = ''EPERM'' }'; Remarks = 'Chooses the errno of a rule by what the kernel supports.' }
            @{ Title = 'Example 3: Another filesystem'; Code = 'Get-FanotifyCapability /mnt/share | Select-Object FileHandleReporting, FsErrorEvents'; Remarks = 'Tells whether directory-entry events and fs errors can be watched on the filesystem of /mnt/share.' })
        Outputs     = @{ 'FanotifyPS.FanotifyCapability' = 'One object with a property per feature and limit.' }
    }
}

$notes = 'Requires Linux. Root (or the CAP_SYS_ADMIN capability) may use all of fanotify; since Linux 5.13 other users may watch the directories and files they can read, for notification events, without the process that caused them (see Start-FanotifyWatch). Features are probed by trying them: Get-FanotifyCapability lists what this kernel supports. Never put a permission watch where you cannot afford a wait: a watcher that is stopped (SIGSTOP) holds every opener until it continues; a watcher that dies allows them all.'

function Get-TypeName([type] $Type) {
    $name = $Type.Name
    if ($Type.IsArray) { return (Get-TypeName $Type.GetElementType()) + '[]' }
    $name
}

$null = New-Item -ItemType Directory -Path $OutputPath -Force
foreach ($command in Get-Command -Module FanotifyPS | Sort-Object Name) {
    $file = Join-Path $OutputPath "$($command.Name).md"
    if ((Test-Path $file) -and -not $Force) { Write-Host "kept $file"; continue }
    $text = $commandText[$command.Name]
    $common = [System.Management.Automation.Internal.CommonParameters].GetProperties().Name
    $parameters = $command.Parameters.Values | Where-Object { $_.Name -notin $common }
    $md = [Text.StringBuilder]::new()
    $null = $md.AppendLine('---').AppendLine('external help file: FanotifyPS.dll-Help.xml').AppendLine('Module Name: FanotifyPS').AppendLine('online version:').AppendLine('schema: 2.0.0').AppendLine('---').AppendLine()
    $null = $md.AppendLine("# $($command.Name)").AppendLine().AppendLine('## SYNOPSIS').AppendLine($text.Synopsis).AppendLine().AppendLine('## SYNTAX').AppendLine()
    foreach ($set in $command.ParameterSets) {
        $null = $md.AppendLine("### $($set.Name)$(if ($set.IsDefault) { ' (Default)' })").AppendLine('```').AppendLine("$($command.Name) $($set.ToString())").AppendLine('```').AppendLine()
    }
    $null = $md.AppendLine('## DESCRIPTION')
    $null = $md.AppendLine(($text.Description -join "`n`n")).AppendLine().AppendLine('## EXAMPLES').AppendLine()
    foreach ($example in $text.Examples) {
        $null = $md.AppendLine("### $($example.Title)").AppendLine('```powershell').AppendLine($example.Code).AppendLine('```').AppendLine().AppendLine($example.Remarks).AppendLine()
    }
    $null = $md.AppendLine('## PARAMETERS').AppendLine()
    foreach ($parameter in $parameters | Sort-Object Name) {
        $description = $parameterText[$parameter.Name]
        if ($command.Name -eq 'New-FanotifyRule') {
            $description = @{ Name = 'The rule''s name, shown in the Rule property of the events it decides. The default is Rule followed by a number.'; Path = 'Wildcards matched against the file''s path, case-sensitively.'; Exe = 'Wildcards matched against the program''s path, case-sensitively.'; Event = 'The permission events the rule applies to: OpenPerm, OpenExecPerm, AccessPerm. The default is all three.' }[$parameter.Name] ?? $description
        }
        if ($command.Name -eq 'Get-FanotifyCapability') { $description = 'A directory on the filesystem to probe: some features depend on the filesystem (file handles, FsError). The probe makes a private directory there and removes it. The default is the temporary directory.' }
        if ($parameter.Name -eq 'Name' -and $command.Name -eq 'Start-FanotifyWatch') { $description = 'A name for the watch. The default is FanotifyWatch followed by its id.' }
        elseif ($parameter.Name -eq 'Name' -and $command.Name -ne 'New-FanotifyRule') { $description = 'The names of the watches; wildcards are allowed.' }
        if (-not $description) { throw "No description for -$($parameter.Name) of $($command.Name)." }
        $null = $md.AppendLine("### -$($parameter.Name)").AppendLine($description).AppendLine()
        # One yaml block per distinct metadata, as platyPS writes them.
        $groups = $parameter.ParameterSets.GetEnumerator() | Group-Object { $m = $_.Value; "$($m.IsMandatory)|$($m.Position)|$($m.ValueFromPipeline)|$($m.ValueFromPipelineByPropertyName)" }
        foreach ($group in $groups) {
            $meta = $group.Group[0].Value
            $sets = if ($group.Group[0].Key -eq '__AllParameterSets') { '(All)' } else { ($group.Group.Key -join ', ') }
            $pipeline = @(if ($meta.ValueFromPipeline) { 'ByValue' }; if ($meta.ValueFromPipelineByPropertyName) { 'ByPropertyName' })
            $accepted = if ($parameter.ParameterType.IsEnum -or $parameter.ParameterType.GetElementType()?.IsEnum) {
                [Enum]::GetNames(($parameter.ParameterType.IsEnum ? $parameter.ParameterType : $parameter.ParameterType.GetElementType())) -join ', '
            } elseif ($parameter.Attributes | Where-Object { $_ -is [ValidateSet] }) {
                ($parameter.Attributes | Where-Object { $_ -is [ValidateSet] }).ValidValues -join ', '
            }
            $null = $md.AppendLine('```yaml').AppendLine("Type: $(Get-TypeName $parameter.ParameterType)").AppendLine("Parameter Sets: $sets").AppendLine("Aliases: $($parameter.Aliases -join ', ')")
            if ($accepted) { $null = $md.AppendLine("Accepted values: $accepted") }
            $null = $md.AppendLine().AppendLine("Required: $($meta.IsMandatory)").AppendLine("Position: $(if ($meta.Position -ge 0) { $meta.Position } else { 'Named' })").AppendLine("Default value: $(if ($parameter.SwitchParameter) { 'False' } else { 'None' })")
            $null = $md.AppendLine("Accept pipeline input: $(if ($pipeline) { "True ($($pipeline -join ', '))" } else { 'False' })").AppendLine("Accept wildcard characters: $([bool]($parameter.Attributes | Where-Object { $_ -is [System.Management.Automation.SupportsWildcardsAttribute] }))").AppendLine('```').AppendLine()
        }
    }
    $null = $md.AppendLine('### CommonParameters').AppendLine('This cmdlet supports the common parameters: -Debug, -ErrorAction, -ErrorVariable, -InformationAction, -InformationVariable, -OutBuffer, -OutVariable, -PipelineVariable, -ProgressAction, -Verbose, -WarningAction, and -WarningVariable. For more information, see [about_CommonParameters](https://go.microsoft.com/fwlink/?LinkID=113216).').AppendLine()
    $null = $md.AppendLine('## INPUTS').AppendLine()
    $inputs = $text.Inputs ?? @{ 'None' = 'This cmdlet takes no pipeline input.' }
    foreach ($key in $inputs.Keys | Sort-Object) { $null = $md.AppendLine("### $key").AppendLine($inputs[$key]).AppendLine() }
    $null = $md.AppendLine('## OUTPUTS').AppendLine()
    foreach ($key in $text.Outputs.Keys | Sort-Object) { $null = $md.AppendLine("### $key").AppendLine($text.Outputs[$key]).AppendLine() }
    $null = $md.AppendLine('## NOTES').AppendLine($notes).AppendLine().AppendLine('## RELATED LINKS').AppendLine()
    $related = (Get-Command -Module FanotifyPS).Name | Where-Object { $_ -ne $command.Name } | Sort-Object | ForEach-Object { "[$_]($_.md)" }
    $null = $md.AppendLine((@($related) + '[about_FanotifyPS](about_FanotifyPS.md)' -join "`n`n"))
    Set-Content -Path $file -Value $md.ToString().TrimEnd() -Encoding utf8NoBOM
    Write-Host "wrote $file"
}
