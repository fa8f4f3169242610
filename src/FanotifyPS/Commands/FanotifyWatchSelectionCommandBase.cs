using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>The -Watch, -Id and -Name parameter sets of the cmdlets that act on existing watches.</summary>
public abstract class FanotifyWatchSelectionCommandBase : PSCmdlet
{
    /// <summary>The watches already acted on: an event per watch would otherwise act on (and return) it once per event.</summary>
    private readonly HashSet<FanotifyWatch> _seen = [];
    private bool _watchArgument;

    /// <summary>
    /// Jobs, so that Get-Job's output binds by value whatever the job: those that are not watches are skipped, as the
    /// job cmdlets skip what is not theirs (without this, a job's Id would bind -Id and be an unknown watch).
    /// </summary>
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ParameterSetName = ParameterSets.Watch)]
    [ValidateNotNullOrEmpty]
    public Job[] Watch { get; set; } = [];

    [Parameter(Mandatory = true, Position = 0, ValueFromPipelineByPropertyName = true, ParameterSetName = ParameterSets.Id)]
    [Alias("WatchId")]
    [ArgumentCompleter(typeof(WatchIdCompleter))]
    public int[] Id { get; set; } = [];

    [Parameter(Mandatory = true, ParameterSetName = ParameterSets.Name)]
    [ValidateNotNullOrEmpty]
    [SupportsWildcards]
    [ArgumentCompleter(typeof(WatchNameCompleter))]
    public string[] Name { get; set; } = [];

    protected override void BeginProcessing() => _watchArgument = MyInvocation.BoundParameters.ContainsKey(nameof(Watch));

    /// <summary>
    /// The watches named by the bound parameter set, each once per command; unknown ids and names are written as
    /// errors. Other jobs from the pipeline are skipped; given as -Watch, they are errors.
    /// </summary>
    internal List<FanotifyWatch> SelectedWatches()
    {
        var watches = new List<FanotifyWatch>();
        foreach (Job job in Watch)
        {
            if (job is FanotifyWatch watch)
            {
                watches.Add(watch);
            }
            else if (_watchArgument)
            {
                WriteError(new ErrorRecord(new ItemNotFoundException($"The job {job.Id} ({job.Name}, {job.PSJobTypeName}) is not a fanotify watch: " +
                    "Stop-Job and Remove-Job act on it."), ErrorIds.WatchNotFound, ErrorCategory.InvalidArgument, job));
            }
            else
            {
                WriteVerbose($"Skipped the job {job.Id} ({job.Name}, {job.PSJobTypeName}): it is not a fanotify watch.");
            }
        }

        return WatchSelector.Select(this, ParameterSetName, [.. watches], Id, Name).Where(_seen.Add).ToList();
    }
}
