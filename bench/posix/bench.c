/*
 * bench.c: the POSIX paths of `cargo xtask bench`, one source for Linux and Septa.
 *
 * The same file is compiled static against the same musl (unpatched for Linux, with
 * libposix for Septa) and run in the same QEMU machine, so a ratio compares the systems,
 * not two C libraries. It measures the paths a program takes without any server:
 *
 *   clock-gettime       clock_gettime(CLOCK_MONOTONIC): Linux's vDSO against libposix's
 *                       user-mode counter read.
 *   malloc-free         malloc(64) then free: musl's allocator over each system's mmap/brk.
 *   mutex-uncontended   pthread_mutex_lock then unlock with no other thread.
 *   mutex-contended     two threads each lock, increment and unlock a shared counter; one
 *                       iteration is one lock/unlock pair of one thread (futex waits and
 *                       wakes whenever they collide).
 *   thread-create-join  pthread_create of a thread that returns at once, then pthread_join.
 *
 * and, in a directory it creates (FILE_DIRECTORY, on Linux in the initramfs, on Septa on the
 * file VFS's ramfs), the file calls, each of which goes to a server on Septa:
 *
 *   file-open-close     open(O_RDONLY) then close of an existing 4 MiB file.
 *   file-stat           stat of that file.
 *   file-fstat          fstat of it, open.
 *   file-pread-1        pread of 1 byte at offset 0.
 *   file-pread-4k       pread of 4 KiB at offset 0.
 *   file-pwrite-4k      pwrite of 4 KiB at offset 0 of a second file.
 *   file-read-mib       sequential read() of the 4 MiB file in 1 MiB calls, back to the start
 *                       with lseek after every fourth; one iteration is one MiB.
 *   file-create-unlink  open(O_CREAT | O_EXCL | O_WRONLY) of a new file, close, unlink.
 *
 *   loop-2insn          exactly two guest instructions per iteration; under
 *                       `-icount shift=0` it must read 2 ns per iteration.
 *
 * Output, one line per figure:  BENCH posix-<name> <iterations> <total_nanoseconds>, then
 * BENCH-END. The `posix-` prefix keeps the figures apart from bench/linux/bench.c's, whose /init
 * runs this program in the same boot and passes its lines on to the console. A failure prints
 * BENCH-ERROR <what> and exits with status 1.
 *
 * Iterations: a fixed count from argv[1] or the environment variable bench_iterations; otherwise
 * each test calibrates itself to run for about bench_target_ms (default 300) of guest time. On
 * Linux both variables come from the kernel's command line through /init's environment; on
 * Septa from the environment of the program's entity (scripts/xtask/src/bench/posix.rs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
    printf("BENCH-ERROR %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime");
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t bench_clock_gettime(uint64_t iterations)
{
    struct timespec ts;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++)
        clock_gettime(CLOCK_MONOTONIC, &ts);
    return now_ns() - start;
}

static uint64_t bench_malloc_free(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        void *volatile block = malloc(64);
        if (!block)
            die("malloc");
        free(block);
    }
    return now_ns() - start;
}

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;

static uint64_t bench_mutex_uncontended(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        pthread_mutex_lock(&mutex);
        pthread_mutex_unlock(&mutex);
    }
    return now_ns() - start;
}

static volatile uint64_t shared_counter;
static uint64_t contended_rounds;

static void *contender(void *unused)
{
    (void)unused;
    for (uint64_t i = 0; i < contended_rounds; i++) {
        pthread_mutex_lock(&mutex);
        shared_counter++;
        pthread_mutex_unlock(&mutex);
    }
    return NULL;
}

static uint64_t bench_mutex_contended(uint64_t iterations)
{
    pthread_t threads[2];
    contended_rounds = iterations / 2 ? iterations / 2 : 1;
    shared_counter = 0;
    uint64_t start = now_ns();
    for (int i = 0; i < 2; i++)
        if ((errno = pthread_create(&threads[i], NULL, contender, NULL)) != 0)
            die("pthread_create");
    for (int i = 0; i < 2; i++)
        pthread_join(threads[i], NULL);
    uint64_t elapsed = now_ns() - start;
    if (shared_counter != 2 * contended_rounds) {
        errno = 0;
        die("mutex-contended lost an increment");
    }
    /* Report per lock/unlock pair actually made. */
    return elapsed * iterations / (2 * contended_rounds);
}

static void *return_at_once(void *argument)
{
    return argument;
}

static uint64_t bench_thread_create_join(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        pthread_t thread;
        if ((errno = pthread_create(&thread, NULL, return_at_once, NULL)) != 0)
            die("pthread_create");
        if ((errno = pthread_join(thread, NULL)) != 0)
            die("pthread_join");
    }
    return now_ns() - start;
}

/* ---- file calls ------------------------------------------------------------ */

#define FILE_DIRECTORY "/tmp/bench-files"
#define BIG_FILE FILE_DIRECTORY "/big"
#define WRITTEN_FILE FILE_DIRECTORY "/written"
#define NEW_FILE FILE_DIRECTORY "/new"
#define MIB (1024 * 1024)
#define BIG_SIZE (4 * MIB)

static int big_fd = -1;
static int written_fd = -1;
static char *buffer;

