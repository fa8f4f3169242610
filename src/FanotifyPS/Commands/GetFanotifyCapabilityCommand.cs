using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Reports what the running kernel's fanotify supports, by trying each feature.</summary>
[Cmdlet(VerbsCommon.Get, "FanotifyCapability")]
[OutputType(typeof(FanotifyCapability))]
public sealed class GetFanotifyCapabilityCommand : PSCmdlet
{
    protected override void EndProcessing()
    {
        try
        {
            WriteObject(CapabilityProbe.Run());
        }
        catch (WatchException e)
        {
            ThrowTerminatingError(e.ToErrorRecord());
        }
    }
}
