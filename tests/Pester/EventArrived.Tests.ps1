#Requires -Version 7.4
# FanotifyWatch.EventArrived: the .NET event that Register-ObjectEvent subscribes to, as for FileSystemWatcher.
# Raised by the pump once per event in Output; it takes nothing from Output, and a subscriber that throws harms
# neither the watch nor the other subscribers. Notification events only: nothing here can hold an opener.

BeforeAll {
    Import-Module $env:FANOTIFYPS_MODULE -Force
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force

    # Subscribers that run on the thread that raises the event (a scriptblock would need a runspace there).
    if (-not ('FanotifyPSTests.ArrivalRecorder' -as [type])) {
        Add-Type -ReferencedAssemblies ([FanotifyPS.FanotifyWatch].Assembly.Location), System.Collections.Concurrent, System.Threading, System.Threading.Thread, System.Runtime -IgnoreWarnings -WarningAction Ignore -TypeDefinition @'
using System.Collections.Concurrent;
using System.Threading;
using FanotifyPS;
namespace FanotifyPSTests
{
    public sealed class ArrivalRecorder
    {
        public readonly ConcurrentQueue<string> Paths = new ConcurrentQueue<string>();
        public readonly ConcurrentQueue<string> Threads = new ConcurrentQueue<string>();
        public readonly ConcurrentQueue<object> Senders = new ConcurrentQueue<object>();
        public void Record(object sender, FanotifyEventArrivedEventArgs e)
        {
            Paths.Enqueue(e.Event.Path);
            Threads.Enqueue(Thread.CurrentThread.Name ?? string.Empty);
            Senders.Enqueue(sender);
        }
        public int Thrown;
        public void Throw(object sender, FanotifyEventArrivedEventArgs e)
        {
            Interlocked.Increment(ref Thrown);
            throw new System.InvalidOperationException("subscriber failed on " + e.Event.Path);
        }
    }
}
'@
    }

    # Writes $Count files named after the writing shell's pid; returns that pid.
    function Invoke-Writer([string] $Directory, [int] $Count) {
        $run = Invoke-Bounded sh @('-c', "for i in `$(seq 1 $Count); do echo x > $Directory/writer-`$`$-`$i; done; echo `$`$")
        $run.ExitCode | Should -Be 0 -Because $run.Output
        [int]$run.Output.Trim()
    }
}