/* mkdir -p FILE_DIRECTORY, then BIG_FILE of BIG_SIZE bytes and an empty WRITTEN_FILE. */
static void prepare_files(void)
{
    static const char *const directories[] = {"/tmp", FILE_DIRECTORY};
    for (size_t i = 0; i < sizeof directories / sizeof directories[0]; i++)
        if (mkdir(directories[i], 0755) != 0 && errno != EEXIST)
            die("mkdir " FILE_DIRECTORY);
    buffer = malloc(MIB);
    if (!buffer)
        die("malloc");
    memset(buffer, 'x', MIB);
    int fd = open(BIG_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        die("open " BIG_FILE);
    for (int i = 0; i < BIG_SIZE / MIB; i++)
        if (write(fd, buffer, MIB) != MIB)
            die("write " BIG_FILE);
    if (close(fd) != 0)
        die("close " BIG_FILE);
    big_fd = open(BIG_FILE, O_RDONLY);
    if (big_fd < 0)
        die("open " BIG_FILE);
    written_fd = open(WRITTEN_FILE, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (written_fd < 0)
        die("open " WRITTEN_FILE);
    unlink(NEW_FILE);
}

static uint64_t bench_file_open_close(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        int fd = open(BIG_FILE, O_RDONLY);
        if (fd < 0)
            die("open " BIG_FILE);
        close(fd);
    }
    return now_ns() - start;
}

static uint64_t bench_file_stat(uint64_t iterations)
{
    struct stat status;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++)
        if (stat(BIG_FILE, &status) != 0)
            die("stat " BIG_FILE);
    return now_ns() - start;
}

static uint64_t bench_file_fstat(uint64_t iterations)
{
    struct stat status;
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++)
        if (fstat(big_fd, &status) != 0)
            die("fstat " BIG_FILE);
    return now_ns() - start;
}

static uint64_t pread_bytes(uint64_t iterations, size_t length)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++)
        if (pread(big_fd, buffer, length, 0) != (ssize_t)length)
            die("pread " BIG_FILE);
    return now_ns() - start;
}

static uint64_t bench_file_pread_1(uint64_t iterations)
{
    return pread_bytes(iterations, 1);
}

static uint64_t bench_file_pread_4k(uint64_t iterations)
{
    return pread_bytes(iterations, 4096);
}

static uint64_t bench_file_pwrite_4k(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++)
        if (pwrite(written_fd, buffer, 4096, 0) != 4096)
            die("pwrite " WRITTEN_FILE);
    return now_ns() - start;
}

static uint64_t bench_file_read_mib(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        if (i % (BIG_SIZE / MIB) == 0 && lseek(big_fd, 0, SEEK_SET) != 0)
            die("lseek " BIG_FILE);
        if (read(big_fd, buffer, MIB) != MIB)
            die("read " BIG_FILE);
    }
    return now_ns() - start;
}

static uint64_t bench_file_create_unlink(uint64_t iterations)
{
    uint64_t start = now_ns();
    for (uint64_t i = 0; i < iterations; i++) {
        int fd = open(NEW_FILE, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            die("open " NEW_FILE);
        close(fd);
        if (unlink(NEW_FILE) != 0)
            die("unlink " NEW_FILE);
    }
    return now_ns() - start;
}

static uint64_t bench_loop(uint64_t iterations)
{
    uint64_t start = now_ns();
    uint64_t count = iterations;
#if defined(__x86_64__)
    __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(count) : : "cc");
#elif defined(__aarch64__)
    __asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(count) : : "cc");
#else
#error "bench.c supports x86_64 and aarch64"
#endif
    return now_ns() - start;
}

struct test {
    const char *name;
    uint64_t (*run)(uint64_t iterations);
};

static const struct test tests[] = {
    {"posix-clock-gettime", bench_clock_gettime},
    {"posix-malloc-free", bench_malloc_free},
    {"posix-mutex-uncontended", bench_mutex_uncontended},
    {"posix-mutex-contended", bench_mutex_contended},
    {"posix-thread-create-join", bench_thread_create_join},
    {"posix-file-open-close", bench_file_open_close},
    {"posix-file-stat", bench_file_stat},
    {"posix-file-fstat", bench_file_fstat},
    {"posix-file-pread-1", bench_file_pread_1},
    {"posix-file-pread-4k", bench_file_pread_4k},
    {"posix-file-pwrite-4k", bench_file_pwrite_4k},
    {"posix-file-read-mib", bench_file_read_mib},
    {"posix-file-create-unlink", bench_file_create_unlink},
    {"posix-loop-2insn", bench_loop},
};

/* Doubles the count from 16 until one run takes a tenth of the target, then scales. */
static uint64_t calibrate(const struct test *test, uint64_t target_ns)
{
    uint64_t count = 16;
    for (;;) {
        uint64_t elapsed = test->run(count);
        if (elapsed >= target_ns / 10 || count >= (1ull << 40)) {
            uint64_t scaled = elapsed ? count * target_ns / elapsed : count * 10;
            return scaled ? scaled : 1;
        }
        count *= 2;
    }
}

/* A whole number, or 0 for none or anything else. */
static uint64_t parse_count(const char *text)
{
    if (text == NULL || *text == '\0')
        return 0;
    char *end;
    unsigned long long value = strtoull(text, &end, 10);
    return *end == '\0' ? value : 0;
}

int main(int argc, char **argv)
{
    uint64_t fixed = parse_count(argc > 1 ? argv[1] : getenv("bench_iterations"));
    uint64_t target_ms = parse_count(getenv("bench_target_ms"));
    uint64_t target_ns = (target_ms ? target_ms : 300) * 1000000ull;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        /* The files, their descriptors and the 1 MiB buffer only once the paths without a
         * server are measured, so that those run as they did before the file calls existed. */
        if (buffer == NULL && strncmp(tests[i].name, "posix-file-", 11) == 0)
            prepare_files();
        uint64_t iterations = fixed ? fixed : calibrate(&tests[i], target_ns);
        uint64_t elapsed = tests[i].run(iterations);
        printf("BENCH %s %llu %llu\n", tests[i].name, (unsigned long long)iterations,
               (unsigned long long)elapsed);
        fflush(stdout);
    }
    printf("BENCH-END\n");
    fflush(stdout);
    return 0;
}
