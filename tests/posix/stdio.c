/*
 * stdio.c: formatted output and input of the C library.
 *
 * The printf family with every common conversion, width, precision and flag;
 * snprintf truncation and its return value; the sscanf family on integers,
 * floating point, strings, %n and scan sets; fputs, puts and putchar on stdout
 * (they compose one of the result lines themselves); fprintf to stderr.
 */
#include "check.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>

#define PROGRAM "stdio"
#define PLAN 29

/* Formats with vsnprintf and compares with the expected text. */
static CHECK_PRINTF_LIKE(3, 4) void expect_format(const char *name, const char *expected,
                                                  const char *format, ...) {
    char text[256];
    va_list arguments;
    va_start(arguments, format);
    int length = vsnprintf(text, sizeof text, format, arguments);
    va_end(arguments);
    check(strcmp(text, expected) == 0 && length == (int)strlen(expected), name,
          "expected \"%s\" (%zu), got \"%s\" (%d)", expected, strlen(expected), text, length);
}

static void check_printf(void) {
    expect_format("printf %d with width and flags", "   42|42   |00042|+42| 42|-42",
                  "%5d|%-5d|%05d|%+d|% d|%d", 42, 42, 42, 42, 42, -42);
    expect_format("printf %i and %u", "-7 4294967295 0", "%i %u %u", -7, UINT_MAX, 0u);
    expect_format("printf %x %X %o and the # flag", "ff FF 0xff 0XFF 10 010 0",
                  "%x %X %#x %#X %o %#o %#x", 255u, 255u, 255u, 255u, 8u, 8u, 0u);
    expect_format("printf %e", "1.234568e+04 1.23E-04 -0.0e+00", "%e %.2E %.1e", 12345.678,
                  0.000123, -0.0);
    expect_format("printf %f", "3.141593 2 4   -1.500 1e+300 is 1", "%f %.0f %.0f %8.3f %.0e is %d",
                  3.14159265, 2.5, 3.5, -1.5, 1e300, 1);
    expect_format("printf %f of a large value", "1267650600228229401496703205376.00", "%.2f",
                  1267650600228229401496703205376.0);
    expect_format("printf %g", "0.0001 1e-05 1.23457e+08 1.00000 100", "%g %g %g %#g %g", 0.0001,
                  0.00001, 123456789.0, 1.0, 100.0);
    expect_format("printf inf and nan", "inf -INF nan", "%f %F %f", (double)INFINITY,
                  -(double)INFINITY, (double)NAN);
    expect_format("printf %s with width and precision", "abc|    ab|ab    |", "%.3s|%6s|%-6s|",
                  "abcdef", "ab", "ab");
    expect_format("printf %c and %%", "Sep 100%", "%c%c%c %d%%", 'S', 'e', 'p', 100);
    expect_format("printf %p", "0x1234", "%p", (void *)(uintptr_t)0x1234);
    expect_format("printf %zu %lld %llu %jd", "18446744073709551615 -9223372036854775808 "
                  "18446744073709551615 -1", "%zu %lld %llu %jd", (size_t)SIZE_MAX, LLONG_MIN,
                  ULLONG_MAX, (intmax_t)-1);
    expect_format("printf * width and precision", "     7|7   |3.14|  0x00ff",
                  "%*d|%-*d|%.*f|%#*.4x", 6, 7, 4, 7, 2, 3.14159, 8, 255u);
    expect_format("printf %hhd %hd %ld", "-1 -1 -1", "%hhd %hd %ld", 255, 65535, -1L);

    char small[8];
    /* Through a pointer the compiler cannot follow, so that it does not warn of
       the truncation this check is about. */
    const char *volatile greeting = "hello, world";
    int length = snprintf(small, sizeof small, "%s", greeting);
    check(length == 12 && strcmp(small, "hello, ") == 0,
          "snprintf truncates and returns the full length",
          "expected 12 and \"hello, \", got %d and \"%s\"", length, small);
    check_long("snprintf(NULL, 0) returns the length", 6, snprintf(NULL, 0, "%d", 123456));
    char large[32];
    check_long("sprintf returns the byte count", 11, sprintf(large, "%s-%05d", "abcde", 7));
}

