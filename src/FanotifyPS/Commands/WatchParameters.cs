using System.IO;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Validation shared by the cmdlets that start watches.</summary>
internal static class WatchParameters
{
    internal static readonly FanotifyEventType[] DefaultEvents = [FanotifyEventType.OpenPerm, FanotifyEventType.CloseWrite];

    /// <summary>The filesystem path behind a PowerShell path (relative to the current location), which must exist.</summary>
    internal static string ResolvePath(PSCmdlet cmdlet, string? path)
    {
        string requested = string.IsNullOrEmpty(path) ? "." : path;
        string resolved = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(requested, out ProviderInfo provider, out _);
        if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
        {
            throw new WatchException($"Cannot watch '{requested}': it is a {provider.Name} path, not a filesystem path.",
                ErrorIds.PathNotOnFileSystem, ErrorCategory.InvalidArgument, requested);
        }

        if (!Directory.Exists(resolved) && !File.Exists(resolved))
        {
            throw new WatchException($"Cannot watch '{resolved}' because it does not exist.",
                ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, resolved);
        }

        return resolved;
    }

    internal static FanotifyEventType CombineEvents(FanotifyEventType[]? events)
    {
        FanotifyEventType combined = (events is null || events.Length == 0 ? DefaultEvents : events)
            .Aggregate(FanotifyEventType.None, (all, e) => all | e);

        if (combined == FanotifyEventType.None)
        {
            throw new WatchException("-Event names no event. Name at least one, for example -Event Open, CloseWrite.",
                ErrorIds.InvalidEventSelection, ErrorCategory.InvalidArgument);
        }

        if ((combined & FanotifyEventType.Overflow) != 0)
        {
            throw new WatchException("Overflow cannot be requested: every watch reports kernel queue overflows on its own.",
                ErrorIds.InvalidEventSelection, ErrorCategory.InvalidArgument);
        }

        FanotifyEventType unsupported = combined & ~FanotifyWatch.SupportedEvents;
        if (unsupported != FanotifyEventType.None)
        {
            throw new WatchException(
                $"This version of FanotifyPS cannot watch {unsupported} yet. Supported: {FanotifyWatch.SupportedEvents}.",
                ErrorIds.EventTypeNotSupported, ErrorCategory.NotImplemented, unsupported);
        }

        return combined;
    }
}
