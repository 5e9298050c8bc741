/*
 * strtod.c: conversion of text to numbers.
 *
 * strtod, strtof, strtold and atof on decimal and hexadecimal floating point,
 * infinities and NaNs, exponents, subnormals, correct rounding, the end
 * pointer, and ERANGE on overflow and underflow; strtol, strtoul, strtoll and
 * strtoull in every base, with their overflow and invalid-input errors.
 */
#include "check.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>

#define PLAN 33

/*
 * POSIX lets a conversion that reads no digits set EINVAL (musl does, glibc
 * does not): this stands for "0 or EINVAL" where an errno is expected.
 */
#define NO_CONVERSION (-1)

static int errno_matches(int error, int expected) {
    return expected == NO_CONVERSION ? (error == 0 || error == EINVAL) : error == expected;
}

/* Converts `text` with strtod; checks the value, how much was read and errno. */
static void expect_double(const char *name, const char *text, double expected, size_t consumed,
                          int expected_errno) {
    char *end = NULL;
    errno = 0;
    double value = strtod(text, &end);
    int error = errno;
    int same = value == expected || (isnan(value) && isnan(expected));
    check(same && signbit(value) == signbit(expected) && end == text + consumed &&
              errno_matches(error, expected_errno),
          name, "expected %a, %zu bytes read, errno %d; got %a, %td bytes read, errno %d",
          expected, consumed, expected_errno, value, end - text, error);
}

static void check_floating(void) {
    expect_double("strtod decimal", "3.25", 3.25, 4, 0);
    expect_double("strtod whitespace sign exponent and end pointer", " \t-1.5e3xyz", -1500.0, 8, 0);
    expect_double("strtod fraction without integer part", "+.5", 0.5, 3, 0);
    expect_double("strtod exponent without digits stops before e", "7e+", 7.0, 1, 0);
    expect_double("strtod correctly rounded 0.1", "0.1", 0.1, 3, 0);
    expect_double("strtod ties to even", "9007199254740993", 9007199254740992.0, 16, 0);
    expect_double("strtod DBL_MIN", "2.2250738585072014e-308", DBL_MIN, 23, 0);
    expect_double("strtod DBL_MAX", "1.7976931348623157e308", DBL_MAX, 22, 0);
    expect_double("strtod hexadecimal", "0x1.8p3", 12.0, 7, 0);
    expect_double("strtod hexadecimal without exponent", "0X.8", 0.5, 4, 0);
    expect_double("strtod hexadecimal negative exponent", "-0x1P-2", -0.25, 7, 0);
    expect_double("strtod infinity", "-Infinity!", -(double)INFINITY, 9, 0);
    expect_double("strtod inf prefix", "infinite", (double)INFINITY, 3, 0);
    expect_double("strtod nan", "nan", (double)NAN, 3, 0);
    expect_double("strtod nan with payload", "NAN(123)rest", (double)NAN, 8, 0);
    expect_double("strtod smallest subnormal in hexadecimal", "0x1p-1074", 0x1p-1074, 9, 0);
    expect_double("strtod overflow is ERANGE", "1e400", HUGE_VAL, 5, ERANGE);
    expect_double("strtod negative overflow is ERANGE", "-1e400", -HUGE_VAL, 6, ERANGE);
    expect_double("strtod underflow to zero is ERANGE", "1e-400", 0.0, 6, ERANGE);
    expect_double("strtod without digits reads nothing", "abc", 0.0, 0, NO_CONVERSION);

    /* Whether a subnormal result sets ERANGE is up to the library: no errno check. */
    double subnormal = strtod("4.9406564584124654e-324", NULL);
    check(subnormal == 0x1p-1074, "strtod smallest subnormal in decimal", "expected %a, got %a",
          0x1p-1074, subnormal);

    errno = 0;
    float single = strtof("3.40282347e38", NULL);
    float rounded = strtof("0.1", NULL);
    float single_overflow = strtof("1e39", NULL);
    int overflow_error = errno;
    check(single == FLT_MAX && rounded == 0.1f && single_overflow == HUGE_VALF &&
              overflow_error == ERANGE,
          "strtof", "expected %a %a %a ERANGE, got %a %a %a errno %d", (double)FLT_MAX,
          (double)0.1f, (double)HUGE_VALF, (double)single, (double)rounded,
          (double)single_overflow, overflow_error);

    errno = 0;
    long double extended = strtold("0.1", NULL);
    long double beyond_double = strtold("1e4000", NULL);
    long double hexadecimal = strtold("0x1.000000000000001p0", NULL);
    check(extended == 0.1L && beyond_double == 1e4000L && errno == 0 &&
              hexadecimal == 1.0L + 0x1p-60L,
          "strtold", "expected %La %La %La errno 0, got %La %La %La errno %d", 0.1L, 1e4000L,
          1.0L + 0x1p-60L, extended, beyond_double, hexadecimal, errno);

    check(atof("2.5e1") == 25.0 && atof("  -0x10") == -16.0, "atof",
          "expected 25 and -16, got %g and %g", atof("2.5e1"), atof("  -0x10"));
}

