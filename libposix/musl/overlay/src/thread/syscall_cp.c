/* Septa overlay (libposix/musl/overlay): fills musl's empty generic syscall_cp.c; the recipe
 * deletes the per-architecture syscall_cp.s, which trapped to the kernel directly.
 *
 * __syscall_cp_asm is the system call at a cancellation point (pthread_cancel.c). It acts on
 * a pending cancellation request, then makes the call. musl's assembly version also lets a
 * cancellation signal that arrives during the call interrupt it: the signal handler moves the
 * program counter from between __cp_begin and __cp_end to __cp_cancel. Septa never delivers
 * signals, so that cannot happen here. Asynchronous cancellation is not supported, and a
 * thread blocked in a cancellable call sees a cancellation only at its next cancellation
 * point. The three labels remain, as data no program counter can be in, only because
 * pthread_cancel.c refers to them. */
#include "pthread_impl.h"
#include "syscall.h"
#include "septa_libposix.h"

hidden long __cancel(void);

hidden const char __cp_begin[1] = {0}, __cp_end[1] = {0}, __cp_cancel[1] = {0};

hidden long __syscall_cp_asm(volatile void *cancel, syscall_arg_t number,
                             syscall_arg_t a, syscall_arg_t b, syscall_arg_t c,
                             syscall_arg_t d, syscall_arg_t e, syscall_arg_t f)
{
	if (*(volatile int *)cancel) return __cancel();
	return __septa_syscall(number, a, b, c, d, e, f);
}
