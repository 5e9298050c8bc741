/* Septa overlay (libposix/musl/overlay): the body of every architecture's syscall_arch.h.
 *
 * musl's own syscall_arch.h issues the trap instruction inline. Here each __syscallN is a
 * plain call into libposix, with the unused arguments zero. The vDSO macros (VDSO_USEFUL,
 * VDSO_CGT_SYM, ...) are deliberately absent: there is no vDSO on Septa, so clock_gettime
 * takes the system-call path, which libposix serves in user space. */
#include "septa_libposix.h"

static __inline long __syscall0(long number)
{
	return __septa_syscall(number, 0, 0, 0, 0, 0, 0);
}

static __inline long __syscall1(long number, long a)
{
	return __septa_syscall(number, a, 0, 0, 0, 0, 0);
}

static __inline long __syscall2(long number, long a, long b)
{
	return __septa_syscall(number, a, b, 0, 0, 0, 0);
}

static __inline long __syscall3(long number, long a, long b, long c)
{
	return __septa_syscall(number, a, b, c, 0, 0, 0);
}

static __inline long __syscall4(long number, long a, long b, long c, long d)
{
	return __septa_syscall(number, a, b, c, d, 0, 0);
}

static __inline long __syscall5(long number, long a, long b, long c, long d, long e)
{
	return __septa_syscall(number, a, b, c, d, e, 0);
}

static __inline long __syscall6(long number, long a, long b, long c, long d, long e, long f)
{
	return __septa_syscall(number, a, b, c, d, e, f);
}
