/* Septa overlay (libposix/musl/overlay): the contract between musl and libposix.
 *
 * On Septa nothing in musl traps to the kernel: every system call, thread creation and
 * thread exit goes to these functions, which libposix (the Rust crate septa-libposix, linked
 * into libc.a) exports. Arguments and results follow Linux's numbering and conventions for
 * the target architecture, so the rest of musl is unchanged. */
#ifndef SEPTA_LIBPOSIX_H
#define SEPTA_LIBPOSIX_H

/* One system call: `number` is the Linux system-call number of the target architecture; the
 * result is a value or -errno, like the raw Linux system call. */
long __septa_syscall(long number, long a, long b, long c, long d, long e, long f);

/* musl's __clone: starts a thread that runs function(argument) on `stack` and exits with its
 * result; returns the new thread's id or -errno. */
long __septa_clone(int (*function)(void *), void *stack, int flags, void *argument,
                   int *parent_tid, void *thread_pointer, int *child_tid);

/* Unmaps base..base+size, which may hold the caller's own stack, and ends the calling
 * thread without touching that stack again. */
_Noreturn void __septa_unmapself(void *base, unsigned long size);

/* clock_gettime read in user mode, without the system-call dispatcher (musl's vDSO hook on
 * Linux); returns 0 or -errno. */
struct timespec;
long __septa_clock_gettime(int clock, struct timespec *time);

#endif
