/* execloop: the benchmark's exec-heavy workload. Forks and execs PROGRAM (no arguments) COUNT times, one after
 * the other, waiting for each, and prints one JSON line: {"execs":N,"seconds":S,"execs_per_sec":R}.
 * usage: execloop COUNT PROGRAM */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s COUNT PROGRAM\n", argv[0]);
        return 2;
    }
    long count = strtol(argv[1], NULL, 10);
    double start = now();
    for (long i = 0; i < count; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) {
            execl(argv[2], argv[2], (char *)NULL);
            _exit(127);
        }
        int status;
        if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "%s failed\n", argv[2]);
            return 1;
        }
    }
    double seconds = now() - start;
    printf("{\"execs\":%ld,\"seconds\":%.6f,\"execs_per_sec\":%.1f}\n", count, seconds, count / seconds);
    return 0;
}
