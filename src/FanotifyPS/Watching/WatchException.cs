using System;
using System.Management.Automation;

namespace FanotifyPS.Watching;

/// <summary>A watch could not start: carries what the cmdlet needs for a precise ErrorRecord.</summary>
internal sealed class WatchException : Exception
{
    public WatchException(string message, string errorId, ErrorCategory category, object? target = null)
        : base(message)
    {
        ErrorId = errorId;
        Category = category;
        Target = target;
    }

    public string ErrorId { get; }

    public ErrorCategory Category { get; }

    public object? Target { get; }

    public ErrorRecord ToErrorRecord() => new(this, ErrorId, Category, Target);
}
