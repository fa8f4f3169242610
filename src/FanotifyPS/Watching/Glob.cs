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

    public static bool IsMatchAny(string[] patterns, ReadOnlySpan<char> text)
    {
        foreach (string pattern in patterns)
        {
            if (IsMatch(pattern, text))
            {
                return true;
            }
        }

        return false;
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
