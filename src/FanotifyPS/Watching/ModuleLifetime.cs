using System;
using System.Management.Automation;

namespace FanotifyPS.Watching;

/// <summary>Stops every watch of the process, ad hoc ones too, when the module is removed or the process exits.</summary>
public sealed class ModuleLifetime : IModuleAssemblyInitializer, IModuleAssemblyCleanup
{
    private static int s_exitHooked;

    public void OnImport()
    {
        if (System.Threading.Interlocked.Exchange(ref s_exitHooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) =>
            {
                StopSignalGuard.OnProcessExit();
                StopAll();
            };
        }
    }

    public void OnRemove(PSModuleInfo psModuleInfo) => StopAll();

    // The watches first: they release the process events listener; whatever still holds it, it closes then.
    private static void StopAll()
    {
        LiveWatchers.StopAll();
        ProcessEventsListener.CloseShared();
    }
}
