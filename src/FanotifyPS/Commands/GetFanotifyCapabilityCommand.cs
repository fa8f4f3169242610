using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Reports what the running kernel's fanotify supports, by trying each feature.</summary>
[Cmdlet(VerbsCommon.Get, "FanotifyCapability")]
[OutputType(typeof(FanotifyCapability))]
public sealed class GetFanotifyCapabilityCommand : PSCmdlet
{
    /// <summary>A directory on the filesystem to probe (default: the temporary directory's).</summary>
    [Parameter(Position = 0)]
    [ValidateNotNullOrEmpty]
    public string? Path { get; set; }

    protected override void EndProcessing()
    {
        try
        {
            string? directory = Path is null ? null : WatchParameters.ResolvePath(this, Path);
            if (directory is not null && !System.IO.Directory.Exists(directory))
            {
                throw new WatchException($"Cannot probe '{directory}': it is not a directory.",
                    ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, directory);
            }

            WriteObject(CapabilityProbe.Run(directory, WriteVerbose));
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
        }
    }
}
