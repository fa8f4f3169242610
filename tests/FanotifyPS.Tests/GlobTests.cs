using System;
using System.Linq;
using System.Management.Automation;
using System.Text;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>
/// The wildcard matcher on synthetic input. Every expectation here is what WildcardPattern (PowerShell 7.6,
/// CultureInvariant, case-sensitive) answers; tests/Pester/Wildcards.Tests.ps1 asks WildcardPattern itself.
/// </summary>
public class GlobTests
{
    [Theory]
    [InlineData("*", "/any/path", true)]
    [InlineData("*", "", true)]
    [InlineData("/tmp/*.txt", "/tmp/a.txt", true)]
    [InlineData("/tmp/*.txt", "/tmp/sub/a.txt", true)]     // * crosses '/', as -like does
    [InlineData("/tmp/*.txt", "/tmp/a.log", false)]
    [InlineData("*/cat", "/usr/bin/cat", true)]
    [InlineData("*/cat", "/usr/bin/concat", false)]
    [InlineData("/tmp/?.txt", "/tmp/a.txt", true)]
    [InlineData("/tmp/?.txt", "/tmp/ab.txt", false)]
    [InlineData("/tmp/[ab].txt", "/tmp/b.txt", true)]
    [InlineData("/tmp/[a-c].txt", "/tmp/c.txt", true)]
    [InlineData("/tmp/[a-c].txt", "/tmp/d.txt", false)]
    [InlineData("/tmp/A.txt", "/tmp/a.txt", false)]          // case-sensitive, as Linux paths are
    [InlineData("/tmp/[a-z].txt", "/tmp/A.txt", false)]
    [InlineData("/tmp/`*.txt", "/tmp/*.txt", true)]          // backtick escapes
    [InlineData("/tmp/`*.txt", "/tmp/a.txt", false)]
    [InlineData("*a*b*c", "xxaxxbxxc", true)]
    [InlineData("*a*b*c", "xxaxxcxxb", false)]
    [InlineData("", "", true)]
    [InlineData("", "x", false)]
    [InlineData("/tmp/x[ab]", "/tmp/xa", true)]
    [InlineData("/tmp/x[ab]", "/tmp/xc", false)]
    [InlineData("ab`c", "abc", true)]
    [InlineData("`*abc", "*abc", true)]
    [InlineData("`*abc", "xabc", false)]
    [InlineData("head*tail", "headtail", true)]
    [InlineData("head*tail", "headtai", false)]
    [InlineData("a*a", "a", false)]
    [InlineData("a*a", "aa", true)]
    [InlineData("/srv/*/x?", "/srv/a/b/xy", true)]
    [InlineData("/srv/*/x?", "/srv/xy", false)]
    public void Matches_like_PowerShell_wildcards_but_ordinally(string pattern, string text, bool expected) =>
        AssertMatch(pattern, text, expected);

