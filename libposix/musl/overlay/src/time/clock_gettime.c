/* Septa overlay (libposix/musl/overlay): clock_gettime without the system-call path.
 *
 * On Linux musl calls the vDSO's clock_gettime; on Septa libposix reads the clock in user
 * mode too, and this file calls it directly (__septa_clock_gettime) instead of going through
 * the generic system-call dispatcher, which is what musl's VDSO_CGT_SYM hook does on Linux.
 * Replaces musl's src/time/clock_gettime.c. */
#include <time.h>
#include "syscall.h"
#include "septa_libposix.h"

int __clock_gettime(clockid_t clock, struct timespec *time)
{
	return __syscall_ret(__septa_clock_gettime(clock, time));
}

weak_alias(__clock_gettime, clock_gettime);
