using System.Collections.Generic;
using System.Linq;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// The deny rules of a watch that reach the dynamic loader or the C library (<see cref="SystemLibraries"/>): the
/// programs such a rule matches cannot start while the watch runs, so it asks first, as a rule that denies a whole
/// filesystem does. Judged as the responder would judge an open of each library: is it seen by the watch (its
/// scope), where does it lie under the watched mount, and which rule decides it first.
/// </summary>
internal static class LibraryRules
{
    /// <summary>What each library is opened with: the loader by execve (OpenExecPerm too), the C library by the loader.</summary>
    private const FanotifyEventType LoaderEvents = FanotifyEventType.OpenPerm | FanotifyEventType.AccessPerm | FanotifyEventType.OpenExecPerm;
    private const FanotifyEventType LibraryEvents = FanotifyEventType.OpenPerm | FanotifyEventType.AccessPerm;

    /// <summary>
    /// The deny rules that decide an open of a library for some process, each with the libraries it denies. An Allow
    /// rule before them that reaches the library for every process (no program, no user) shields it.
    /// </summary>
    public static List<(string Rule, List<string> Files)> Find(WatchSpec spec, IEnumerable<SystemLibraries.Library> libraries)
    {
        var denied = new List<(string Rule, List<string> Files)>();
        if (spec.Policy is not { } policy)
        {
            return denied;
        }

        foreach (SystemLibraries.Library library in libraries)
        {
            string judged = JudgedPath(library.Path, spec.Paths, spec.Scope);
            if (!Sees(spec, judged, library.Id))
            {
                continue;
            }

            FanotifyEventType events = (library.IsLoader ? LoaderEvents : LibraryEvents) & spec.Events;
            for (int i = 0; i < policy.Rules.Length; i++)
            {
                FanotifyRule rule = policy.Rules[i];
                if ((rule.Event & events) == 0 || !policy.Reaches(i, judged, library.Id))
                {
                    continue;
                }

                if (rule.Action == FanotifyRuleAction.Allow)
                {
                    if (!policy.NamesProcess(i))
                    {
                        break;   // allowed to every process: no later rule decides it
                    }

                    continue;
                }

                int at = denied.FindIndex(d => d.Rule == rule.Name);
                if (at < 0)
                {
                    denied.Add((rule.Name, [library.Path]));
                }
                else if (!denied[at].Files.Contains(library.Path))
                {
                    denied[at].Files.Add(library.Path);
                }
            }
        }

        return denied;
    }

    /// <summary>Whether the watch's marks see an open of the file at all (the Tree by its judged path, as its filter does).</summary>
    private static bool Sees(WatchSpec spec, string judged, FileId file)
    {
        foreach (string root in spec.Paths)
        {
            bool sees = spec.Scope switch
            {
                FanotifyScope.Filesystem => FileSystemFacts.Identify(root) is { } id && id.DevMajor == file.DevMajor && id.DevMinor == file.DevMinor,
                FanotifyScope.Mount => FileSystemFacts.MountId(root) is var mount and >= 0 && mount == FileSystemFacts.MountId(judged),
                FanotifyScope.Tree => FileSystemFacts.IsUnder(judged, root),
                FanotifyScope.Directory => judged == root || System.IO.Path.GetDirectoryName(judged) == root,
                _ => FileSystemFacts.Identify(root) == file,
            };
            if (sees)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The file's path under a watched mount, as MountTranslator gives it to the rules: on a watched mount, its path;
    /// on another mount of the same filesystem, carried over by the two mounts' roots; else its path.
    /// </summary>
    internal static string JudgedPath(string path, string[] roots, FanotifyScope scope)
    {
        if (scope == FanotifyScope.Mount || FileSystemFacts.MountOf(path) is not { } opened)
        {
            return path;
        }

        MountFacts?[] watched = roots.Select(FileSystemFacts.MountOf).ToArray();
        if (watched.Any(m => m?.Id == opened.Id) || !FileSystemFacts.IsUnder(path, opened.MountPoint))
        {
            return path;
        }

        string inFileSystem = Join(opened.Root, path.Substring(opened.MountPoint.Length == 1 ? 0 : opened.MountPoint.Length));
        foreach (MountFacts? target in watched)
        {
            if (target is not null && target.DeviceNumber == opened.DeviceNumber && FileSystemFacts.IsUnder(inFileSystem, target.Root))
            {
                return Join(target.MountPoint, inFileSystem.Substring(target.Root.Length == 1 ? 0 : target.Root.Length));
            }
        }

        return path;
    }

    private static string Join(string directory, string rest) =>
        rest.Length == 0 ? directory : directory.Length == 1 ? rest : string.Concat(directory, rest);
}