Describe 'EventArrived' -Tag 'RequireRoot' {
    BeforeAll { $mount = New-TestMount }
    AfterAll { Remove-TestMount $mount }

    It 'Register-ObjectEvent -Action gets every event with its path, and Receive-Job still gets them all' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $arrived = [Collections.Concurrent.ConcurrentQueue[object]]::new()
        $source = "fanotifyps-arrived-$([guid]::NewGuid())"
        $subscriber = Register-ObjectEvent -InputObject $watch -EventName EventArrived -SourceIdentifier $source -MessageData $arrived -Action {
            $Event.MessageData.Enqueue([pscustomobject]@{
                Path     = $Event.SourceEventArgs.Event.Path
                Pid      = $Event.SourceEventArgs.Event.ProcessId
                SenderId = $Event.Sender.Id
                Type     = $Event.SourceEventArgs.Event.GetType().FullName
            })
        }
        try {
            $writer = Invoke-Writer $mount 5
            $expected = 1..5 | ForEach-Object { "$mount/writer-$writer-$_" }
            # The action runs on this runspace's thread, between commands: poll with a deadline.
            $all = Wait-Until { @($arrived.ToArray() | Where-Object Path -in $expected).Count -ge 5 } -TimeoutSeconds 15
            $all | Should -BeTrue -Because "arrived: $(@($arrived.ToArray()).Path -join ', ')"
        }
        finally {
            Unregister-Event -SourceIdentifier $source
            Remove-Job $subscriber -Force
        }
        $mine = @($arrived.ToArray() | Where-Object Path -in $expected)
        $mine | Should -HaveCount 5 -Because 'one event per event in Output'
        ($mine.Path | Sort-Object) | Should -Be ($expected | Sort-Object)
        foreach ($e in $mine) {
            $e.Pid | Should -Be $writer
            $e.SenderId | Should -Be $watch.Id
            $e.Type | Should -Be 'FanotifyPS.FanotifyEvent'
        }

        # The event takes nothing from Output.
        Stop-FanotifyWatch $watch
        $received = @(Receive-Job $watch | Where-Object Path -in $expected)
        $received | Should -HaveCount 5
        Remove-FanotifyWatch $watch
    }

    It 'is raised on the pump thread, once per event, whoever moved the event into Output' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $recorder = [FanotifyPSTests.ArrivalRecorder]::new()
        $handler = [EventHandler[FanotifyPS.FanotifyEventArrivedEventArgs]] $recorder.Record
        $watch.add_EventArrived($handler)
        try {
            # A reader that takes while the pump sleeps moves events into Output itself: they are raised all the same.
            $token = [guid]::NewGuid().ToString('n')
            $writer = Start-Bounded sh @('-c', "for i in `$(seq 1 300); do echo x > $mount/stream-$token-`$i; done")
            $expected = 1..300 | ForEach-Object { "$mount/stream-$token-$_" }
            $taken = [Collections.Generic.List[object]]::new()
            $deadline = [DateTime]::UtcNow.AddSeconds(20)
            while ([DateTime]::UtcNow -lt $deadline -and @($recorder.Paths.ToArray() | Where-Object { $_ -in $expected }).Count -lt 300) {
                foreach ($e in Get-FanotifyEvent -Watch $watch) { $taken.Add($e) }
            }
            $writer.WaitForExit(10000) | Should -BeTrue
        }
        finally { $watch.remove_EventArrived($handler) }
        $paths = @($recorder.Paths.ToArray() | Where-Object { $_ -in $expected })
        $paths | Should -HaveCount 300
        @($paths | Sort-Object -Unique) | Should -HaveCount 300
        @($taken | Where-Object Path -in $expected) | Should -HaveCount 300
        @($recorder.Threads.ToArray() | Sort-Object -Unique) | Should -Be "fanotify pump $($watch.Id)"
        foreach ($sender in $recorder.Senders.ToArray()) { [object]::ReferenceEquals($sender, $watch) | Should -BeTrue }

        # Unsubscribed: no more.
        $before = $recorder.Paths.Count
        $null = Invoke-Writer $mount 3
        $null = Wait-Until { @(Get-FanotifyEvent -Watch $watch | Where-Object Path -like "$mount/writer-*").Count -ge 1 } -TimeoutSeconds 5
        Start-Sleep -Milliseconds 100
        $recorder.Paths.Count | Should -Be $before
        Remove-FanotifyWatch $watch
    }

    It 'survives a subscriber that throws: the watch runs on, the others get every event, Receive-Job too, and one error says so' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $recorder = [FanotifyPSTests.ArrivalRecorder]::new()
        $thrower = [EventHandler[FanotifyPS.FanotifyEventArrivedEventArgs]] $recorder.Throw
        $record = [EventHandler[FanotifyPS.FanotifyEventArrivedEventArgs]] $recorder.Record
        $watch.add_EventArrived($thrower)
        $watch.add_EventArrived($record)
        try {
            $writer = Invoke-Writer $mount 5
            $expected = 1..5 | ForEach-Object { "$mount/writer-$writer-$_" }
            $all = Wait-Until { @($recorder.Paths.ToArray() | Where-Object { $_ -in $expected }).Count -ge 5 } -TimeoutSeconds 15
            $all | Should -BeTrue
            $recorder.Thrown | Should -BeGreaterOrEqual 5
            $watch.State | Should -Be 'Running'

            # Still running: more events arrive after the failures.
            $second = Invoke-Writer $mount 2
            $more = 1..2 | ForEach-Object { "$mount/writer-$second-$_" }
            Wait-Until { @($recorder.Paths.ToArray() | Where-Object { $_ -in $more }).Count -ge 2 } -TimeoutSeconds 15 | Should -BeTrue
        }
        finally {
            $watch.remove_EventArrived($thrower)
            $watch.remove_EventArrived($record)
        }
        Stop-FanotifyWatch $watch
        $errors = $null
        $received = @(Receive-Job $watch -ErrorVariable errors -ErrorAction SilentlyContinue | Where-Object Path -in ($expected + $more))
        $received | Should -HaveCount 7
        @($errors) | Should -HaveCount 1 -Because 'a failing subscriber is reported once'
        $errors[0].FullyQualifiedErrorId | Should -BeLike 'EventHandlerFailed*'
        $errors[0].CategoryInfo.Category | Should -Be 'InvalidOperation'
        "$($errors[0])" | Should -BeLike '*EventArrived*subscriber failed on*'
        Remove-FanotifyWatch $watch
    }

    It 'reports a script block added with add_EventArrived, which has no runspace on the pump, and goes on' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $watch.add_EventArrived({ param($Sender, $EventArgs) $EventArgs.Event.Path })
        try {
            $writer = Invoke-Writer $mount 2
            $expected = 1..2 | ForEach-Object { "$mount/writer-$writer-$_" }
            $events = [Collections.Generic.List[object]]::new()
            $failed = [Collections.Generic.List[object]]::new()
            $null = Wait-Until {
                foreach ($e in Receive-Job $watch -ErrorVariable got -ErrorAction SilentlyContinue) { $events.Add($e) }
                foreach ($x in $got) { $failed.Add($x) }
                @($events | Where-Object Path -in $expected).Count -ge 2
            } -TimeoutSeconds 15
            @($events | Where-Object Path -in $expected) | Should -HaveCount 2
            $watch.State | Should -Be 'Running'
            Stop-FanotifyWatch $watch
            $null = Receive-Job $watch -ErrorVariable got -ErrorAction SilentlyContinue
            foreach ($x in $got) { $failed.Add($x) }
            @($failed) | Should -HaveCount 1
            "$($failed[0])" | Should -BeLike '*EventArrived*no Runspace*'
        }
        finally { Remove-FanotifyWatch $watch }
    }

    It 'Register-ObjectEvent with an -Action that throws leaves the watch running' {
        $watch = Start-FanotifyWatch -Path $mount -Event CloseWrite
        $source = "fanotifyps-throws-$([guid]::NewGuid())"
        $subscriber = Register-ObjectEvent -InputObject $watch -EventName EventArrived -SourceIdentifier $source -Action { throw 'action failed' }
        try {
            $writer = Invoke-Writer $mount 3
            $expected = 1..3 | ForEach-Object { "$mount/writer-$writer-$_" }
            $events = [Collections.Generic.List[object]]::new()
            $null = Wait-Until {
                foreach ($e in Receive-Job $watch) { $events.Add($e) }
                @($events | Where-Object Path -in $expected).Count -ge 3
            } -TimeoutSeconds 15
            @($events | Where-Object Path -in $expected) | Should -HaveCount 3
            $watch.State | Should -Be 'Running'
        }
        finally {
            Unregister-Event -SourceIdentifier $source
            Remove-Job $subscriber -Force
            Remove-FanotifyWatch $watch
        }
    }
}
