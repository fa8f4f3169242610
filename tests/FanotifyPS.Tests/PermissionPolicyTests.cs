using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

public class PermissionPolicyTests
{
    private static FanotifyRule Rule(string name, string[]? path = null, string[]? exe = null, string[]? user = null,
        FanotifyEventType events = FanotifyEventType.OpenPerm) =>
        new(name, FanotifyRuleAction.Deny, path ?? [], exe ?? [], user ?? [], events, string.Empty);

    private static bool CouldMatch(PermissionPolicy policy, ulong mask, string exe, int uid) => (policy.MatchMask(exe, uid, -1) & mask) != 0;

    [Fact]
    public void A_rule_whose_program_does_not_match_cannot_match_whatever_the_path()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoCatSecrets", path: ["/secret/*"], exe: ["*/cat"])]);

        Assert.False(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/vim", 0));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/secret/key", "/usr/bin/vim", 0, -1));

        Assert.True(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/cat", 0));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/secret/key", "/usr/bin/cat", 0, -1));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/public/file", "/usr/bin/cat", 0, -1));
    }

    [Fact]
    public void A_path_only_rule_could_always_match_and_an_event_it_does_not_cover_never()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoExecTmp", path: ["/tmp/*"], events: FanotifyEventType.OpenExecPerm)]);

        Assert.True(CouldMatch(policy, Fanotify.FAN_OPEN_EXEC_PERM, "/usr/bin/sh", 0));
        Assert.False(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/sh", 0));
    }

    [Fact]
    public void The_masks_say_which_events_need_the_process_or_the_path_before_the_verdict()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([
            Rule("NoExecTmp", path: ["/tmp/*"], events: FanotifyEventType.OpenExecPerm),
            Rule("NoCat", exe: ["*/cat"], events: FanotifyEventType.OpenPerm),
        ]);

        Assert.Equal(Fanotify.FAN_OPEN_EXEC_PERM | Fanotify.FAN_OPEN_PERM, policy.EventMask);
        Assert.Equal(Fanotify.FAN_OPEN_EXEC_PERM, policy.PathMask);
        Assert.Equal(Fanotify.FAN_OPEN_PERM, policy.ProcessMask);
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_EXEC_PERM, "/usr/bin/true", string.Empty, -1, -1));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_EXEC_PERM, "/tmp/payload", string.Empty, -1, -1));
    }

    [Fact]
    public void A_user_rule_could_match_only_that_user()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoRoot", user: ["0"])]);

        Assert.True(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/cat", 0));
        Assert.False(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/cat", 1000));
    }

    [Fact]
    public void Among_a_hundred_rules_that_name_other_programs_none_could_match()
    {
        var rules = new FanotifyRule[100];
        for (int i = 0; i < rules.Length; i++)
        {
            rules[i] = Rule($"nomatch{i}", path: [$"/nonexistent/{i}/*"], exe: [$"*/nothing{i}"]);
        }

        PermissionPolicy policy = PermissionPolicy.Compile(rules);
        Assert.False(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/work/out/bench-tools/loadgen", 0));
        Assert.True(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/opt/nothing42", 0));
        Assert.Equal(42, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/nonexistent/42/x", "/opt/nothing42", 0, -1));
    }

    [Fact]
    public void A_file_rule_matches_its_device_and_inode_only()
    {
        var rule = new FanotifyRule("NoKey", FanotifyRuleAction.Deny, [], [], [], FanotifyEventType.OpenPerm, string.Empty, ["/proc/self/exe"]);
        PermissionPolicy policy = PermissionPolicy.Compile([rule]);
        FileId key = FileSystemFacts.Identify("/proc/self/exe")!.Value;

        Assert.NotEqual(0UL, policy.FileMask & Fanotify.FAN_OPEN_PERM);
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, string.Empty, -1, -1, key));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, string.Empty, -1, -1, key with { Inode = key.Inode + 1 }));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, string.Empty, -1, -1, default));
    }

    [Fact]
    public void A_file_rule_for_a_missing_file_fails_to_compile()
    {
        var rule = new FanotifyRule("Gone", FanotifyRuleAction.Deny, [], [], [], FanotifyEventType.OpenPerm, string.Empty, ["/nonexistent/file"]);
        Assert.Throws<WatchException>(() => PermissionPolicy.Compile([rule]));
    }

    [Theory]
    [InlineData("*", true)]
    [InlineData("/*", true)]
    [InlineData("**", true)]
    [InlineData("/srv/*", false)]
    [InlineData("*.pem", false)]
    [InlineData("//*", false)]
    public void A_pattern_of_stars_matches_everything(string pattern, bool everything) =>
        Assert.Equal(everything, PermissionPolicy.MatchesEverything(pattern));

    [Fact]
    public void Only_deny_rules_whose_every_condition_matches_everything_sweep()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([
            Rule("AllPaths", path: ["*"]),
            Rule("Root", user: ["0"]),
            Rule("RootSecrets", path: ["/srv/secret/*"], user: ["0"]),
            Rule("NoCondition"),
            new FanotifyRule("AllowAll", FanotifyRuleAction.Allow, [], [], [], FanotifyEventType.OpenPerm, string.Empty),
            new FanotifyRule("OneFile", FanotifyRuleAction.Deny, [], [], [], FanotifyEventType.OpenPerm, string.Empty, ["/proc/self/exe"]),
        ]);

        Assert.Equal(["AllPaths", "Root", "NoCondition"], policy.SweepingRules());
    }

    [Fact]
    public void A_rule_without_a_path_of_its_own_applies_under_the_area_only()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoCurl", exe: ["*/curl"])], ["/srv", "/data/x"]);

        Assert.Equal(["NoCurl"], policy.AreaRules);
        Assert.Equal(Fanotify.FAN_OPEN_PERM, policy.PathMask);   // its path is read before the verdict
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/srv/www/index.html", "/usr/bin/curl", 0, -1));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/srv", "/usr/bin/curl", 0, -1));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/data/x/y", "/usr/bin/curl", 0, -1));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/curl", 0, -1));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/srvx/file", "/usr/bin/curl", 0, -1));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/data/xy", "/usr/bin/curl", 0, -1));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, "/usr/bin/curl", 0, -1));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/srv/www/index.html", "/usr/bin/wget", 0, -1));
    }

    [Fact]
    public void A_rule_with_a_path_or_a_file_of_its_own_keeps_it_whatever_the_area()
    {
        var file = new FanotifyRule("NoExe", FanotifyRuleAction.Deny, [], [], [], FanotifyEventType.OpenPerm, string.Empty, ["/proc/self/exe"]);
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoEtc", path: ["/etc/*"]), file], ["/srv"]);
        FileId exe = FileSystemFacts.Identify("/proc/self/exe")!.Value;

        Assert.Empty(policy.AreaRules);
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/etc/shadow", string.Empty, -1, -1));
        Assert.Equal(1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/usr/bin/dotnet", string.Empty, -1, -1, exe));
    }

    [Fact]
    public void Without_an_area_a_rule_without_a_path_applies_everywhere_and_reads_no_path()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoCurl", exe: ["*/curl"])]);

        Assert.Empty(policy.AreaRules);
        Assert.Equal(0UL, policy.PathMask);
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, "/usr/bin/curl", 0, -1));
        Assert.Equal(Fanotify.FAN_OPEN_PERM, policy.Within(["/srv"]).PathMask);
        Assert.Equal(0UL, policy.Within(["/srv"]).Within([]).PathMask);
    }

    [Fact]
    public void A_rule_confined_to_the_area_does_not_sweep_a_filesystem()
    {
        FanotifyRule[] rules = [Rule("Root", user: ["0"]), Rule("NoCondition"), Rule("AllPaths", path: ["*"])];

        Assert.Equal(["Root", "NoCondition", "AllPaths"], PermissionPolicy.Compile(rules).SweepingRules());
        Assert.Equal(["AllPaths"], PermissionPolicy.Compile(rules, ["/srv"]).SweepingRules());
    }
}
