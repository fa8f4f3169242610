using System;
using System.Text;
using FanotifyPS.Commands;
using FanotifyPS.Interop;
using FanotifyPS.Watching;
using Xunit;

namespace FanotifyPS.Tests;

public class ProcessFactsTests
{
    private const string Id = "3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708";

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    private static string ContainerIdOf(string cgroupFile) => Encoding.ASCII.GetString(ProcessFacts.ContainerIdOfFile(Bytes(cgroupFile)));

    [Fact]
    public void The_start_time_is_field_22_counted_after_the_last_parenthesis_of_comm()
    {
        // comm "a) (b 1 2" holds spaces and parentheses that would shift a naive count.
        byte[] stat = Bytes("4242 (a) (b 1 2) S 1 4242 4242 0 -1 4194560 120 0 0 0 3 1 0 0 20 0 1 0 987654 1234567 89 " +
            "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n");
        Assert.Equal(987654UL, ProcessFacts.StartTicks(stat));
        Assert.Equal(0UL, ProcessFacts.StartTicks(Bytes("4242 (cut")));
        Assert.Equal(0UL, ProcessFacts.StartTicks(default));
    }

    [Fact]
    public void Clock_ticks_since_boot_become_a_UTC_time_at_the_tick_rate_given()
    {
        var boot = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        Assert.Equal(boot.AddMilliseconds(9_876_540), ProcessFacts.StartTimeUtc(987654, boot, 100));
        Assert.Equal(boot.AddMilliseconds(987_654), ProcessFacts.StartTimeUtc(987654, boot, 1000));
        Assert.Equal(DateTimeKind.Utc, ProcessFacts.StartTimeUtc(1, boot, 100).Kind);
        // Unknown: no ticks, no tick rate, no boot time.
        Assert.Equal(default, ProcessFacts.StartTimeUtc(0, boot, 100));
        Assert.Equal(default, ProcessFacts.StartTimeUtc(5, boot, -1));
        Assert.Equal(default, ProcessFacts.StartTimeUtc(5, default, 100));
    }

    [Fact]
    public void The_boot_clock_is_asked_of_this_kernel_and_gives_the_start_of_this_process()
    {
        Assert.True(BootClock.TicksPerSecond > 0);
        Assert.True(BootClock.BootTimeUtc < DateTime.UtcNow);
        string stat = System.IO.File.ReadAllText("/proc/self/stat");
        DateTime started = ProcessFacts.StartTimeUtc(ProcessFacts.StartTicks(Bytes(stat)), BootClock.BootTimeUtc, BootClock.TicksPerSecond);
        DateTime real = System.Diagnostics.Process.GetCurrentProcess().StartTime.ToUniversalTime();
        Assert.InRange((started - real).Duration(), TimeSpan.Zero, TimeSpan.FromSeconds(1));
    }

    [Theory]
    [InlineData("1000", 1000)]
    [InlineData("0", 0)]
    [InlineData("4294967295", -1)]   // AUDIT_UID_UNSET
    [InlineData("3000000000", -1)]   // beyond an int, as UserId: unknown rather than a negative uid
    [InlineData("", -1)]
    [InlineData("12x", -1)]
    public void A_login_uid_is_a_number_or_none(string text, int expected)
    {
        Assert.Equal(expected, ProcessFacts.LoginUserId(Bytes(text)));
    }

    [Theory]
    [InlineData("7", 7L)]
    [InlineData("3000000000", 3000000000L)]
    [InlineData("4294967295", -1L)]   // AUDIT_SID_UNSET
    [InlineData("", -1L)]
    public void A_session_id_is_a_number_or_none(string text, long expected)
    {
        Assert.Equal(expected, ProcessFacts.SessionId(Bytes(text)));
    }

    [Fact]
    public void The_cgroup_is_the_v2_line_of_a_hybrid_host_and_none_on_a_v1_only_one()
    {
        const string Hybrid = "9:name=systemd:/user.slice\n4:memory:/process_api/deb66b2acd848e364097abb28e4d7fe1\n1:cpu:/\n0::/user.slice/session-3.scope\n";
        Assert.Equal("/user.slice/session-3.scope", Encoding.UTF8.GetString(ProcessFacts.UnifiedPath(Bytes(Hybrid))));
        Assert.Equal("/", Encoding.UTF8.GetString(ProcessFacts.UnifiedPath(Bytes("0::/\n"))));
        Assert.Equal("/a", Encoding.UTF8.GetString(ProcessFacts.UnifiedPath(Bytes("0::/a"))));   // no final newline
        Assert.True(ProcessFacts.UnifiedPath(Bytes("4:memory:/x\n10:cpu:/y\n")).IsEmpty);
        // A v1 line whose number merely ends in 0 is not the v2 line.
        Assert.True(ProcessFacts.UnifiedPath(Bytes("10::/not-v2\n")).IsEmpty);
    }

