using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

public class PermissionPolicyTests
{
    private static FanotifyRule Rule(string name, string[]? path = null, string[]? exe = null, string[]? user = null,
        FanotifyEventType events = FanotifyEventType.OpenPerm) =>
        new(name, FanotifyRuleAction.Deny, path ?? [], exe ?? [], user ?? [], events, string.Empty);

    private static bool CouldMatch(PermissionPolicy policy, ulong mask, string exe, int uid) => (policy.MatchMask(exe, uid) & mask) != 0;

    [Fact]
    public void A_rule_whose_program_does_not_match_cannot_match_whatever_the_path()
    {
        PermissionPolicy policy = PermissionPolicy.Compile([Rule("NoCatSecrets", path: ["/secret/*"], exe: ["*/cat"])]);

        Assert.False(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/vim", 0));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/secret/key", "/usr/bin/vim", 0));

        Assert.True(CouldMatch(policy, Fanotify.FAN_OPEN_PERM, "/usr/bin/cat", 0));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/secret/key", "/usr/bin/cat", 0));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/public/file", "/usr/bin/cat", 0));
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
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_EXEC_PERM, "/usr/bin/true", string.Empty, -1));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_EXEC_PERM, "/tmp/payload", string.Empty, -1));
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
        Assert.Equal(42, policy.Evaluate(Fanotify.FAN_OPEN_PERM, "/nonexistent/42/x", "/opt/nothing42", 0));
    }
}
