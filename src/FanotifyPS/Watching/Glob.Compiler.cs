using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Text;

namespace FanotifyPS.Watching;

// The compiler: a pattern read as WildcardPattern reads it, into the program Glob.Match runs, or a message that
// says what is wrong and how to write it. Runs where patterns are given (cmdlets, rules), never on the responder.
internal static partial class Glob
{
    /// <summary>The program of a pattern, or a <see cref="WatchException"/> that says what is wrong with it.</summary>
    public static string Compile(string pattern) =>
        TryCompile(pattern, out string program) is { } error
            ? throw new WatchException(error, ErrorIds.InvalidWildcard, ErrorCategory.InvalidArgument, pattern)
            : program;

    /// <summary>
    /// Follows WildcardPatternParser.Parse (PowerShell's engine/regex.cs) step by step: the same escape, "just
    /// opened" and set states, the same range rule, the same errors. Returns null, or what is wrong.
    /// </summary>
    private static string? TryCompile(string pattern, out string program, bool explain = true)
    {
        program = string.Empty;
        var output = new StringBuilder(pattern.Length + 2);
        var members = new List<Member>();
        bool escaped = false, inSet = false, justOpened = false, afterStar = false;
        int setStart = -1;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (inSet)
            {
                if (c == ']' && !justOpened && !escaped)
                {
                    // The first unescaped ] closes the set, except right after the [: then it is a member.
                    inSet = false;
                    if (AppendSet(output, members, pattern, explain) is { } error)
                    {
                        return error;
                    }
                }
                else if (c != Quote || escaped)
                {
                    members.Add(new Member(c, c == '-' && !escaped, i));
                }

                justOpened = false;
            }
            else if (c == Star && !escaped)
            {
                if (!afterStar)
                {
                    output.Append(Star);
                }

                afterStar = true;
                escaped = false;
                continue;
            }
            else if (c == Any && !escaped)
            {
                output.Append(Any);
            }
            else if (c == Set && !escaped)
            {
                inSet = true;
                justOpened = true;
                setStart = i;
                members.Clear();
            }
            else if (c != Quote || escaped)
            {
                AppendLiteral(output, c);
            }

            afterStar = false;
            escaped = c == Quote && !escaped;
        }

        if (inSet)
        {
            return explain ? Unclosed(pattern, setStart) : string.Empty;
        }

        // A trailing ` is itself, but "`" alone is the empty pattern (PowerShell keeps that for compatibility).
        if (escaped && pattern.Length > 1)
        {
            AppendLiteral(output, Quote);
        }

