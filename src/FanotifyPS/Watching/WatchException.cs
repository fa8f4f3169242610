using System;
using System.Management.Automation;

namespace FanotifyPS.Watching;

/// <summary>A watch could not start: carries what the cmdlet needs for a precise ErrorRecord.</summary>
/// <remarks>
/// Messages quote paths and patterns, which may hold control characters: the message is escaped as the views
/// escape names, so that an error cannot drive the terminal either.
/// </remarks>
internal sealed class WatchException : Exception
{
    public WatchException(string message, string errorId, ErrorCategory category, object? target = null)
        : base(Interop.PathText.Escape(message))
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
