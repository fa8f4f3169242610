using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>Lists the watches started in this session (its job repository), running or ended.</summary>
[Cmdlet(VerbsCommon.Get, "FanotifyWatch", DefaultParameterSetName = AllSet)]
[OutputType(typeof(FanotifyWatch))]
public sealed class GetFanotifyWatchCommand : PSCmdlet
{
    private const string AllSet = ParameterSets.All;
    private const string IdSet = ParameterSets.Id;
    private const string NameSet = ParameterSets.Name;

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
        if (ParameterSetName == AllSet)
        {
            WriteObject(WatchSelector.All(this), enumerateCollection: true);
            return;
        }

        WriteObject(WatchSelector.Select(this, ParameterSetName, [], Id, Name), enumerateCollection: true);
    }
}
