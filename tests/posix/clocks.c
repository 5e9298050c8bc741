/*
 * clocks.c: clocks, timers and sleeping.
 *
 * CLOCK_MONOTONIC never goes backwards over 1000 reads and its fields are in
 * range; clock_getres; nanosleep of 20 ms sleeps at least 20 ms by
 * CLOCK_MONOTONIC (there is no upper bound: emulators are slow); a relative
 * and an absolute (TIMER_ABSTIME) clock_nanosleep; invalid sleeps fail with
 * EINVAL; time() and gettimeofday agree with CLOCK_REALTIME within a second
 * (on Septa the real-time clock may start at 1970 at boot, so only its
 * consistency is checked, not the date); sched_yield returns 0.
 */
#include "check.h"

#include <errno.h>
#include <sched.h>
#include <sys/time.h>
#include <time.h>

#define PLAN 12
#define NANOSECONDS_PER_SECOND 1000000000LL

static long long nanoseconds(const struct timespec *time) {
    return time->tv_sec * NANOSECONDS_PER_SECOND + time->tv_nsec;
}

static long long monotonic_now(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return nanoseconds(&now);
}

static void check_reading(void) {
    struct timespec previous, current;
    int failures = clock_gettime(CLOCK_MONOTONIC, &previous) != 0;
    int backwards = 0, out_of_range = 0;
    for (int read = 0; read < 1000; read++) {
        failures += clock_gettime(CLOCK_MONOTONIC, &current) != 0;
        backwards += nanoseconds(&current) < nanoseconds(&previous);
        out_of_range += current.tv_nsec < 0 || current.tv_nsec >= NANOSECONDS_PER_SECOND ||
                        current.tv_sec < 0;
        previous = current;
    }
    check(failures == 0 && backwards == 0, "CLOCK_MONOTONIC never decreases over 1000 reads",
          "%d failed reads, %d steps backwards", failures, backwards);
    check_long("timespec fields are in range", 0, out_of_range);

    struct timespec monotonic_resolution = {-1, -1}, realtime_resolution = {-1, -1};
    int monotonic_result = clock_getres(CLOCK_MONOTONIC, &monotonic_resolution);
    int realtime_result = clock_getres(CLOCK_REALTIME, &realtime_resolution);
    long long resolution = nanoseconds(&monotonic_resolution);
    check(monotonic_result == 0 && realtime_result == 0 && resolution > 0 &&
              resolution <= 10000000 &&
              nanoseconds(&realtime_resolution) > 0,
          "clock_getres is positive and at most 10 ms",
          "results %d and %d, resolutions %lld and %lld ns",
          monotonic_result, realtime_result, resolution, nanoseconds(&realtime_resolution));
}

static void check_sleeping(void) {
    struct timespec twenty_milliseconds = {0, 20000000}, remaining = {-1, -1};
    long long start = monotonic_now();
    int result = nanosleep(&twenty_milliseconds, &remaining);
    long long elapsed = monotonic_now() - start;
    check(result == 0 && elapsed >= 20000000, "nanosleep sleeps at least 20 ms",
          "expected 0 after >= 20000000 ns, got %d after %lld ns", result, elapsed);

    struct timespec ten_milliseconds = {0, 10000000};
    start = monotonic_now();
    result = clock_nanosleep(CLOCK_MONOTONIC, 0, &ten_milliseconds, NULL);
    elapsed = monotonic_now() - start;
    check(result == 0 && elapsed >= 10000000, "relative clock_nanosleep sleeps at least 10 ms",
          "expected 0 after >= 10000000 ns, got %d after %lld ns", result, elapsed);

    struct timespec target;
    clock_gettime(CLOCK_MONOTONIC, &target);
    target.tv_nsec += 30000000;
    if (target.tv_nsec >= NANOSECONDS_PER_SECOND) {
        target.tv_sec++;
        target.tv_nsec -= NANOSECONDS_PER_SECOND;
    }
    result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL);
    long long woke = monotonic_now();
    check(result == 0 && woke >= nanoseconds(&target),
          "clock_nanosleep TIMER_ABSTIME wakes at the target",
          "expected 0 at >= %lld ns, got %d at %lld ns", nanoseconds(&target), result, woke);

    struct timespec past = {0, 0};
    result = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    check_long("clock_nanosleep to a past time returns 0", 0, result);

    struct timespec invalid = {0, NANOSECONDS_PER_SECOND};
    errno = 0;
    int sleep_result = nanosleep(&invalid, NULL);
    int sleep_error = errno;
    int clock_result = clock_nanosleep(CLOCK_MONOTONIC, 0, &invalid, NULL);
    check(sleep_result == -1 && sleep_error == EINVAL && clock_result == EINVAL,
          "invalid sleeps fail with EINVAL", "nanosleep %d/%d, clock_nanosleep %d (EINVAL is %d)",
          sleep_result, sleep_error, clock_result, EINVAL);
}

static void check_wall_clock(void) {
    struct timespec realtime;
    int result = clock_gettime(CLOCK_REALTIME, &realtime);
    /* Within a second either way: glibc's time() reads a coarse clock that lags. */
    time_t stored = 0;
    time_t returned = time(&stored);
    check(result == 0 && realtime.tv_sec >= 0 && returned == stored && returned >= 0 &&
              returned - realtime.tv_sec <= 1 && realtime.tv_sec - returned <= 1,
          "time agrees with CLOCK_REALTIME", "clock_gettime %d: %lld s, time() %lld and %lld",
          result, (long long)realtime.tv_sec, (long long)returned, (long long)stored);

    struct timeval wall;
    result = gettimeofday(&wall, NULL);
    struct timespec after;
    clock_gettime(CLOCK_REALTIME, &after);
    long long wall_ns = wall.tv_sec * NANOSECONDS_PER_SECOND + wall.tv_usec * 1000LL;
    long long difference = nanoseconds(&after) - wall_ns;
    check(result == 0 && wall.tv_usec >= 0 && wall.tv_usec < 1000000 && difference >= -1000 &&
              difference <= NANOSECONDS_PER_SECOND,
          "gettimeofday agrees with CLOCK_REALTIME within 1 s",
          "result %d, tv_usec %ld, CLOCK_REALTIME minus gettimeofday %lld ns", result,
          (long)wall.tv_usec, difference);

    long long monotonic_start = monotonic_now();
    clock_gettime(CLOCK_REALTIME, &realtime);
    struct timespec pause = {0, 50000000};
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_REALTIME, &after);
    long long monotonic_elapsed = monotonic_now() - monotonic_start;
    long long realtime_elapsed = nanoseconds(&after) - nanoseconds(&realtime);
    long long drift = realtime_elapsed - monotonic_elapsed;
    check(drift > -NANOSECONDS_PER_SECOND && drift < NANOSECONDS_PER_SECOND,
          "CLOCK_REALTIME advances with CLOCK_MONOTONIC",
          "over %lld ns of CLOCK_MONOTONIC, CLOCK_REALTIME moved %lld ns", monotonic_elapsed,
          realtime_elapsed);

    check_long("sched_yield returns 0", 0, sched_yield());
}

int main(void) {
    check_plan("clocks", PLAN);
    check_reading();
    check_sleeping();
    check_wall_clock();
    return check_finish();
}
