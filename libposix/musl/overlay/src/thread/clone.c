/* Septa overlay (libposix/musl/overlay): replaces musl's generic stub of __clone; the
 * recipe deletes the per-architecture clone.s, which trapped to the kernel directly.
 *
 * libposix creates the thread (__septa_clone has musl's __clone semantics). */
#include <stdarg.h>
#include "pthread_impl.h"
#include "septa_libposix.h"

int __clone(int (*function)(void *), void *stack, int flags, void *argument, ...)
{
	/* pthread_create passes all seven arguments; posix_spawn passes only four, with flags
	 * that never ask for the other three. Reading them anyway, as musl's syscall() reads
	 * six, yields values libposix then ignores. */
	va_list rest;
	va_start(rest, argument);
	int *parent_tid = va_arg(rest, int *);
	void *thread_pointer = va_arg(rest, void *);
	int *child_tid = va_arg(rest, int *);
	va_end(rest);
	return __septa_clone(function, stack, flags, argument,
	                     parent_tid, thread_pointer, child_tid);
}
