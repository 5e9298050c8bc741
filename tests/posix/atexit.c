/*
 * atexit.c: exit handlers and the exit status.
 *
 * Registers 36 handlers (more than the 32 POSIX guarantees) and calls
 * exit(0). Each handler appends a letter to a log; the first registered, so
 * the last to run, checks the log for reverse registration order and every
 * handler's single run, and prints those results from inside exit. Its last
 * line is left in a fully buffered stdout for exit to flush after the
 * handlers: if the handlers do not run, run in another order, or stdio is not
 * flushed, a result is FAIL or missing and the PLAN count shows it. The exit
 * status is 0 only when everything passed (a failure leaves through
 * _exit(1)), so the runner's view of the status checks that exit(0) reaches it.
 */
#include "check.h"

#include <unistd.h>

#define PLAN 5
#define COUNTED_HANDLERS 32

/* "cb", one 'n' per counted handler, then "a": the reverse of registration. */
static char log_text[64];
static size_t log_length;
static int handler_calls;

static void record(char letter) {
    handler_calls++;
    if (log_length + 1 < sizeof log_text) log_text[log_length++] = letter;
}

static void handler_a(void) { record('a'); }
static void handler_b(void) { record('b'); }
static void handler_c(void) { record('c'); }
static void handler_counted(void) { record('n'); }

/* Registered first, so it runs last: reports what the others did. */
static void report(void) {
    char expected[sizeof log_text];
    size_t length = 0;
    expected[length++] = 'c';
    expected[length++] = 'b';
    for (int index = 0; index < COUNTED_HANDLERS; index++) expected[length++] = 'n';
    expected[length++] = 'a';
    expected[length] = '\0';
    check(strcmp(log_text, expected) == 0, "handlers run in reverse order of registration",
          "expected \"%s\", got \"%s\"", expected, log_text);
    check_long("every handler runs exactly once", COUNTED_HANDLERS + 3, handler_calls);
    if (check_finish() != 0) {
        fflush(stdout);
        _exit(1);
    }
    /* Deliberately not flushed: exit must flush stdio after the last handler. */
    printf("[check] PASS atexit: stdio flushed by exit after the handlers\n");
}

int main(void) {
    /* Fully buffered, so that the unflushed line above depends on exit flushing. */
    setvbuf(stdout, NULL, _IOFBF, BUFSIZ);
    check_plan("atexit", PLAN);
    /* report() prints one line itself, outside check(): count it now. */
    check_count_external(1);

    int failures = atexit(report) != 0;
    failures += atexit(handler_a) != 0;
    for (int index = 0; index < COUNTED_HANDLERS; index++) failures += atexit(handler_counted) != 0;
    failures += atexit(handler_b) != 0;
    failures += atexit(handler_c) != 0;
    check_long("36 atexit registrations succeed", 0, failures);
    check(log_length == 0 && handler_calls == 0, "no handler runs before exit",
          "the log already holds \"%s\"", log_text);

    exit(0);
}
