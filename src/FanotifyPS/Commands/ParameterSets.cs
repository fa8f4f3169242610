namespace FanotifyPS.Commands;

/// <summary>
/// The parameter-set names of the cmdlets. They are public surface: Get-Command and Get-Help show them, and
/// docs/help names them in each parameter's "Parameter Sets".
/// </summary>
internal static class ParameterSets
{
    /// <summary>A watch started by the command from -Path (Start-FanotifyWatch; Get-FanotifyEvent's own watch).</summary>
    internal const string Path = "Path";

    /// <summary>As <see cref="Path"/>, from -LiteralPath (alias PSPath, which Get-Item's output binds to): no wildcards.</summary>
    internal const string LiteralPath = "LiteralPath";

    /// <summary>Watches given as objects (-Watch).</summary>
    internal const string Watch = "Watch";

    /// <summary>Watches given by id (-Id).</summary>
    internal const string Id = "Id";

    /// <summary>Watches given by name (-Name, with wildcards).</summary>
    internal const string Name = "Name";

    /// <summary>Every watch of the session (Get-FanotifyWatch without parameters).</summary>
    internal const string All = "All";
}
