/*
 * check.h: the `[check]` result protocol shared by the POSIX test programs.
 *
 * Each program prints, on stdout and flushed line by line:
 *
 *     [check] PLAN <n>
 *     [check] PASS <program>: <check name>
 *     [check] FAIL <program>: <check name>: <what was expected, what came>
 *
 * and exits with status 0 when every check passed, 1 otherwise. The system-test
 * runner (scripts/xtask/src/checks.rs) counts the lines and turns every planned
 * result that never arrived into a failure, so a program that dies midway fails.
 * A check that only means something on Septa is reported on other systems as
 * `PASS <program>: <name> (skipped: not Septa)`, so that the plan is the same
 * everywhere. (The runner splits a FAIL line at its first ':', the one after
 * the program name, and prints both parts back, so names may contain any text.)
 *
 * Include this header before any other: it selects the POSIX + BSD feature set
 * that every program here is written against (musl and glibc alike).
 */
#ifndef SEPTA_TESTS_POSIX_CHECK_H
#define SEPTA_TESTS_POSIX_CHECK_H

#if !defined(_GNU_SOURCE) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE 1
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define CHECK_PRINTF_LIKE(format_index, first_argument) \
    __attribute__((format(printf, format_index, first_argument)))
#else
#define CHECK_PRINTF_LIKE(format_index, first_argument)
#endif

/* 1 when built for Septa: the `<arch>-septa-cc` wrapper defines __septa__. */
#if defined(__septa__)
#define CHECK_ON_SEPTA 1
#else
#define CHECK_ON_SEPTA 0
#endif

static const char *check_program = "unnamed";
static long check_planned;
static long check_reported;
static long check_failed;

/* Names the program and announces how many results will follow. */
static inline void check_plan(const char *program, long count) {
    check_program = program;
    check_planned = count;
    printf("[check] PLAN %ld\n", count);
    fflush(stdout);
}

/*
 * Reports one check: PASS when `condition` holds, otherwise FAIL with the
 * detail formatted from `format`. Returns `condition` so callers can stop
 * work that depends on it.
 */
static inline CHECK_PRINTF_LIKE(3, 4) int check(int condition, const char *name,
                                               const char *format, ...) {
    check_reported++;
    if (condition) {
        printf("[check] PASS %s: %s\n", check_program, name);
    } else {
        check_failed++;
        printf("[check] FAIL %s: %s: ", check_program, name);
        va_list arguments;
        va_start(arguments, format);
        vprintf(format, arguments);
        va_end(arguments);
        printf("\n");
    }
    fflush(stdout);
    return condition;
}

/* Reports a check that does not apply here as passed, saying why. */
static inline void check_skip(const char *name, const char *reason) {
    check_reported++;
    printf("[check] PASS %s: %s (skipped: %s)\n", check_program, name, reason);
    fflush(stdout);
}

/*
 * Counts a result the program printed by other means (for instance a PASS
 * line composed with puts or write to prove that the call works).
 */
static inline void check_count_external(int passed) {
    check_reported++;
    if (!passed) {
        check_failed++;
    }
}

/* Shorthands for the common comparisons; the detail shows both values. */
#define check_long(name, expected, actual)                                        \
    do {                                                                         \
        long long check_expected_ = (long long)(expected);                       \
        long long check_actual_ = (long long)(actual);                           \
        check(check_expected_ == check_actual_, (name), "expected %lld, got %lld", \
              check_expected_, check_actual_);                                   \
    } while (0)

#define check_string(name, expected, actual)                                        \
    do {                                                                           \
        const char *check_expected_ = (expected);                                  \
        const char *check_actual_ = (actual);                                      \
        check(check_actual_ != NULL && strcmp(check_expected_, check_actual_) == 0, \
              (name), "expected \"%s\", got %s%s%s", check_expected_,               \
              check_actual_ ? "\"" : "", check_actual_ ? check_actual_ : "NULL",    \
              check_actual_ ? "\"" : "");                                          \
    } while (0)

/*
 * Ends the program's report: a plan that does not match the number of results
 * is itself a failure (it is a bug in the program). Returns the exit status.
 */
static inline int check_finish(void) {
    if (check_reported != check_planned) {
        check_failed++;
        printf("[check] FAIL %s: plan: planned %ld checks, reported %ld\n",
               check_program, check_planned, check_reported);
    }
    fflush(stdout);
    return check_failed == 0 ? 0 : 1;
}

#endif /* SEPTA_TESTS_POSIX_CHECK_H */
