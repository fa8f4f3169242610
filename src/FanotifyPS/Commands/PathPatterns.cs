using System;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Text;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>
/// Turns the path and program patterns a user types into patterns that can match what the kernel reports:
/// absolute real paths. A relative path pattern is taken against the current location, as every -Path is; the
/// literal directory a pattern starts with has its symlinks resolved; a program pattern that can only match a
/// relative name is refused, since /proc/PID/exe is always absolute.
/// </summary>
internal static class PathPatterns
{
    private const string Special = "*?[]`";
    private static readonly System.Buffers.SearchValues<char> s_special = System.Buffers.SearchValues.Create(Special);

    /// <summary>Path patterns (-DenyPath, -ExcludePath, New-FanotifyRule -Path) as the watcher matches them.</summary>
    public static string[] ResolvePaths(PSCmdlet cmdlet, string[]? patterns)
    {
        return FanotifyRule.Clean(patterns).Select(p => ResolvePath(cmdlet, p)).Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Program patterns (-Exe, -ExcludeExe, -DenyExe, New-FanotifyRule -Exe) as the watcher matches them.</summary>
    public static string[] ResolvePrograms(string[]? patterns, string parameterName)
    {
        return FanotifyRule.Clean(patterns).Select(p => ResolveProgram(p, parameterName)).Distinct(StringComparer.Ordinal).ToArray();
    }

    internal static string ResolvePath(PSCmdlet cmdlet, string pattern)
    {
        _ = Glob.Compile(pattern);   // a malformed wildcard is named as such, before anything else is judged
        string absolute = pattern;
        if (pattern == "~" || pattern.StartsWith("~/", StringComparison.Ordinal))
        {
            absolute = string.Concat(cmdlet.SessionState.Path.GetUnresolvedProviderPathFromPSPath("~"), pattern.AsSpan(1));
        }
        else if (IsRelative(pattern))
        {
            absolute = Path.Join(cmdlet.SessionState.Path.CurrentFileSystemLocation.ProviderPath, pattern);
        }

        return ResolveLiteralHead(absolute);
    }

    internal static string ResolveProgram(string pattern, string parameterName)
    {
        _ = Glob.Compile(pattern);
        if (IsRelative(pattern) || pattern.StartsWith('~'))
        {
            string suggestion = Glob.HasWildcards(pattern) ? string.Empty : FindProgram(pattern) is { } found ? $", or '{found}' for this one" : string.Empty;
            throw new WatchException(
                $"{parameterName} '{pattern}' can never match: a program is named by its absolute path, as /proc/PID/exe gives it " +
                $"(/usr/bin/cat). Use '*/{pattern.TrimStart('~', '/')}' for a program of that name anywhere{suggestion}.",
                ErrorIds.InvalidRule, ErrorCategory.InvalidArgument, pattern);
        }

        return pattern[0] == '/' ? ResolveLiteralHead(pattern) : pattern;
    }

    /// <summary>
    /// The literal directories before a pattern's first wildcard (the whole path for a literal pattern): they must
    /// exist for the pattern to match anything there, and a rule outside the watched paths is worth a warning.
    /// </summary>
    internal static string LiteralDirectory(string pattern)
    {
        int wildcard = pattern.AsSpan().IndexOfAny(s_special);
        if (wildcard < 0)
        {
            return pattern;
        }

        int slash = pattern.LastIndexOf('/', wildcard);
        return slash <= 0 ? "/" : pattern.Substring(0, slash);
    }

    /// <summary>
    /// Not anchored at '/', and its first element cannot match a '/': it can only match relative names. Patterns
    /// that start with * or ? (or a set that holds '/') match absolute paths as they are.
    /// </summary>
    private static bool IsRelative(string pattern)
    {
        char first = pattern[0];
        if (first is '/' or '*' or '?')
        {
            return false;
        }

        if (first == '[')
        {
            int close = pattern.IndexOf(']', 2);
            return close < 0 || !pattern.AsSpan(1, close - 1).Contains('/');
        }

        return true;
    }

    /// <summary>Normalises the literal head (., .., //) and resolves its symlinks; the wildcard part stays as given.</summary>
    private static string ResolveLiteralHead(string absolute)
    {
        int wildcard = absolute.AsSpan().IndexOfAny(s_special);
        int split = wildcard < 0 ? absolute.Length : absolute.LastIndexOf('/', wildcard);
        if (split <= 0)
        {
            return absolute;
        }

        string head = Normalise(absolute.Substring(0, split));
        string real = FileSystemFacts.RealPathOfExistingPart(head);
        string tail = absolute.Substring(split);
        return (real.Length == 1 && tail.Length != 0 ? string.Empty : Escape(real)) + tail;
    }

    /// <summary>., .. and // folded, as in any path (Path.GetFullPath touches no filesystem), without a trailing '/'.</summary>
    private static string Normalise(string path)
    {
        string full = Path.GetFullPath(path);
        return full.Length > 1 ? full.TrimEnd('/') : full;
    }

    /// <summary>A real path may hold wildcard characters (a directory named "a[1]"): in a pattern they are literal.</summary>
    private static string Escape(string literal)
    {
        if (literal.AsSpan().IndexOfAny(s_special) < 0)
        {
            return literal;
        }

        var escaped = new StringBuilder(literal.Length + 8);
        foreach (char c in literal)
        {
            if (Special.Contains(c, StringComparison.Ordinal))
            {
                escaped.Append('`');
            }

            escaped.Append(c);
        }

        return escaped.ToString();
    }

    /// <summary>The real path of a program found on PATH, for a suggestion.</summary>
    private static string? FindProgram(string name)
    {
        if (name.Contains('/', StringComparison.Ordinal))
        {
            return null;
        }

        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Join(directory, name);
            if (File.Exists(candidate))
            {
                return FileSystemFacts.RealPath(candidate) ?? candidate;
            }
        }

        return null;
    }
}
