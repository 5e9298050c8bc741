/*
 * abi.c: the Linux musl ABI that Septa's C programs are built against.
 *
 * Sizes and member offsets of the structures that cross the program/libc/
 * kernel boundary (stat, timespec, timeval, dirent, the socket addresses,
 * pollfd, iovec, utsname, sigaction, rlimit, winsize), the sizes of the
 * scalar, jump-buffer and thread types, and the values of the constants a
 * binary carries (open flags, errno values, address families, socket types,
 * clocks, mmap flags, signals, fcntl commands). Every fact is both a
 * _Static_assert, so a wrong header does not even build, and a printed check.
 * The values come from musl 1.2.3 (arch/x86_64/bits, arch/aarch64/bits,
 * arch/generic/bits, include/alltypes.h.in); the two architectures differ in
 * struct stat, nlink_t, blksize_t, jmp_buf and some open flags. Finally, uname
 * must say "Septa" exactly when the program was built for Septa.
 *
 * A host build against glibc checks the same facts where glibc shares them
 * (x86_64); glibc's aarch64 pthread types are larger, so there it does not build.
 */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <time.h>

#if defined(__x86_64__)
#define ARCH(x86_64, aarch64) (x86_64)
#elif defined(__aarch64__)
#define ARCH(x86_64, aarch64) (aarch64)
#else
#error "abi.c knows the musl ABI of x86_64 and aarch64 only"
#endif

/* Each fact: an expression and its value in the ABI. */
#define FACTS(X)                                                                 \
    X(sizeof(struct stat), ARCH(144, 128))                                       \
    X(offsetof(struct stat, st_dev), 0)                                          \
    X(offsetof(struct stat, st_ino), 8)                                          \
    X(offsetof(struct stat, st_nlink), ARCH(16, 20))                             \
    X(offsetof(struct stat, st_mode), ARCH(24, 16))                              \
    X(offsetof(struct stat, st_uid), ARCH(28, 24))                               \
    X(offsetof(struct stat, st_gid), ARCH(32, 28))                               \
    X(offsetof(struct stat, st_rdev), ARCH(40, 32))                              \
    X(offsetof(struct stat, st_size), 48)                                        \
    X(offsetof(struct stat, st_blksize), 56)                                     \
    X(offsetof(struct stat, st_blocks), 64)                                      \
    X(offsetof(struct stat, st_atim), 72)                                        \
    X(offsetof(struct stat, st_mtim), 88)                                        \
    X(offsetof(struct stat, st_ctim), 104)                                       \
    X(sizeof(struct timespec), 16)                                               \
    X(offsetof(struct timespec, tv_nsec), 8)                                     \
    X(sizeof(struct timeval), 16)                                                \
    X(offsetof(struct timeval, tv_usec), 8)                                      \
    X(sizeof(struct dirent), 280)                                                \
    X(offsetof(struct dirent, d_off), 8)                                         \
    X(offsetof(struct dirent, d_reclen), 16)                                     \
    X(offsetof(struct dirent, d_type), 18)                                       \
    X(offsetof(struct dirent, d_name), 19)                                       \
    X(sizeof(struct sockaddr_in), 16)                                            \
    X(offsetof(struct sockaddr_in, sin_port), 2)                                 \
    X(offsetof(struct sockaddr_in, sin_addr), 4)                                 \
    X(sizeof(struct sockaddr_in6), 28)                                           \
    X(offsetof(struct sockaddr_in6, sin6_port), 2)                               \
    X(offsetof(struct sockaddr_in6, sin6_flowinfo), 4)                           \
    X(offsetof(struct sockaddr_in6, sin6_addr), 8)                               \
    X(offsetof(struct sockaddr_in6, sin6_scope_id), 24)                          \
    X(sizeof(struct sockaddr_un), 110)                                           \
    X(offsetof(struct sockaddr_un, sun_path), 2)                                 \
    X(sizeof(struct sockaddr_storage), 128)                                      \
    X(sizeof(struct pollfd), 8)                                                  \
    X(offsetof(struct pollfd, events), 4)                                        \
    X(offsetof(struct pollfd, revents), 6)                                       \
    X(sizeof(struct iovec), 16)                                                  \
    X(offsetof(struct iovec, iov_len), 8)                                        \
    X(sizeof(struct utsname), 390)                                               \
    X(offsetof(struct utsname, nodename), 65)                                    \
    X(offsetof(struct utsname, release), 130)                                    \
    X(offsetof(struct utsname, version), 195)                                    \
    X(offsetof(struct utsname, machine), 260)                                    \
    X(sizeof(struct sigaction), 152)                                             \
    X(offsetof(struct sigaction, sa_mask), 8)                                    \
    X(offsetof(struct sigaction, sa_flags), 136)                                 \
    X(offsetof(struct sigaction, sa_restorer), 144)                              \
    X(sizeof(struct rlimit), 16)                                                 \
    X(offsetof(struct rlimit, rlim_max), 8)                                      \
    X(sizeof(struct winsize), 8)                                                 \
    X(offsetof(struct winsize, ws_col), 2)                                       \
    X(sizeof(off_t), 8)                                                          \
    X(sizeof(time_t), 8)                                                         \
    X(sizeof(size_t), 8)                                                         \
    X(sizeof(long), 8)                                                           \
    X(sizeof(long double), 16)                                                   \
    X(sizeof(pid_t), 4)                                                          \
    X(sizeof(uid_t), 4)                                                          \
    X(sizeof(mode_t), 4)                                                         \
    X(sizeof(dev_t), 8)                                                          \
    X(sizeof(ino_t), 8)                                                          \
    X(sizeof(nlink_t), ARCH(8, 4))                                               \
    X(sizeof(blksize_t), ARCH(8, 4))                                             \
    X(sizeof(blkcnt_t), 8)                                                       \
    X(sizeof(sigset_t), 128)                                                     \
    X(sizeof(socklen_t), 4)                                                      \
    X(sizeof(sa_family_t), 2)                                                    \
    X(sizeof(jmp_buf), ARCH(200, 312))                                           \
    X(sizeof(sigjmp_buf), ARCH(200, 312))                                        \
    X(sizeof(pthread_t), 8)                                                      \
    X(sizeof(pthread_mutex_t), 40)                                               \
    X(sizeof(pthread_cond_t), 48)                                                \
    X(sizeof(pthread_attr_t), 56)                                                \
    X(sizeof(sem_t), 32)                                                         \
    X(O_CREAT, 0100)                                                             \
    X(O_EXCL, 0200)                                                              \
    X(O_TRUNC, 01000)                                                            \
    X(O_APPEND, 02000)                                                           \
    X(O_NONBLOCK, 04000)                                                         \
    X(O_DIRECTORY, ARCH(0200000, 040000))                                        \
    X(O_NOFOLLOW, ARCH(0400000, 0100000))                                        \
    X(O_CLOEXEC, 02000000)                                                       \
    X(ENOENT, 2)                                                                 \
    X(EINTR, 4)                                                                  \
    X(EBADF, 9)                                                                  \
    X(EAGAIN, 11)                                                                \
    X(EWOULDBLOCK, 11)                                                           \
    X(EINVAL, 22)                                                                \
    X(ENOSYS, 38)                                                                \
    X(EAFNOSUPPORT, 97)                                                          \
    X(ETIMEDOUT, 110)                                                            \
    X(AF_UNIX, 1)                                                                \
    X(AF_INET, 2)                                                                \
    X(AF_INET6, 10)                                                              \
    X(SOCK_STREAM, 1)                                                            \
    X(SOCK_DGRAM, 2)                                                             \
    X(SOCK_NONBLOCK, 04000)                                                      \
    X(SOCK_CLOEXEC, 02000000)                                                    \
    X(CLOCK_REALTIME, 0)                                                         \
    X(CLOCK_MONOTONIC, 1)                                                        \
    X(MAP_SHARED, 1)                                                             \
    X(MAP_PRIVATE, 2)                                                            \
    X(MAP_FIXED, 0x10)                                                           \
    X(MAP_ANONYMOUS, 0x20)                                                       \
    X(PROT_READ, 1)                                                              \
    X(PROT_WRITE, 2)                                                             \
    X(PROT_EXEC, 4)                                                              \
    X(SIGPIPE, 13)                                                               \
    X(SIGUSR1, 10)                                                               \
    X(SIGCHLD, 17)                                                               \
    X(F_GETFD, 1)                                                                \
    X(F_SETFD, 2)                                                                \
    X(F_GETFL, 3)                                                                \
    X(F_DUPFD_CLOEXEC, 1030)                                                     \
    X(FD_CLOEXEC, 1)                                                             \
    X(AT_FDCWD, -100)                                                            \
    X(TIOCGWINSZ, 0x5413)

