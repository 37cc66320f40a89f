/* Bastion's Landlock helper, run by bubblewrap inside the sandbox (after its mounts):
 *   landlock-helper ROOT... -- COMMAND [ARG...]
 * Restricts itself so that writes are allowed only beneath the ROOTs (with ABI >= 6 abstract
 * Unix sockets and signals are scoped to the sandbox too), then execs COMMAND.
 * Any failure exits 126 before COMMAND runs (fail closed); a missing COMMAND exits 127.
 * Same rules as the Python helper in landlock.py, without an interpreter start. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SYS_CREATE_RULESET 444
#define SYS_ADD_RULE 445
#define SYS_RESTRICT_SELF 446

struct attr { uint64_t fs; uint64_t net; uint64_t scoped; };
struct path_rule { uint64_t access; int32_t fd; } __attribute__((packed));

static int die(const char *msg) {
    fprintf(stderr, "bastion sandbox: landlock: %s (errno %d)\n", msg, errno);
    return 126;
}

int main(int argc, char **argv) {
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--") != 0) sep++;
    if (sep >= argc - 1) return die("usage: ROOT... -- COMMAND");
    long abi = syscall(SYS_CREATE_RULESET, NULL, 0, 1UL);
    if (abi < 1) return die("not supported by this kernel");
    uint64_t file_w = (1ULL << 1) | (abi >= 3 ? (1ULL << 14) : 0);
    uint64_t dir_w = file_w | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | (1ULL << 7)
        | (1ULL << 8) | (1ULL << 9) | (1ULL << 10) | (1ULL << 11) | (1ULL << 12)
        | (abi >= 2 ? (1ULL << 13) : 0);
    struct attr attr = { dir_w, 0, abi >= 6 ? 3 : 0 };
    size_t size = abi >= 6 ? 24 : (abi >= 4 ? 16 : 8);
    int rs = (int)syscall(SYS_CREATE_RULESET, &attr, size, 0UL);
    if (rs < 0) return die("create_ruleset failed");
    for (int i = 1; i < sep; i++) {
        int fd = open(argv[i], O_PATH | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat st;
        if (fstat(fd, &st) != 0) { close(fd); continue; }
        struct path_rule rule = { S_ISDIR(st.st_mode) ? dir_w : file_w, fd };
        if (syscall(SYS_ADD_RULE, rs, 1, &rule, 0UL) < 0) return die("add_rule failed");
        close(fd);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return die("no_new_privs failed");
    if (syscall(SYS_RESTRICT_SELF, rs, 0UL) < 0) return die("restrict_self failed");
    close(rs);
    execvp(argv[sep + 1], argv + sep + 1);
    fprintf(stderr, "%s: %s\n", argv[sep + 1], strerror(errno));
    return 127;
}
