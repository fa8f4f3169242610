using System;
using System.Text;

namespace FanotifyPS;

/// <summary>One event read from a fanotify group, resolved to a file and a process.</summary>
public sealed class FanotifyEvent
{
    private readonly DateTime _utcTime;
    private string? _userName;
    private string? _loginUserName;
    private DateTime? _processStartUtc;

    internal FanotifyEvent(DateTime utcTime, FanotifyEventType eventType, string path, bool isDeleted,
        int processId, string exe, bool isProcessGone, FanotifyResponse response, int watchId)
    {
        _utcTime = utcTime;
        Event = eventType;
        Path = path;
        IsDeleted = isDeleted;
        ProcessId = processId;
        Exe = exe;
        IsProcessGone = isProcessGone;
        Response = response;
        WatchId = watchId;
    }

    /// <summary>Local time at which the watcher read the event (the kernel gives none).</summary>
    // Kept in UTC and converted on read: the responder thread must not load time zone files.
    public DateTime TimeStamp => _utcTime.ToLocalTime();

    /// <summary>
    /// TimeStamp in ISO 8601, to the tick and with its UTC offset. Export-Csv writes a DateTime in the culture's
    /// short form, without fractions of a second; this text keeps the exact time in a CSV file.
    /// </summary>
    public string TimeStampIso => TimeStamp.ToString("o", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The event's kernel bits; merged kernel events carry several.</summary>
    public FanotifyEventType Event { get; }

    /// <summary>The file or directory (for a rename, its new path), without the kernel's " (deleted)" suffix.</summary>
    public string Path { get; }

    /// <summary>The directory that holds the entry of a directory-entry event (create, delete, move, rename).</summary>
    public string DirectoryPath { get; internal set; } = string.Empty;

    /// <summary>The entry's name in DirectoryPath, for directory-entry events.</summary>
    public string Name { get; internal set; } = string.Empty;

    /// <summary>For Rename: the path before the rename.</summary>
    public string OldPath { get; internal set; } = string.Empty;

    /// <summary>For Rename: the path after the rename.</summary>
    public string NewPath { get; internal set; } = string.Empty;

    /// <summary>The event is about a directory (FAN_ONDIR).</summary>
    public bool IsDirectory { get; internal set; }

    /// <summary>The file had been unlinked when the event was read.</summary>
    public bool IsDeleted { get; }

    public int ProcessId { get; }

    /// <summary>The thread that caused the event, when the watch reports threads (-ThreadId); else null.</summary>
    public int? ThreadId { get; internal set; }

    /// <summary>The program of the process; empty when it could not be resolved.</summary>
    public string Exe { get; }

    /// <summary>The process's name (comm).</summary>
    public string ProcessName { get; internal set; } = string.Empty;

    /// <summary>The process's arguments, separated by spaces.</summary>
    public string CommandLine { get; internal set; } = string.Empty;

    public int ParentProcessId { get; internal set; }

    /// <summary>The effective user id of the process; null when unknown.</summary>
    public int? UserId { get; internal set; }

    /// <summary>The name of UserId, looked up when first read (never on the watcher thread); empty when UserId is null.</summary>
    public string UserName
    {
        get => _userName ??= UserId is int id ? UserNames.Lookup(id) : string.Empty;
        // A deserialized event keeps the name recorded where it happened (FanotifyEventConverter).
        internal set => _userName = value;
    }

    /// <summary>
    /// The audit login uid of the process (/proc/PID/loginuid): the user who logged in, kept through sudo and su
    /// and by every child; null when no login set it (a daemon, a boot-time service) or the process is unknown.
    /// </summary>
    public int? LoginUserId { get; internal set; }

    /// <summary>The name of LoginUserId, looked up when first read; empty when LoginUserId is null.</summary>
    public string LoginUserName
    {
        get => _loginUserName ??= LoginUserId is int id ? UserNames.Lookup(id) : string.Empty;
        internal set => _loginUserName = value;
    }

    /// <summary>The audit session of the process (/proc/PID/sessionid); null when unset or unknown.</summary>
    public long? SessionId { get; internal set; }

    /// <summary>
    /// Local time at which the process started (starttime of /proc/PID/stat, to the clock tick); null when unknown.
    /// With ProcessId it names one process: a pid used again later belongs to a process that started later.
    /// </summary>
    public DateTime? ProcessStartTime
    {
        get => _processStartUtc?.ToLocalTime();
        internal set => _processStartUtc = value?.ToUniversalTime();
    }

    /// <summary>ProcessStartTime in ISO 8601 with its UTC offset, exact in a CSV file; empty when unknown.</summary>
    public string ProcessStartTimeIso => ProcessStartTime?.ToString("o", System.Globalization.CultureInfo.InvariantCulture) ?? string.Empty;

    /// <summary>The UTC start time as the responder sets it: no conversion there (time zone files load lazily).</summary>
    internal DateTime? ProcessStartTimeUtc
    {
        get => _processStartUtc;
        set => _processStartUtc = value;
    }

    /// <summary>The cgroup v2 path of the process (/proc/PID/cgroup); empty when unknown or without cgroup v2.</summary>
    public string Cgroup { get; internal set; } = string.Empty;

    /// <summary>
    /// The 64-hex id of the container the process runs in, from its cgroup (docker, containerd, CRI-O, podman);
    /// empty on the host or when unknown.
    /// </summary>
    public string ContainerId { get; internal set; } = string.Empty;

    /// <summary>The process had exited when the event was read.</summary>
    public bool IsProcessGone { get; }

    /// <summary>Where Exe, ProcessName and the other process facts came from; Unknown when nothing sure was known.</summary>
    public ProcessSource ProcessSource { get; internal set; } = ProcessSource.Unknown;

    /// <summary>The verdict given to a permission event; None for notification events.</summary>
    public FanotifyResponse Response { get; }

    /// <summary>The name of the rule that decided Response; empty when no rule matched.</summary>
    public string Rule { get; internal set; } = string.Empty;

    /// <summary>For FsError: the error the filesystem reported (an errno value); null for other events.</summary>
    public int? FsErrorCode { get; internal set; }

    /// <summary>For FsError: how many errors the filesystem counted since the last report; null for other events.</summary>
    public int? FsErrorCount { get; internal set; }

    public int WatchId { get; }

    /// <summary>Its place in its watch's buffer, given as it enters the job's Output (JobOutput); 0 before.</summary>
    internal long Sequence { get; set; }

    /// <summary>The process connector's name of the process life the watcher named (0: not known); see ProcessDescriptions.</summary>
    internal long LifeKey { get; set; }

    /// <summary>The line of the fanotify(7) example and rfanotify, e.g. "FAN_OPEN_PERM: File /tmp/a Exe /usr/bin/cat".</summary>
    public override string ToString()
    {
        var line = new StringBuilder(KernelNames(Event));
        if (Event == FanotifyEventType.Overflow)
        {
            return line.Append(": events were lost (kernel queue overflow)").ToString();
        }

        line.Append(": File ");
        if (OldPath.Length != 0)
        {
            line.Append(Printable(OldPath)).Append(" -> ");
        }

        line.Append(Printable(Path));
        if (IsDeleted)
        {
            line.Append(" (deleted)");
        }

        if (Exe.Length != 0)
        {
            line.Append(" Exe ").Append(Printable(Exe));
        }
        else
        {
            line.Append(" Pid ").Append(ProcessId);
            if (IsProcessGone)
            {
                line.Append(" (gone)");
            }
        }

        return line.ToString();
    }

    /// <summary>
    /// A path on one printable line that reads back to exactly one name: backslashes doubled; C0 controls and
    /// DEL as \n, \t, \r or \xNN; bytes that were not UTF-8 (kept in the string as U+DC80..U+DCFF) as \xNN;
    /// C1 controls, bidirectional controls, U+2028, U+2029, U+FEFF and unpaired surrogates as \uNNNN. The views
    /// and ToString show names this way, so that a name cannot drive the terminal or reorder the line.
    /// </summary>
    public static string Printable(string text) => Interop.PathText.Escape(text);

    /// <summary>"FAN_OPEN_PERM", or "FAN_OPEN|FAN_CLOSE_NOWRITE" for merged events.</summary>
    public static string KernelNames(FanotifyEventType eventType)
    {
        var names = new StringBuilder();
        foreach (var (bit, name) in s_kernelNames)
        {
            if ((eventType & bit) != 0)
            {
                if (names.Length != 0)
                {
                    names.Append('|');
                }

                names.Append(name);
            }
        }

        return names.Length == 0 ? "FAN_NONE" : names.ToString();
    }

    private static readonly (FanotifyEventType Bit, string Name)[] s_kernelNames =
    [
        (FanotifyEventType.Access, "FAN_ACCESS"),
        (FanotifyEventType.Modify, "FAN_MODIFY"),
        (FanotifyEventType.Attrib, "FAN_ATTRIB"),
        (FanotifyEventType.CloseWrite, "FAN_CLOSE_WRITE"),
        (FanotifyEventType.CloseNoWrite, "FAN_CLOSE_NOWRITE"),
        (FanotifyEventType.Open, "FAN_OPEN"),
        (FanotifyEventType.MovedFrom, "FAN_MOVED_FROM"),
        (FanotifyEventType.MovedTo, "FAN_MOVED_TO"),
        (FanotifyEventType.Create, "FAN_CREATE"),
        (FanotifyEventType.Delete, "FAN_DELETE"),
        (FanotifyEventType.DeleteSelf, "FAN_DELETE_SELF"),
        (FanotifyEventType.MoveSelf, "FAN_MOVE_SELF"),
        (FanotifyEventType.OpenExec, "FAN_OPEN_EXEC"),
        (FanotifyEventType.Overflow, "FAN_Q_OVERFLOW"),
        (FanotifyEventType.FsError, "FAN_FS_ERROR"),
        (FanotifyEventType.OpenPerm, "FAN_OPEN_PERM"),
        (FanotifyEventType.AccessPerm, "FAN_ACCESS_PERM"),
        (FanotifyEventType.OpenExecPerm, "FAN_OPEN_EXEC_PERM"),
        (FanotifyEventType.Rename, "FAN_RENAME"),
    ];
}