    [Theory]
    [InlineData("0::/system.slice/docker-" + Id + ".scope\n")]                          // docker, systemd driver
    [InlineData("0::/docker/" + Id + "\n")]                                            // docker, cgroupfs driver
    [InlineData("0::/kubepods.slice/kubepods-pod1.slice/cri-containerd-" + Id + ".scope\n")]   // containerd's CRI
    [InlineData("0::/kubepods.slice/kubepods-burstable.slice/crio-" + Id + ".scope\n")]   // CRI-O, systemd
    [InlineData("0::/kubepods/burstable/pod1/crio-" + Id + "\n")]                        // CRI-O, cgroupfs
    [InlineData("0::/machine.slice/libpod-" + Id + ".scope\n")]                          // podman, systemd
    [InlineData("0::/libpod_parent/libpod-" + Id + "\n")]                               // podman, cgroupfs
    [InlineData("0::/kubepods/besteffort/pod0b1c/" + Id + "\n")]                        // kubelet, cgroupfs
    [InlineData("0::/system.slice/docker-" + Id + ".scope/init\n")]                      // a cgroup inside the container's
    [InlineData("12:memory:/docker/" + Id + "\n11:cpu:/docker/" + Id + "\n")]             // a v1-only host
    public void Each_runtime_s_cgroup_names_its_container(string cgroupFile)
    {
        Assert.Equal(Id, ContainerIdOf(cgroupFile));
    }

    [Theory]
    [InlineData("0::/\n")]
    [InlineData("0::/user.slice/user-1000.slice/session-2.scope\n")]
    [InlineData("0::/system.slice/docker.service\n")]                                   // the daemon, not a container
    [InlineData("0::/system.slice/docker-" + "3f2a1b4c5d6e" + ".scope\n")]               // a short id is no id
    [InlineData("0::/system.slice/docker-" + Id + "0.scope\n")]                          // 65 digits
    [InlineData("0::/system.slice/docker-3F2A1B4C5D6E7F8091A2B3C4D5E6F708192A3B4C5D6E7F8091A2B3C4D5E6F708.scope\n")]   // not lowercase hex
    [InlineData("0::/system.slice/docker-" + "g" + "f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708" + ".scope\n")]
    [InlineData("0::/machine.slice/libpod-conmon-" + Id + ".scope\n")]                   // podman's monitor
    [InlineData("0::/crio-conmon-" + Id + ".scope\n")]                                   // CRI-O's monitor
    [InlineData("0::/fpstest/" + Id + "\n")]                                            // a bare id outside docker or kubepods
    [InlineData("0::/docker-" + Id + "\n")]                                             // docker- without .scope
    [InlineData("4:memory:/process_api/deb66b2acd848e364097abb28e4d7fe1\n0::/\n")]        // a 32-hex v1 path, v2 at the root
    public void A_host_cgroup_or_a_near_miss_names_no_container(string cgroupFile)
    {
        Assert.Equal(string.Empty, ContainerIdOf(cgroupFile));
    }

    [Fact]
    public void The_innermost_container_counts()
    {
        const string Outer = "1111111111111111111111111111111111111111111111111111111111111111";
        Assert.Equal(Id, ContainerIdOf($"0::/docker/{Outer}/docker/{Id}\n"));
    }

