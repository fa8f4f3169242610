/* openloop: the "C loop" of the tests. Opens a file N times, read-only or for writing, closing each time;
 * or, with c, creates and opens N distinct files FILE.0 .. FILE.N-1 (distinct events are never merged).
 * usage: openloop FILE COUNT [r|w|c]    exit 0 when every open succeeded, 1 otherwise (errno printed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE COUNT [r|w]\n", argv[0]);
        return 2;
    }
    long count = strtol(argv[2], NULL, 10);
    char mode = argc > 3 ? argv[3][0] : 'r';
    int write_mode = mode == 'w';
    int flags = mode == 'r' ? O_RDONLY : (O_WRONLY | O_CREAT);
    char path[4096];
    for (long i = 0; i < count; i++) {
        if (mode == 'c')
            snprintf(path, sizeof path, "%s.%ld", argv[1], i);
        else
            snprintf(path, sizeof path, "%s", argv[1]);
        int fd = open(path, flags | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "open %s #%ld: %s\n", path, i, strerror(errno));
            return 1;
        }
        if (write_mode && write(fd, "x", 1) != 1) {
            fprintf(stderr, "write #%ld: %s\n", i, strerror(errno));
            return 1;
        }
        close(fd);
    }
    return 0;
}
