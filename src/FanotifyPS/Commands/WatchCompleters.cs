using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Management.Automation;
using System.Management.Automation.Language;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>Completes -Id with the ids of this session's watches.</summary>
public sealed class WatchIdCompleter : IArgumentCompleter
{
    public IEnumerable<CompletionResult> CompleteArgument(string commandName, string parameterName, string wordToComplete,
        CommandAst commandAst, IDictionary fakeBoundParameters) =>
        WatchRegistry.UserWatches
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
        return WatchRegistry.UserWatches
            .Select(w => w.Name)
            .Distinct()
            .Where(pattern.IsMatch)
            .Select(name => new CompletionResult(
                name.Contains(' ', System.StringComparison.Ordinal) ? $"'{name}'" : name, name, CompletionResultType.ParameterValue, name));
    }
}
