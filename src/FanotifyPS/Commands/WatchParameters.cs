using System.IO;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// Checks of what a watch is started with (<see cref="WatchStartCommandBase.BuildSpec"/> puts it together), and the
/// paths and files that commands resolve.
/// </summary>
internal static class WatchParameters
{
    internal static readonly FanotifyEventType[] DefaultEvents = [FanotifyEventType.OpenPerm, FanotifyEventType.CloseWrite];

    /// <summary>A rule path that no watched path can reach is a rule that never matches: say so.</summary>
    internal static void WarnAboutRulesOutside(PermissionPolicy policy, string[] roots, FanotifyScope scope, System.Action<string> writeWarning)
    {
        foreach (FanotifyRule rule in policy.Rules)
        {
            foreach (string pattern in rule.Path.Where(p => p.StartsWith('/')))
            {
                string directory = PathPatterns.LiteralDirectory(pattern);
                string existing = FileSystemFacts.DeepestExisting(directory);
                if (!roots.Any(root => CanReach(root, directory, existing, scope)))
                {
                    writeWarning($"Rule '{rule.Name}': the path '{pattern}' lies outside every watched path ({scope} of {string.Join(", ", roots)}): " +
                        "it can never match.");
                }
                else if (scope != FanotifyScope.Mount && OtherMount(existing, roots) is { } other)
                {
                    writeWarning($"Rule '{rule.Name}': the path '{pattern}' reaches the watched filesystem through another mount ({other.MountPoint}). " +
                        $"Rules judge a file by its path under the watched mount ({FileSystemFacts.MountOf(roots[0])?.MountPoint ?? roots[0]}), whatever " +
                        "mount it is opened through: write the pattern there, or it can never match.");
                }
            }
        }
    }

    /// <summary>The mount of the pattern's deepest existing directory, when it is not the mount of any watched path.</summary>
    private static MountFacts? OtherMount(string existing, string[] roots)
    {
        long mount = FileSystemFacts.MountId(existing);
        return mount < 0 || roots.Any(root => FileSystemFacts.MountId(root) == mount) ? null : FileSystemFacts.MountOf(existing);
    }

    private static bool CanReach(string root, string directory, string existing, FanotifyScope scope)
    {
        if (scope is FanotifyScope.Tree or FanotifyScope.Directory or FanotifyScope.File)
        {
            return FileSystemFacts.IsUnder(directory, root) || FileSystemFacts.IsUnder(root, directory);
        }

        // A whole filesystem or mount: the pattern's deepest existing directory is on it.
        if (scope == FanotifyScope.Mount)
        {
            long mount = FileSystemFacts.MountId(root);
            return mount < 0 || FileSystemFacts.MountId(existing) == mount;
        }

        FileId? rootId = FileSystemFacts.Identify(root), existingId = FileSystemFacts.Identify(existing);
        return rootId is null || existingId is null ||
            (rootId.Value.DevMajor == existingId.Value.DevMajor && rootId.Value.DevMinor == existingId.Value.DevMinor);
    }

    /// <summary>
    /// Where the rules without a place of their own (no -Path, no -File) apply: under the watch's paths. A Tree,
    /// Directory or File scope confines every event to them already, and a path that is a whole filesystem (its
    /// root, on a mount of that root) or a whole mount covers all the watch sees: none is needed (and no path is
    /// read for such rules). Otherwise "Start-FanotifyWatch /srv -DenyExe '*/curl'" on the root filesystem would deny
    /// curl every file of it, its libraries included, and not only those under /srv.
    /// </summary>
    internal static string[] RuleArea(string[] roots, FanotifyScope scope)
    {
        if (scope is not (FanotifyScope.Filesystem or FanotifyScope.Mount))
        {
            return [];
        }

        return roots.All(root => FileSystemFacts.MountOf(root) is { } mount && mount.MountPoint == root &&
            (scope == FanotifyScope.Mount || mount.Root == "/")) ? [] : roots;
    }

    /// <summary>The paths of a watch, checked against the scope.</summary>
    internal static string[] CheckScope(string[] resolved, FanotifyScope scope)
    {
        if (scope is FanotifyScope.Tree or FanotifyScope.Directory)
        {
            foreach (string path in resolved.Where(p => !Directory.Exists(p)))
            {
                throw new WatchException($"-Scope {scope} needs a directory, and '{path}' is a file. Use -Scope File for one file.",
                    ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, path);
            }
        }
        else if (scope == FanotifyScope.File)
        {
            // A File mark on a directory reports the directory's own events only (listing it, its attributes), never
            // those of its files: a watch that says "Watching the file" and sees nothing of what is in it.
            foreach (string path in resolved.Where(Directory.Exists))
            {
                throw new WatchException($"-Scope File needs a file, and '{path}' is a directory: a File mark would never see its files. " +
                    "Use -Scope Directory for the directory and its entries, or -Scope Tree for everything below it.",
                    ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, path);
            }
        }

        return resolved;
    }

