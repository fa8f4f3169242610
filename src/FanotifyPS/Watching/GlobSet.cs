using System;
using System.Text;

namespace FanotifyPS.Watching;

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
