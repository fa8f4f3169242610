#Requires -Version 7.4
# Every event type, produced by a real process on a private tmpfs and checked field by field.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:threadopen = Get-LoadTool threadopen
    $script:cat = & readlink -f (Get-Command cat -CommandType Application | Select-Object -First 1).Source

    # Runs a shell command under a deadline, then returns the watch's events once one matches $Until.
    function Invoke-AndReceive {
        param($Watch, [string] $Command, [scriptblock] $Until)
        $run = Invoke-Bounded sh @('-c', $Command)
        $run.ExitCode | Should -Be 0 -Because $run.Output
        Receive-UntilEvent $Watch $Until
    }
}

Describe 'Directory-entry events' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        $watch = Start-FanotifyWatch -Path $mount -Event Create, Delete, Move, Rename, Attrib, DeleteSelf, MoveSelf
    }
    AfterAll {
        Stop-FanotifyWatch $watch
        Remove-TestMount $mount
    }
    BeforeEach { $null = Get-FanotifyEvent -Watch $watch }

    It 'reports Create of a file and of a directory with DirectoryPath, Name and IsDirectory' {
        $events = Invoke-AndReceive $watch "mkdir $mount/newdir && touch $mount/newdir/newfile" { $_.Name -eq 'newfile' }
        # touch also sets the times: its Create may be merged with Attrib.
        $dir = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Create -and $_.Name -eq 'newdir' }
        $dir.IsDirectory | Should -BeTrue
        $dir.Path | Should -BeExactly "$mount/newdir"
        $dir.DirectoryPath | Should -BeExactly $mount
        $file = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Create -and $_.Name -eq 'newfile' }
        $file.IsDirectory | Should -BeFalse
        $file.Path | Should -BeExactly "$mount/newdir/newfile"
        $file.DirectoryPath | Should -BeExactly "$mount/newdir"
        $file.ProcessId | Should -BeGreaterThan 1
        # touch may be gone (and reaped) before its event is read: then nothing is known of it, and it says so.
        if ($file.IsProcessGone) { $file.ProcessName | Should -BeIn @('touch', 'sh', '') }
        else { $file.ProcessName | Should -BeIn @('touch', 'sh') }
    }

    It 'reports Delete of a file and of a directory, and DeleteSelf with the path it had' {
        $null = Invoke-AndReceive $watch "mkdir $mount/gone && touch $mount/gone/f" { $_.Name -eq 'f' }
        $events = Invoke-AndReceive $watch "rm $mount/gone/f && rmdir $mount/gone" { $_.Event -band [FanotifyPS.FanotifyEventType]::Delete -and $_.IsDirectory }
        $file = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Delete -and $_.Name -eq 'f' }
        $file.Path | Should -BeExactly "$mount/gone/f"
        $dir = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Delete -and $_.Name -eq 'gone' }
        $dir.IsDirectory | Should -BeTrue
        $self = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::DeleteSelf -and $_.IsDirectory }
        $self.Path | Should -BeExactly "$mount/gone"
        $self.IsDeleted | Should -BeTrue
    }

    It 'reports a move as MovedFrom, MovedTo, Rename (OldPath and NewPath) and MoveSelf' {
        $null = Invoke-AndReceive $watch "mkdir -p $mount/src $mount/dst && touch $mount/src/a" { $_.Name -eq 'a' }
        $events = Invoke-AndReceive $watch "mv $mount/src/a $mount/dst/b" { $_.Event -band [FanotifyPS.FanotifyEventType]::MoveSelf }
        $from = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::MovedFrom }
        $from.Path | Should -BeExactly "$mount/src/a"
        $from.Name | Should -BeExactly 'a'
        $to = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::MovedTo }
        $to.Path | Should -BeExactly "$mount/dst/b"
        $to.DirectoryPath | Should -BeExactly "$mount/dst"
        $rename = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Rename }
        $rename.OldPath | Should -BeExactly "$mount/src/a"
        $rename.NewPath | Should -BeExactly "$mount/dst/b"
        $rename.Path | Should -BeExactly "$mount/dst/b"
        $rename.ToString() | Should -BeLike "FAN_RENAME: File $mount/src/a -> $mount/dst/b *"
        $self = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::MoveSelf }
        $self.Path | Should -BeExactly "$mount/dst/b"
    }

    It 'reports chmod as Attrib' {
        $null = Invoke-AndReceive $watch "touch $mount/modes" { $_.Name -eq 'modes' }
        $events = Invoke-AndReceive $watch "chmod 600 $mount/modes" { $_.Event -band [FanotifyPS.FanotifyEventType]::Attrib }
        $attrib = $events | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::Attrib }
        $attrib.Path | Should -BeExactly "$mount/modes"
        $attrib.ProcessName | Should -BeIn @('chmod', '')
    }
}

