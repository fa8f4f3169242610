using System;

namespace FanotifyPS;

/// <summary>
/// The data of <see cref="FanotifyWatch.EventArrived"/>: one event (or overflow record) that has entered the
/// watch's Output. In a Register-ObjectEvent action it is $Event.SourceEventArgs (or $EventArgs).
/// </summary>
public sealed class FanotifyEventArrivedEventArgs : EventArgs
{
    internal FanotifyEventArrivedEventArgs(FanotifyEvent arrived) => Event = arrived;

    /// <summary>The event, as Receive-Job and Get-FanotifyEvent give it: it stays in Output for them.</summary>
    public FanotifyEvent Event { get; }
}
