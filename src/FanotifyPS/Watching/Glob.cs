using System;

namespace FanotifyPS.Watching;

/// <summary>
/// PowerShell-style wildcards (* ? [abc] [a-z], ` escapes) matched ordinally and case-sensitively, as Linux
/// paths are, without allocating: the responder evaluates them before a verdict.
/// </summary>
internal static class Glob
{
    public static bool HasWildcards(string pattern) => pattern.AsSpan().IndexOfAny("*?[`") >= 0;

    public static bool IsMatch(ReadOnlySpan<char> pattern, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0;
        int starPattern = -1, starText = -1;
        while (t < text.Length)
        {
            if (p < pattern.Length)
            {
                char c = pattern[p];
                if (c == '*')
                {
                    starPattern = ++p;
                    starText = t;
                    continue;
                }

                if (MatchOne(pattern, ref p, text[t]))
                {
                    t++;
                    continue;
                }
            }

            if (starPattern < 0)
            {
                return false;
            }

            // Backtrack: let the last * swallow one more character.
            p = starPattern;
            t = ++starText;
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Matches one pattern element (a literal, ?, a [set] or an escaped character) and advances p.</summary>
    private static bool MatchOne(ReadOnlySpan<char> pattern, ref int p, char c)
    {
        char first = pattern[p];
        if (first == '?')
        {
            p++;
            return true;
        }

        if (first == '`' && p + 1 < pattern.Length)
        {
            if (pattern[p + 1] != c)
            {
                return false;
            }

            p += 2;
            return true;
        }

        if (first == '[')
        {
            int close = pattern.Slice(p + 1).IndexOf(']');
            if (close > 0)
            {
                ReadOnlySpan<char> set = pattern.Slice(p + 1, close);
                bool matched = false;
                for (int i = 0; i < set.Length; i++)
                {
                    if (i + 2 < set.Length && set[i + 1] == '-')
                    {
                        matched |= c >= set[i] && c <= set[i + 2];
                        i += 2;
                    }
                    else
                    {
                        matched |= c == set[i];
                    }
                }

                if (matched)
                {
                    p += close + 2;
                }

                return matched;
            }
        }

        if (first != c)
        {
            return false;
        }

        p++;
        return true;
    }
}

/// <summary>
/// Wildcard patterns compiled for the responder: each pattern's literal head (before its first wildcard) and tail
/// (after its last) are checked first, with vectorized compares, so that a pattern that cannot match is rejected
/// without the backtracking scan; "*tail", "head*" and literal patterns are decided by those checks alone. 100
/// rules naming other programs cost one EndsWith each.
/// </summary>
internal sealed class GlobSet
{
    private static readonly char[] s_special = ['*', '?', '[', ']', '`'];

    private readonly Entry[] _entries;

    public GlobSet(string[] patterns)
    {
        Patterns = patterns;
        _entries = new Entry[patterns.Length];
        for (int i = 0; i < patterns.Length; i++)
        {
            string pattern = patterns[i];
            int first = pattern.IndexOfAny(s_special);
            int last = pattern.LastIndexOfAny(s_special);
            string head = first < 0 ? pattern : pattern.Substring(0, first);
            string tail = first < 0 ? string.Empty : pattern.Substring(last + 1);

            // Decided by head and tail alone: no wildcard, or one * between two literals.
            bool simple = first < 0 || (first == last && pattern[first] == '*');
            _entries[i] = new Entry(pattern, head, tail, simple, first < 0);
        }
    }

    public static GlobSet Empty { get; } = new([]);

    /// <summary>The patterns as given.</summary>
    public string[] Patterns { get; }

    public int Count => _entries.Length;

    public bool IsMatchAny(ReadOnlySpan<char> text)
    {
        foreach (Entry entry in _entries)
        {
            if (entry.IsMatch(text))
            {
                return true;
            }
        }

        return false;
    }

    private sealed record Entry(string Pattern, string Head, string Tail, bool Simple, bool Literal)
    {
        public bool IsMatch(ReadOnlySpan<char> text)
        {
            if (Literal)
            {
                return text.SequenceEqual(Pattern);
            }

            if (text.Length < Head.Length + Tail.Length || !text.StartsWith(Head) || !text.EndsWith(Tail))
            {
                return false;
            }

            return Simple || Glob.IsMatch(Pattern, text);
        }
    }
}

