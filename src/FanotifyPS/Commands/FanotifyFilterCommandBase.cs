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
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
    public int[]? ProcessId { get; set; }

    /// <summary>Leave out the events of these processes.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ValidateRange(1, int.MaxValue)]
    [ArgumentCompleter(typeof(ProcessIdCompleter))]
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

    /// <summary>Report only the events of processes whose audit login uid (/proc/PID/loginuid) is one of these users (names or ids).</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(UserNameCompleter))]
    public string[]? LoginUser { get; set; }

    /// <summary>Report only the events of processes running as these users (names or uids): the event's UserId.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(UserNameCompleter))]
    public string[]? User { get; set; }

    /// <summary>Report only the events of processes in containers whose 64-hex id matches any of these wildcards.</summary>
    [Parameter]
    [SupportsWildcards]
    [ValidateNotNullOrEmpty]
    public string[]? ContainerId { get; set; }

    /// <summary>Also report the events of this pwsh process (they are always allowed).</summary>
    [Parameter]
    public SwitchParameter IncludeSelf { get; set; }

    /// <summary>
    /// The filters as the watcher applies them, with the Tree roots of the watch, if any: relative paths taken
    /// against the current location and symlinks resolved, as event paths are real paths.
    /// </summary>
    internal ReportFilter BuildFilter(string[]? treeRoots = null) => new()
    {
        TreeRoots = treeRoots ?? [],
        ExcludePath = new GlobSet(PathPatterns.ResolvePaths(this, ExcludePath)),
        ProcessId = ProcessId ?? [],
        ExcludeProcessId = ExcludeProcessId ?? [],
        Exe = new GlobSet(PathPatterns.ResolvePrograms(Exe, "-" + nameof(Exe))),
        ExcludeExe = new GlobSet(PathPatterns.ResolvePrograms(ExcludeExe, "-" + nameof(ExcludeExe))),
        LoginUserId = ProcessFactPatterns.ResolveLoginUsers(LoginUser, "-" + nameof(LoginUser)),
        ContainerId = new GlobSet(ProcessFactPatterns.ResolveContainerIds(ContainerId, "-" + nameof(ContainerId))),
        UserId = ProcessFactPatterns.ResolveUsers(User, "-" + nameof(User)),
    };

    internal bool HasFilter => ExcludePath is not null || ProcessId is not null || ExcludeProcessId is not null ||
        Exe is not null || ExcludeExe is not null || LoginUser is not null || ContainerId is not null || User is not null;
}
