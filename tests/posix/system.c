/*
 * system.c: what a plain program sees of the system around it.
 *
 * Process ids; write() to fd 1 (it writes its own result line, as do writes
 * through dup and dup2 of stdout); isatty; EBADF from a closed fd; the
 * FD_CLOEXEC round trip and stdout's access mode through fcntl; open of a
 * missing file failing with ENOENT; anonymous mmap, munmap and mprotect;
 * getrandom; the page size; signals raised to a sigaction handler, with and
 * without SA_SIGINFO, and held while blocked. On Septa only (it has no
 * network and no fork): socket(AF_INET) fails with EAFNOSUPPORT and fork with
 * ENOSYS; elsewhere those two are reported as skipped.
 */
#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROGRAM "system"
#define PLAN 22
#define PAGE 4096

/* Writes "[check] PASS system: <name>" to `fd` with write(): the line proves the write. */
static void write_result(int fd, const char *name) {
    char line[128];
    int length = snprintf(line, sizeof line, "[check] PASS " PROGRAM ": %s\n", name);
    ssize_t written = write(fd, line, (size_t)length);
    if (written == length) {
        check_count_external(1);
    } else {
        check(0, name, "write to fd %d returned %zd (errno %d), expected %d", fd, written, errno,
              length);
    }
}

static void check_descriptors(void) {
    pid_t pid = getpid(), parent = getppid();
    check(pid > 0, "getpid is positive", "got %ld", (long)pid);
    check(parent >= 0 && parent != pid, "getppid is another process", "getpid %ld, getppid %ld",
          (long)pid, (long)parent);
    check(getuid() == geteuid() && getgid() == getegid(), "real and effective ids agree",
          "uid %ld/%ld, gid %ld/%ld", (long)getuid(), (long)geteuid(), (long)getgid(),
          (long)getegid());

    fflush(stdout);
    write_result(1, "write to fd 1 reaches the console");

    errno = 0;
    int terminal = isatty(1), terminal_error = errno;
    errno = 0;
    int closed_terminal = isatty(99), closed_error = errno;
    check((terminal == 1 || (terminal == 0 && terminal_error == ENOTTY)) && closed_terminal == 0 &&
              closed_error == EBADF,
          "isatty of stdout and of a closed fd", "isatty(1) %d/%d, isatty(99) %d/%d (EBADF %d)",
          terminal, terminal_error, closed_terminal, closed_error, EBADF);

    int duplicate = dup(1);
    if (duplicate >= 0 && duplicate != 1) {
        write_result(duplicate, "write through dup(1) reaches the console");
    } else {
        check(0, "write through dup(1) reaches the console", "dup(1) returned %d (errno %d)",
              duplicate, errno);
    }

    int flags_before = fcntl(duplicate, F_GETFD);
    int set = fcntl(duplicate, F_SETFD, FD_CLOEXEC);
    int flags_set = fcntl(duplicate, F_GETFD);
    int cleared = fcntl(duplicate, F_SETFD, 0);
    int flags_after = fcntl(duplicate, F_GETFD);
    check(flags_before == 0 && set == 0 && flags_set == FD_CLOEXEC && cleared == 0 &&
              flags_after == 0,
          "fcntl FD_CLOEXEC round trip", "F_GETFD %d, set %d, F_GETFD %d, clear %d, F_GETFD %d",
          flags_before, set, flags_set, cleared, flags_after);

    int status_flags = fcntl(1, F_GETFL);
    check(status_flags != -1 && (status_flags & O_ACCMODE) != O_RDONLY,
          "stdout is open for writing",
          "F_GETFL returned %#x", (unsigned)status_flags);

    int closed = close(duplicate);
    errno = 0;
    ssize_t written = write(duplicate, "x", 1);
    check(closed == 0 && written == -1 && errno == EBADF, "write to a closed fd is EBADF",
          "close %d, write %zd errno %d", closed, written, errno);
    errno = 0;
    int close_result = close(99);
    check(close_result == -1 && errno == EBADF, "close of an unused fd is EBADF",
          "got %d errno %d", close_result, errno);

    int second = dup2(1, 42);
    if (second == 42) {
        write_result(42, "write through dup2(1, 42) reaches the console");
        close(42);
    } else {
        check(0, "write through dup2(1, 42) reaches the console", "dup2 returned %d (errno %d)",
              second, errno);
    }

    errno = 0;
    int missing = open("/nonexistent/file", O_RDONLY);
    check(missing == -1 && errno == ENOENT, "open of a missing file is ENOENT", "got %d errno %d",
          missing, errno);

#if defined(__septa__)
    errno = 0;
    int network = socket(AF_INET, SOCK_STREAM, 0);
    check(network == -1 && errno == EAFNOSUPPORT, "socket(AF_INET) is EAFNOSUPPORT",
          "got %d errno %d", network, errno);
    if (network >= 0) close(network);
    errno = 0;
    pid_t child = fork();
    if (child == 0) _exit(0);
    if (child > 0) waitpid(child, NULL, 0);
    check(child == -1 && errno == ENOSYS, "fork is ENOSYS", "got %ld errno %d", (long)child, errno);
#else
    check_skip("socket(AF_INET) is EAFNOSUPPORT", "not Septa");
    check_skip("fork is ENOSYS", "not Septa");
#endif
}