static void check_scanf(void) {
    int decimal = 0, hex = 0, octal = 0, any = 0, prefixed = 0;
    int count = sscanf("  -12 0x1f 017 42 0x10", "%d %x %o %i %i", &decimal, &hex, &octal, &any,
                       &prefixed);
    check(count == 5 && decimal == -12 && hex == 31 && octal == 15 && any == 42 && prefixed == 16,
          "sscanf integers", "expected 5: -12 31 15 42 16, got %d: %d %d %d %d %d", count, decimal,
          hex, octal, any, prefixed);

    float single = 0;
    double double_value = 0;
    long double extended = 0;
    count = sscanf("1.5 -2.25e3 0.125", "%f %lf %Lf", &single, &double_value, &extended);
    check(count == 3 && single == 1.5f && double_value == -2250.0 && extended == 0.125L,
          "sscanf floating point", "expected 3: 1.5 -2250 0.125, got %d: %g %g %Lg", count,
          (double)single, double_value, extended);

    char word[10] = "", rest[10] = "";
    int consumed = -1;
    count = sscanf("hello world!", "%9s %n%5c", word, &consumed, rest);
    check(count == 2 && strcmp(word, "hello") == 0 && consumed == 6 &&
              memcmp(rest, "world", 5) == 0,
          "sscanf strings and %n", "expected 2 \"hello\" 6 \"world\", got %d \"%s\" %d \"%.5s\"",
          count, word, consumed, rest);

    char letters[10] = "", digits[10] = "", tail[10] = "";
    count = sscanf("abc123def\nxyz", "%9[a-z]%9[0-9]%9[^\n]", letters, digits, tail);
    check(count == 3 && strcmp(letters, "abc") == 0 && strcmp(digits, "123") == 0 &&
              strcmp(tail, "def") == 0,
          "sscanf scan sets", "expected 3 abc 123 def, got %d %s %s %s", count, letters, digits,
          tail);

    int unused = 0;
    int mismatch = sscanf("abc", "%d", &unused);
    int empty = sscanf("", "%d", &unused);
    check(mismatch == 0 && empty == EOF, "sscanf mismatch and end of input",
          "expected 0 and EOF (%d), got %d and %d", EOF, mismatch, empty);

    long long big = 0;
    unsigned short halfword = 0;
    char character = 0;
    count = sscanf("-9223372036854775807 65535 Q", "%lld %hu %c", &big, &halfword, &character);
    check(count == 3 && big == -LLONG_MAX && halfword == 65535 && character == 'Q',
          "sscanf length modifiers", "expected 3 %lld 65535 Q, got %d %lld %hu %c", -LLONG_MAX,
          count, big, halfword, character);

    int day = 0, month = 0, year = 0;
    count = sscanf("2024-02-29", "%4d-%2d-%2d", &year, &month, &day);
    check(count == 3 && year == 2024 && month == 2 && day == 29, "sscanf literal text and widths",
          "expected 2024 2 29, got %d: %d %d %d", count, year, month, day);
}

/* The output calls prove themselves by writing result lines the runner reads. */
static void check_output(void) {
    int fputs_result = fputs("[check] PASS " PROGRAM ": fputs", stdout);
    int comma = putchar(',');
    putchar(' ');
    int puts_result = puts("putchar and puts compose this line");
    fflush(stdout);
    check_count_external(1);
    check(fputs_result >= 0 && comma == ',' && puts_result >= 0, "fputs putchar puts results",
          "expected >= 0, ',' and >= 0, got %d, %d and %d", fputs_result, comma, puts_result);

    const char *line = "[check] PASS " PROGRAM ": printf prints this line\n";
    int printed = printf("%s", line);
    fflush(stdout);
    check_count_external(1);
    check_long("printf returns the byte count", (long)strlen(line), printed);

    int written = fprintf(stderr, "stdio: this line goes to stderr (%d)\n", 42);
    fflush(stderr);
    check(written == 37 && !ferror(stderr), "fprintf to stderr",
          "expected 37 bytes and no error, got %d and error %d", written, ferror(stderr));
}

int main(void) {
    check_plan(PROGRAM, PLAN);
    check_printf();
    check_scanf();
    check_output();
    return check_finish();
}
