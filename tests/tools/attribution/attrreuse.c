/* attrreuse: two processes that get the same pid one after the other, each running another program.
 * usage: attrreuse DIR I
 * Forks a child that runs "tee DIR/reuse-tee/tee.I.PID" (stdin /dev/null: it creates the file and exits),
 * reaps it, waits 12 ms, writes PID-1 to /proc/sys/kernel/ns_last_pid so that the next fork gets PID again, and forks a
 * child that runs "touch DIR/reuse-touch/touch.I.PID2". Prints {"i":I,"first":PID,"second":PID2,
 * "firstStart":T1,"secondStart":T2}: PID2 is PID unless another process forked in between (then the pair is no
 * reuse, and says so); T1 and T2 are the children's start times (field 22 of /proc/PID/stat, clock ticks since
 * boot), read from the zombie before it is reaped, so that a judge can tell which life an event names. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Field 22 of /proc/PID/stat (the comm, field 2, may hold spaces and parentheses: count from its last ')'). */
static unsigned long long start_ticks(pid_t pid)
{
    char path[64], stat[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, stat, sizeof stat - 1);
    close(fd);
    if (n <= 0) return 0;
    stat[n] = '\0';
    char *p = strrchr(stat, ')');
    if (!p) return 0;
    /* The space after ")" starts field 3; each further space starts the next field, up to 22. */
    for (int field = 3; field <= 22 && p; field++) p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

/* The last pid the kernel gave before this program rewound it; given back right after the second fork, so that
 * only that fork reuses a pid, and not every fork of the machine after it (pids freed since would be given again). */
static long restore_to = -1;

static void write_last_pid(long pid)
{
    int fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY);
    if (fd < 0) { perror("ns_last_pid"); exit(1); }
    char text[32];
    int n = snprintf(text, sizeof text, "%ld", pid);
    if (write(fd, text, n) != n) { perror("ns_last_pid"); exit(1); }
    close(fd);
}

static long read_last_pid(void)
{
    char text[32] = {0};
    int fd = open("/proc/sys/kernel/ns_last_pid", O_RDONLY);
    if (fd < 0 || read(fd, text, sizeof text - 1) <= 0) { perror("ns_last_pid"); exit(1); }
    close(fd);
    return strtol(text, NULL, 10);
}

static pid_t run(const char *program, const char *name, const char *dir, const char *sub, const char *i, unsigned long long *start)
{
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); exit(1); }
    if (pid > 0 && restore_to > 0) {
        long now = read_last_pid();
        write_last_pid(now > restore_to ? now : restore_to);
    }
    if (pid == 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/%s.%s.%d", dir, sub, name, i, (int)getpid());
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) { dup2(null, 0); dup2(open("/dev/null", O_WRONLY), 1); }
        execl(program, name, path, (char *)NULL);
        perror(program);
        _exit(127);
    }
    /* Wait without reaping: the zombie still has its stat, start time included. */
    siginfo_t info;
    if (waitid(P_PID, pid, &info, WEXITED | WNOWAIT) < 0) { perror("waitid"); exit(1); }
    *start = start_ticks(pid);
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s failed\n", program);
        exit(1);
    }
    return pid;
}

int main(int argc, char **argv)
{
    if (argc < 3) { fprintf(stderr, "usage: %s DIR I\n", argv[0]); return 2; }
    unsigned long long first_start = 0, second_start = 0;
    pid_t first = run("/usr/bin/tee", "tee", argv[1], "reuse-tee", argv[2], &first_start);
    /* More than a clock tick (USER_HZ 100) apart: the two lives then have different start times. */
    usleep(12000);
    restore_to = read_last_pid();
    write_last_pid((long)first - 1);
    pid_t second = run("/usr/bin/touch", "touch", argv[1], "reuse-touch", argv[2], &second_start);
    printf("{\"i\":%s,\"first\":%d,\"second\":%d,\"firstStart\":%llu,\"secondStart\":%llu}\n", argv[2], (int)first, (int)second,
        first_start, second_start);
    return 0;
}
