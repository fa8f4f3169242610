using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.IO;

namespace FanotifyPS;

/// <summary>
/// uid to user name and back, from /etc/passwd. Used on pipeline threads and when rules are compiled,
/// never on a responder thread (/etc/passwd may be on the watched filesystem).
/// </summary>
internal static class UserNames
{
    private static readonly ConcurrentDictionary<int, string> s_names = new();

    public static string Lookup(int uid)
    {
        if (uid < 0)
        {
            return string.Empty;
        }

        return s_names.GetOrAdd(uid, static id =>
        {
            foreach ((string name, int entryUid) in Entries())
            {
                if (entryUid == id)
                {
                    return name;
                }
            }

            return id.ToString(CultureInfo.InvariantCulture);
        });
    }

    /// <summary>A user name or a numeric id; null when no such user exists.</summary>
    public static int? Resolve(string user)
    {
        if (int.TryParse(user, NumberStyles.None, CultureInfo.InvariantCulture, out int uid))
        {
            return uid;
        }

        foreach ((string name, int entryUid) in Entries())
        {
            if (string.Equals(name, user, StringComparison.Ordinal))
            {
                return entryUid;
            }
        }

        return null;
    }

    /// <summary>Every user of /etc/passwd, in its order (for completion); none when it cannot be read.</summary>
    public static System.Collections.Generic.IEnumerable<(string Name, int Uid)> All() => Entries();

    private static System.Collections.Generic.IEnumerable<(string Name, int Uid)> Entries()
    {
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/etc/passwd");
        }
        catch (IOException)
        {
            yield break;
        }
        catch (UnauthorizedAccessException)
        {
            yield break;
        }

        foreach (string line in lines)
        {
            string[] fields = line.Split(':');
            if (fields.Length > 2 && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out int uid))
            {
                yield return (fields[0], uid);
            }
        }
    }
}
