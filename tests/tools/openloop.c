/* openloop: the "C loop" of the tests. Opens a file N times, read-only or for writing, closing each time.
 * usage: openloop FILE COUNT [r|w]      exit 0 when every open succeeded, 1 otherwise (errno printed). */
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
    int write_mode = argc > 3 && argv[3][0] == 'w';
    int flags = write_mode ? (O_WRONLY | O_CREAT) : O_RDONLY;
    for (long i = 0; i < count; i++) {
        int fd = open(argv[1], flags | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "open %s #%ld: %s\n", argv[1], i, strerror(errno));
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