    [Theory]
    [InlineData("[]a]", "]", true)]          // a ] right after [ is a member
    [InlineData("[]a]", "a", true)]
    [InlineData("[]a]", "[]a]", false)]
    [InlineData("[]]", "]", true)]
    [InlineData("[]-a]", "^", true)]          // ]-a is a range
    [InlineData("[a`]]", "]", true)]          // an escaped ] is a member
    [InlineData("[a`]]", "a", true)]
    [InlineData("[a`]]", "a]", false)]
    [InlineData("[`]]", "]", true)]
    [InlineData("[``]", "`", true)]
    [InlineData("[`-]", "-", true)]
    [InlineData("[`-]", "`", false)]
    [InlineData("[a`-c]", "-", true)]         // an escaped - makes no range
    [InlineData("[a`-c]", "b", false)]
    [InlineData("[`a-c]", "b", true)]         // an escaped end still makes one
    [InlineData("[a-]", "-", true)]           // - last or first is itself
    [InlineData("[-a]", "-", true)]
    [InlineData("[-]", "-", true)]
    [InlineData("[a-c-e]", "-", true)]        // a-c, then - and e
    [InlineData("[a-c-e]", "d", false)]
    [InlineData("[--0]", "/", true)]
    [InlineData("[*]", "*", true)]            // * and ? in a set are themselves
    [InlineData("[*]", "x", false)]
    [InlineData("[?]", "?", true)]
    [InlineData("[?]", "x", false)]
    [InlineData("[!a]", "!", true)]           // no negation
    [InlineData("[!a]", "b", false)]
    [InlineData("[^a]", "^", true)]
    [InlineData("[\\]", "\\", true)]
    [InlineData("[[]", "[", true)]
    [InlineData("[[-a]", "_", true)]
    [InlineData("[#-Z[]", "[", true)]
    [InlineData("[[:alpha:]]", "a]", true)]   // no character classes: [ : a l p h, then ]
    [InlineData("[[:alpha:]]", "a", false)]
    [InlineData("`", "", true)]               // a lone backtick is the empty pattern
    [InlineData("`", "`", false)]
    [InlineData("ab`", "ab`", true)]          // a trailing backtick is itself
    [InlineData("ab`", "ab", false)]
    [InlineData("``", "`", true)]
    [InlineData("```", "``", true)]
    [InlineData("`[ab`]", "[ab]", true)]
    [InlineData("`[ab`]", "a", false)]
    [InlineData("`]", "]", true)]
    [InlineData("a]b]", "a]b]", true)]        // ] outside a set is itself
    [InlineData("[a]]", "a]", true)]
    [InlineData("*`*", "x*", true)]
    [InlineData("*`*", "x", false)]
    [InlineData("`**", "*x", true)]
    [InlineData("**", "", true)]
    [InlineData("*[]]*", "a]b", true)]
    [InlineData("[é]", "é", true)]
    [InlineData("[à-ÿ]", "ü", true)]
    [InlineData("[à-ÿ]", "Ü", false)]
    [InlineData("[日本]", "本", true)]
    [InlineData("??", "😀", true)]            // one character outside the BMP is two UTF-16 units
    [InlineData("?", "😀", false)]
    [InlineData("a[😀]b", "a😀b", false)]      // a set matches one unit
    public void Reads_brackets_and_backticks_as_WildcardPattern_does(string pattern, string text, bool expected) =>
        AssertMatch(pattern, text, expected);

