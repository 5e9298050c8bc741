/*
 * bench.c: Linux's side of `cargo xtask bench`.
 *
 * Runs as /init in a tiny initramfs under the same QEMU machine as Septa and
 * measures the operations Septa's IPC round trip is compared against:
 *
 *   null-syscall   syscall(SYS_getppid): one real kernel entry and exit (not
 *                  the vDSO), the floor for any kernel-mediated operation.
 *   pipe           1-byte ping-pong between two processes over two pipes.
 *   unix-stream    1-byte ping-pong between two processes over an AF_UNIX
 *                  SOCK_STREAM socketpair.
 *   futex          ping-pong between two threads of one process through
 *                  FUTEX_WAIT_PRIVATE / FUTEX_WAKE_PRIVATE on a shared word.
 *   loop-2insn     a loop of exactly two guest instructions per iteration
 *                  (`dec; jnz` on x86_64, `subs; b.ne` on aarch64). Under
 *                  `-icount shift=0` the guest clock advances 1 ns per guest
 *                  instruction, so this must read 2 ns per iteration; xtask
 *                  checks it to validate instruction counts.
 *
 * Each round trip is one message each way, so on the one-CPU machine it
 * includes two context switches, like a Septa IPC call and reply.
 *
 * Then it runs /posix-bench, if the initramfs has it: bench/posix/bench.c,
 * the POSIX paths Septa runs the same source for, built static against
 * upstream musl. Its `BENCH posix-…` lines are passed on to the console; its
 * own BENCH-END is not (this program prints the one BENCH-END, last), and a
 * run that fails or ends without one is a BENCH-ERROR. It inherits the
 * environment, so bench_iterations and bench_target_ms reach it too.
 *
 * Output, one line per figure, on the console:
 *
 *   BENCH <name> <iterations> <total_nanoseconds>
 *   INFO <key> <free text>
 *   BENCH-END
 *
 * Iterations: a fixed count from argv[1] or the environment variable
 * bench_iterations (the kernel passes `name=value` words of its command line
 * to init's environment, and words after ` -- ` as arguments); otherwise each
 * test calibrates itself to run for about bench_target_ms (default 500) of
 * guest time.
 *
 * It also reports the system it ran on (`INFO` lines): the kernel release,
 * its command line, what /sys/devices/system/cpu/vulnerabilities says, the
 * kernel log's lines about page-table isolation (KPTI; on arm64 it can be on
 * even where `meltdown` reads "Not affected", to protect KASLR) and the clock
 * source.
 *
 * Afterwards it powers the machine off. On x86_64 through QEMU's
 * isa-debug-exit device (port 0xf4), which carries the exit status, falling
 * back to reboot(RB_POWER_OFF). On aarch64 the machine has no such device
 * that user space can reach (QEMU honours semihosting from EL1 only), so
 * reboot(RB_POWER_OFF), a PSCI SYSTEM_OFF, ends QEMU with status 0 and the
 * console alone (BENCH-END, BENCH-ERROR) says whether the run succeeded.
 *
 * Build (Debian's glibc, static; /posix-bench is built apart, see
 * scripts/xtask/src/bench/posix.rs):
 *   x86_64:  gcc -static -O2 -pthread -o init bench.c
 *   aarch64: aarch64-linux-gnu-gcc -static -O2 -pthread -o init bench.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <sys/io.h>
/* QEMU's isa-debug-exit device (iobase=0xf4): writing V makes QEMU exit with
 * (V << 1) | 1. Same convention as Septa's kernel (scripts/xtask/src/qemu.rs):
 * V is the exit status, 0 for success. */
#define DEBUG_EXIT_PORT 0xf4
#elif !defined(__aarch64__)
#error "bench.c supports x86_64 and aarch64"
#endif

#define EXIT_STATUS_SUCCESS 0
#define EXIT_STATUS_FAILURE 1

static void power_off(int status);

