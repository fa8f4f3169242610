/* threadopen: opens FILE from a second thread, so that its thread id differs from its process id.
 * usage: threadopen FILE        prints "PID TID" of the opening thread, exit 0 when the open succeeded. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *path;
static int result = 1;

static void *opener(void *unused)
{
    (void)unused;
    printf("%d %ld\n", getpid(), (long)syscall(SYS_gettid));
    fflush(stdout);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        close(fd);
        result = 0;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    path = argv[1];
    pthread_t thread;
    if (pthread_create(&thread, NULL, opener, NULL) != 0)
        return 1;
    pthread_join(thread, NULL);
    return result;
}
