using System.Threading;

namespace FanotifyPS.Watching;

/// <summary>
/// A wait handle that wakes every waiter, however many, and none of them twice for the same news: each generation
/// has a handle of its own. A reader takes <see cref="Current"/> before it looks for news, and waits on it only if it
/// found none; <see cref="Pulse"/> puts a fresh handle in its place and sets the old one for good. A reader that
/// looked before the pulse wakes at once, one that looks after it gets the fresh handle and sleeps until the next.
/// Nobody resets a handle, so no reader can miss a pulse, and a reader that takes nothing (-Keep) does not spin.
///
/// Implementation notes:
/// - Writers are pumps: a watch's own, or every watch's for the process-wide signal (Pulse is an exchange, so
///   several may pulse at once). PulseForever is the last call of a watch's one pump. Readers only read Current.
/// - A handle left behind is never disposed: a reader may still be about to wait on it. It holds no kernel object
///   (.NET's wait handles are managed on Linux) and the collector finalizes it. At most one per pump pass.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "A reader may still wait on any handle it took: none is disposed (see the notes above).")]
internal sealed class GenerationSignal
{
    private ManualResetEvent _current = new(false);
    private bool _final;

    /// <summary>The handle of this generation: set by the next pulse, or already set if the news is final.</summary>
    public WaitHandle Current => Volatile.Read(ref _current);

    /// <summary>News: wakes everyone waiting on this generation's handle.</summary>
    public void Pulse()
    {
        if (_final)
        {
            return;
        }

        ManualResetEvent old = Interlocked.Exchange(ref _current, new ManualResetEvent(false));
        _ = old.Set();
    }

    /// <summary>The last news: this handle stays set, and a wait on it returns at once from now on.</summary>
    public void PulseForever()
    {
        _final = true;
        _ = Volatile.Read(ref _current).Set();
    }
}
