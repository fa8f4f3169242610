using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>Stops watches if they run, and forgets them: neither Get-FanotifyWatch nor Get-Job lists them.</summary>
[Cmdlet(VerbsCommon.Remove, "FanotifyWatch", SupportsShouldProcess = true, DefaultParameterSetName = ParameterSets.Watch)]
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
                if (JobRepository.GetJob(watch.InstanceId) is not null)
                {
                    JobRepository.Remove(watch);
                }

                WriteVerbose($"Removed watch {watch.Id}.");
            }
        }
    }
}
