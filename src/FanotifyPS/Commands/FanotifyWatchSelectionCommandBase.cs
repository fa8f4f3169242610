using System.Collections.Generic;
using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>The -Watch, -Id and -Name parameter sets of the cmdlets that act on existing watches.</summary>
public abstract class FanotifyWatchSelectionCommandBase : PSCmdlet
{
    internal const string WatchSet = "Watch";
    internal const string IdSet = "Id";
    internal const string NameSet = "Name";

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

    /// <summary>The watches named by the bound parameter set; unknown ids and names are written as errors.</summary>
    internal List<FanotifyWatch> SelectedWatches() => WatchSelector.Select(this, ParameterSetName, Watch, Id, Name);
}
