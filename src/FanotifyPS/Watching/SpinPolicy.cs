namespace FanotifyPS.Watching;

/// <summary>
/// How long a responder reads on after a batch before it sleeps in poll() (-SpinMicroseconds); see the
/// implementation notes in Responder.cs for what the spin does.
/// </summary>
internal static class SpinPolicy
{
    /// <summary>-SpinMicroseconds when not given: chosen by <see cref="Choose"/>.</summary>
    internal const int Automatic = -1;

    /// <summary>The spin of a watch whose permission verdicts wait for a read.</summary>
    internal const int ReadBeforeVerdictMicroseconds = 20;

    /// <summary>
    /// The spin of a watch whose -SpinMicroseconds was not given: on when its permission verdicts wait for a read
    /// (a rule that names a program, user or path, or a Tree scope). Then the responder has less to do after a
    /// verdict than before it and would sleep just before the next event; in the benchmark the spin raised the
    /// opens/s of such watches clearly. Without such reads the spin was even on throughput and cost CPU, so it
    /// stays off.
    /// </summary>
    internal static int Choose(int requested, bool permission, PermissionPolicy? policy, bool tree) =>
        requested != Automatic ? requested :
        permission && (tree || (policy is not null && (policy.ProcessMask | policy.PathMask) != 0)) ? ReadBeforeVerdictMicroseconds : 0;
}
