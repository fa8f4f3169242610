using System;
using FanotifyPS.Interop;

namespace FanotifyPS.Watching;

/// <summary>
/// Parsers of the /proc files that say more of who a process is: its start time (with the pid, an identity that
/// survives pid reuse), its audit login uid and session, its cgroup v2 path and the container that path names.
/// Pure functions of the bytes read, allocation-free; the strings are made by <see cref="CgroupNames"/>.
/// </summary>
internal static class ProcessFacts
{
    /// <summary>AUDIT_UID_UNSET and AUDIT_SID_UNSET: (unsigned int)-1, the login uid and session of a process no login started.</summary>
    internal const ulong Unset = uint.MaxValue;

    /// <summary>The length of the container ids that docker, containerd, CRI-O and podman give their cgroups.</summary>
    internal const int ContainerIdLength = 64;

    /// <summary>
    /// starttime, field 22 of /proc/PID/stat: clock ticks from boot (CLOCK_BOOTTIME) to the process's start; 0 when
    /// absent. Counted after the last ')', since comm may hold spaces and parentheses.
    /// </summary>
    internal static ulong StartTicks(ReadOnlySpan<byte> stat)
    {
        int close = stat.LastIndexOf((byte)')');
        return close < 0 ? 0 : ProcessResolver.Field(stat.Slice(close + 1), 19);   // field 3 (state) is the first after ')'
    }

    /// <summary>The UTC time of a start time in clock ticks since boot.</summary>
    internal static DateTime StartTimeUtc(ulong ticks, DateTime bootTimeUtc, long ticksPerSecond)
    {
        if (ticks == 0 || ticksPerSecond <= 0 || bootTimeUtc == default)
        {
            return default;
        }

        // Whole seconds and the rest apart: no overflow for any uptime, exact for any tick rate.
        ulong hz = (ulong)ticksPerSecond;
        long dotnetTicks = (long)(ticks / hz) * TimeSpan.TicksPerSecond + (long)(ticks % hz * TimeSpan.TicksPerSecond / hz);
        return bootTimeUtc.AddTicks(dotnetTicks);
    }

    /// <summary>/proc/PID/loginuid: the uid, or -1 when unset, unreadable, or beyond an int (as UserId is).</summary>
    internal static int LoginUserId(ReadOnlySpan<byte> text)
    {
        ulong value = Number(text, out bool valid);
        return valid && value != Unset && value <= int.MaxValue ? (int)value : -1;
    }

    /// <summary>/proc/PID/sessionid: the audit session, or -1 when unset or unreadable.</summary>
    internal static long SessionId(ReadOnlySpan<byte> text)
    {
        ulong value = Number(text, out bool valid);
        return valid && value < Unset ? (long)value : -1;
    }

    /// <summary>
    /// The cgroup v2 path of /proc/PID/cgroup: the "0::/path" line (a hybrid host lists its v1 hierarchies too);
    /// empty when there is none.
    /// </summary>
    internal static ReadOnlySpan<byte> UnifiedPath(ReadOnlySpan<byte> cgroupFile)
    {
        while (!cgroupFile.IsEmpty)
        {
            int end = cgroupFile.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? cgroupFile : cgroupFile.Slice(0, end);
            if (line.StartsWith("0::"u8))
            {
                return line.Slice(3);
            }

            cgroupFile = end < 0 ? default : cgroupFile.Slice(end + 1);
        }

        return default;
    }

    /// <summary>
    /// The container id that a cgroup file names: from the v2 path, or on a host without one from its v1 lines
    /// (docker gives every controller its /docker/ID); empty on the host.
    /// </summary>
    internal static ReadOnlySpan<byte> ContainerIdOfFile(ReadOnlySpan<byte> cgroupFile)
    {
        ReadOnlySpan<byte> unified = UnifiedPath(cgroupFile);
        if (!unified.IsEmpty)
        {
            return ContainerId(unified);
        }

        while (!cgroupFile.IsEmpty)
        {
            int end = cgroupFile.IndexOf((byte)'\n');
            ReadOnlySpan<byte> line = end < 0 ? cgroupFile : cgroupFile.Slice(0, end);
            int path = line.IndexOf((byte)':');
            path = path < 0 ? -1 : line.Slice(path + 1).IndexOf((byte)':') + path + 1;
            if (path > 0)
            {
                ReadOnlySpan<byte> id = ContainerId(line.Slice(path + 1));
                if (!id.IsEmpty)
                {
                    return id;
                }
            }

            cgroupFile = end < 0 ? default : cgroupFile.Slice(end + 1);
        }

        return default;
    }

