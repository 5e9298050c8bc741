/* Septa overlay (libposix/musl/overlay): replaces musl's x86_64 __set_thread_area.s, which
 * made the arch_prctl system call with the trap instruction. The same call now goes to
 * libposix. (aarch64 keeps musl's __set_thread_area.s: it only writes tpidr_el0.) */
#include "pthread_impl.h"
#include "syscall.h"

/* arch_prctl code that sets the FS base, from Linux's asm/prctl.h. */
#define ARCH_SET_FS 0x1002

int __set_thread_area(void *pointer)
{
	return __syscall(SYS_arch_prctl, ARCH_SET_FS, pointer);
}
