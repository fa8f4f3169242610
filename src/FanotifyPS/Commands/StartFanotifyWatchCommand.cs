using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Starts a background watch and returns it.</summary>
[Cmdlet(VerbsLifecycle.Start, "FanotifyWatch", SupportsShouldProcess = true)]
[OutputType(typeof(FanotifyWatch))]
public sealed class StartFanotifyWatchCommand : PSCmdlet
{
    [Parameter(Position = 0, ValueFromPipelineByPropertyName = true)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    [Parameter]
    public FanotifyScope Scope { get; set; } = FanotifyScope.Filesystem;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public FanotifyEventType[] Event { get; set; } = WatchParameters.DefaultEvents;

    [Parameter]
    [ValidateNotNullOrEmpty]
    public string? Name { get; set; }

    [Parameter]
    [ValidateRange(1, 16 * 1024 * 1024)]
    public int BufferSize { get; set; } = EventBuffer.DefaultCapacity;

    protected override void ProcessRecord()
    {
        try
        {
            string path = WatchParameters.ResolvePath(this, Path);
            FanotifyEventType events = WatchParameters.CombineEvents(Event);
            if (!ShouldProcess(path, $"Start a fanotify watch ({events}, {Scope} scope)"))
            {
                return;
            }

            FanotifyWatch watch = FanotifyWatch.Start(path, Scope, events, Name, BufferSize, isAdHoc: false, WriteWarning);
            WriteVerbose($"Started watch {watch.Id} on the {watch.Scope.ToString().ToLowerInvariant()} of '{path}' for {events}.");
            WriteObject(watch);
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
        }
    }
}
