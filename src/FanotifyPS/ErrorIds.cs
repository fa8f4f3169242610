namespace FanotifyPS;

/// <summary>Stable FullyQualifiedErrorId prefixes; tests and users match on them.</summary>
internal static class ErrorIds
{
    internal const string FanotifyNeedsCapSysAdmin = nameof(FanotifyNeedsCapSysAdmin);
    internal const string FanotifyNotSupported = nameof(FanotifyNotSupported);
    internal const string PermissionEventsNotSupported = nameof(PermissionEventsNotSupported);
    internal const string FanotifyGroupLimit = nameof(FanotifyGroupLimit);
    internal const string FanotifyMarkLimit = nameof(FanotifyMarkLimit);
    internal const string PathNotFound = nameof(PathNotFound);
    internal const string PathNotOnFileSystem = nameof(PathNotOnFileSystem);
    internal const string FileSystemNotSupported = nameof(FileSystemNotSupported);
    internal const string InvalidEventSelection = nameof(InvalidEventSelection);
    internal const string FanotifyInitFailed = nameof(FanotifyInitFailed);
    internal const string FanotifyMarkFailed = nameof(FanotifyMarkFailed);
    internal const string WatcherStartFailed = nameof(WatcherStartFailed);
    internal const string WatchNotFound = nameof(WatchNotFound);
    internal const string WatchFailed = nameof(WatchFailed);
    internal const string InvalidRule = nameof(InvalidRule);
    internal const string InvalidWildcard = nameof(InvalidWildcard);
    internal const string InvalidScope = nameof(InvalidScope);
    internal const string FeatureNotSupported = nameof(FeatureNotSupported);
    internal const string ProbeFailed = nameof(ProbeFailed);
    internal const string EventHandlerFailed = nameof(EventHandlerFailed);
}
