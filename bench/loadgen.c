/* loadgen: the benchmark's workload. Runs COUNT operations on files in DIR and prints one JSON line:
 *   {"ops":N,"seconds":S,"ops_per_sec":R,"p50_us":..,"p99_us":..,"max_us":..}
 * usage: loadgen DIR COUNT open|write [FILES]
 *   open:  open(O_RDONLY) + close          (OpenPerm, Open, CloseNoWrite)
 *   write: open(O_WRONLY) + write + close  (OpenPerm, Open, Modify, CloseWrite)
 * FILES (default 1) files are used in turn; several files keep the kernel from merging identical events.
 * Every operation's latency is timed, so that the permission round trip shows in the percentiles. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int compare(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s DIR COUNT open|write [FILES]\n", argv[0]);
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    int writing = strcmp(argv[3], "write") == 0;
    long files = argc > 4 ? strtol(argv[4], NULL, 10) : 1;
    char (*paths)[512] = calloc(files, 512);
    float *latency = malloc(sizeof(float) * count);
    if (!paths || !latency)
        return 1;
    for (long f = 0; f < files; f++) {
        snprintf(paths[f], 512, "%s/load.%ld", argv[1], f);
        int fd = open(paths[f], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);   /* before the timing starts */
        if (fd < 0) {
            perror(paths[f]);
            return 1;
        }
        close(fd);
    }

    double start = now();
    for (long i = 0; i < count; i++) {
        double t0 = now();
        int fd = open(paths[i % files], (writing ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "open #%ld: %s\n", i, strerror(errno));
            return 1;
        }
        if (writing && write(fd, "x", 1) != 1)
            return 1;
        close(fd);
        latency[i] = (float)((now() - t0) * 1e6);
    }
    double seconds = now() - start;

    qsort(latency, count, sizeof(float), compare);
    printf("{\"ops\":%ld,\"seconds\":%.6f,\"ops_per_sec\":%.1f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"max_us\":%.2f}\n",
           count, seconds, count / seconds, latency[count / 2], latency[(long)(count * 0.99)], latency[count - 1]);
    return 0;
}
