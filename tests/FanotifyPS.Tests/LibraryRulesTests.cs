using System.IO;
using System.Linq;
using FanotifyPS.Commands;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

/// <summary>
/// Which deny rules reach the dynamic loader or the C library, judged on this machine's own (glibc) files. Nothing
/// is watched: the judgement runs before a watch starts.
/// </summary>
public class LibraryRulesTests
{
    private static readonly SystemLibraries.Library[] s_libraries = SystemLibraries.Find();

    private static SystemLibraries.Library CLibrary => s_libraries.First(l => !l.IsLoader);

    private static string LibraryDirectory => Path.GetDirectoryName(CLibrary.Path)!;

    private static FanotifyRule Rule(string name, FanotifyRuleAction action = FanotifyRuleAction.Deny, string[]? path = null, string[]? exe = null,
        FanotifyEventType events = FanotifyRule.PermissionEvents) =>
        new(name, action, path ?? [], exe ?? [], [], events, string.Empty);

    private static string[] Denying(string root, FanotifyScope scope, FanotifyEventType events, params FanotifyRule[] rules)
    {
        var spec = new WatchSpec
        {
            Paths = [root],
            Scope = scope,
            Events = events,
            Policy = PermissionPolicy.Compile(rules, WatchParameters.RuleArea([root], scope)),
        };
        return LibraryRules.Find(spec, s_libraries).Select(d => d.Rule).ToArray();
    }

    [Fact]
    public void This_process_maps_a_loader_and_a_C_library()
    {
        Assert.Contains(s_libraries, l => l.IsLoader && l.Path.Contains("ld-", System.StringComparison.Ordinal));
        Assert.Contains(s_libraries, l => !l.IsLoader && Path.GetFileName(l.Path) == "libc.so.6");
    }

    [Fact]
    public void The_C_library_is_found_beside_the_loader_too()
    {
        SystemLibraries.Library loader = s_libraries.First(l => l.IsLoader);
        SystemLibraries.Library[] found = SystemLibraries.Find([loader.Path]);

        Assert.Contains(found, l => l.IsLoader && l.Path == loader.Path);
        Assert.Contains(found, l => !l.IsLoader && l.Id == CLibrary.Id);
    }

    [Theory]
    [InlineData("libc.so.6", true)]
    [InlineData("libc.musl-x86_64.so.1", true)]
    [InlineData("libcrypt.so.1", false)]
    [InlineData("libc++.so.1", false)]
    public void C_library_names(string name, bool library) => Assert.Equal(library, SystemLibraries.IsCLibraryName(name));

    [Fact]
    public void A_rule_without_a_path_on_a_tree_or_directory_that_holds_the_library_denies_it()
    {
        Assert.Equal(["NoCurl"], Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, Rule("NoCurl", exe: ["*/curl"])));
        Assert.Equal(["NoCurl"], Denying(LibraryDirectory, FanotifyScope.Directory, FanotifyEventType.OpenPerm, Rule("NoCurl", exe: ["*/curl"])));
        Assert.Empty(Denying("/proc", FanotifyScope.Tree, FanotifyEventType.OpenPerm, Rule("NoCurl", exe: ["*/curl"])));
    }

    [Fact]
    public void A_rule_without_a_path_on_the_library_s_whole_filesystem_denies_it_and_on_another_directory_of_it_not()
    {
        MountFacts mount = FileSystemFacts.MountOf(LibraryDirectory)!;
        Assert.Equal("/", mount.Root);
        Assert.Equal(["NoCurl"], Denying(mount.MountPoint, FanotifyScope.Filesystem, FanotifyEventType.OpenPerm, Rule("NoCurl", exe: ["*/curl"])));

        string other = Directory.GetDirectories(mount.MountPoint).First(d =>
            !FileSystemFacts.IsUnder(CLibrary.Path, FileSystemFacts.RealPath(d)!) && FileSystemFacts.MountId(d) == mount.Id);
        Assert.Empty(Denying(FileSystemFacts.RealPath(other)!, FanotifyScope.Filesystem, FanotifyEventType.OpenPerm, Rule("NoCurl", exe: ["*/curl"])));
        Assert.Equal(["Deny"], Denying(FileSystemFacts.RealPath(other)!, FanotifyScope.Filesystem, FanotifyEventType.OpenPerm,
            Rule("Deny", path: [LibraryDirectory + "/*"], exe: ["*/curl"])));
    }

    [Fact]
    public void A_rule_with_a_path_denies_the_library_only_when_its_pattern_covers_it()
    {
        Assert.Equal(["Libs"], Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, Rule("Libs", path: [LibraryDirectory + "/*"])));
        Assert.Equal(["AnySo6"], Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, Rule("AnySo6", path: ["*.so.6"])));
        Assert.Empty(Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, Rule("Ssl", path: [LibraryDirectory + "/libssl*"])));
    }

    [Fact]
    public void An_allow_rule_for_every_process_before_it_shields_the_library_and_one_for_some_processes_does_not()
    {
        FanotifyRule allowLibs = Rule("Libs", FanotifyRuleAction.Allow, path: [LibraryDirectory + "/*"]);
        FanotifyRule allowBash = Rule("Bash", FanotifyRuleAction.Allow, exe: ["*/bash"]);
        FanotifyRule noCurl = Rule("NoCurl", exe: ["*/curl"]);

        Assert.Empty(Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, allowLibs, noCurl));
        Assert.Equal(["NoCurl"], Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, allowBash, noCurl));
        Assert.Equal(["NoCurl"], Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, noCurl, allowLibs));
    }

    [Fact]
    public void Only_the_events_that_open_the_library_count()
    {
        // The C library is opened by the loader (OpenPerm), never by execve: an exec rule does not stop it.
        Assert.Empty(Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, Rule("Exec", events: FanotifyEventType.OpenExecPerm)));
        Assert.Empty(Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.CloseWrite, Rule("NoCurl", exe: ["*/curl"])));
    }

    [Fact]
    public void A_file_rule_denies_the_library_it_names()
    {
        var rule = new FanotifyRule("TheLibrary", FanotifyRuleAction.Deny, [], [], [], FanotifyEventType.OpenPerm, string.Empty, [CLibrary.Path]);
        Assert.Equal(["TheLibrary"], Denying(LibraryDirectory, FanotifyScope.Tree, FanotifyEventType.OpenPerm, rule));
    }

    [Fact]
    public void A_path_on_its_own_mount_is_judged_as_it_is()
    {
        Assert.Equal(CLibrary.Path, LibraryRules.JudgedPath(CLibrary.Path, [LibraryDirectory], FanotifyScope.Filesystem));
        Assert.Equal(CLibrary.Path, LibraryRules.JudgedPath(CLibrary.Path, ["/proc"], FanotifyScope.Mount));
    }
}
