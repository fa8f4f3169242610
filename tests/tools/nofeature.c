/* nofeature: runs a program as if the kernel lacked some fanotify feature, to test the fallbacks that this
 * kernel never takes. A seccomp filter makes fanotify_init or fanotify_mark fail with a chosen errno when a
 * given flag is in one of its arguments, which is how an older kernel refuses a flag it does not know; or
 * socket fail for one domain and protocol, as a kernel without that protocol family does.
 *
 *   nofeature RULE... -- PROGRAM [ARG...]
 *   RULE = init|mark:ARGUMENT:BITS:ERRNO   fail when (argument & BITS) != 0; BITS 0 fails every call
 *        | socket:DOMAIN:PROTOCOL:ERRNO    fail socket(DOMAIN, any type, PROTOCOL), both equal
 *   e.g. init:0:0x80:EINVAL (no FAN_REPORT_PIDFD), mark:1:0x100:EINVAL (no FAN_MARK_FILESYSTEM),
 *        socket:16:11:EPROTONOSUPPORT (no netlink connector: PF_NETLINK, NETLINK_CONNECTOR)
 *
 * Only the low 32 bits of an argument are tested (every flag used here lives there). The filter is inherited
 * by every thread and child of PROGRAM and cannot be removed: it ends with the process tree. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_HERE AUDIT_ARCH_AARCH64
#else
#error "nofeature knows x86_64 and aarch64"
#endif

#define MAX_RULES 16

static const struct { const char *name; int value; } errnos[] = {
    { "EINVAL", EINVAL }, { "ENOSYS", ENOSYS }, { "EPERM", EPERM }, { "ENOSPC", ENOSPC },
    { "EMFILE", EMFILE }, { "ENODEV", ENODEV }, { "EOPNOTSUPP", EOPNOTSUPP },
    { "EPROTONOSUPPORT", EPROTONOSUPPORT }, { "EACCES", EACCES },
};

static int parse_errno(const char *name)
{
    for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
        if (strcmp(name, errnos[i].name) == 0) return errnos[i].value;
    return -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: nofeature init|mark:ARGUMENT:BITS:ERRNO|socket:DOMAIN:PROTOCOL:ERRNO... -- PROGRAM [ARG...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct sock_filter program[8 + MAX_RULES * 7];
    int length = 0;
    /* Another architecture's syscall numbers would mean other calls: let those through untouched. */
    program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_HERE, 1, 0);
    program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);

    int arg = 1, rules = 0;
    for (; arg < argc && strcmp(argv[arg], "--") != 0; arg++) {
        char call[8];
        unsigned argument;
        char bits_text[32], errno_text[32];
        if (rules == MAX_RULES) usage();
        unsigned domain, protocol;
        if (sscanf(argv[arg], "socket:%u:%u:%31[A-Z]", &domain, &protocol, errno_text) == 3) {
            int error = parse_errno(errno_text);
            if (error < 0) usage();
            /* if (nr == SYS_socket && args[0] == DOMAIN && args[2] == PROTOCOL) return -ERRNO; */
            program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
            program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 0, 5);
            program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args));
            program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, domain, 0, 3);
            program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                offsetof(struct seccomp_data, args) + 2 * sizeof(__u64));
            program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, protocol, 0, 1);
            program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA));
            rules++;
            continue;
        }
        if (
            sscanf(argv[arg], "%7[a-z]:%u:%31[0-9a-fA-Fx]:%31[A-Z]", call, &argument, bits_text, errno_text) != 4 ||
            argument > 5)
            usage();
        int nr = strcmp(call, "init") == 0 ? SYS_fanotify_init : strcmp(call, "mark") == 0 ? SYS_fanotify_mark : -1;
        int error = parse_errno(errno_text);
        unsigned long bits = strtoul(bits_text, NULL, 0);
        if (nr < 0 || error < 0) usage();

        /* if (nr == NR && (args[argument] & BITS)) return -ERRNO; the accumulator is reloaded after each rule. */
        program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
        program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, bits ? 3 : 1);
        if (bits) {
            program[length++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                offsetof(struct seccomp_data, args) + argument * sizeof(__u64));   /* the low half, little-endian */
            program[length++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, (__u32)bits, 0, 1);
        }
        program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (error & SECCOMP_RET_DATA));
        rules++;
    }
    program[length++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    if (rules == 0 || arg + 1 >= argc) usage();

    struct sock_fprog filter = { .len = (unsigned short)length, .filter = program };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) != 0) {
        perror("nofeature: seccomp");
        return 1;
    }
    execvp(argv[arg + 1], argv + arg + 1);
    perror("nofeature: exec");
    return 127;
}