static void die(const char *what)
{
    printf("BENCH-ERROR %s: %s\n", what, strerror(errno));
    fflush(stdout);
    /* Only init powers off; a forked child or the host just exits. */
    if (getpid() == 1)
        power_off(EXIT_STATUS_FAILURE);
    exit(EXIT_STATUS_FAILURE);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the operations; each runs `iterations` times and returns elapsed ns --- */

static uint64_t bench_null_syscall(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++)
        syscall(SYS_getppid);
    return now_ns() - start;
}

static uint64_t bench_loop(uint64_t iterations)
{
    uint64_t start = now_ns();
    uint64_t count = iterations;
    /* Exactly two instructions per iteration: decrement, branch if not zero. */
#if defined(__x86_64__)
    __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(count) : : "cc");
#else
    __asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(count) : : "cc");
#endif
    return now_ns() - start;
}

static void write_byte(int fd)
{
    char byte = 'x';
    if (write(fd, &byte, 1) != 1)
        die("write");
}

static void read_byte(int fd)
{
    char byte;
    if (read(fd, &byte, 1) != 1)
        die("read");
}

/* Ping-pong one byte: the parent writes to `ping_out` and reads `pong_in`; a
 * forked child echoes from `ping_in` to `pong_out`. */
static uint64_t ping_pong(uint64_t iterations, int ping_out, int ping_in, int pong_out,
                          int pong_in)
{
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        for (uint64_t i = 0; i < iterations + 1; i++) {
            read_byte(ping_in);
            write_byte(pong_out);
        }
        _exit(0);
    }
    /* One untimed round trip so the child is running and waiting. */
    write_byte(ping_out);
    read_byte(pong_in);
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        write_byte(ping_out);
        read_byte(pong_in);
    }
    uint64_t elapsed = now_ns() - start;
    if (waitpid(child, NULL, 0) < 0)
        die("waitpid");
    return elapsed;
}

static uint64_t bench_pipe(uint64_t iterations)
{
    int ping[2], pong[2];
    if (pipe(ping) != 0 || pipe(pong) != 0)
        die("pipe");
    uint64_t elapsed = ping_pong(iterations, ping[1], ping[0], pong[1], pong[0]);
    close(ping[0]);
    close(ping[1]);
    close(pong[0]);
    close(pong[1]);
    return elapsed;
}

static uint64_t bench_unix_stream(uint64_t iterations)
{
    int pair[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
        die("socketpair");
    /* Parent uses pair[0] both ways, the child pair[1]. */
    uint64_t elapsed = ping_pong(iterations, pair[0], pair[1], pair[1], pair[0]);
    close(pair[0]);
    close(pair[1]);
    return elapsed;
}

/* Futex ping-pong: `turn` is 0 when it is the main thread's turn, 1 when it is
 * the partner's. Each side flips it, wakes the other and sleeps until it flips
 * back. */
static uint32_t futex_turn;
static uint64_t futex_rounds;

static void futex_wait(uint32_t *word, uint32_t value)
{
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) == value) {
        if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, NULL, NULL, 0) != 0 &&
            errno != EAGAIN && errno != EINTR)
            die("futex wait");
    }
}

static void futex_set_and_wake(uint32_t *word, uint32_t value)
{
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
    if (syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) < 0)
        die("futex wake");
}

static void *futex_partner(void *unused)
{
    (void)unused;
    for (uint64_t i = 0; i < futex_rounds; i++) {
        futex_wait(&futex_turn, 0);
        futex_set_and_wake(&futex_turn, 0);
    }
    return NULL;
}

static uint64_t bench_futex(uint64_t iterations)
{
    pthread_t partner;
    futex_turn = 0;
    futex_rounds = iterations + 1;
    if ((errno = pthread_create(&partner, NULL, futex_partner, NULL)) != 0)
        die("pthread_create");
    /* One untimed round trip so the partner is running and waiting. */
    futex_set_and_wake(&futex_turn, 1);
    futex_wait(&futex_turn, 1);
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        futex_set_and_wake(&futex_turn, 1);
        futex_wait(&futex_turn, 1);
    }
    uint64_t elapsed = now_ns() - start;
    if ((errno = pthread_join(partner, NULL)) != 0)
        die("pthread_join");
    return elapsed;
}

