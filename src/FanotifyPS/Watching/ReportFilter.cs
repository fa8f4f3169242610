using System;

namespace FanotifyPS.Watching;

/// <summary>What a watch reports: its Tree roots and the -ExcludePath/-ProcessId/-Exe... filters, allocation-free.</summary>
internal sealed class ReportFilter
{
    public string[] TreeRoots { get; init; } = [];
    public GlobSet ExcludePath { get; init; } = GlobSet.Empty;
    public int[] ProcessId { get; init; } = [];
    public int[] ExcludeProcessId { get; init; } = [];
    public GlobSet Exe { get; init; } = GlobSet.Empty;
    public GlobSet ExcludeExe { get; init; } = GlobSet.Empty;

    public bool HasTree => TreeRoots.Length != 0;

    public bool IsEmpty => TreeRoots.Length == 0 && ExcludePath.Count == 0 && ProcessId.Length == 0 &&
        ExcludeProcessId.Length == 0 && Exe.Count == 0 && ExcludeExe.Count == 0;

    /// <summary>The path is under one of the Tree roots (always true without Tree scope).</summary>
    public bool InScope(string path)
    {
        if (TreeRoots.Length == 0)
        {
            return true;
        }

        foreach (string root in TreeRoots)
        {
            if (path.StartsWith(root, StringComparison.Ordinal) &&
                (path.Length == root.Length || path[root.Length] == '/' || root.Length == 1))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>In scope (by its path, or for a rename its old path) and let through by every filter.</summary>
    public bool Reports(string path, string oldPath, int pid, string exe) =>
        (InScope(path) || (oldPath.Length != 0 && InScope(oldPath))) && PassesFilters(path, pid, exe);

    public bool Reports(FanotifyEvent e) => Reports(e.Path, e.OldPath, e.ProcessId, e.Exe);

    /// <summary>
    /// For an event Reports left out: left out by -Exe or -ExcludeExe alone, with no program to judge (empty exe).
    /// </summary>
    public bool LeftOutWithoutExe(string path, string oldPath, int pid, string exe) =>
        exe.Length == 0 && (Exe.Count != 0 || ExcludeExe.Count != 0) &&
        (InScope(path) || (oldPath.Length != 0 && InScope(oldPath))) && PassesFilters(path, pid, exe, judgeExe: false);

    private bool PassesFilters(string path, int pid, string exe, bool judgeExe = true)
    {
        if (ProcessId.Length != 0 && Array.IndexOf(ProcessId, pid) < 0)
        {
            return false;
        }

        if (ExcludeProcessId.Length != 0 && Array.IndexOf(ExcludeProcessId, pid) >= 0)
        {
            return false;
        }

        if (judgeExe && Exe.Count != 0 && !Exe.IsMatchAny(exe))
        {
            return false;
        }

        if (judgeExe && ExcludeExe.Count != 0 && ExcludeExe.IsMatchAny(exe))
        {
            return false;
        }

        return ExcludePath.Count == 0 || !ExcludePath.IsMatchAny(path);
    }
}
