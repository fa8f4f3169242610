using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;

namespace FanotifyPS.Commands;

/// <summary>Completes -Id with the ids of this session's watches.</summary>
public sealed class WatchIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        CompletionWatches.OfThisSession()
            .Select(w => (Watch: w, Id: w.Id.ToString(CultureInfo.InvariantCulture)))
            .Where(w => w.Id.StartsWith(wordToComplete, System.StringComparison.Ordinal))
            .Select(w => new CompletionResult(w.Id, w.Id, CompletionResultType.ParameterValue, w.Watch.ToString()));
}

/// <summary>Completes -Name with the names of this session's watches.</summary>
public sealed class WatchNameCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters)
    {
        var pattern = new WildcardPattern(wordToComplete.Trim('\'', '"') + "*", WildcardOptions.IgnoreCase);
        return CompletionWatches.OfThisSession()
            .Select(w => w.Name)
            .Distinct()
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(
                name.Contains(' ', System.StringComparison.Ordinal) ? $"'{name}'" : name, name, CompletionResultType.ParameterValue, name));
    }
}

/// <summary>What the completers complete from.</summary>
internal static class CompletionWatches
{
    /// <summary>
    /// This session's watches, for a completer, which has no cmdlet to reach the job repository by: Get-FanotifyWatch
    /// run in a nested pipeline of the runspace that completes (completers run on its pipeline thread).
    /// </summary>
    internal static List<FanotifyWatch> OfThisSession()
    {
        try
        {
            using var powerShell = PowerShell.Create(RunspaceMode.CurrentRunspace);
            _ = powerShell.AddCommand(new CmdletInfo("Get-FanotifyWatch", typeof(GetFanotifyWatchCommand)));
            return powerShell.Invoke<FanotifyWatch>().ToList();
        }
        catch (System.InvalidOperationException)
        {
            return [];   // no runspace on this thread to complete from
        }
    }
}
