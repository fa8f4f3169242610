using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Stops watches if they run, and forgets them: Get-FanotifyWatch no longer lists them.</summary>
[Cmdlet(VerbsCommon.Remove, "FanotifyWatch", SupportsShouldProcess = true, DefaultParameterSetName = WatchSet)]
[OutputType(typeof(void))]
public sealed class RemoveFanotifyWatchCommand : FanotifyWatchSelectionCommandBase
{
    protected override void ProcessRecord()
    {
        foreach (FanotifyWatch watch in SelectedWatches())
        {
            if (ShouldProcess($"{watch.Name} ({watch.Id})", "Remove fanotify watch"))
            {
                watch.Stop();
                WatchRegistry.Forget(watch);
                WriteVerbose($"Removed watch {watch.Id}.");
            }
        }
    }
}
