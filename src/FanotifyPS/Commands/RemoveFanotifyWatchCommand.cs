using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Stops watches if they run, and forgets them: Get-FanotifyWatch no longer lists them.</summary>
[Cmdlet(VerbsCommon.Remove, "FanotifyWatch", SupportsShouldProcess = true, DefaultParameterSetName = WatchSet)]
[OutputType(typeof(void))]
public sealed class RemoveFanotifyWatchCommand : PSCmdlet
{
    private const string WatchSet = "Watch";
    private const string IdSet = "Id";
    private const string NameSet = "Name";

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = WatchSet)]
    [ValidateNotNullOrEmpty]
    public FanotifyWatch[] Watch { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = IdSet)]
    [Alias("WatchId")]
    [ArgumentCompleter(typeof(WatchIdCompleter))]
    public int[] Id { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = NameSet)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(WatchNameCompleter))]
    public string[] Name { get; set; } = [];

    protected override void ProcessRecord()
    {
        foreach (FanotifyWatch watch in WatchSelector.Select(this, ParameterSetName, Watch, Id, Name))
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
