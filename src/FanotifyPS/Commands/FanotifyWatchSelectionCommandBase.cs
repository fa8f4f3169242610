using System.Collections.Generic;
using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>The -Watch, -Id and -Name parameter sets of the cmdlets that act on existing watches.</summary>
public abstract class FanotifyWatchSelectionCommandBase : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ParameterSets.Watch)]
    [ValidateNotNullOrEmpty]
    public FanotifyWatch[] Watch { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Id)]
    [Alias("WatchId")]
    [ArgumentCompleter(typeof(WatchIdCompleter))]
    public int[] Id { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ParameterSets.Name)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(WatchNameCompleter))]
    public string[] Name { get; set; } = [];

    /// <summary>The watches named by the bound parameter set; unknown ids and names are written as errors.</summary>
    internal List<FanotifyWatch> SelectedWatches() => WatchSelector.Select(this, ParameterSetName, Watch, Id, Name);
}