    /// <summary>
    /// The filesystem paths behind a -Path (wildcards expanded, as Get-Item does) or a -LiteralPath (as written). A
    /// wildcard that matches nothing is an error too: a watch of nothing is not what was asked for.
    /// </summary>
    internal static string[] ResolveWatchPath(PSCmdlet cmdlet, string path, bool literal)
    {
        if (literal)
        {
            return [ResolvePath(cmdlet, path)];
        }

        System.Collections.ObjectModel.Collection<string> found;
        ProviderInfo provider;
        try
        {
            found = cmdlet.SessionState.Path.GetResolvedProviderPathFromPSPath(path, out provider);
        }
        catch (ItemNotFoundException)
        {
            // Named in full, as Get-Item names it: a relative path's directory may not be what was meant.
            string full = cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath(path);
            throw new WatchException($"Cannot watch '{full}' because it does not exist.", ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, full);
        }
        catch (System.Exception e) when (e is System.Management.Automation.DriveNotFoundException or ProviderNotFoundException or PSArgumentException)
        {
            throw new WatchException($"Cannot watch '{path}': {e.Message}", ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path);
        }

        if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
        {
            throw new WatchException($"Cannot watch '{path}': it is a {provider.Name} path, not a filesystem path.",
                ErrorIds.PathNotOnFileSystem, ErrorCategory.InvalidArgument, path);
        }

        if (found.Count == 0)
        {
            throw new WatchException($"Cannot watch '{path}': no file or directory matches it.", ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, path);
        }

        return found.Select(p => RealPathOf(p)).ToArray();
    }

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

        return RealPathOf(resolved);
    }

    /// <summary>
    /// Event paths are real paths: a root given through a symlink would see every event as outside it. Also,
    /// "/srv/" and "/srv" are one watch, and a Tree root must not end in '/' (paths below it are matched by prefix).
    /// </summary>
    private static string RealPathOf(string resolved) =>
        FileSystemFacts.RealPath(resolved) ?? (resolved.Length > 1 ? resolved.TrimEnd('/') : resolved);

    /// <summary>
    /// The real paths of existing files for a -File rule (wildcards expanded, as Get-Item does). A directory is
    /// refused: a rule on its inode would stop opening the directory, not the files in it.
    /// </summary>
    internal static string[] ResolveFiles(PSCmdlet cmdlet, string[]? patterns)
    {
        var files = new System.Collections.Generic.List<string>();
        foreach (string pattern in FanotifyRule.Clean(patterns))
        {
            System.Collections.ObjectModel.Collection<string> found;
            ProviderInfo provider;
            try
            {
                found = cmdlet.SessionState.Path.GetResolvedProviderPathFromPSPath(pattern, out provider);
            }
            catch (ItemNotFoundException)
            {
                throw new WatchException($"Cannot make a rule for the file '{pattern}' because it does not exist.",
                    ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, pattern);
            }

            if (provider.ImplementingType != typeof(Microsoft.PowerShell.Commands.FileSystemProvider))
            {
                throw new WatchException($"'{pattern}' is a {provider.Name} path, not a file.",
                    ErrorIds.PathNotOnFileSystem, ErrorCategory.InvalidArgument, pattern);
            }

            foreach (string path in found)
            {
                if (Directory.Exists(path))
                {
                    throw new WatchException($"-File '{path}' is a directory: a file rule matches opens of that inode only, not of the " +
                        $"files in it. Use -Path '{path.TrimEnd('/')}/*' for what is in it.", ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, path);
                }

                files.Add(FileSystemFacts.RealPath(path) ?? path);
            }
        }

        return files.Distinct(System.StringComparer.Ordinal).ToArray();
    }

    internal static FanotifyEventType CombineEvents(FanotifyEventType[]? events, FanotifyScope scope)
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

        if (scope == FanotifyScope.Mount && (combined & FanotifyWatch.FileHandleEvents) != 0)
        {
            throw new WatchException(
                $"-Scope Mount cannot report {combined & FanotifyWatch.FileHandleEvents}: the kernel reports directory-entry, " +
                "attribute and self events only for filesystem and inode marks. Use -Scope Filesystem, Tree, Directory or File.",
                ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, scope);
        }

        if ((combined & FanotifyEventType.FsError) != 0 && scope is not (FanotifyScope.Filesystem or FanotifyScope.Tree))
        {
            throw new WatchException("FsError is reported for a whole filesystem only: use -Scope Filesystem or Tree.",
                ErrorIds.InvalidScope, ErrorCategory.InvalidArgument, scope);
        }

        return combined;
    }
}
