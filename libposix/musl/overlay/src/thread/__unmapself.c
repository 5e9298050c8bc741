/* Septa overlay (libposix/musl/overlay): replaces musl's generic __unmapself (which switches
 * stacks with inline assembly and traps); the recipe deletes the per-architecture
 * __unmapself.s. A detached thread frees its own stack when it exits: libposix unmaps it and
 * ends the thread without using the stack again. */
#include "pthread_impl.h"
#include "septa_libposix.h"

void __unmapself(void *base, size_t size)
{
	__septa_unmapself(base, size);
}
