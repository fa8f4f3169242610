using System;
using System.Text;
using System.Text.Unicode;

namespace FanotifyPS.Interop;

/// <summary>
/// Linux names are bytes. Valid UTF-8 becomes an ordinary string; each byte that is not valid UTF-8 becomes
/// the lone surrogate U+DC80..U+DCFF (as Python's surrogateescape does), so nothing is lost and two different
/// names never read the same. <see cref="Escape"/> makes such a string printable on one line.
/// </summary>
internal static class PathText
{
    public static string Decode(ReadOnlySpan<byte> bytes) =>
        Utf8.IsValid(bytes) ? Encoding.UTF8.GetString(bytes) : DecodeEscaped(bytes);

    private static string DecodeEscaped(ReadOnlySpan<byte> bytes)
    {
        var chars = new char[bytes.Length * 2];
        int length = 0;
        while (!bytes.IsEmpty)
        {
            if (System.Text.Rune.DecodeFromUtf8(bytes, out System.Text.Rune rune, out int consumed) == System.Buffers.OperationStatus.Done)
            {
                length += rune.EncodeToUtf16(chars.AsSpan(length));
            }
            else
            {
                chars[length++] = (char)(0xDC00 + bytes[0]);
                consumed = 1;
            }

            bytes = bytes.Slice(consumed);
        }

        return new string(chars, 0, length);
    }

    /// <summary>
    /// One printable line that reads back to exactly one name: a backslash doubles; \n, \t and \r; other C0
    /// controls and DEL as \xNN; a byte that was not UTF-8 as \xNN (always 80..ff, so never a character);
    /// and as \uNNNN the characters that steer a terminal or the line rather than show: the C1 controls
    /// U+0080..U+009F (U+009B is CSI to many terminals), the Unicode Bidi_Control characters (U+061C,
    /// U+200E, U+200F, U+202A..U+202E, U+2066..U+2069: they reorder what is shown, "Trojan Source"), the line
    /// and paragraph separators U+2028 and U+2029, the byte order mark U+FEFF (invisible, and it has no place
    /// inside a name) and a surrogate without its pair. Other characters, zero-width joiners included (emoji
    /// and several scripts need them), print as they are.
    /// </summary>
    public static string Escape(string text)
    {
        if (!NeedsEscape(text))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 16);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            switch (c)
            {
                case '\\': escaped.Append(@"\\"); break;
                case '\n': escaped.Append(@"\n"); break;
                case '\t': escaped.Append(@"\t"); break;
                case '\r': escaped.Append(@"\r"); break;
                case < ' ' or '\x7f':
                    AppendHex(escaped, @"\x", c, 2);
                    break;
                case >= '\uDC80' and <= '\uDCFF':
                    AppendHex(escaped, @"\x", (char)(c - 0xDC00), 2);
                    break;
                case >= '\uD800' and <= '\uDBFF' when i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]):
                    escaped.Append(c).Append(text[++i]);
                    break;
                default:
                    if (IsSteering(c))
                    {
                        AppendHex(escaped, @"\u", c, 4);
                    }
                    else
                    {
                        escaped.Append(c);
                    }

                    break;
            }
        }

        return escaped.ToString();
    }

    private static bool NeedsEscape(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c == '\\' || c < ' ' || c == '\x7f' || IsSteering(c))
            {
                if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;   // a pair: one printable character beyond the BMP
                    continue;
                }

                return true;
            }
        }

        return false;
    }

    // Printed as \uNNNN: C1 controls, Bidi_Control, U+2028, U+2029, U+FEFF and surrogates (a low surrogate
    // in U+DC80..U+DCFF is an escaped byte and is matched before; a pair is matched before).
    private static bool IsSteering(char c) =>
        c is (>= '\u0080' and <= '\u009f') or '\u061c' or '\u200e' or '\u200f' or (>= '\u202a' and <= '\u202e')
            or (>= '\u2066' and <= '\u2069') or '\u2028' or '\u2029' or '\ufeff' or (>= '\uD800' and <= '\uDFFF');

    private static void AppendHex(StringBuilder builder, string prefix, char value, int digits)
    {
        const string Hex = "0123456789abcdef";
        builder.Append(prefix);
        for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
        {
            builder.Append(Hex[(value >> shift) & 0xf]);
        }
    }
}
