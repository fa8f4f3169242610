using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>Stops watches; their counters and any unread events stay available.</summary>
[Cmdlet(VerbsLifecycle.Stop, "FanotifyWatch", SupportsShouldProcess = true, DefaultParameterSetName = ParameterSets.Watch)]
[OutputType(typeof(FanotifyWatch))]
public sealed class StopFanotifyWatchCommand : FanotifyWatchSelectionCommandBase
{
    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (FanotifyWatch watch in SelectedWatches())
        {
            if (!ShouldProcess($"{watch.Name} ({watch.Id}) on '{string.Join(", ", watch.Path)}'", "Stop fanotify watch"))
            {
                continue;
            }

            watch.Stop();
            WriteVerbose($"Stopped watch {watch.Id}: {watch.EventCount} events, {watch.DroppedCount} dropped, {watch.OverflowCount} overflows.");
            if (PassThru)
            {
                WriteObject(watch);
            }
        }
    }
}
