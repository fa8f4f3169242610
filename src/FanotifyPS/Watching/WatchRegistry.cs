using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Management.Automation;

namespace FanotifyPS.Watching;

/// <summary>The watches of this process, for Get-/Stop-FanotifyWatch.</summary>
internal static class WatchRegistry
{
    private static readonly ConcurrentDictionary<int, FanotifyWatch> s_watches = new();

    public static void Add(FanotifyWatch watch) => s_watches[watch.Id] = watch;

    /// <summary>Ad-hoc watches leave the registry when they stop; user watches stay listed with their counters.</summary>
    public static void Forget(FanotifyWatch watch) => s_watches.TryRemove(watch.Id, out _);

    public static IEnumerable<FanotifyWatch> UserWatches =>
        s_watches.Values.Where(w => !w.IsAdHoc).OrderBy(w => w.Id);

    public static bool TryGet(int id, out FanotifyWatch watch)
    {
        if (s_watches.TryGetValue(id, out FanotifyWatch? found) && !found.IsAdHoc)
        {
            watch = found;
            return true;
        }

        watch = null!;
        return false;
    }
}
