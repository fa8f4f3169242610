using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using System.Text;

namespace FanotifyPS.Commands;

/// <summary>
/// Completes a user parameter (-User, -DenyUser, -LoginUser) with the users of /etc/passwd: a name by its start
/// (any case), or a uid by its first digits; the tooltip gives the uid.
/// </summary>
public sealed class UserNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = CompletionWord.Unquote(wordToComplete);
        bool numeric = word.Length != 0 && word.All(char.IsAsciiDigit);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var results = new List<CompletionResult>();
        foreach ((string name, int uid) in UserNames.All())
        {
            string id = uid.ToString(CultureInfo.InvariantCulture);
            string value = numeric ? id : name;
            if (value.StartsWith(word, numeric ? StringComparison.Ordinal : StringComparison.OrdinalIgnoreCase) && seen.Add(value))
            {
                results.Add(new CompletionResult(CompletionWord.Quote(value), numeric ? $"{id} ({name})" : name,
                    CompletionResultType.ParameterValue, $"uid {id}"));
            }
        }

        return numeric
            ? results.OrderBy(r => r.CompletionText.Length).ThenBy(r => r.CompletionText, StringComparer.Ordinal)
            : results.OrderBy(r => r.CompletionText, StringComparer.Ordinal);
    }
}

/// <summary>
/// Completes -ProcessId and -ExcludeProcessId with the running processes of /proc: digits by a pid's first digits,
/// anything else by the start of a process's name (any case, wildcards allowed); each as "1234 (sshd)", with its
/// command line as the tooltip.
/// </summary>
public sealed class ProcessIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        string word = CompletionWord.Unquote(wordToComplete);
        bool numeric = word.All(char.IsAsciiDigit);
        var name = numeric ? null : new WildcardPattern(word + "*", WildcardOptions.IgnoreCase);
        var results = new List<(int Pid, CompletionResult Result)>();
        foreach (string directory in ProcessDirectories())
        {
            string id = System.IO.Path.GetFileName(directory);
            if (!int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ||
                (numeric && !id.StartsWith(word, StringComparison.Ordinal)))
            {
                continue;
            }

            string? comm = ReadText(directory + "/comm")?.TrimEnd('\n');
            if (comm is null)
            {
                continue;   // gone since the listing
            }

            // comm is cut at 15 bytes: the program name of the command line counts too (systemd-journald).
            string commandLine = ReadCommandLine(directory + "/cmdline", out string program);
            if (name is not null && !name.IsMatch(comm) && (program.Length == 0 || !name.IsMatch(program)))
            {
                continue;
            }

            string printable = FanotifyEvent.Printable(comm);
            results.Add((pid, new CompletionResult(id, $"{id} ({printable})", CompletionResultType.ParameterValue,
                commandLine.Length != 0 ? FanotifyEvent.Printable(commandLine) : $"[{printable}]")));
        }

        return results.OrderBy(r => r.Pid).Select(r => r.Result);
    }

    private static string[] ProcessDirectories()
    {
        try
        {
            return Directory.GetDirectories("/proc");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private static string? ReadText(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// The arguments, separated by spaces, as CommandLine on an event, and the file name of the first; empty for a
    /// kernel thread or a process gone.
    /// </summary>
    private static string ReadCommandLine(string path, out string program)
    {
        program = string.Empty;
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }

        int first = Array.IndexOf(bytes, (byte)0);
        program = System.IO.Path.GetFileName(Encoding.UTF8.GetString(bytes, 0, first < 0 ? bytes.Length : first));
        int length = bytes.Length;
        while (length > 0 && bytes[length - 1] == 0)
        {
            length--;
        }

        for (int i = 0; i < length; i++)
        {
            if (bytes[i] == 0)
            {
                bytes[i] = (byte)' ';
            }
        }

        return Encoding.UTF8.GetString(bytes, 0, length);
    }
}

/// <summary>The word being completed, without its quotes, and a value quoted as the command line needs.</summary>
internal static class CompletionWord
{
    public static string Unquote(string word) => word.Trim('\'', '"');

    public static string Quote(string value) =>
        value.Length != 0 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.' or '@' or '$') && value[0] != '-'
            ? value
            : "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";
}