    /// <summary>
    /// The 64-hex container id of a cgroup path, as container runtimes name their cgroups (the matchers of Falco's
    /// libsinsp): docker-ID.scope and /docker/ID (docker), cri-containerd-ID.scope (containerd's CRI), crio-ID.scope
    /// and crio-ID (CRI-O), libpod-ID.scope and libpod-ID (podman), and /kubepods/.../ID (a kubelet with the
    /// cgroupfs driver). The innermost such part counts (a container in a container); anything that is not exactly
    /// 64 lowercase hex digits is no id (the conmon-ID scopes of CRI-O and podman are their monitors, not the
    /// container). Empty when the path names no container.
    /// </summary>
    internal static ReadOnlySpan<byte> ContainerId(ReadOnlySpan<byte> path)
    {
        ReadOnlySpan<byte> found = default;
        ReadOnlySpan<byte> previous = default;
        bool underKubepods = false;
        while (!path.IsEmpty)
        {
            int slash = path.IndexOf((byte)'/');
            ReadOnlySpan<byte> part = slash < 0 ? path : path.Slice(0, slash);
            path = slash < 0 ? default : path.Slice(slash + 1);
            if (part.IsEmpty)
            {
                continue;
            }

            ReadOnlySpan<byte> id = IdOfPart(part, previous, underKubepods);
            if (!id.IsEmpty)
            {
                found = id;
            }

            underKubepods |= part.StartsWith("kubepods"u8);
            previous = part;
        }

        return found;
    }

    private static ReadOnlySpan<byte> IdOfPart(ReadOnlySpan<byte> part, ReadOnlySpan<byte> previous, bool underKubepods)
    {
        if (IsId(part))
        {
            // A bare id: docker's cgroupfs driver (/docker/ID) or a kubelet's (/kubepods/.../ID).
            return previous.SequenceEqual("docker"u8) || underKubepods ? part : default;
        }

        ReadOnlySpan<byte> rest = part.EndsWith(".scope"u8) ? part.Slice(0, part.Length - 6) : part;
        bool isScope = rest.Length != part.Length;
        if (isScope && (Prefixed(rest, "docker-"u8) || Prefixed(rest, "cri-containerd-"u8)))
        {
            return rest.Slice(rest.Length - ContainerIdLength);
        }

        if (Prefixed(rest, "crio-"u8) || Prefixed(rest, "libpod-"u8))
        {
            return rest.Slice(rest.Length - ContainerIdLength);
        }

        return default;
    }

    /// <summary>text is prefix then a 64-hex id, and nothing else.</summary>
    private static bool Prefixed(ReadOnlySpan<byte> text, ReadOnlySpan<byte> prefix) =>
        text.Length == prefix.Length + ContainerIdLength && text.StartsWith(prefix) && IsId(text.Slice(prefix.Length));

