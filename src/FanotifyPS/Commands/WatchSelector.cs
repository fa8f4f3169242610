using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace FanotifyPS.Commands;

/// <summary>
/// Finds watches by object, id or name; what is not found becomes a non-terminating ObjectNotFound error. The
/// user's watches are the runspace's job repository, as for every job: Start-FanotifyWatch adds a watch, Remove-Job
/// and Remove-FanotifyWatch take it out, and ad hoc watches (Get-FanotifyEvent -Path) are never in it.
/// </summary>
internal static class WatchSelector
{
    /// <summary>The watches of the cmdlet's session, by id.</summary>
    internal static IEnumerable<FanotifyWatch> All(PSCmdlet cmdlet) =>
        cmdlet.JobRepository.Jobs.OfType<FanotifyWatch>().OrderBy(w => w.Id);

    internal static List<FanotifyWatch> Select(PSCmdlet cmdlet, string parameterSet, FanotifyWatch[] watches, int[] ids, string[] names)
    {
        var found = new List<FanotifyWatch>();
        switch (parameterSet)
        {
            case ParameterSets.Watch:
                found.AddRange(watches);
                break;
            case ParameterSets.Id:
                foreach (int id in ids)
                {
                    if (All(cmdlet).FirstOrDefault(w => w.Id == id) is { } watch)
                    {
                        found.Add(watch);
                    }
                    else
                    {
                        NotFound(cmdlet, $"No fanotify watch has the id {id}. Get-FanotifyWatch lists the watches of this session.", id);
                    }
                }

                break;
            case ParameterSets.Name:
                foreach (string name in names)
                {
                    var pattern = new WildcardPattern(name, WildcardOptions.IgnoreCase);
                    List<FanotifyWatch> matches = All(cmdlet).Where(w => pattern.IsMatch(w.Name)).ToList();
                    if (matches.Count == 0 && !WildcardPattern.ContainsWildcardCharacters(name))
                    {
                        NotFound(cmdlet, $"No fanotify watch is named '{name}'. Get-FanotifyWatch lists the watches of this session.", name);
                    }

                    found.AddRange(matches);
                }

                break;
        }

        return found;
    }

    private static void NotFound(PSCmdlet cmdlet, string message, object target) =>
        cmdlet.WriteError(new ErrorRecord(new ItemNotFoundException(message), ErrorIds.WatchNotFound, ErrorCategory.ObjectNotFound, target));
}
