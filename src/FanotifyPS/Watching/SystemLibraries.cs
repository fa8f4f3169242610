using System;
using System.Collections.Generic;
using System.IO;

namespace FanotifyPS.Watching;

/// <summary>
/// The files every dynamically linked program opens before its own code runs: the dynamic loader (ld.so, opened
/// by the kernel in execve) and the C library (opened by the loader). A deny rule that reaches them keeps the
/// programs it matches from starting at all ("libc.so.6: cannot open shared object file: Operation not
/// permitted"), whatever else it was meant to deny. Found as this process maps them (/proc/self/maps: what the
/// programs started from here load, LD_LIBRARY_PATH included), plus the C library beside the loader, which the
/// rest of the system loads. Called on the cmdlet's thread, never on a responder.
/// </summary>
internal static class SystemLibraries
{
    /// <summary>One such file: its real path, its identity, and whether it is the loader (opened by execve too).</summary>
    internal readonly record struct Library(string Path, FileId Id, bool IsLoader);

    public static Library[] Find() => Find(ReadMappedFiles());

    /// <summary>The loaders and C libraries among these mapped files (real paths), and the C library beside each loader.</summary>
    internal static Library[] Find(IEnumerable<string> mappedFiles)
    {
        var found = new List<Library>();
        var loaders = new List<string>();
        foreach (string path in mappedFiles)
        {
            string name = System.IO.Path.GetFileName(path);
            bool loader = ProgramImage.IsElfInterpreterName(name);
            if (loader)
            {
                loaders.Add(path);
            }

            if (loader || IsCLibraryName(name))
            {
                Add(found, path, loader);
            }
        }

        foreach (string loader in loaders)
        {
            string beside = System.IO.Path.Join(System.IO.Path.GetDirectoryName(loader), "libc.so.6");
            if (File.Exists(beside))
            {
                Add(found, FileSystemFacts.RealPath(beside) ?? beside, false);
            }
        }

        return found.ToArray();
    }

    /// <summary>glibc's libc.so.6 (and an older libc.so.N), musl's libc.musl-ARCH.so.1.</summary>
    internal static bool IsCLibraryName(string name) =>
        name.StartsWith("libc.so.", StringComparison.Ordinal) || name.StartsWith("libc.musl-", StringComparison.Ordinal);

    private static void Add(List<Library> found, string path, bool loader)
    {
        if (found.Exists(l => l.Path == path) || FileSystemFacts.Identify(path) is not { } id)
        {
            return;
        }

        found.Add(new Library(path, id, loader));
    }

    /// <summary>
    /// The files mapped into this process, by path. A line is "address perms offset dev inode path"; a file replaced
    /// since it was mapped (a glibc upgrade) ends in " (deleted)", and its name now leads to the new file.
    /// </summary>
    private static SortedSet<string> ReadMappedFiles()
    {
        var paths = new SortedSet<string>(StringComparer.Ordinal);
        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/self/maps");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return paths;
        }

        foreach (string line in lines)
        {
            string[] fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 6 && fields[5].TrimStart() is { } path && path.StartsWith('/'))
            {
                _ = paths.Add(path.EndsWith(" (deleted)", StringComparison.Ordinal) ? path[..^" (deleted)".Length] : path);
            }
        }

        return paths;
    }
}