        program = output.ToString();
        return null;
    }

    private static void AppendLiteral(StringBuilder output, char c)
    {
        if (c is Star or Any or Set or Quote)
        {
            output.Append(Quote);
        }

        output.Append(c);
    }

    /// <summary>
    /// Adds a set, as WildcardPatternParser.AppendBracketExpression reads its members: x-y is a range when the - is
    /// unescaped and both ends are there (so a - first or last is itself), and its ends must be in order. A range
    /// that ends in [ passes PowerShell's parser but not the .NET regex it builds (it reads "-[" as a class
    /// subtraction), so WildcardPattern rejects it too.
    /// </summary>
    private static string? AppendSet(StringBuilder output, List<Member> members, string pattern, bool explain)
    {
        var ranges = new List<(char Low, char High)>(members.Count);
        for (int i = 0; i < members.Count;)
        {
            if (i + 2 < members.Count && members[i + 1].IsDash)
            {
                Member low = members[i], dash = members[i + 1], high = members[i + 2];
                if (low.C > high.C)
                {
                    return explain ? Backward(pattern, low, dash, high) : string.Empty;
                }

                if (high.C == '[')
                {
                    return explain ? EndsInBracket(pattern, low, high) : string.Empty;
                }

                ranges.Add((low.C, high.C));
                i += 3;
            }
            else
            {
                ranges.Add((members[i].C, members[i].C));
                i++;
            }
        }

        // Sorted and merged: a binary search on the responder, and at most 32768 ranges, so n fits in a char.
        ranges.Sort();
        var merged = new List<(char Low, char High)>(ranges.Count);
        foreach ((char low, char high) in ranges)
        {
            if (merged.Count != 0 && low <= merged[^1].High + 1)
            {
                merged[^1] = (merged[^1].Low, (char)Math.Max(merged[^1].High, high));
            }
            else
            {
                merged.Add((low, high));
            }
        }

        if (merged.Count == 1 && merged[0].Low == merged[0].High)
        {
            AppendLiteral(output, merged[0].Low);   // [a] is a; a literal head or tail is checked without the matcher
        }
        else if (merged.Count == 1 && merged[0] == (char.MinValue, char.MaxValue))
        {
            output.Append(Any);
        }
        else
        {
            output.Append(Set).Append((char)merged.Count);
            foreach ((char low, char high) in merged)
            {
                output.Append(low).Append(high);
            }
        }

        return null;
    }

    private static string Unclosed(string pattern, int start)
    {
        string message = $"The wildcard pattern '{pattern}' has a '[' that is never closed";
        if (start + 1 < pattern.Length && pattern[start + 1] == ']')
        {
            message += " (a ']' right after '[' is a member of the set, not its end)";
        }

        // Escape that [, then any later one left open, until the pattern reads.
        string fixedPattern = pattern;
        for (int open = start; open >= 0; open = UnclosedAt(fixedPattern))
        {
            fixedPattern = fixedPattern.Insert(open, "`");
        }

        return TryCompile(fixedPattern, out _, explain: false) is null
            ? message + $". To match a '[' itself, escape it with a backtick: '{fixedPattern}'."
            : message + ". To match a '[' itself, escape it with a backtick (`[).";
    }

    /// <summary>Where the set that is never closed starts, or -1 when the pattern has none.</summary>
    private static int UnclosedAt(string pattern)
    {
        bool escaped = false, inSet = false, justOpened = false;
        int start = -1;
        for (int i = 0; i < pattern.Length; i++)
        {
            char c = pattern[i];
            if (inSet)
            {
                if (c == ']' && !justOpened && !escaped)
                {
                    inSet = false;
                }

                justOpened = false;
            }
            else if (c == Set && !escaped)
            {
                inSet = true;
                justOpened = true;
                start = i;
            }

            escaped = c == Quote && !escaped;
        }

        return inSet ? start : -1;
    }

    private static string Backward(string pattern, Member low, Member dash, Member high)
    {
        string message = $"The wildcard pattern '{pattern}' has the range '{low.C}-{high.C}', which runs backwards: " +
            $"'{low.C}' ({CodePoint(low.C)}) comes after '{high.C}' ({CodePoint(high.C)}). Write it '{InSet(high.C)}-{InSet(low.C)}'";
        string escapedDash = pattern.Insert(dash.At, "`");
        return TryCompile(escapedDash, out _, explain: false) is null
            ? message + $", or escape the '-' to mean the three characters: '{escapedDash}'."
            : message + ", or escape the '-' with a backtick (`-) to mean the three characters.";
    }

    private static string EndsInBracket(string pattern, Member low, Member high)
    {
        // [x-[] is [x-Z] and [ (Z is the character before [).
        string replacement = low.C == '[' ? "[" : $"{low.C}-Z[";
        string message = $"The wildcard pattern '{pattern}' has the range '{low.C}-[', and PowerShell cannot use a range " +
            "that ends in '[' (.NET reads '-[' in a set as a subtraction). End the range at 'Z' and list '[' on its own";
        string suggestion = string.Concat(pattern.AsSpan(0, low.At), replacement, pattern.AsSpan(high.At + 1));
        return TryCompile(suggestion, out _, explain: false) is null
            ? message + $": '{suggestion}'."
            : message + $" ('{replacement}').";
    }

    /// <summary>A character as a member of a set is written: ] and ` escaped.</summary>
    private static string InSet(char c) => c is ']' or Quote ? $"`{c}" : c.ToString();

    private static string CodePoint(char c) => "U+" + ((int)c).ToString("X4", CultureInfo.InvariantCulture);

    /// <summary>A character inside [ ]: IsDash when it is an unescaped '-', which can make a range.</summary>
    private readonly record struct Member(char C, bool IsDash, int At);
}