static void check_memory(void) {
    unsigned char *pages =
        mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int usable = pages != MAP_FAILED && (uintptr_t)pages % PAGE == 0;
    for (size_t offset = 0; usable && offset < 4 * PAGE; offset++) usable = pages[offset] == 0;
    if (usable) {
        memset(pages, 0x3c, 4 * PAGE);
        usable = pages[4 * PAGE - 1] == 0x3c;
    }
    int unmapped = pages != MAP_FAILED ? munmap(pages, 4 * PAGE) : -1;
    check(usable && unmapped == 0, "anonymous mmap is zeroed and writable and munmap works",
          "mapping %p usable %d, munmap %d", (void *)pages, usable, unmapped);

    unsigned char *guarded = mmap(NULL, 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int protect = guarded != MAP_FAILED ? mprotect(guarded, 2 * PAGE, PROT_READ | PROT_WRITE) : -1;
    int writable = 0;
    if (protect == 0) {
        guarded[0] = 1;
        guarded[2 * PAGE - 1] = 2;
        writable = guarded[0] == 1 && guarded[2 * PAGE - 1] == 2;
    }
    if (guarded != MAP_FAILED) munmap(guarded, 2 * PAGE);
    check(guarded != MAP_FAILED && protect == 0 && writable,
          "PROT_NONE mapping made writable by mprotect",
          "mapping %p, mprotect %d, writable %d", (void *)guarded, protect, writable);

    errno = 0;
    int unaligned = munmap((void *)(uintptr_t)(PAGE + 1), PAGE);
    check(unaligned == -1 && errno == EINVAL, "munmap of an unaligned address is EINVAL",
          "got %d errno %d", unaligned, errno);

    unsigned char first[64], second[64];
    memset(first, 0, sizeof first);
    memset(second, 0, sizeof second);
    ssize_t got_first = getrandom(first, sizeof first, 0);
    ssize_t got_second = getrandom(second, sizeof second, 0);
    int nonzero = 0;
    for (size_t index = 0; index < sizeof first; index++) nonzero += first[index] != 0;
    check(got_first == 64 && got_second == 64 && nonzero > 0 && memcmp(first, second, 64) != 0,
          "getrandom fills 64 bytes", "returned %zd and %zd, %d nonzero bytes, calls differ %d",
          got_first, got_second, nonzero, memcmp(first, second, 64) != 0);

    check_long("sysconf(_SC_PAGESIZE)", PAGE, sysconf(_SC_PAGESIZE));
}

static volatile sig_atomic_t handled_signal, handled_count, info_signal;

static void handle(int signal_number) {
    handled_signal = signal_number;
    handled_count++;
}

static void handle_with_info(int signal_number, siginfo_t *info, void *context) {
    (void)context;
    info_signal = signal_number == SIGUSR2 && info != NULL ? info->si_signo : -1;
}

static void check_signals(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = handle;
    sigemptyset(&action.sa_mask);
    int installed = sigaction(SIGUSR1, &action, NULL);
    int raised = raise(SIGUSR1);
    check(installed == 0 && raised == 0 && handled_signal == SIGUSR1 && handled_count == 1,
          "raise calls the sigaction handler", "sigaction %d, raise %d, handler saw %d, %d calls",
          installed, raised, (int)handled_signal, (int)handled_count);

    memset(&action, 0, sizeof action);
    action.sa_sigaction = handle_with_info;
    action.sa_flags = SA_SIGINFO;
    sigemptyset(&action.sa_mask);
    installed = sigaction(SIGUSR2, &action, NULL);
    raised = raise(SIGUSR2);
    check(installed == 0 && raised == 0 && info_signal == SIGUSR2,
          "SA_SIGINFO handler gets siginfo",
          "sigaction %d, raise %d, si_signo %d", installed, raised, (int)info_signal);

    sigset_t blocked, pending;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGUSR1);
    sigprocmask(SIG_BLOCK, &blocked, NULL);
    raise(SIGUSR1);
    int calls_while_blocked = handled_count;
    sigemptyset(&pending);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGUSR1);
    sigprocmask(SIG_UNBLOCK, &blocked, NULL);
    check(calls_while_blocked == 1 && was_pending == 1 && handled_count == 2,
          "a blocked signal waits until unblocked",
          "calls while blocked %d, pending %d, calls after %d",
          calls_while_blocked, was_pending, (int)handled_count);
}

int main(void) {
    check_plan(PROGRAM, PLAN);
    check_descriptors();
    check_memory();
    check_signals();
    return check_finish();
}
