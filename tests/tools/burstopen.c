/* burstopen: opens FILE once from each of THREADS threads at the same moment, so that as many permission events
 * wait in a watcher's queue at once. Prints {"opened":N,"failed":N,"first_errno":E} and exits 0 when every open
 * succeeded. usage: burstopen FILE THREADS */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *path;
static pthread_barrier_t start;
static int opened, failed, first_errno;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *opener(void *unused)
{
    (void)unused;
    pthread_barrier_wait(&start);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int error = errno;
    pthread_mutex_lock(&lock);
    if (fd >= 0) {
        opened++;
        close(fd);
    } else {
        if (failed++ == 0) first_errno = error;
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: burstopen FILE THREADS\n");
        return 2;
    }
    path = argv[1];
    int count = atoi(argv[2]);
    pthread_t *threads = calloc(count, sizeof *threads);
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setstacksize(&attributes, 64 * 1024);
    pthread_barrier_init(&start, NULL, count);
    for (int i = 0; i < count; i++) {
        if (pthread_create(&threads[i], &attributes, opener, NULL) != 0) {
            perror("burstopen: pthread_create");
            return 2;
        }
    }
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);
    printf("{\"opened\":%d,\"failed\":%d,\"first_errno\":%d}\n", opened, failed, first_errno);
    return failed == 0 ? 0 : 1;
}