#define STATIC_FACT(expression, value) \
    _Static_assert((expression) == (value), #expression " is " #value);
FACTS(STATIC_FACT)

/*
 * glibc (a host build) defines O_LARGEFILE as 0 on 64-bit machines; musl
 * passes the kernel's bit, which differs between the architectures.
 */
#if !defined(__GLIBC__)
_Static_assert(O_LARGEFILE == ARCH(0100000, 0400000), "O_LARGEFILE");
#endif

struct fact {
    const char *name;
    long long actual;
    long long expected;
};

#define FACT_ROW(expression, value) {#expression, (long long)(expression), (long long)(value)},
static const struct fact facts[] = {FACTS(FACT_ROW)};
#define FACT_COUNT (sizeof facts / sizeof facts[0])

static void check_uname(void) {
    struct utsname name;
    int result = uname(&name);
    int says_septa = result == 0 && strcmp(name.sysname, "Septa") == 0;
    if (CHECK_ON_SEPTA) {
        check(says_septa, "uname sysname is Septa", "result %d, sysname \"%s\"", result,
              result == 0 ? name.sysname : "");
        check(1, "__septa__ is defined", "%s", "built for Septa");
    } else {
        check_skip("uname sysname is Septa", "not Septa");
        if (says_septa) {
            check(0, "__septa__ is defined", "running on Septa, built without __septa__");
        } else {
            check_skip("__septa__ is defined", "not Septa");
        }
    }
}

int main(void) {
    check_plan("abi", (long)FACT_COUNT + 3);
    for (size_t index = 0; index < FACT_COUNT; index++) {
        check_long(facts[index].name, facts[index].expected, facts[index].actual);
    }
#if defined(__GLIBC__)
    check_skip("O_LARGEFILE", "glibc defines it as 0 on 64-bit machines");
#else
    check_long("O_LARGEFILE", ARCH(0100000, 0400000), O_LARGEFILE);
#endif
    check_uname();
    return check_finish();
}
