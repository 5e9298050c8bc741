/*
 * setjmp.c: non-local jumps.
 *
 * setjmp and longjmp across nested calls, propagating the value (0 becomes 1);
 * volatile locals keep the values they had at the jump; nested jump buffers;
 * a jump out of deep recursion; sigsetjmp and siglongjmp restoring the signal
 * mask when asked to and leaving it alone when not; siglongjmp out of a signal
 * handler.
 */
#include "check.h"

#include <setjmp.h>
#include <signal.h>

#define PLAN 9

static jmp_buf outer, inner;
static sigjmp_buf signal_target;
static volatile int depth_reached;

static void leaf(int value) { longjmp(outer, value); }
static void middle(int value) { leaf(value); }
static void top(int value) { middle(value); }

static void recurse(int depth) {
    depth_reached = depth;
    if (depth == 100) longjmp(outer, depth);
    /* The bound is never reached; it keeps the recursion finite for the compiler. */
    if (depth < 1000) recurse(depth + 1);
    depth_reached = -1;
}

/* Jumps to `inner`, then, once back here, to `outer`. */
static int nested(void) {
    int first = setjmp(inner);
    if (first == 0) longjmp(inner, 5);
    longjmp(outer, first * 10);
}

static void jump_from_handler(int signal_number) { siglongjmp(signal_target, signal_number); }

static int is_blocked(int signal_number) {
    sigset_t current;
    sigprocmask(SIG_SETMASK, NULL, &current);
    return sigismember(&current, signal_number);
}

static void block(int signal_number) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal_number);
    sigprocmask(SIG_BLOCK, &set, NULL);
}

static void check_longjmp(void) {
    volatile int calls = 0;
    int result = setjmp(outer);
    calls++;
    if (result == 0) top(42);
    check(result == 42 && calls == 2, "longjmp through nested calls carries its value",
          "expected 42 after 2 returns, got %d after %d", result, (int)calls);

    result = setjmp(outer);
    if (result == 0) top(0);
    check_long("longjmp with 0 makes setjmp return 1", 1, result);

    volatile int changed = 1;
    volatile double ratio = 0.5;
    volatile long sum = 0;
    result = setjmp(outer);
    if (result == 0) {
        changed = 2;
        ratio = 2.5;
        for (int step = 1; step <= 10; step++) sum += step;
        top(3);
    }
    check(changed == 2 && ratio == 2.5 && sum == 55, "volatile locals keep their values",
          "expected 2 2.5 55, got %d %g %ld", (int)changed, (double)ratio, (long)sum);

    result = setjmp(outer);
    if (result == 0) recurse(0);
    check(result == 100 && depth_reached == 100, "longjmp out of deep recursion",
          "expected 100 at depth 100, got %d at depth %d", result, (int)depth_reached);

    result = setjmp(outer);
    if (result == 0) nested();
    check_long("nested jump buffers", 50, result);
}

static void check_siglongjmp(void) {
    int result = sigsetjmp(signal_target, 1);
    if (result == 0) {
        block(SIGUSR1);
        siglongjmp(signal_target, 7);
    }
    int restored = !is_blocked(SIGUSR1);
    check(result == 7 && restored, "siglongjmp restores the mask saved by sigsetjmp",
          "expected 7 with SIGUSR1 unblocked, got %d, unblocked %d", result, restored);

    volatile int passes = 0;
    result = sigsetjmp(signal_target, 0);
    passes++;
    if (result == 0) {
        block(SIGUSR2);
        siglongjmp(signal_target, 0);
    }
    int kept = is_blocked(SIGUSR2);
    check(result == 1 && passes == 2 && kept,
          "sigsetjmp without saving leaves the mask and 0 becomes 1",
          "expected 1 after 2 passes with SIGUSR2 blocked, got %d after %d, blocked %d", result,
          (int)passes, kept);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = jump_from_handler;
    sigemptyset(&action.sa_mask);
    int installed = sigaction(SIGUSR1, &action, NULL);
    volatile int raised = 0;
    result = sigsetjmp(signal_target, 1);
    if (result == 0) {
        raised = 1;
        raise(SIGUSR1);
        raised = 2; /* the handler never returns here */
    }
    check(installed == 0 && result == SIGUSR1 && raised == 1,
          "siglongjmp out of a signal handler", "expected %d from the handler, got %d (stage %d)",
          SIGUSR1, result, (int)raised);
    check(!is_blocked(SIGUSR1), "signal mask restored after leaving a handler",
          "SIGUSR1 is still blocked after siglongjmp out of its handler");
}

int main(void) {
    check_plan("setjmp", PLAN);
    check_longjmp();
    check_siglongjmp();
    return check_finish();
}
