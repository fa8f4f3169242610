using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// What a watch covers, in words, written when it starts: "/srv/data" with the default scope is the whole
/// filesystem behind it, and with permission events every open there waits for this pwsh.
/// </summary>
internal static class StartMessage
{
    /// <summary>
    /// Writes the message on the Information stream. Shown on a terminal (tag PSHOST, as Write-Host); where this
    /// pwsh's output is redirected it is only recorded (6>&amp;1, -InformationVariable), so that it never becomes a
    /// line of data in `pwsh -c '...' | other-tool`.
    /// </summary>
    public static void Write(PSCmdlet cmdlet, FanotifyWatch watch, PermissionPolicy? policy)
    {
        string text = For(watch, policy);
        if (System.Console.IsOutputRedirected)
        {
            cmdlet.WriteInformation(text, ["FanotifyPS"]);
        }
        else
        {
            cmdlet.WriteInformation(new HostInformationMessage { Message = text }, ["PSHOST", "FanotifyPS"]);
        }
    }

    public static string For(FanotifyWatch watch, PermissionPolicy? policy = null)
    {
        var parts = new List<string>();
        foreach (string path in watch.Path)
        {
            parts.Add(Describe(path, watch.Scope));
        }

        string text = $"Watching {string.Join("; ", parts.Distinct(System.StringComparer.Ordinal))} for {watch.Event}.";
        FanotifyEventType permission = watch.Event & FanotifyRule.PermissionEvents;
        if (permission != FanotifyEventType.None)
        {
            var waits = new List<string>();
            if ((permission & FanotifyEventType.OpenPerm) != 0)
            {
                waits.Add("every open");
            }

            if ((permission & FanotifyEventType.AccessPerm) != 0)
            {
                waits.Add("every read");
            }

            if ((permission & FanotifyEventType.OpenExecPerm) != 0)
            {
                waits.Add("every program start");
            }

            string where = watch.Scope switch
            {
                FanotifyScope.Filesystem or FanotifyScope.Tree => "on that filesystem",
                FanotifyScope.Mount => "through that mount",
                FanotifyScope.Directory => "of an entry of that directory",
                _ => "of that file",
            };
            text += $" {permission}: {string.Join(", ", waits)} {where} waits for this pwsh (pid {System.Environment.ProcessId}) to answer.";
        }

        if (policy?.AreaRules is { Length: > 0 } confined)
        {
            // Where the watch sees more than its paths (a filesystem or mount), say where a rule without a path denies.
            string area = string.Join(", ", policy.Area);
            text += Interop.PathText.Escape(confined.Length == 1
                ? $" The rule '{confined[0]}' has no path of its own: it applies under {area} only."
                : $" The rules {string.Join(", ", confined.Select(n => $"'{n}'"))} have no path of their own: they apply under {area} only.");
        }

        if (watch.Unprivileged)
        {
            text += " Without root: the kernel names no process but this pwsh, so the events of others have no ProcessId (0) and no Exe; " +
                "paths are known only through the watched paths (others say (unresolved)); the queue is the kernel's bounded one (losses are reported as Overflow).";
        }

        return text;
    }

    private static string Describe(string path, FanotifyScope scope)
    {
        MountFacts? mount = scope is FanotifyScope.Filesystem or FanotifyScope.Mount or FanotifyScope.Tree ? FileSystemFacts.MountOf(path) : null;
        string filesystem = mount is null
            ? $"the whole filesystem of {path}"
            : $"the whole filesystem mounted at {mount.MountPoint} ({mount.FileSystemType}" +
              (mount.OtherMountPoints.Length == 0 ? ")" : $"; also mounted at {string.Join(", ", mount.OtherMountPoints.Take(5))}{(mount.OtherMountPoints.Length > 5 ? ", ..." : string.Empty)})");
        return scope switch
        {
            FanotifyScope.Filesystem => filesystem,
            FanotifyScope.Mount => mount is null ? $"the mount of {path}" : $"the mount at {mount.MountPoint} ({mount.FileSystemType})",
            FanotifyScope.Tree => $"the tree {path}, through a mark on {filesystem}",
            FanotifyScope.Directory => $"the directory {path} and its entries",
            _ => $"the file {path}",
        };
    }
}
