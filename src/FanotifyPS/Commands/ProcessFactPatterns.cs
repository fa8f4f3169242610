using System.IO;
using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// The -LoginUser and -ContainerId values a user types, turned into what the watcher matches, or refused when
/// they can never match: an unknown user, a kernel without login uids, a container id pattern that no 64-hex id fits.
/// </summary>
internal static class ProcessFactPatterns
{
    /// <summary>User names or numeric ids as uids; an unknown name is an error, not a filter that matches nothing.</summary>
    public static int[] ResolveLoginUsers(string[]? users, string parameterName, string? ruleName = null)
    {
        string[] given = FanotifyRule.Clean(users);
        if (given.Length == 0)
        {
            return [];
        }

        // Without CONFIG_AUDIT the kernel keeps no login uid, and no process could ever match.
        if (!File.Exists("/proc/self/loginuid"))
        {
            throw new WatchException($"{parameterName} can never match here: this kernel keeps no login uids (/proc/self/loginuid " +
                "does not exist; it needs CONFIG_AUDIT).", ErrorIds.FeatureNotSupported, ErrorCategory.NotImplemented, parameterName);
        }

        return ResolveUsers(given, parameterName, ruleName);
    }

    /// <summary>User names or numeric ids (-User) as uids; an unknown name is an error, not a filter that matches nothing.</summary>
    public static int[] ResolveUsers(string[]? users, string parameterName, string? ruleName = null)
    {
        string who = ruleName is null ? parameterName : $"Rule '{ruleName}': {parameterName}";
        return FanotifyRule.Clean(users).Select(user => UserNames.Resolve(user) ?? throw new WatchException(
            $"{who} names the user '{user}', who does not exist. Give a user name or a numeric uid.",
            ErrorIds.InvalidRule, ErrorCategory.ObjectNotFound, user)).Distinct().ToArray();
    }

    /// <summary>
    /// Container id patterns, lowercased (ids are lowercase hex, however a user copies them): a pattern that no
    /// 64-hex id can match (a name, a short id without '*') is refused.
    /// </summary>
    public static string[] ResolveContainerIds(string[]? patterns, string parameterName)
    {
        return FanotifyRule.Clean(patterns).Select(pattern =>
        {
            _ = Glob.Compile(pattern);   // a malformed wildcard is named as such first
            string lowered = pattern.ToLowerInvariant();
            if (!CanMatchAnId(lowered, out bool isShortId))
            {
                string hint = isShortId
                    ? $" Use '{lowered}*' for the container whose id starts so (docker ps shows the first 12 digits)."
                    : " Give the id, or its start and '*' ('3f2a*'); docker ps --no-trunc and podman ps --no-trunc show ids.";
                throw new WatchException(
                    $"{parameterName} '{pattern}' can never match: a container id is 64 hex digits, as the runtimes name cgroups " +
                    $"(docker-ID.scope, crio-ID.scope, libpod-ID.scope).{hint}", ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, pattern);
            }

            return lowered;
        }).Distinct(System.StringComparer.Ordinal).ToArray();
    }

    /// <summary>Some 64-hex text matches the pattern: its literals are hex digits, and its length can be 64.</summary>
    internal static bool CanMatchAnId(string pattern, out bool isShortId)
    {
        int fixedLength = 0;
        bool hasStar = false, allHex = true;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (c == '*')
            {
                hasStar = true;
            }
            else if (c == '?')
            {
                fixedLength++;
            }
            else if (c == '[')
            {
                int close = pattern.IndexOf(']', i + 2);   // "[]...]" holds a ']' first
                i = close < 0 ? pattern.Length : close;
                fixedLength++;
            }
            else
            {
                if (c == '`' && i + 1 < pattern.Length)
                {
                    c = pattern[++i];
                }

                allHex &= char.IsAsciiHexDigitLower(c);
                fixedLength++;
            }
        }

        isShortId = allHex && !hasStar && fixedLength < ProcessFacts.ContainerIdLength;
        return allHex && (hasStar ? fixedLength <= ProcessFacts.ContainerIdLength : fixedLength == ProcessFacts.ContainerIdLength);
    }
}
