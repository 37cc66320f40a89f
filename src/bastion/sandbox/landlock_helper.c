/* Bastion's Landlock helper, run by bubblewrap inside the sandbox (after its mounts):
 *   landlock-helper ROOT... -- COMMAND [ARG...]
 * Restricts itself so that writes are allowed only beneath the ROOTs (with ABI >= 6 abstract
 * Unix sockets and signals are scoped to the sandbox too), then executes COMMAND, searched in
 * PATH like execvp(3) (a file without a "#!" line is run by /bin/sh).
 * Any failure exits 126 before COMMAND runs (fail closed); a COMMAND that cannot be executed
 * exits 127. Same rules as the Python helper in landlock.py, without an interpreter start.
 *
 * Freestanding: no C library, system calls made directly (x86_64 and aarch64, the
 * architectures the seccomp layer supports). Every command starts through this program, and a
 * static glibc's own start-up cost ~0.6 ms of it; this one starts in a few microseconds. */

typedef unsigned long u64;

#define SYS_CREATE_RULESET 444
#define SYS_ADD_RULE 445
#define SYS_RESTRICT_SELF 446
#define AT_FDCWD (-100)
#define O_CLOEXEC 02000000
#define O_DIRECTORY 0200000
#define O_PATH 010000000
#define PR_SET_NO_NEW_PRIVS 38
#define E_NOENT 2
#define E_NOEXEC 8
#define E_ACCES 13
#define E_NOTDIR 20
#define E_NODEV 19
#define E_STALE 116
#define E_TIMEDOUT 110
#define PATH_MAX_LEN 4096

#if defined(__x86_64__)
#define NR_WRITE 1
#define NR_CLOSE 3
#define NR_EXECVE 59
#define NR_PRCTL 157
#define NR_OPENAT 257
static long sys(long n, long a, long b, long c, long d, long e) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                     : "rcx", "r11", "memory");
    return ret;
}
/* entry: argc at (%rsp), argv after it, envp after argv's NULL; exit_group(main's result) */
__asm__(".text\n.globl _start\n_start:\n"
        "  xor %ebp, %ebp\n  mov (%rsp), %rdi\n  lea 8(%rsp), %rsi\n"
        "  lea 16(%rsp,%rdi,8), %rdx\n  and $-16, %rsp\n  call helper_main\n"
        "  mov %eax, %edi\n  mov $231, %eax\n  syscall\n  hlt\n");
#elif defined(__aarch64__)
#define NR_WRITE 64
#define NR_CLOSE 57
#define NR_EXECVE 221
#define NR_PRCTL 167
#define NR_OPENAT 56
static long sys(long n, long a, long b, long c, long d, long e) {
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4)
                     : "memory", "cc");
    return x0;
}
__asm__(".text\n.globl _start\n_start:\n"
        "  mov x29, #0\n  mov x30, #0\n  ldr x0, [sp]\n  add x1, sp, #8\n"
        "  add x2, x1, x0, lsl #3\n  add x2, x2, #8\n  bl helper_main\n"
        "  mov x8, #94\n  svc #0\n");
#else
#error "the Landlock helper supports x86_64 and aarch64 only"
#endif

/* the compiler may emit calls to these even in freestanding code (volatile: never itself) */
void *memset(void *d, int c, unsigned long n) {
    volatile unsigned char *p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *d, const void *s, unsigned long n) {
    volatile unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) *p++ = *q++;
    return d;
}

struct attr { u64 fs; u64 net; u64 scoped; };
struct path_rule { u64 access; int fd; } __attribute__((packed));

static unsigned long len(const char *s) {
    unsigned long n = 0;
    while (s[n]) n++;
    return n;
}

static int same(const char *a, const char *b) {
    while (*a && *a == *b) a++, b++;
    return *a == *b;
}

static void put(const char *s) { sys(NR_WRITE, 2, (long)s, (long)len(s), 0, 0); }

static void put_errno(long err) {
    char buf[24];
    int i = 23;
    unsigned long v = (unsigned long)(err < 0 ? -err : err);
    buf[i] = 0;
    do { buf[--i] = (char)('0' + v % 10); v /= 10; } while (v && i > 0);
    put(" (errno ");
    put(buf + i);
    put(")");
}

static int die(const char *msg, long err) {
    put("bastion sandbox: landlock: ");
    put(msg);
    put_errno(err);
    put("\n");
    return 126;
}

/* execve, and a file without a "#!" line through /bin/sh (its name replaces argv[0]);
 * argv[-1] is free (it held "--"). Returns the negative errno. */
