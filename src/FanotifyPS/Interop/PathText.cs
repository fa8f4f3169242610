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
    /// One printable line: a backslash doubles, control characters become \n, \t, \r or \xNN, and a byte that
    /// was not UTF-8 becomes \xNN.
    /// </summary>
    public static string Escape(string text)
    {
        if (!NeedsEscape(text))
        {
            return text;
        }

        var escaped = new StringBuilder(text.Length + 16);
        foreach (char c in text)
        {
            switch (c)
            {
                case '\\': escaped.Append(@"\\"); break;
                case '\n': escaped.Append(@"\n"); break;
                case '\t': escaped.Append(@"\t"); break;
                case '\r': escaped.Append(@"\r"); break;
                case < ' ' or '\x7f':
                    AppendHex(escaped, c);
                    break;
                case >= '\uDC80' and <= '\uDCFF':
                    AppendHex(escaped, (char)(c - 0xDC00));
                    break;
                default:
                    escaped.Append(c);
                    break;
            }
        }

        return escaped.ToString();
    }

    private static bool NeedsEscape(string text)
    {
        foreach (char c in text)
        {
            if (c == '\\' || c < ' ' || c == '\x7f' || c is >= '\uDC80' and <= '\uDCFF')
            {
                return true;
            }
        }

        return false;
    }

    private static void AppendHex(StringBuilder builder, char value)
    {
        const string Hex = "0123456789abcdef";
        builder.Append(@"\x").Append(Hex[(value >> 4) & 0xf]).Append(Hex[value & 0xf]);
    }
}
