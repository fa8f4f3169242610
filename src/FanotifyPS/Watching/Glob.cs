using System;
using System.Collections.Generic;
using System.Globalization;
using System.Management.Automation;
using System.Text;

namespace FanotifyPS.Watching;

/// <summary>
/// PowerShell's wildcards exactly as System.Management.Automation.WildcardPattern (PowerShell 7.6, case-sensitive)
/// reads them: * ? [abc] [a-z], ] first in a set is a member, ` escapes outside and inside sets, a trailing ` is
/// itself. Patterns it rejects are rejected here too, with a message. A pattern is compiled once, off the responder,
/// into a program that the responder runs ordinally and without allocating.
/// </summary>
/// <remarks>
/// WildcardPattern's own matcher compares ordinally too; only its shortcut for a pattern without wildcards (or with
/// one trailing *) compares with InvariantCulture, which skips ignorable characters such as the soft hyphen. Here
/// every pattern is ordinal: paths are bytes, two names that differ are two files, and culture data loads lazily from
/// disk (safety.md).
/// </remarks>
internal static class Glob
{
    // A program is a string of elements:
    //   '*'              any run of characters (consecutive stars are one)
    //   '?'              any one character
    //   '[' n lo hi ...  one character in one of n ranges, sorted and disjoint (n is a char: at most 32768 ranges)
    //   '`' c            the character c, for c one of * ? [ `
    //   c                the character c
    private const char Star = '*';
    private const char Any = '?';
    private const char Set = '[';
    private const char Quote = '`';

    private static readonly string s_warmUp = Compile("*[ab]?`*c");

    public static bool HasWildcards(string pattern) => pattern.AsSpan().IndexOfAny("*?[`") >= 0;

    /// <summary>One pattern as a rule applies it: validated, compiled, head and tail first. For tests.</summary>
    internal static bool IsMatch(string pattern, string text) => new GlobSet([pattern]).IsMatchAny(text);

    /// <summary>The program of a pattern, or a <see cref="WatchException"/> that says what is wrong with it.</summary>
    public static string Compile(string pattern) =>
        TryCompile(pattern, out string program) is { } error
            ? throw new WatchException(error, ErrorIds.InvalidWildcard, ErrorCategory.InvalidArgument, pattern)
            : program;

    /// <summary>Whether the whole text matches a program from <see cref="Compile"/>.</summary>
    public static bool Match(ReadOnlySpan<char> program, ReadOnlySpan<char> text)
    {
        int p = 0, t = 0;
        int starProgram = -1, starText = -1;
        while (t < text.Length)
        {
            if (p < program.Length)
            {
                if (program[p] == Star)
                {
                    starProgram = ++p;
                    starText = t;
                    continue;
                }

                int width = MatchOne(program, p, text[t]);
                if (width != 0)
                {
                    p += width;
                    t++;
                    continue;
                }
            }

            if (starProgram < 0)
            {
                return false;
            }

            // Backtrack: let the last * swallow one more character. Every other element is one character wide,
            // so an earlier * never needs to take back what it gave.
            p = starProgram;
            t = ++starText;
        }

        while (p < program.Length && program[p] == Star)
        {
            p++;
        }

        return p == program.Length;
    }

    /// <summary>Runs every path of <see cref="Match"/> once, so that the responder never compiles it.</summary>
    internal static void WarmUp() => _ = Match(s_warmUp, "xa?*c") && !Match(s_warmUp, "x");

    /// <summary>The width of the element at p in the program.</summary>
    internal static int Width(ReadOnlySpan<char> program, int p) => program[p] switch
    {
        Quote => 2,
        Set => 2 + (2 * program[p + 1]),
        _ => 1,
    };

    /// <summary>The element at p stands for one given character (it is not *, ? or a set).</summary>
    internal static bool IsLiteral(ReadOnlySpan<char> program, int p) => program[p] is not (Star or Any or Set);

    /// <summary>The character a literal element stands for.</summary>
    internal static char Literal(ReadOnlySpan<char> program, int p) => program[p] == Quote ? program[p + 1] : program[p];