/* Converts `text` with strtol; checks the value, how much was read and errno. */
static void expect_long(const char *name, const char *text, int base, long expected,
                        size_t consumed, int expected_errno) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, base);
    int error = errno;
    check(value == expected && end == text + consumed && errno_matches(error, expected_errno),
          name,
          "expected %ld, %zu bytes read, errno %d; got %ld, %td bytes read, errno %d", expected,
          consumed, expected_errno, value, end - text, error);
}

static void check_integers(void) {
    expect_long("strtol decimal", "  -123abc", 10, -123, 6, 0);
    int bases_ok = strtol("0x1F", NULL, 0) == 31 && strtol("017", NULL, 0) == 15 &&
                   strtol("42", NULL, 0) == 42 && strtol("11", NULL, 2) == 3 &&
                   strtol("zZ", NULL, 36) == 35 * 36 + 35 && strtol("ff", NULL, 16) == 255 &&
                   strtol("0xff", NULL, 16) == 255 && strtol("777", NULL, 8) == 511;
    check(bases_ok, "strtol bases 0 2 8 16 36", "a conversion gave a wrong value (0x1F->%ld)",
          strtol("0x1F", NULL, 0));
    expect_long("strtol 0x without hexadecimal digits reads the 0", "0xg", 16, 0, 1, 0);
    expect_long("strtol overflow is ERANGE", "9223372036854775808", 10, LONG_MAX, 19, ERANGE);
    expect_long("strtol negative overflow is ERANGE", "-9223372036854775809", 10, LONG_MIN, 20,
                ERANGE);
    expect_long("strtol without digits reads nothing", " +", 10, 0, 0, NO_CONVERSION);

    errno = 0;
    long invalid = strtol("10", NULL, 1);
    check(invalid == 0 && errno == EINVAL, "strtol base 1 is EINVAL",
          "expected 0 and EINVAL, got %ld and errno %d", invalid, errno);

    errno = 0;
    unsigned long wrapped = strtoul("-1", NULL, 10);
    int wrapped_error = errno;
    errno = 0;
    unsigned long too_big = strtoul("18446744073709551616", NULL, 10);
    int too_big_error = errno;
    check(wrapped == ULONG_MAX && wrapped_error == 0 && too_big == ULONG_MAX &&
              too_big_error == ERANGE,
          "strtoul negation and overflow", "expected %lu/0 and %lu/ERANGE, got %lu/%d and %lu/%d",
          ULONG_MAX, ULONG_MAX, wrapped, wrapped_error, too_big, too_big_error);

    errno = 0;
    unsigned long long all_ones = strtoull("0xffffffffffffffff", NULL, 0);
    long long smallest = strtoll("-9223372036854775808", NULL, 10);
    check(all_ones == ULLONG_MAX && smallest == LLONG_MIN && errno == 0,
          "strtoull and strtoll limits",
          "expected %llu and %lld, got %llu and %lld (errno %d)", ULLONG_MAX, LLONG_MIN, all_ones,
          smallest, errno);
}

int main(void) {
    check_plan("strtod", PLAN);
    check_floating();
    check_integers();
    return check_finish();
}