Describe 'File-descriptor events' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        Copy-Item (& readlink -f /bin/true) "$mount/mytrue"
        & chmod 755 "$mount/mytrue"
    }
    AfterAll { Remove-TestMount $mount }

    It 'reports Open, Access and CloseNoWrite of a read' {
        $watch = Start-FanotifyWatch -Path $mount -Event Open, Access, CloseNoWrite
        try {
            $events = Invoke-AndReceive $watch "cat $mount/data.txt > /dev/null" { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseNoWrite }
            $mask = ($events | Where-Object Path -eq "$mount/data.txt" | ForEach-Object Event) -join ','
            $mask | Should -BeLike '*Open*'
            $mask | Should -BeLike '*Access*'
            $mask | Should -BeLike '*CloseNoWrite*'
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'reports Modify and CloseWrite of a write, and -Event Close and Move are shorthands' {
        $watch = Start-FanotifyWatch -Path $mount -Event Modify, Close
        try {
            $watch.Event | Should -Be ([FanotifyPS.FanotifyEventType]'Modify, CloseWrite, CloseNoWrite')
            $events = Invoke-AndReceive $watch "echo more >> $mount/data.txt" { $_.Event -band [FanotifyPS.FanotifyEventType]::CloseWrite }
            ($events.Event -join ',') | Should -BeLike '*Modify*'
        }
        finally { Stop-FanotifyWatch $watch }
        [FanotifyPS.FanotifyEventType]::Move | Should -Be ([FanotifyPS.FanotifyEventType]'MovedFrom, MovedTo')
    }

    It 'reports the exec of a copied binary as OpenExec and OpenExecPerm, allowed' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenExec, OpenExecPerm
        try {
            $events = Invoke-AndReceive $watch "$mount/mytrue" { $_.Event -band [FanotifyPS.FanotifyEventType]::OpenExecPerm }
            $exec = $events | Where-Object Path -eq "$mount/mytrue"
            ($exec.Event -join ',') | Should -BeLike '*OpenExec*'
            ($exec | Where-Object { $_.Event -band [FanotifyPS.FanotifyEventType]::OpenExecPerm }).Response | Should -Be 'Allow'
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'reports every non-permission event with -Event All' {
        $watch = Start-FanotifyWatch -Path $mount -Event All
        try {
            $events = Invoke-AndReceive $watch "touch $mount/all.txt && echo x > $mount/all.txt && rm $mount/all.txt" { $_.Event -band [FanotifyPS.FanotifyEventType]::Delete }
            $seen = [FanotifyPS.FanotifyEventType]::None
            $events | ForEach-Object { $seen = $seen -bor $_.Event }
            foreach ($expected in 'Create', 'Open', 'Modify', 'CloseWrite', 'Attrib', 'Delete', 'DeleteSelf') {
                $seen.HasFlag([FanotifyPS.FanotifyEventType]$expected) | Should -BeTrue -Because "$expected should be reported"
            }
        }
        finally { Stop-FanotifyWatch $watch }
    }
}

Describe 'Process facts' -Tag 'RequireRoot' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        & chmod 644 "$mount/data.txt"
    }
    AfterAll { Remove-TestMount $mount }

    It 'resolves ProcessName, CommandLine, ParentProcessId, UserId and UserName' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm
        try {
            $events = Invoke-AndReceive $watch "setpriv --reuid=65534 --regid=65534 --clear-groups $cat $mount/data.txt > /dev/null" { $_.Exe -eq $cat }
            $open = $events | Where-Object Exe -eq $cat
            $open.ProcessName | Should -BeExactly 'cat'
            $open.CommandLine | Should -BeExactly "$cat $mount/data.txt"
            $open.ParentProcessId | Should -BeGreaterThan 1
            $open.UserId | Should -Be 65534
            $open.UserName | Should -BeExactly (& getent passwd 65534).Split(':')[0]
        }
        finally { Stop-FanotifyWatch $watch }
    }

    It 'reports the thread with -ThreadId, and no ThreadId ($null) without it' {
        $watch = Start-FanotifyWatch -Path $mount -Event OpenPerm -ThreadId
        try {
            $run = Invoke-Bounded $threadopen @("$mount/data.txt")
            $run.ExitCode | Should -Be 0
            $processId, $threadId = $run.Output.Trim().Split(' ') | ForEach-Object { [int]$_ }
            $threadId | Should -Not -Be $processId
            $events = Receive-UntilEvent $watch { $_.ThreadId -eq $threadId }
            $open = $events | Where-Object ThreadId -eq $threadId
            $open.ProcessId | Should -Be $processId
            $open.Exe | Should -BeExactly $threadopen
        }
        finally { Stop-FanotifyWatch $watch }

        $plain = Start-FanotifyWatch -Path $mount -Event OpenPerm
        try {
            $events = Invoke-AndReceive $plain "cat $mount/data.txt > /dev/null" { $_.Exe -eq $cat }
            $open = @($events | Where-Object Exe -eq $cat)
            $open | Should -Not -BeNullOrEmpty
            $open.ThreadId | Should -BeNullOrEmpty
        }
        finally { Stop-FanotifyWatch $plain }
    }
}
