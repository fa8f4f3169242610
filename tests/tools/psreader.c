/* psreader: a ps-like reader for the attribution load test (issue 19). Until its deadline it walks /proc over
 * and over, and for every pid reads what ps and top read: the exe link, cmdline and stat. It never forks, so
 * that it adds /proc traffic and pid-lookup races without adding processes of its own to the workload.
 * usage: psreader SECONDS     stops by itself after SECONDS (alarm() ends it too if a read ever blocks);
 *                             prints "passes N reads N" on exit. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int read_file(const char *path, char *buffer, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buffer, size);
    close(fd);
    return n > 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
        return 2;
    }
    double seconds = strtod(argv[1], NULL);
    if (seconds <= 0) {
        fprintf(stderr, "%s: SECONDS must be positive\n", argv[0]);
        return 2;
    }
    /* A hard stop besides the clock check: SIGALRM ends the process even inside a read. */
    alarm((unsigned)seconds + 5);
    double deadline = now() + seconds;
    static char buffer[65536];
    char path[64];
    long passes = 0, reads = 0;
    while (now() < deadline) {
        DIR *proc = opendir("/proc");
        if (!proc) {
            perror("/proc");
            return 1;
        }
        struct dirent *entry;
        while ((entry = readdir(proc)) != NULL) {
            char *end;
            long pid = strtol(entry->d_name, &end, 10);
            if (*end != '\0' || pid <= 0)
                continue;
            snprintf(path, sizeof path, "/proc/%ld/exe", pid);
            if (readlink(path, buffer, sizeof buffer) > 0)
                reads++;
            snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
            reads += read_file(path, buffer, sizeof buffer);
            snprintf(path, sizeof path, "/proc/%ld/stat", pid);
            reads += read_file(path, buffer, sizeof buffer);
        }
        closedir(proc);
        passes++;
    }
    printf("passes %ld reads %ld\n", passes, reads);
    return 0;
}