    [Fact]
    public void Cgroup_names_are_made_once_and_given_again()
    {
        var names = new CgroupNames();
        names.Name(Bytes("1:cpu:/\n0::/system.slice/docker-" + Id + ".scope\n"), out string first, out string firstId);
        names.Name(Bytes("1:cpu:/other\n0::/system.slice/docker-" + Id + ".scope\n"), out string second, out string secondId);
        Assert.Equal("/system.slice/docker-" + Id + ".scope", first);
        Assert.Equal(Id, firstId);
        Assert.Same(first, second);
        Assert.Same(firstId, secondId);

        names.Name(Bytes("0::/\n"), out string root, out string none);
        Assert.Equal("/", root);
        Assert.Equal(string.Empty, none);

        // More cgroups than it keeps: still right, the oldest made again.
        for (int i = 0; i < 100; i++)
        {
            names.Name(Bytes($"0::/a/{i}\n"), out string path, out _);
            Assert.Equal($"/a/{i}", path);
        }

        names.Name(Bytes("0::/system.slice/docker-" + Id + ".scope\n"), out string again, out string againId);
        Assert.Equal(first, again);
        Assert.Equal(Id, againId);

        // Without a v2 line: no cgroup, the id from the v1 lines.
        names.Name(Bytes("12:memory:/docker/" + Id + "\n"), out string v1, out string v1Id);
        Assert.Equal(string.Empty, v1);
        Assert.Equal(Id, v1Id);
    }

    [Theory]
    [InlineData(Id, true)]
    [InlineData("3f2a*", true)]
    [InlineData("*", true)]
    [InlineData("3f2a1b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70?", true)]
    [InlineData("[0-9a-f]*", true)]
    [InlineData("*08", true)]
    [InlineData("3f2a1b4c5d6e", false)]       // docker ps's short id: only with '*'
    [InlineData("web-frontend", false)]       // a container's name
    [InlineData("docker-3f2a*", false)]
    [InlineData(Id + "0", false)]
    [InlineData(Id + "*0", false)]
    public void A_container_id_pattern_must_be_able_to_match_64_hex_digits(string pattern, bool canMatch)
    {
        Assert.Equal(canMatch, ProcessFactPatterns.CanMatchAnId(pattern, out _));
    }

    [Fact]
    public void ContainerId_and_LoginUser_filters_judge_what_is_known_and_say_what_could_not_be_judged()
    {
        var filter = new ReportFilter { ContainerId = new GlobSet(["3f2a*"]), LoginUserId = [1234] };

        Assert.True(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", 1234, Id, -1));
        Assert.False(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", 1000, Id, -1));
        Assert.False(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", -1, Id, -1));
        Assert.False(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", 1234, "1111111111111111111111111111111111111111111111111111111111111111", -1));
        Assert.False(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", 1234, string.Empty, -1));

        // Left out with the facts unknown (a process never read): nobody could tell.
        Assert.True(filter.LeftOutWithoutExe("/d/a", string.Empty, 1, string.Empty, -1, string.Empty, -1, factsKnown: false));
        // Known and not matching: judged.
        Assert.False(filter.LeftOutWithoutExe("/d/a", string.Empty, 1, string.Empty, 1000, Id, -1, factsKnown: true));
    }

    [Fact]
    public void ContainerId_star_selects_the_processes_of_every_container_and_no_host_process()
    {
        var filter = new ReportFilter { ContainerId = new GlobSet(["*"]) };
        Assert.True(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", -1, Id, -1));
        Assert.False(filter.Reports("/d/a", string.Empty, 1, "/usr/bin/cat", -1, string.Empty, -1));
    }

    [Fact]
    public void A_login_user_rule_could_match_only_processes_of_that_login_judged_once_per_process()
    {
        var rule = new FanotifyRule("NoLogin1234", FanotifyRuleAction.Deny, [], [], [], FanotifyEventType.OpenPerm, string.Empty) { LoginUser = ["1234"] };
        PermissionPolicy policy = PermissionPolicy.Compile([rule]);

        Assert.Equal(Fanotify.FAN_OPEN_PERM, policy.ProcessMask);
        Assert.NotEqual(0UL, policy.MatchMask("/usr/bin/cat", 0, 1234) & Fanotify.FAN_OPEN_PERM);
        Assert.Equal(0UL, policy.MatchMask("/usr/bin/cat", 0, 1000));
        Assert.Equal(0UL, policy.MatchMask("/usr/bin/cat", 0, -1));
        Assert.Equal(0, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, "/usr/bin/cat", 0, 1234));
        Assert.Equal(-1, policy.Evaluate(Fanotify.FAN_OPEN_PERM, null, "/usr/bin/cat", 0, -1));
        Assert.Empty(policy.SweepingRules());
        Assert.Equal("NoLogin1234: Deny LoginUser 1234 (OpenPerm)", rule.ToString());
    }
}
