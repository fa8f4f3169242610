using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using FanotifyPS.Interop;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>
/// What PathText.Escape must never pass to a terminal, class by class, and that its output reads back to
/// exactly one name.
/// </summary>
public class PathTextEscapeTests
{
    public static TheoryData<int> C1Controls()
    {
        var data = new TheoryData<int>();
        for (int c = 0x80; c <= 0x9f; c++)
        {
            data.Add(c);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(C1Controls))]
    public void C1_controls_print_as_u_escapes(int codePoint)
    {
        string name = $"a{(char)codePoint}b";
        Assert.Equal($@"a\u{codePoint:x4}b", PathText.Escape(name));
    }

    [Theory]
    [InlineData(0x202A)]   // LRE
    [InlineData(0x202B)]   // RLE
    [InlineData(0x202C)]   // PDF
    [InlineData(0x202D)]   // LRO
    [InlineData(0x202E)]   // RLO
    [InlineData(0x2066)]   // LRI
    [InlineData(0x2067)]   // RLI
    [InlineData(0x2068)]   // FSI
    [InlineData(0x2069)]   // PDI
    [InlineData(0x200E)]   // LRM
    [InlineData(0x200F)]   // RLM
    [InlineData(0x061C)]   // ALM
    public void Bidirectional_controls_print_as_u_escapes(int codePoint)
    {
        Assert.Equal($@"/tmp/x\u{codePoint:x4}gpj.exe", PathText.Escape($"/tmp/x{(char)codePoint}gpj.exe"));
    }

    [Theory]
    [InlineData(0x2028)]   // LINE SEPARATOR
    [InlineData(0x2029)]   // PARAGRAPH SEPARATOR
    [InlineData(0x0085)]   // NEXT LINE (a C1 control)
    public void Line_separators_print_as_u_escapes(int codePoint)
    {
        Assert.Equal($@"one\u{codePoint:x4}two", PathText.Escape($"one{(char)codePoint}two"));
    }

    [Fact]
    public void A_byte_order_mark_prints_as_a_u_escape()
    {
        Assert.Equal(@"\ufeffname", PathText.Escape("\uFEFFname"));
    }

    [Fact]
    public void C0_controls_and_DEL_still_print_as_x_escapes()
    {
        Assert.Equal(@"\x1b[31m\x00\x7f\n\t\r", PathText.Escape("\u001b[31m\0\u007f\n\t\r"));
    }

    [Fact]
    public void A_C1_control_and_a_lone_byte_of_the_same_value_print_differently()
    {
        string codePoint = PathText.Decode([0xc2, 0x9b]);   // U+009B, valid UTF-8
        string lone = PathText.Decode([0x9b]);              // a byte that is not UTF-8
        Assert.Equal(@"\u009b", PathText.Escape(codePoint));
        Assert.Equal(@"\x9b", PathText.Escape(lone));
    }

    [Fact]
    public void A_name_that_looks_like_an_escape_stays_distinct()
    {
        Assert.Equal(@"a\\u202eb", PathText.Escape(@"a\u202eb"));
        Assert.Equal(@"a\u202eb", PathText.Escape("a\u202Eb"));
        Assert.Equal(@"a\\x9bb", PathText.Escape(@"a\x9bb"));
    }

    [Theory]
    [InlineData("/tmp/café")]
    [InlineData("/tmp/日本語のファイル")]
    [InlineData("/tmp/שלום.txt")]                  // Hebrew: right-to-left by itself, with no control character
    [InlineData("/tmp/\U0001F600 \U0001F469\u200D\U0001F4BB")]   // emoji, a surrogate pair, ZWJ sequence
    [InlineData("/tmp/no\u00A0break\u200Bzero")]  // NBSP and ZWSP are printable or harmless
    [InlineData("/tmp/\u00A0\u00FF")]
    public void Printable_text_is_left_alone(string text)
    {
        Assert.Same(text, PathText.Escape(text));
    }

    [Fact]
    public void A_lone_surrogate_that_is_not_an_escaped_byte_prints_as_a_u_escape()
    {
        Assert.Equal(@"a\ud800b\udbff", PathText.Escape("a\uD800b\uDBFF"));
        Assert.Equal(@"\udc00\udfff", PathText.Escape("\uDC00\uDFFF"));
    }

    [Fact]
    public void Escaped_text_is_one_line_of_printable_characters()
    {
        // Every UTF-16 unit alone (a space after each, so that no two surrogates pair up).
        var all = new StringBuilder();
        for (int c = 0; c <= 0xFFFF; c++)
        {
            all.Append((char)c).Append(' ');
        }

        string escaped = PathText.Escape(all.ToString());
        foreach (char c in escaped)
        {
            UnicodeCategory category = char.GetUnicodeCategory(c);
            Assert.False(category is UnicodeCategory.Control or UnicodeCategory.LineSeparator
                or UnicodeCategory.ParagraphSeparator or UnicodeCategory.Surrogate,
                $"U+{(int)c:X4} ({category}) is printed raw");
            Assert.False(c is '\u061C' or '\u200E' or '\u200F' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\uFEFF',
                $"the bidirectional or invisible control U+{(int)c:X4} is printed raw");
        }
    }

    [Fact]
    public void Escaped_text_reads_back_to_the_same_name()
    {
        string[] names =
        [
            string.Empty, "plain", @"\", @"\\", @"\u202e", "\u202E", @"\x9b", "\u009B", "\u001B",
            PathText.Decode([0x61, 0x9b, 0xc2, 0x9b, 0x5c, 0x78, 0x39, 0x62, 0xff]),
            "a\nb\tc\rd\u2028e\u2029f\uFEFFg\u061Ch\u200Ei\u200Fj\u2066k\u2069", "\uD800\uDC80",
        ];
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in names)
        {
            string escaped = PathText.Escape(name);
            Assert.Equal(name, Unescape(escaped));
            Assert.True(seen.TryAdd(escaped, name), $"'{escaped}' reads as two names");
        }
    }

    // The reading the documented escapes promise: \\, \n, \t, \r, \xNN (below 0x80 a character, above a byte
    // that was not UTF-8, kept as U+DC80..U+DCFF), \uNNNN.
    private static string Unescape(string escaped)
    {
        var name = new StringBuilder();
        for (int i = 0; i < escaped.Length; i++)
        {
            if (escaped[i] != '\\')
            {
                name.Append(escaped[i]);
                continue;
            }

            char kind = escaped[++i];
            switch (kind)
            {
                case '\\': name.Append('\\'); break;
                case 'n': name.Append('\n'); break;
                case 't': name.Append('\t'); break;
                case 'r': name.Append('\r'); break;
                case 'x':
                    int value = int.Parse(escaped.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                    name.Append((char)(value < 0x80 ? value : 0xDC00 + value));
                    i += 2;
                    break;
                case 'u':
                    name.Append((char)int.Parse(escaped.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default:
                    throw new FormatException($"'\\{kind}' is no escape");
            }
        }

        return name.ToString();
    }
}
