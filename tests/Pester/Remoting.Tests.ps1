#Requires -Version 7.4
# Many machines: PowerShell remoting over SSH to a real sshd on the loopback address, running the module on
# the remote side; the events must come back as deserialized objects with all their properties. PowerShell
# deserializes SSH remoting output with its default types only, so the module's types.ps1xml does not rehydrate
# them there: a cast to [FanotifyPS.FanotifyEvent] does.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
}

Describe 'Remoting over SSH' -Tag 'RequireRoot', 'Remoting' {
    BeforeAll {
        $mount = New-TestMount
        Set-Content "$mount/data.txt" 'payload'
        $ssh = Join-Path ([IO.Path]::GetTempPath()) "fanotifyps-ssh-$([guid]::NewGuid())"
        $null = New-Item -ItemType Directory -Path $ssh
        & ssh-keygen -q -t ed25519 -N '' -f "$ssh/host_key"
        & ssh-keygen -q -t ed25519 -N '' -f "$ssh/client_key"
        Copy-Item "$ssh/client_key.pub" "$ssh/authorized_keys"
        $pwsh = Get-PwshCommand
        # The remote end of PowerShell remoting over SSH: pwsh as an sshd subsystem.
        Set-Content "$ssh/pwsh-subsystem" "#!/bin/sh`nexec '$($pwsh.FilePath)' $($pwsh.Prefix | ForEach-Object { "'$_'" }) -sshs -NoLogo -NoProfile"
        & chmod 755 "$ssh/pwsh-subsystem"
        $port = Get-Random -Minimum 20000 -Maximum 30000
        Set-Content "$ssh/sshd_config" @"
Port $port
ListenAddress 127.0.0.1
HostKey $ssh/host_key
PidFile $ssh/sshd.pid
AuthorizedKeysFile $ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem powershell $ssh/pwsh-subsystem
"@
        $null = New-Item -ItemType Directory -Path /run/sshd -Force
        $sshd = Start-Bounded /usr/sbin/sshd @('-D', '-e', '-f', "$ssh/sshd_config") -TimeoutSeconds 600
        $listening = Wait-Until { (& sh -c "ss -ltn 2>/dev/null | grep -c ':$port '") -gt 0 -or $sshd.HasExited } -TimeoutSeconds 15
        $connection = @{
            HostName    = '127.0.0.1'
            Port        = $port
            UserName    = 'root'
            KeyFilePath = "$ssh/client_key"
            Options     = @{ StrictHostKeyChecking = 'no'; UserKnownHostsFile = '/dev/null'; LogLevel = 'ERROR' }
        }
    }
    AfterAll {
        if ($sshd -and -not $sshd.HasExited) { $sshd.Kill($true) }
        Remove-Item $ssh -Recurse -Force -ErrorAction Ignore
        Remove-TestMount $mount
    }

    It 'runs a watch on the remote side and brings its events back with all their properties' {
        $listening | Should -BeTrue
        $sshd.HasExited | Should -BeFalse -Because $(if ($sshd.HasExited) { $sshd.StandardError.ReadToEnd() })
        $events = Invoke-Command @connection -ArgumentList $env:FANOTIFYPS_MODULE, $mount -ScriptBlock {
            param($ModulePath, $Path)
            Import-Module $ModulePath
            $watch = Start-FanotifyWatch $Path -Event OpenPerm
            & cat "$Path/data.txt" > $null   # another process, on the remote side
            Get-FanotifyEvent -Watch $watch -Wait -Timeout 1 | Where-Object Exe -like '*/cat'
            Remove-FanotifyWatch $watch
        }
        $events | Should -HaveCount 1
        $events.PSObject.TypeNames[0] | Should -Be 'Deserialized.FanotifyPS.FanotifyEvent'
        $events.PSComputerName | Should -Be '127.0.0.1'
        $events.Path | Should -BeExactly "$mount/data.txt"
        $events.Exe | Should -BeLike '*/cat'
        $events.ProcessName | Should -Be 'cat'
        $events.ProcessId | Should -BeGreaterThan 1
        $events.UserName | Should -Be 'root'
        "$($events.Event)" | Should -Be 'OpenPerm'
        "$($events.Response)" | Should -Be 'Allow'
        $events.TimeStamp | Should -BeOfType [datetime]
        $local = @('TimeStamp', 'Event', 'Path', 'DirectoryPath', 'Name', 'OldPath', 'NewPath', 'IsDirectory', 'IsDeleted',
            'ProcessId', 'ThreadId', 'Exe', 'ProcessName', 'CommandLine', 'ParentProcessId', 'UserId', 'UserName',
            'IsProcessGone', 'Response', 'Rule', 'FsErrorCode', 'FsErrorCount', 'WatchId')
        foreach ($property in $local) { $events.PSObject.Properties.Name | Should -Contain $property }

        # The module's views print names for them, and a cast makes them FanotifyEvent objects again.
        $events | Out-String -Width 200 | Should -Match 'OpenPerm +\d+ root +\S+ +\S*/data\.txt'
        $events | Format-List | Out-String -Width 200 | Should -BeLike '*Response*: Allow*'
        $typed = [FanotifyPS.FanotifyEvent]$events[0]
        $typed.Event | Should -Be ([FanotifyPS.FanotifyEventType]::OpenPerm)
        @($typed | Where-Object Response -eq 'Allow') | Should -HaveCount 1
        $typed.Path | Should -BeExactly "$mount/data.txt"
        $typed.PSComputerName | Should -Be '127.0.0.1'
    }

    It 'streams JSON lines for a log pipeline' {
        $lines = Invoke-Command @connection -ArgumentList $env:FANOTIFYPS_MODULE, $mount -ScriptBlock {
            param($ModulePath, $Path)
            Import-Module $ModulePath
            # A reader that comes while the ad hoc watch runs.
            $reader = [Diagnostics.ProcessStartInfo]::new('sh')
            $reader.ArgumentList.Add('-c')
            $reader.ArgumentList.Add("sleep 2; cat '$Path/data.txt' > /dev/null")
            $null = [Diagnostics.Process]::Start($reader)
            Get-FanotifyEvent $Path -Event OpenPerm -Timeout 6 |
                Select-Object @{ n = 'Host'; e = { [Environment]::MachineName } }, TimeStamp, Event, Path, Exe, ProcessId |
                ConvertTo-Json -Compress -EnumsAsStrings
        }
        $records = $lines | ForEach-Object { $_ | ConvertFrom-Json }
        $cat = $records | Where-Object Exe -like '*/cat'
        $cat | Should -HaveCount 1
        $cat.Event | Should -Be 'OpenPerm'
        $cat.Path | Should -BeExactly "$mount/data.txt"
    }
}