/* ---- the POSIX program ------------------------------------------------------ */

#define POSIX_BENCH "/posix-bench"

/* Runs POSIX_BENCH with its standard output on a pipe, copying its lines to
 * ours except its BENCH-END. */
static void run_posix_bench(void)
{
    if (access(POSIX_BENCH, X_OK) != 0) {
        printf("INFO posix-bench not run (%s: %s)\n", POSIX_BENCH, strerror(errno));
        return;
    }
    int output[2];
    if (pipe(output) != 0)
        die("pipe");
    fflush(stdout);
    pid_t child = fork();
    if (child < 0)
        die("fork");
    if (child == 0) {
        if (dup2(output[1], STDOUT_FILENO) < 0)
            _exit(126);
        close(output[0]);
        close(output[1]);
        execl(POSIX_BENCH, POSIX_BENCH, (char *)NULL);
        printf("BENCH-ERROR exec %s: %s\n", POSIX_BENCH, strerror(errno));
        fflush(stdout);
        _exit(127);
    }
    close(output[1]);
    FILE *lines = fdopen(output[0], "r");
    if (lines == NULL)
        die("fdopen");
    char line[512];
    int ended = 0;
    while (fgets(line, sizeof line, lines) != NULL) {
        if (strcmp(line, "BENCH-END\n") == 0)
            ended = 1;
        else
            fputs(line, stdout);
    }
    fclose(lines);
    int status;
    if (waitpid(child, &status, 0) < 0)
        die("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        printf("BENCH-ERROR %s failed (wait status %#x)\n", POSIX_BENCH, (unsigned)status);
    else if (!ended)
        printf("BENCH-ERROR %s ended without BENCH-END\n", POSIX_BENCH);
}

/* ---- driver --------------------------------------------------------------- */

struct test {
    const char *name;
    uint64_t (*run)(uint64_t iterations);
};

static const struct test tests[] = {
    {"null-syscall", bench_null_syscall},
    {"pipe", bench_pipe},
    {"unix-stream", bench_unix_stream},
    {"futex", bench_futex},
    {"loop-2insn", bench_loop},
};

/* Doubles the count until a run takes a tenth of the target, then scales it
 * so the measured run takes about the target. */
static uint64_t calibrate(const struct test *test, uint64_t target_ns)
{
    uint64_t iterations = 16;
    for (;;) {
        uint64_t elapsed = test->run(iterations);
        if (elapsed >= target_ns / 10 || iterations >= (1ull << 40)) {
            if (elapsed == 0)
                elapsed = 1;
            uint64_t scaled = (uint64_t)((double)iterations * (double)target_ns / (double)elapsed);
            return scaled ? scaled : 1;
        }
        iterations *= 2;
    }
}

static uint64_t parse_count(const char *text)
{
    if (text == NULL || *text == '\0')
        return 0;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    return *end == '\0' ? value : 0;
}

static void print_file(const char *key, const char *path)
{
    char line[512];
    FILE *file = fopen(path, "r");
    if (file == NULL) {
        printf("INFO %s unavailable (%s)\n", key, path);
        return;
    }
    if (fgets(line, sizeof line, file) == NULL)
        line[0] = '\0';
    fclose(file);
    line[strcspn(line, "\n")] = '\0';
    printf("INFO %s %s\n", key, line);
}

/* Appends `text` to the "; "-separated list in `list` (of `size` bytes),
 * cutting it short rather than overflowing. */
static void append(char *list, size_t size, const char *text)
{
    size_t used = strlen(list);
    snprintf(list + used, size - used, "%s%s", used ? "; " : "", text);
}

/* Whether Linux isolates its page tables from user space (KPTI), from the
 * kernel log, without the lines' time stamps: x86 says "Kernel/User page
 * tables isolation: enabled" when PTI is on, arm64 "CPU features: detected:
 * Kernel page table isolation (KPTI)" (and "kernel page table isolation
 * forced ON by KASLR" when that is why). Neither says anything when it is off.
 *
 * arm64 Linux skips KPTI against Meltdown when the CPU reports CSV3 (which
 * `vulnerabilities/meltdown` reflects; the field itself is hidden from user
 * space), but turns it on anyway to hide a randomised (KASLR) kernel unless
 * the CPU has E0PD: on aarch64 the log's lines about E0PD and KASLR are
 * printed too. */
static void print_isolation(void)
{
    int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
    char *log = size > 0 ? malloc((size_t)size + 1) : NULL;
    int length = log ? klogctl(3 /* SYSLOG_ACTION_READ_ALL */, log, size) : -1;
    if (length < 0) {
        printf("INFO kpti unknown (could not read the kernel log: %s)\n", strerror(errno));
        free(log);
        return;
    }
    log[length] = '\0';
    char isolation[512] = "";
    char inputs[512] = "";
    for (char *line = strtok(log, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        /* "<6>[    0.000000] text": drop the level and the time stamp. */
        char *text = strchr(line, ']');
        text = text ? text + 1 : line;
        text += strspn(text, " ");
        if (strcasestr(text, "isolation") != NULL)
            append(isolation, sizeof isolation, text);
        else if (strstr(text, "E0PD") != NULL || strstr(text, "KASLR") != NULL)
            append(inputs, sizeof inputs, text);
    }
    free(log);
    printf("INFO kpti %s\n",
           isolation[0] ? isolation : "off (the kernel log does not mention page-table isolation)");
#if defined(__aarch64__)
    printf("INFO kpti-inputs %s\n",
           inputs[0] ? inputs : "the kernel log says nothing about E0PD or KASLR");
#else
    (void)inputs;
#endif
}

static void print_system_info(void)
{
    struct utsname name;
    if (uname(&name) == 0)
        printf("INFO kernel %s %s\n", name.release, name.version);
    print_file("cmdline", "/proc/cmdline");
    print_file("meltdown", "/sys/devices/system/cpu/vulnerabilities/meltdown");
    print_file("spectre_v2", "/sys/devices/system/cpu/vulnerabilities/spectre_v2");
    print_isolation();
}

static void power_off(int status)
{
    fflush(stdout);
    sync();
#if defined(__x86_64__)
    if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0)
        outb((unsigned char)status, DEBUG_EXIT_PORT);
#else
    (void)status;
#endif
    reboot(RB_POWER_OFF);
    /* Still here: returning from init panics the kernel, and with panic=-1 and
     * QEMU's -no-reboot that ends the run too. */
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* Not fatal: outside an initramfs these are already mounted. */
    mkdir("/proc", 0555);
    mkdir("/sys", 0555);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);

    print_system_info();

    uint64_t fixed = parse_count(argc > 1 ? argv[1] : getenv("bench_iterations"));
    uint64_t target_ms = parse_count(getenv("bench_target_ms"));
    uint64_t target_ns = (target_ms ? target_ms : 500) * 1000000ull;

    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        const struct test *test = &tests[i];
        uint64_t iterations = fixed ? fixed : calibrate(test, target_ns);
        uint64_t elapsed = test->run(iterations);
        printf("BENCH %s %llu %llu\n", test->name, (unsigned long long)iterations,
               (unsigned long long)elapsed);
    }
    run_posix_bench();
    /* After the tests: early in boot an x86 kernel may still be on tsc-early. */
    print_file("clocksource",
               "/sys/devices/system/clocksource/clocksource0/current_clocksource");
    printf("BENCH-END\n");

    if (getpid() == 1)
        power_off(EXIT_STATUS_SUCCESS);
    return EXIT_STATUS_SUCCESS;
}
