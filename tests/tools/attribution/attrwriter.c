/* attrwriter: the attribution workload's own writer (tests/tools/attribution). Built twice by the harness:
 * dynamic (copied onto the watched tmpfs, and copied elsewhere and deleted while it runs) and -static.
 * usage: attrwriter write PATH          create PATH, write a line, close it
 *        attrwriter wait PATH FIFO      open FIFO for reading (so that the opener of its write end knows this
 *                                       program runs), read one byte, then write PATH as above */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_file(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) { perror(path); return 1; }
    if (write(fd, "x\n", 2) != 2) { perror(path); close(fd); return 1; }
    return close(fd) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "write") == 0)
        return write_file(argv[2]);
    if (argc >= 4 && strcmp(argv[1], "wait") == 0) {
        int fifo = open(argv[3], O_RDONLY | O_CLOEXEC);
        if (fifo < 0) { perror(argv[3]); return 1; }
        char c;
        if (read(fifo, &c, 1) != 1) { fprintf(stderr, "%s: no go byte\n", argv[3]); return 1; }
        close(fifo);
        return write_file(argv[2]);
    }
    fprintf(stderr, "usage: %s write PATH | wait PATH FIFO\n", argv[0]);
    return 2;
}
