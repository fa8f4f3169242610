using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Stops watches; their counters and any unread events stay available.</summary>
[Cmdlet(VerbsLifecycle.Stop, "FanotifyWatch", SupportsShouldProcess = true, DefaultParameterSetName = WatchSet)]
[OutputType(typeof(FanotifyWatch))]
public sealed class StopFanotifyWatchCommand : PSCmdlet
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

    [Parameter]
    public SwitchParameter PassThru { get; set; }

    protected override void ProcessRecord()
    {
        foreach (FanotifyWatch watch in WatchSelector.Select(this, ParameterSetName, Watch, Id, Name))
        {
            if (!ShouldProcess($"{watch.Name} ({watch.Id}) on '{watch.Path}'", "Stop fanotify watch"))
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
