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

    /// <summary>-LoginUser, resolved to uids: only the processes a login by one of them started.</summary>
    public int[] LoginUserId { get; init; } = [];

    /// <summary>-ContainerId: only the processes of containers whose 64-hex id matches (never a host process).</summary>
    public GlobSet ContainerId { get; init; } = GlobSet.Empty;

    /// <summary>-User, resolved to uids: only the processes running as one of them (the event's UserId).</summary>
    public int[] UserId { get; init; } = [];

    public bool HasTree => TreeRoots.Length != 0;

    public bool IsEmpty => TreeRoots.Length == 0 && ExcludePath.Count == 0 && ProcessId.Length == 0 &&
        ExcludeProcessId.Length == 0 && Exe.Count == 0 && ExcludeExe.Count == 0 &&
        LoginUserId.Length == 0 && ContainerId.Count == 0 && UserId.Length == 0;

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

    /// <summary>
    /// In scope (by its path, or for a rename its old path) and let through by every filter. loginUid is -1 when
    /// unset or unknown, containerId empty on the host or when unknown, userId -1 when unknown.
    /// </summary>
    public bool Reports(string path, string oldPath, int pid, string exe, int loginUid, string containerId, int userId) =>
        (InScope(path) || (oldPath.Length != 0 && InScope(oldPath))) && PassesFilters(path, pid, exe, loginUid, containerId, userId, true, true, true);

    public bool Reports(FanotifyEvent e) => Reports(e.Path, e.OldPath, e.ProcessId, e.Exe, e.LoginUserId ?? -1, e.ContainerId, e.UserId ?? -1);

    /// <summary>
    /// For an event Reports left out: left out by the process filters alone, for want of what they judge: by -Exe or
    /// -ExcludeExe with no program (empty exe), by -LoginUser or -ContainerId with the process's facts unknown, or
    /// by -User with its uid unknown (-1).
    /// </summary>
    public bool LeftOutWithoutExe(string path, string oldPath, int pid, string exe, int loginUid, string containerId, int userId, bool factsKnown)
    {
        bool exeUnknown = exe.Length == 0 && (Exe.Count != 0 || ExcludeExe.Count != 0);
        bool factsUnknown = !factsKnown && (LoginUserId.Length != 0 || ContainerId.Count != 0);
        bool userUnknown = userId < 0 && UserId.Length != 0;
        return (exeUnknown || factsUnknown || userUnknown) && (InScope(path) || (oldPath.Length != 0 && InScope(oldPath))) &&
            PassesFilters(path, pid, exe, loginUid, containerId, userId, judgeExe: exe.Length != 0, judgeFacts: factsKnown, judgeUser: userId >= 0);
    }

    private bool PassesFilters(string path, int pid, string exe, int loginUid, string containerId, int userId, bool judgeExe, bool judgeFacts, bool judgeUser)
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

        // An unknown uid (-1) is in no list: Reports leaves it out, LeftOutWithoutExe does not judge it.
        if (judgeUser && UserId.Length != 0 && Array.IndexOf(UserId, userId) < 0)
        {
            return false;
        }

        if (judgeFacts && LoginUserId.Length != 0 && Array.IndexOf(LoginUserId, loginUid) < 0)
        {
            return false;
        }

        // A host process is in no container: '*' selects every container's processes, not the host's too.
        if (judgeFacts && ContainerId.Count != 0 && (containerId.Length == 0 || !ContainerId.IsMatchAny(containerId)))
        {
            return false;
        }

        return ExcludePath.Count == 0 || !ExcludePath.IsMatchAny(path);
    }
}
