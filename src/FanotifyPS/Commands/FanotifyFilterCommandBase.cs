using System.Linq;
using System.Management.Automation;
using FanotifyPS.Watching;

namespace FanotifyPS.Commands;

/// <summary>The filter parameters that Start-FanotifyWatch and Get-FanotifyEvent share.</summary>
public abstract class FanotifyFilterCommandBase : PSCmdlet
{
    /// <summary>Leave out events whose path matches any of these wildcards (case-sensitive).</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? ExcludePath { get; set; }

    /// <summary>Report only the events of these processes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public int[]? ProcessId { get; set; }

    /// <summary>Leave out the events of these processes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    public int[]? ExcludeProcessId { get; set; }

    /// <summary>Report only the events of programs whose path matches any of these wildcards.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? Exe { get; set; }

    /// <summary>Leave out the events of programs whose path matches any of these wildcards.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? ExcludeExe { get; set; }

    /// <summary>Also report the events of this pwsh process (they are always allowed).</summary>
    [Parameter]
    public SwitchParameter IncludeSelf { get; set; }

    /// <summary>The filters as the watcher applies them, with the Tree roots of the watch, if any.</summary>
    internal ReportFilter BuildFilter(string[]? treeRoots = null) => new()
    {
        TreeRoots = treeRoots ?? [],
        ExcludePath = new GlobSet(FanotifyRule.Clean(ExcludePath)),
        ProcessId = ProcessId ?? [],
        ExcludeProcessId = ExcludeProcessId ?? [],
        Exe = new GlobSet(FanotifyRule.Clean(Exe)),
        ExcludeExe = new GlobSet(FanotifyRule.Clean(ExcludeExe)),
    };

    internal bool HasFilter => ExcludePath is not null || ProcessId is not null || ExcludeProcessId is not null ||
        Exe is not null || ExcludeExe is not null;
}