    internal static bool IsId(ReadOnlySpan<byte> text)
    {
        if (text.Length != ContainerIdLength)
        {
            return false;
        }

        foreach (byte b in text)
        {
            if (!((b >= (byte)'0' && b <= (byte)'9') || (b >= (byte)'a' && b <= (byte)'f')))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A decimal number, alone on its line; valid is false for an empty or malformed text.</summary>
    private static ulong Number(ReadOnlySpan<byte> text, out bool valid)
    {
        text = text.TrimEnd((byte)'\n');
        valid = !text.IsEmpty && text.Length <= 20;
        ulong value = 0;
        foreach (byte digit in text)
        {
            if (digit < (byte)'0' || digit > (byte)'9')
            {
                valid = false;
                return 0;
            }

            value = (value * 10) + (ulong)(digit - (byte)'0');
        }

        return value;
    }
}

/// <summary>
/// When the machine booted, in UTC, and the clock tick of /proc/PID/stat: read once, when the first watch's
/// responder warms up (before any mark), never from the watched filesystem.
/// </summary>
internal static unsafe class BootClock
{
    /// <summary>sysconf(_SC_CLK_TCK): USER_HZ, 100 on every Linux so far; asked rather than assumed.</summary>
    public static readonly long TicksPerSecond = Libc.sysconf(Libc._SC_CLK_TCK);

    /// <summary>
    /// CLOCK_REALTIME less CLOCK_BOOTTIME: the wall-clock time of boot, to the nanosecond (btime of /proc/stat has
    /// whole seconds only). A later step of the wall clock (NTP, date -s) is not followed, as ps does not.
    /// </summary>
    public static readonly DateTime BootTimeUtc = ReadBootTime(Libc.CLOCK_BOOTTIME);

    /// <summary>CLOCK_REALTIME less CLOCK_MONOTONIC: where the process connector's timestamps (ktime_get_ns) count from.</summary>
    private static readonly DateTime s_monotonicZeroUtc = ReadBootTime(Libc.CLOCK_MONOTONIC);

    /// <summary>A CLOCK_MONOTONIC time in ns (a process connector timestamp) as UTC.</summary>
    public static DateTime MonotonicToUtc(ulong nanoseconds) =>
        s_monotonicZeroUtc == default ? default : s_monotonicZeroUtc.AddTicks((long)(nanoseconds / 100));

    private static DateTime ReadBootTime(int clock)
    {
        Libc.timespec real, boot;
        if (Libc.clock_gettime(Libc.CLOCK_REALTIME, &real) != 0 || Libc.clock_gettime(clock, &boot) != 0)
        {
            return default;
        }

        long nanoseconds = ((real.tv_sec - boot.tv_sec) * 1_000_000_000L) + (real.tv_nsec - boot.tv_nsec);
        return DateTime.UnixEpoch.AddTicks(nanoseconds / 100);
    }
}

/// <summary>
/// The cgroup paths of processes, as strings, with the container id each names. Most processes share a few
/// cgroups: a path seen lately gives its strings again, and only a new one allocates. Single-threaded, as the
/// ProcessResolver that owns it.
/// </summary>
internal sealed class CgroupNames
{
    private const int Capacity = 32;
    private readonly byte[]?[] _paths = new byte[Capacity][];
    private readonly string[] _names = new string[Capacity];
    private readonly string[] _containerIds = new string[Capacity];
    private int _next;

    public CgroupNames()
    {
        // Every path of Name run once here, off the responder thread: a container's cgroup, a v1-only host.
        Name("0::/fpstest.slice/docker-0000000000000000000000000000000000000000000000000000000000000000.scope\n"u8, out _, out _);
        Name("1:cpu:/docker/0000000000000000000000000000000000000000000000000000000000000000\n"u8, out _, out _);
        Array.Clear(_paths);
        Array.Clear(_names);
        Array.Clear(_containerIds);
        _next = 0;
    }

    /// <summary>The v2 path and container id of a /proc/PID/cgroup file's text.</summary>
    public void Name(ReadOnlySpan<byte> cgroupFile, out string cgroup, out string containerId)
    {
        ReadOnlySpan<byte> unified = ProcessFacts.UnifiedPath(cgroupFile);
        // Keyed by the v2 path; on a host without one (or between unrelated v1 paths) the whole file is the key.
        ReadOnlySpan<byte> key = unified.IsEmpty ? cgroupFile : unified;
        for (int i = 0; i < Capacity; i++)
        {
            if (_paths[i] is { } known && key.SequenceEqual(known))
            {
                cgroup = _names[i];
                containerId = _containerIds[i];
                return;
            }
        }

        cgroup = unified.IsEmpty ? string.Empty : PathText.Decode(unified);
        ReadOnlySpan<byte> id = ProcessFacts.ContainerIdOfFile(cgroupFile);
        containerId = id.IsEmpty ? string.Empty : Ascii(id);
        _paths[_next] = key.ToArray();
        _names[_next] = cgroup;
        _containerIds[_next] = containerId;
        _next = (_next + 1) % Capacity;
    }

    /// <summary>Hex digits as a string, without an Encoding (nothing the warm-up may have missed).</summary>
    private static string Ascii(ReadOnlySpan<byte> id)
    {
        Span<char> chars = stackalloc char[id.Length];
        for (int i = 0; i < id.Length; i++)
        {
            chars[i] = (char)id[i];
        }

        return new string(chars);
    }
}
