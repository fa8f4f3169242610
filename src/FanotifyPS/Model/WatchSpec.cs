using FanotifyPS.Watching;

namespace FanotifyPS;

/// <summary>Everything a watch is started with, validated by the cmdlet.</summary>
internal sealed class WatchSpec
{
    /// <summary>Events a watch holds for its readers when -BufferSize is not given.</summary>
    public const int DefaultBufferSize = 65536;

    public required string[] Paths { get; init; }
    public FanotifyScope Scope { get; init; }
    public required FanotifyEventType Events { get; init; }
    public string? Name { get; init; }
    public int BufferSize { get; init; } = DefaultBufferSize;
    public ReportFilter Filter { get; init; } = new();
    public PermissionPolicy? Policy { get; init; }
    public bool AuditOnly { get; init; }
    public bool IncludeSelf { get; init; }
    public bool ThreadIds { get; init; }
    public int SpinMicroseconds { get; init; }

    /// <summary>What Get-Job shows in its Command column.</summary>
    public string CommandText { get; init; } = "Start-FanotifyWatch";
}
