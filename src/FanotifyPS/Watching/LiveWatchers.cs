using System.Collections.Concurrent;

namespace FanotifyPS.Watching;

/// <summary>
/// The watchers of this process that hold kernel resources, in every runspace, ad hoc ones too: what must be stopped
/// when the module is removed or the process exits. A watcher is here from the start of its pump until a Stop has
/// closed its fds (a watch that failed on its own keeps its eventfd until then). Not a list of the user's watches:
/// that is each runspace's job repository (Get-FanotifyWatch, Get-Job).
/// </summary>
internal static class LiveWatchers
{
    private static readonly ConcurrentDictionary<Watcher, byte> s_live = new();

    /// <summary>As its pump starts.</summary>
    public static void Add(Watcher watcher) => s_live[watcher] = 0;

    /// <summary>Once Stop has closed its fds.</summary>
    public static void Remove(Watcher watcher) => s_live.TryRemove(watcher, out _);

    public static void StopAll()
    {
        foreach (Watcher watcher in s_live.Keys)
        {
            watcher.Stop();
        }
    }
}
