/* Septa overlay (libposix/musl/overlay): replaces musl's arch/x86_64/syscall_arch.h.
 *
 * The 64-bit argument conventions are x86_64's own (a 64-bit value is one argument); the
 * system calls themselves go to libposix (src/internal/septa_syscall_arch.h). */
#define __SYSCALL_LL_E(x) (x)
#define __SYSCALL_LL_O(x) (x)

#define IPC_64 0

#include "septa_syscall_arch.h"