static long exec_one(const char *path, char **argv, char **envp) {
    long err = sys(NR_EXECVE, (long)path, (long)argv, (long)envp, 0, 0);
    if (err == -E_NOEXEC) {
        char *first = argv[0];
        argv[-1] = (char *)"/bin/sh";
        argv[0] = (char *)path;
        sys(NR_EXECVE, (long)"/bin/sh", (long)(argv - 1), (long)envp, 0, 0);
        argv[0] = first;
    }
    return err;
}

/* execvp(3): a name without '/' is searched in PATH (default "/bin:/usr/bin"); an entry that
 * does not hold it is skipped, a permission error is reported only if nothing else ran. */
static long exec_search(char **argv, char **envp) {
    const char *file = argv[0], *path = "/bin:/usr/bin";
    for (const char *c = file; *c; c++)
        if (*c == '/') return exec_one(file, argv, envp);
    for (char **e = envp; *e; e++)
        if (e[0][0] == 'P' && e[0][1] == 'A' && e[0][2] == 'T' && e[0][3] == 'H' && e[0][4] == '=')
            path = *e + 5;
    unsigned long flen = len(file);
    long result = -E_NOENT;
    int denied = 0;
    char buf[PATH_MAX_LEN];
    for (const char *p = path;; p++) {
        const char *start = p;
        while (*p && *p != ':') p++;
        unsigned long dlen = (unsigned long)(p - start);
        if (dlen + flen + 2 <= sizeof buf) {
            unsigned long n = 0;
            for (unsigned long i = 0; i < dlen; i++) buf[n++] = start[i];
            if (dlen) buf[n++] = '/';  /* an empty entry: the current directory */
            for (unsigned long i = 0; i < flen; i++) buf[n++] = file[i];
            buf[n] = 0;
            long err = exec_one(buf, argv, envp);
            if (err == -E_ACCES) denied = 1;
            else if (err != -E_NOENT && err != -E_NOTDIR && err != -E_NODEV
                     && err != -E_STALE && err != -E_TIMEDOUT) return err;
        }
        if (!*p) break;
    }
    return denied ? -E_ACCES : result;
}

int helper_main(long argc, char **argv, char **envp) {
    long sep = 1;
    while (sep < argc && !same(argv[sep], "--")) sep++;
    if (sep >= argc - 1) return die("usage: ROOT... -- COMMAND", 0);
    long abi = sys(SYS_CREATE_RULESET, 0, 0, 1, 0, 0);
    if (abi < 1) return die("not supported by this kernel", abi);
    u64 file_w = (1ULL << 1) | (abi >= 3 ? (1ULL << 14) : 0);
    u64 dir_w = file_w | (1ULL << 4) | (1ULL << 5) | (1ULL << 6) | (1ULL << 7)
        | (1ULL << 8) | (1ULL << 9) | (1ULL << 10) | (1ULL << 11) | (1ULL << 12)
        | (abi >= 2 ? (1ULL << 13) : 0);
    struct attr attr = { dir_w, 0, abi >= 6 ? 3 : 0 };
    long size = abi >= 6 ? 24 : (abi >= 4 ? 16 : 8);
    long rs = sys(SYS_CREATE_RULESET, (long)&attr, size, 0, 0, 0);
    if (rs < 0) return die("create_ruleset failed", rs);
    for (long i = 1; i < sep; i++) {
        u64 access = dir_w;
        long fd = sys(NR_OPENAT, AT_FDCWD, (long)argv[i], O_PATH | O_CLOEXEC | O_DIRECTORY, 0, 0);
        if (fd == -E_NOTDIR) {  /* a file: the rights that apply to files */
            access = file_w;
            fd = sys(NR_OPENAT, AT_FDCWD, (long)argv[i], O_PATH | O_CLOEXEC, 0, 0);
        }
        if (fd < 0) continue;  /* missing: nothing to allow */
        struct path_rule rule = { access, (int)fd };
        long err = sys(SYS_ADD_RULE, rs, 1, (long)&rule, 0, 0);
        if (err < 0) return die("add_rule failed", err);
        sys(NR_CLOSE, fd, 0, 0, 0, 0);
    }
    long err = sys(NR_PRCTL, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (err != 0) return die("no_new_privs failed", err);
    err = sys(SYS_RESTRICT_SELF, rs, 0, 0, 0, 0);
    if (err < 0) return die("restrict_self failed", err);
    sys(NR_CLOSE, rs, 0, 0, 0, 0);
    err = exec_search(argv + sep + 1, envp);
    put(argv[sep + 1]);
    put(err == -E_NOENT ? ": No such file or directory" :
        err == -E_ACCES ? ": Permission denied" : ": cannot be executed");
    put_errno(err);
    put("\n");
    return 127;
}
