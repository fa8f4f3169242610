using System;

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
/// This file is the program and its matcher, which the responder runs; the compiler, and its messages, is in
/// Glob.Compiler.cs; the patterns of a rule or filter, with their head and tail checked first, are a GlobSet.
/// </remarks>
internal static partial class Glob
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
}
