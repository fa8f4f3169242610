using System;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Rules compiled for the responder: uids resolved, errnos as numbers, everything in arrays, so that
/// <see cref="Evaluate"/> runs before a verdict without allocating or formatting.
/// </summary>
internal sealed class PermissionPolicy
{
    // FAN_DENY_ERRNO accepts only these (fs/notify/fanotify/fanotify_user.c).
    internal static readonly IReadOnlyDictionary<string, int> DenyErrnos = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase)
    {
        ["EPERM"] = 1, ["EIO"] = 5, ["EAGAIN"] = 11, ["EBUSY"] = 16, ["ETXTBSY"] = 26, ["ENOSPC"] = 28, ["EDQUOT"] = 122,
    };

    private readonly CompiledRule[] _rules;
    private readonly string[] _area;

    private PermissionPolicy(FanotifyRule[] rules, CompiledRule[] compiled, string[] area)
    {
        Rules = rules;
        _rules = compiled;
        _area = area;
        NeedsErrno = compiled.Any(r => r.Errno != 0);
        EventMask = compiled.Aggregate(0UL, (all, r) => all | r.Mask);
        PathMask = compiled.Where(r => r.Path.Count != 0 || r.InArea).Aggregate(0UL, (all, r) => all | r.Mask);
        ProcessMask = compiled.Where(r => r.Exe.Count != 0 || r.Uids.Length != 0 || r.LoginUids.Length != 0).Aggregate(0UL, (all, r) => all | r.Mask);
        FileMask = compiled.Where(r => r.Files.Length != 0).Aggregate(0UL, (all, r) => all | r.Mask);
    }

    public FanotifyRule[] Rules { get; }

    /// <summary>
    /// The directories that the rules without a place of their own (no -Path, no -File) are confined to: the paths
    /// of a Filesystem or Mount watch that is not a whole filesystem or mount. Empty: they apply wherever the watch
    /// sees (a whole filesystem or mount, or a Tree, Directory or File scope, which confine every event already).
    /// </summary>
    public IReadOnlyList<string> Area => _area;

    /// <summary>The names of the rules confined to <see cref="Area"/>.</summary>
    public string[] AreaRules => Rules.Where((_, i) => _rules[i].InArea).Select(r => r.Name).ToArray();

    /// <summary>The events some rule applies to.</summary>
    public ulong EventMask { get; }

    /// <summary>The events some rule with a -Path, or confined to the area, applies to: their path is read before the verdict.</summary>
    public ulong PathMask { get; }

    /// <summary>The events some rule with an -Exe, -User or -LoginUser applies to: their process is read before the verdict.</summary>
    public ulong ProcessMask { get; }

    /// <summary>The events some rule with a -File applies to: the file's device and inode are read before the verdict.</summary>
    public ulong FileMask { get; }

    /// <summary>Some rule denies with a chosen errno: the group must be FAN_CLASS_PRE_CONTENT.</summary>
    public bool NeedsErrno { get; }

    public FanotifyEventType Events => (FanotifyEventType)EventMask;

    /// <summary>
    /// Compiles the rules. area: the watch's directories, to which a rule without a -Path or -File of its own is
    /// confined (a rule with one keeps it); empty when the watch's scope confines every event already.
    /// </summary>
    public static PermissionPolicy Compile(IEnumerable<FanotifyRule> rules, string[]? area = null)
    {
        area ??= [];
        FanotifyRule[] list = rules.ToArray();
        var compiled = new CompiledRule[list.Length];
        for (int i = 0; i < list.Length; i++)
        {
            FanotifyRule rule = list[i];
            int[] uids = rule.User.Select(user => UserNames.Resolve(user) ?? throw new WatchException(
                $"Rule '{rule.Name}' names the user '{user}', who does not exist.",
                ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, user)).ToArray();
            int errno = 0;
            if (rule.Errno.Length != 0 && !DenyErrnos.TryGetValue(rule.Errno, out errno))
            {
                throw new WatchException(
                    $"Rule '{rule.Name}': '{rule.Errno}' is not an errno fanotify can deny with. Use one of {string.Join(", ", DenyErrnos.Keys)}.",
                    ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, rule.Errno);
            }

            int[] loginUids = Commands.ProcessFactPatterns.ResolveLoginUsers(rule.LoginUser, "-" + nameof(FanotifyRule.LoginUser), rule.Name);
            FileId[] files = rule.File.Select(file => FileSystemFacts.Identify(file) ?? throw new WatchException(
                $"Rule '{rule.Name}' names the file '{file}', which does not exist (any more).",
                ErrorIds.PathNotFound, ErrorCategory.ObjectNotFound, file)).ToArray();
            compiled[i] = new CompiledRule((ulong)rule.Event, rule.Action, new GlobSet(rule.Path), new GlobSet(rule.Exe), uids, errno, files, loginUids,
                InArea: area.Length != 0 && rule.Path.Length == 0 && rule.File.Length == 0);
        }

        return new PermissionPolicy(list, compiled, area);
    }

    /// <summary>The same rules, those without a place of their own confined to these directories (none: not confined).</summary>
    public PermissionPolicy Within(string[] area) =>
        new(Rules, Array.ConvertAll(_rules, r => r with { InArea = area.Length != 0 && r.Path.Count == 0 && r.Files.Length == 0 }), area);

    /// <summary>
    /// The events for which some rule could match this program, user and login user: the rules' -Exe, -User and
    /// -LoginUser judged once per process (the responder keeps the answer with the process), their -Path later and
    /// only if needed. loginUid is -1 when unset, which no rule names.
    /// </summary>
    public ulong MatchMask(string exe, int uid, int loginUid)
    {
        ulong mask = 0;
        foreach (CompiledRule rule in _rules)
        {
            if ((rule.Exe.Count == 0 || rule.Exe.IsMatchAny(exe)) &&
                (rule.Uids.Length == 0 || Array.IndexOf(rule.Uids, uid) >= 0) &&
                (rule.LoginUids.Length == 0 || Array.IndexOf(rule.LoginUids, loginUid) >= 0))
            {
                mask |= rule.Mask;
            }
        }

        return mask;
    }

    /// <summary>
    /// The deny rules that match every open of a whole filesystem or mount: no condition, or only conditions that
    /// match everything (a path or program pattern of nothing but '*', the user root). They need -Force. A login
    /// user is never everyone: daemons have none. A rule confined to the area covers only the watch's directories.
    /// </summary>
    public string[] SweepingRules()
    {
        var names = new List<string>();
        for (int i = 0; i < Rules.Length; i++)
        {
            FanotifyRule rule = Rules[i];
            if (rule.Action == FanotifyRuleAction.Deny && rule.File.Length == 0 && !_rules[i].InArea &&
                (rule.Path.Length == 0 || rule.Path.Any(MatchesEverything)) &&
                (rule.Exe.Length == 0 || rule.Exe.Any(MatchesEverything)) &&
                (_rules[i].Uids.Length == 0 || Array.IndexOf(_rules[i].Uids, 0) >= 0) && _rules[i].LoginUids.Length == 0)
            {
                names.Add(rule.Name);
            }
        }

        return names.ToArray();
    }

    /// <summary>"*", "/*", "**": a pattern that every absolute path matches.</summary>
    internal static bool MatchesEverything(string pattern) =>
        pattern.TrimStart('/').Length != 0 && pattern.TrimStart('/').All(c => c == '*') && pattern.TrimStart('/').Length + 1 >= pattern.Length;

    /// <summary>
    /// The index of the first rule that matches, or -1. path is null when no rule needs it; exe, uid and loginUid are
    /// unknown (empty, -1, -1) only when no rule for this event names a program or a user (loginUid is -1 for a
    /// process no login started too); file is read only when some rule for this event names files.
    /// </summary>
    public int Evaluate(ulong mask, string? path, string exe, int uid, int loginUid, in FileId file = default)
    {
        CompiledRule[] rules = _rules;
        for (int i = 0; i < rules.Length; i++)
        {
            CompiledRule rule = rules[i];
            if ((rule.Mask & mask) == 0)
            {
                continue;
            }

            if (rule.Path.Count != 0 && (path is null || !rule.Path.IsMatchAny(path)))
            {
                continue;
            }

            if (rule.InArea && (path is null || !InArea(path)))
            {
                continue;
            }

            if (rule.Exe.Count != 0 && !rule.Exe.IsMatchAny(exe))
            {
                continue;
            }

            if (rule.Uids.Length != 0 && Array.IndexOf(rule.Uids, uid) < 0)
            {
                continue;
            }

            if (rule.LoginUids.Length != 0 && Array.IndexOf(rule.LoginUids, loginUid) < 0)
            {
                continue;
            }

            if (rule.Files.Length != 0 && Array.IndexOf(rule.Files, file) < 0)
            {
                continue;
            }

            return i;
        }

        return -1;
    }

    /// <summary>The path is one of the area's directories or below one (no allocation: the responder judges with it).</summary>
    public bool InArea(string path)
    {
        foreach (string directory in _area)
        {
            if (FileSystemFacts.IsUnder(path, directory))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether a rule applies to this file by its place alone (its -Path patterns, its -File identities, the area; a
    /// rule with none: anywhere the watch sees), for some process. judgedPath is the file's path under the watched
    /// mount, as the responder judges it.
    /// </summary>
    public bool Reaches(int ruleIndex, string judgedPath, in FileId file)
    {
        CompiledRule rule = _rules[ruleIndex];
        return (rule.Path.Count == 0 || rule.Path.IsMatchAny(judgedPath)) &&
            (rule.Files.Length == 0 || Array.IndexOf(rule.Files, file) >= 0) &&
            (!rule.InArea || InArea(judgedPath));
    }

    /// <summary>The rule names a program or a user: it applies to some processes only.</summary>
    public bool NamesProcess(int ruleIndex) =>
        _rules[ruleIndex].Exe.Count != 0 || _rules[ruleIndex].Uids.Length != 0 || _rules[ruleIndex].LoginUids.Length != 0;

    public bool Denies(int ruleIndex) => ruleIndex >= 0 && _rules[ruleIndex].Action == FanotifyRuleAction.Deny;

    /// <summary>The response word for a deny by this rule: FAN_DENY, or FAN_DENY_ERRNO(errno).</summary>
    public uint DenyResponse(int ruleIndex)
    {
        int errno = _rules[ruleIndex].Errno;
        return errno == 0 ? Fanotify.FAN_DENY : Fanotify.FAN_DENY | ((uint)(errno & 0xff) << Fanotify.FAN_ERRNO_SHIFT);
    }

    private sealed record CompiledRule(ulong Mask, FanotifyRuleAction Action, GlobSet Path, GlobSet Exe, int[] Uids, int Errno, FileId[] Files, int[] LoginUids,
        bool InArea);
}