    [Theory]
    [InlineData("[ab", "never closed", "'`[ab'", true)]
    [InlineData("a[]b", "member of the set", "'a`[]b'", true)]
    [InlineData("[", "never closed", "'`['", true)]
    [InlineData("[]", "never closed", "'`[]'", true)]
    [InlineData("[`]", "never closed", "'`[`]'", true)]
    [InlineData("x[a]y[", "never closed", "'x[a]y`['", true)]
    [InlineData("[a[b", "never closed", "'`[a`[b'", true)]
    [InlineData("[z-a]", "runs backwards", "'a-z'", false)]
    [InlineData("[z-a]", "U+007A", "'[z`-a]'", true)]
    [InlineData("[a--]", "runs backwards", "'[a`--]'", true)]
    [InlineData("[`]-!]", "runs backwards", "'!-`]'", false)]
    [InlineData("/srv/[b-a]*", "runs backwards", "'/srv/[b`-a]*'", true)]
    [InlineData("[#-[]", "ends in '['", "'[#-Z[]'", true)]
    [InlineData("[A-[bc]", "ends in '['", "'[A-Z[bc]'", true)]
    [InlineData("[[-[]", "ends in '['", "'[[]'", true)]
    public void Rejects_what_WildcardPattern_rejects_and_says_how_to_fix_it(string pattern, string problem, string fix, bool wholePattern)
    {
        WatchException e = Assert.Throws<WatchException>(() => new GlobSet(["/ok/*", pattern]));
        Assert.Equal(ErrorIds.InvalidWildcard, e.ErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, e.Category);
        Assert.Equal(pattern, e.Target);
        Assert.Contains($"'{pattern}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(problem, e.Message, StringComparison.Ordinal);
        Assert.Contains(fix, e.Message, StringComparison.Ordinal);

        // The fix it shows compiles: a whole pattern, or a range inside [ ].
        string shown = fix.Trim('\'');
        _ = Glob.Compile(wholePattern ? shown : $"[{shown}]");
    }

    [Theory]
    [InlineData("`[x`]", "[x]", true)]        // escapes in a literal pattern
    [InlineData("`[x`]", "x", false)]
    [InlineData("[a]bc", "abc", true)]        // a one-member set is a literal
    [InlineData("[a]bc", "[a]bc", false)]
    [InlineData("a`*b*", "a*bzz", true)]      // the head, unescaped
    [InlineData("a`*b*", "axbzz", false)]
    [InlineData("*`?", "x?", true)]           // the tail, unescaped
    [InlineData("*`?", "xy", false)]
    [InlineData("*[ab]`[", "xa[", true)]
    [InlineData("*[ab]`[", "xc[", false)]
    [InlineData("ab*[cd]*ab", "ab", false)]   // head and tail may not overlap
    [InlineData("ab*[cd]*ab", "abcab", true)]
    [InlineData("a*a", "a", false)]
    [InlineData("x`", "x`", true)]
    public void The_head_and_tail_shortcut_reads_escapes_and_sets(string pattern, string text, bool expected) =>
        AssertMatch(pattern, text, expected);

    [Fact]
    public void A_set_of_32768_ranges_fits_and_is_searched()
    {
        // Every even character: no two merge, the most disjoint ranges a set can have.
        var pattern = new StringBuilder("[");
        for (int c = 0; c <= char.MaxValue; c += 2)
        {
            if ((char)c is ']' or '`' or '-')
            {
                pattern.Append('`');
            }

            pattern.Append((char)c);
        }

        GlobSet set = new([pattern.Append(']').ToString()]);
        for (int c = 0; c <= char.MaxValue; c++)
        {
            Assert.Equal(c % 2 == 0, set.IsMatchAny([(char)c]));
        }
    }

    [Fact]
    public void The_shortcut_and_the_plain_matcher_agree_on_random_patterns()
    {
        // The compiled entry strips a literal head and tail before matching; the plain matcher does not.
        var random = new Random(3);
        const string Alphabet = "ab-[]`*?";
        int compared = 0;
        for (int i = 0; i < 20000; i++)
        {
            string pattern = RandomText(random, Alphabet, 8);
            string program;
            try
            {
                program = Glob.Compile(pattern);
            }
            catch (WatchException)
            {
                continue;
            }

            var set = new GlobSet([pattern]);
            for (int j = 0; j < 8; j++)
            {
                string text = RandomText(random, "ab-[]`*?", 6);
                Assert.True(Glob.Match(program, text) == set.IsMatchAny(text), $"pattern '{pattern}' text '{text}'");
                compared++;
            }
        }

        Assert.True(compared > 50000);
    }

    [Fact]
    public void Matching_allocates_nothing()
    {
        var set = new GlobSet(["/srv/*/[a-c]?x*.log", "*/cat", "/etc/`[x`]", "/opt/*[!-/]*"]);
        string[] texts = ["/srv/q/r/bzx1.log", "/usr/bin/cat", "/etc/[x]", "/opt/a-b", "/nothing/here"];
        foreach (string text in texts)
        {
            _ = set.IsMatchAny(text);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        int matched = 0;
        for (int i = 0; i < 1000; i++)
        {
            foreach (string text in texts)
            {
                matched += set.IsMatchAny(text) ? 1 : 0;
            }
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(4000, matched);
    }

    [Fact]
    public void Knows_literal_patterns()
    {
        Assert.False(Glob.HasWildcards("/tmp/plain.txt"));
        Assert.True(Glob.HasWildcards("/tmp/*.txt"));
        Assert.True(Glob.HasWildcards("/tmp/[a].txt"));
    }

    private static void AssertMatch(string pattern, string text, bool expected)
    {
        Assert.Equal(expected, Glob.IsMatch(pattern, text));                    // compiled: head and tail first
        Assert.Equal(expected, Glob.Match(Glob.Compile(pattern), text));      // the plain matcher on the whole text
    }

    private static string RandomText(Random random, string alphabet, int maxLength) =>
        new(Enumerable.Range(0, random.Next(maxLength + 1)).Select(_ => alphabet[random.Next(alphabet.Length)]).ToArray());
}
