/* ref-listener: the benchmark's C reference, in the design of the fanotify(7) example: one thread, poll(),
 * read a batch, answer each permission event FAN_ALLOW first, then resolve the file (/proc/self/fd/N) and
 * the program (/proc/PID/exe) and print a line, close the event fd.
 * usage: ref-listener DIR perm|notif|exec READYFILE
 *   perm:  FAN_CLASS_CONTENT | FAN_UNLIMITED_QUEUE, FAN_OPEN_PERM | FAN_CLOSE_WRITE
 *   notif: FAN_CLASS_NOTIF, FAN_OPEN | FAN_CLOSE_WRITE
 *   exec:  notif, and FAN_OPEN_EXEC on the filesystems of / and /usr/bin in the same group: the exec events
 *          that a watch naming the program of every event reads (issue 13's design), resolved and printed too
 * Marks DIR's filesystem, creates READYFILE, and runs until SIGTERM or SIGINT; then prints
 * {"events":N,"cpu_seconds":S} on stderr. Event lines go to stdout (send them to /dev/null). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIR perm|notif READYFILE\n", argv[0]);
        return 2;
    }
    int perm = strcmp(argv[2], "perm") == 0;
    int exec = strcmp(argv[2], "exec") == 0;
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int fd = fanotify_init(FAN_CLOEXEC | FAN_NONBLOCK | (perm ? FAN_CLASS_CONTENT | FAN_UNLIMITED_QUEUE : FAN_CLASS_NOTIF),
                           O_RDONLY | O_CLOEXEC);
    if (fd < 0) { perror("fanotify_init"); return 1; }
    if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
                      (perm ? FAN_OPEN_PERM : FAN_OPEN) | FAN_CLOSE_WRITE, AT_FDCWD, argv[1]) < 0) {
        perror("fanotify_mark");
        return 1;
    }
    if (exec) {
        const char *programs[] = { "/", "/usr/bin" };
        for (int i = 0; i < 2; i++) {
            if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC, AT_FDCWD, programs[i]) < 0) {
                perror(programs[i]);
                return 1;
            }
        }
    }
    FILE *ready = fopen(argv[3], "w");
    if (ready) fclose(ready);

    /* 4096 bytes, as in fanotify(7): at most 170 event fds open at once, well under ulimit -n. */
    static char buf[4096] __attribute__((aligned(8)));
    char path[PATH_MAX], exe[PATH_MAX], proc[64];
    long events = 0;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (!stopping) {
        if (poll(&pfd, 1, -1) < 0) {
            if (errno == EINTR) continue;
            perror("poll");
            break;
        }
        ssize_t len = read(fd, buf, sizeof buf);
        if (len < 0) {
            if (errno == EAGAIN || errno == EINTR) continue;
            perror("read");
            break;
        }
        /* FAN_EVENT_NEXT consumes its length argument: each pass walks its own copy. */
        struct fanotify_event_metadata *m;
        ssize_t left = len;
        for (m = (void *)buf; FAN_EVENT_OK(m, left); m = FAN_EVENT_NEXT(m, left)) {
            if (m->vers != FANOTIFY_METADATA_VERSION) { fprintf(stderr, "version\n"); return 1; }
            if ((m->mask & FAN_OPEN_PERM) && m->fd >= 0) {
                struct fanotify_response r = { .fd = m->fd, .response = FAN_ALLOW };
                if (write(fd, &r, sizeof r) < 0) perror("write");
            }
        }
        left = len;
        for (m = (void *)buf; FAN_EVENT_OK(m, left); m = FAN_EVENT_NEXT(m, left)) {
            if (m->fd < 0) continue;
            snprintf(proc, sizeof proc, "/proc/self/fd/%d", m->fd);
            ssize_t n = readlink(proc, path, sizeof path - 1);
            path[n < 0 ? 0 : n] = 0;
            snprintf(proc, sizeof proc, "/proc/%d/exe", m->pid);
            n = readlink(proc, exe, sizeof exe - 1);
            exe[n < 0 ? 0 : n] = 0;
            printf("%s: File %s Exe %s\n", (m->mask & FAN_OPEN_PERM) ? "FAN_OPEN_PERM" : (m->mask & FAN_OPEN_EXEC) ? "FAN_OPEN_EXEC"
                   : (m->mask & FAN_OPEN) ? "FAN_OPEN" : "FAN_CLOSE_WRITE", path, exe);
            close(m->fd);
            events++;
        }
    }
    fflush(stdout);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    fprintf(stderr, "{\"events\":%ld,\"cpu_seconds\":%.3f}\n", events,
            ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    return 0;
}