    /// <summary>The width of the element at p if it matches c, else 0.</summary>
    private static int MatchOne(ReadOnlySpan<char> program, int p, char c)
    {
        switch (program[p])
        {
            case Any:
                return 1;
            case Quote:
                return program[p + 1] == c ? 2 : 0;
            case Set:
                int count = program[p + 1];
                return InRanges(program.Slice(p + 2, 2 * count), c) ? 2 + (2 * count) : 0;
            default:
                return program[p] == c ? 1 : 0;
        }
    }

    private static bool InRanges(ReadOnlySpan<char> ranges, char c)
    {
        int low = 0, high = (ranges.Length / 2) - 1;
        while (low <= high)
        {
            int middle = (low + high) >>> 1;
            if (c < ranges[2 * middle])
            {
                high = middle - 1;
            }
            else if (c > ranges[(2 * middle) + 1])
            {
                low = middle + 1;
            }
            else
            {
                return true;
            }
        }

        return false;
    }

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
        string suggestion = pattern.Substring(0, low.At) + replacement + pattern.Substring(high.At + 1);
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

/// <summary>
/// Wildcard patterns compiled for the responder: each pattern's literal head (before its first wildcard) and tail
/// (after its last) are checked first, with vectorized compares, so that a pattern that cannot match is rejected
/// without the backtracking scan, which then runs only on what lies between; "*tail", "head*" and literal patterns
/// are decided by those checks alone. 100 rules naming other programs cost one EndsWith each. Head and tail are
/// the unescaped characters ("`[x`]" is the literal "[x]", "[a]" is "a").
/// </summary>
internal sealed class GlobSet
{
    private readonly Entry[] _entries;

    /// <summary>Compiles the patterns; a malformed one throws a <see cref="WatchException"/> (InvalidWildcard).</summary>
    public GlobSet(string[] patterns)
    {
        Patterns = patterns;
        _entries = new Entry[patterns.Length];
        for (int i = 0; i < patterns.Length; i++)
        {
            _entries[i] = Entry.Compile(patterns[i]);
        }

        // Here, not on the responder, is where the matcher gets compiled (safety.md: nothing loads lazily there).
        Glob.WarmUp();
        foreach (Entry entry in _entries)
        {
            _ = entry.IsMatch(entry.Head + entry.Tail);
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

    /// <summary>
    /// Head and Tail: the literal characters before the first and after the last wildcard; Middle: the program of
    /// what lies between them ("" for a literal pattern, "*" when head and tail decide).
    /// </summary>
    private sealed record Entry(string Head, string Tail, string Middle)
    {
        public static Entry Compile(string pattern)
        {
            string program = Glob.Compile(pattern);
            int first = -1, last = -1;
            for (int p = 0; p < program.Length; p += Glob.Width(program, p))
            {
                if (!Glob.IsLiteral(program, p))
                {
                    first = first < 0 ? p : first;
                    last = p;
                }
            }

            if (first < 0)
            {
                return new Entry(Unescape(program, 0, program.Length), string.Empty, string.Empty);
            }

            int end = last + Glob.Width(program, last);
            return new Entry(Unescape(program, 0, first), Unescape(program, end, program.Length), program.Substring(first, end - first));
        }

        public bool IsMatch(ReadOnlySpan<char> text)
        {
            if (Middle.Length == 0)
            {
                return text.SequenceEqual(Head);
            }

            if (text.Length < Head.Length + Tail.Length || !text.StartsWith(Head) || !text.EndsWith(Tail))
            {
                return false;
            }

            return (Middle.Length == 1 && Middle[0] == '*') ||
                Glob.Match(Middle, text.Slice(Head.Length, text.Length - Head.Length - Tail.Length));
        }

        private static string Unescape(string program, int start, int end)
        {
            var text = new StringBuilder(end - start);
            for (int p = start; p < end; p += Glob.Width(program, p))
            {
                text.Append(Glob.Literal(program, p));
            }

            return text.ToString();
        }
    }
}
