//! The entry points musl calls: `__septa_syscall` decodes a Linux system call and hands it to
//! its backend; `__septa_clone` and `__septa_unmapself` replace musl's assembly for threads;
//! `__septa_clock_gettime` is musl's clock read, called directly as a vDSO would be.
//!
//! Each arm only picks the arguments out (as Linux's ABI types them); each backend checks them
//! and returns `Result<usize, Errno>`, which becomes the raw return word here, once. Whatever
//! ends in `ENOSYS` is counted for the exit report.

use libc::{c_int, c_long};

use crate::directory_entries::Format;
use crate::errno::{self, Errno, Result};
use crate::{
    arch, files, futex, identity, kernel, memory, paths, random, signals, sockets, threads, time,
    unsupported,
};

/// musl's system-call entry: `number` is the Linux number of the target architecture; the
/// result is a value or `-errno`, exactly as the raw Linux system call returns.
#[unsafe(no_mangle)]
pub extern "C" fn __septa_syscall(
    number: c_long,
    first: c_long,
    second: c_long,
    third: c_long,
    fourth: c_long,
    fifth: c_long,
    sixth: c_long,
) -> c_long {
    let arguments = [first, second, third, fourth, fifth, sixth].map(|argument| argument as usize);
    let result = call(number, &arguments);
    if result == Err(Errno::ENOSYS) {
        unsupported::count(number);
    }
    errno::encode(result) as c_long
}

/// musl's `clock_gettime`, called directly rather than through [`__septa_syscall`] (as musl
/// calls the vDSO on Linux): the clock is read in user mode, so the call is only this.
#[unsafe(no_mangle)]
pub extern "C" fn __septa_clock_gettime(clock: c_int, time: usize) -> c_long {
    errno::encode(time::clock_gettime(clock, time)) as c_long
}

/// musl's `__clone`, for threads only: starts `function(argument)` on `stack` and returns the
/// new thread's id or `-errno`. See [`threads::clone`].
#[unsafe(no_mangle)]
pub extern "C" fn __septa_clone(
    function: usize,
    stack: usize,
    flags: c_int,
    argument: usize,
    parent_tid: usize,
    thread_pointer: usize,
    child_tid: usize,
) -> c_long {
    let result = threads::clone(
        function,
        stack,
        flags,
        argument,
        parent_tid,
        thread_pointer,
        child_tid,
    );
    errno::encode(result) as c_long
}

/// musl's `__unmapself`: ends the calling thread and unmaps `base..base + size` (its stack)
/// once it no longer runs there.
///
/// # Safety
///
/// The range must be the calling thread's own stack mapping, which nothing uses afterwards.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __septa_unmapself(base: usize, size: usize) -> ! {
    // SAFETY: the caller hands over its stack, as musl's pthread_exit does for a detached
    // thread.
    unsafe { threads::unmap_self(base, size) }
}

/// Serves Linux system call `number`.
pub fn call(number: c_long, arguments: &[usize; 6]) -> Result<usize> {
    // Each argument as a machine word, or as the C `int` Linux declares it to be.
    let word = |index: usize| arguments[index];
    let integer = |index: usize| arguments[index] as c_int;
    match number {
        // Time first: the calls a program makes most.
        libc::SYS_clock_gettime => time::clock_gettime(integer(0), word(1)),
        libc::SYS_gettimeofday => time::gettimeofday(word(0), word(1)),
        libc::SYS_futex => futex::futex(
            word(0),
            integer(1),
            word(2) as u32,
            word(3),
            word(4),
            word(5) as u32,
        ),

        // Descriptors. A 64-bit Linux takes a vectored call's offset whole in its first word.
        libc::SYS_read => files::read(integer(0), word(1), word(2)),
        libc::SYS_write => files::write(integer(0), word(1), word(2)),
        libc::SYS_readv => files::readv(integer(0), word(1), integer(2)),
        libc::SYS_writev => files::writev(integer(0), word(1), integer(2)),
        libc::SYS_pread64 => files::pread(integer(0), word(1), word(2), word(3) as i64),
        libc::SYS_pwrite64 => files::pwrite(integer(0), word(1), word(2), word(3) as i64),
        libc::SYS_preadv => files::preadv(integer(0), word(1), integer(2), word(3) as i64),
        libc::SYS_pwritev => files::pwritev(integer(0), word(1), integer(2), word(3) as i64),
        libc::SYS_preadv2 => files::preadv2(
            integer(0),
            word(1),
            integer(2),
            word(3) as i64,
            word(5) as u32,
        ),
        libc::SYS_pwritev2 => files::pwritev2(
            integer(0),
            word(1),
            integer(2),
            word(3) as i64,
            word(5) as u32,
        ),
        libc::SYS_lseek => files::lseek(integer(0), word(1) as i64, integer(2)),
        libc::SYS_close => files::close(integer(0)),
        libc::SYS_close_range => files::close_range(word(0) as u32, word(1) as u32, word(2) as u32),
        libc::SYS_dup => files::dup(integer(0)),
        libc::SYS_dup3 => files::dup3(integer(0), integer(1), integer(2)),
        libc::SYS_fcntl => files::fcntl(integer(0), integer(1), word(2)),
        libc::SYS_ioctl => files::ioctl(integer(0), word(1) as u64, word(2)),
        libc::SYS_fstat => files::fstat(integer(0), word(1)),
        libc::SYS_getdents64 => files::getdents(integer(0), word(1), word(2), Format::Modern),
        libc::SYS_fsync | libc::SYS_fdatasync => files::sync(integer(0)),
        libc::SYS_ftruncate => files::ftruncate(integer(0), word(1) as i64),
        libc::SYS_fallocate => {
            files::fallocate(integer(0), integer(1), word(2) as i64, word(3) as i64)
        }
        libc::SYS_fadvise64 => files::fadvise(integer(0), integer(3)),
        libc::SYS_ppoll => time::timespec_timeout(word(2))
            .and_then(|timeout| files::poll(word(0), word(1), timeout)),
        libc::SYS_pselect6 => time::timespec_timeout(word(4))
            .and_then(|timeout| files::select(integer(0), word(1), word(2), word(3), timeout)),

        // Paths.
        libc::SYS_openat => paths::open_at(integer(0), word(1), integer(2), word(3) as u32),
        libc::SYS_openat2 => paths::open_at2(integer(0), word(1), word(2), word(3)),
        libc::SYS_newfstatat => paths::stat_at(integer(0), word(1), word(2), integer(3)),
        libc::SYS_statx => paths::statx(integer(0), word(1), integer(2), word(3) as u32, word(4)),
        libc::SYS_faccessat => paths::access_at(integer(0), word(1), integer(2), 0),
        libc::SYS_faccessat2 => paths::access_at(integer(0), word(1), integer(2), integer(3)),
        libc::SYS_mkdirat => paths::mkdir_at(integer(0), word(1), word(2) as u32),
        libc::SYS_unlinkat => paths::unlink_at(integer(0), word(1), integer(2)),
        libc::SYS_readlinkat => paths::readlink_at(integer(0), word(1), word(2), word(3)),
        libc::SYS_fchmodat | libc::SYS_mknodat => paths::path_call(integer(0), word(1), 0),
        libc::SYS_fchownat => paths::path_call(integer(0), word(1), integer(4)),
        libc::SYS_utimensat => paths::utimens_at(integer(0), word(1), word(2), integer(3)),
        libc::SYS_truncate => paths::truncate(word(0), word(1) as i64),
        libc::SYS_statfs | libc::SYS_chroot => paths::path_call(libc::AT_FDCWD, word(0), 0),
        libc::SYS_renameat => paths::rename_at(integer(0), word(1), integer(2), word(3), 0),
        libc::SYS_renameat2 => {
            paths::rename_at(integer(0), word(1), integer(2), word(3), word(4) as u32)
        }
        libc::SYS_linkat => paths::two_path_call(integer(0), word(1), integer(2), word(3)),
        libc::SYS_symlinkat => paths::symlink_at(word(0), integer(1), word(2)),
        libc::SYS_chdir => paths::chdir(word(0)),
        libc::SYS_fchdir => paths::fchdir(integer(0)),
        libc::SYS_getcwd => paths::getcwd(word(0), word(1)),

        // Sockets.
        libc::SYS_socket => sockets::socket(integer(0), integer(1), integer(2)),
        libc::SYS_socketpair => sockets::socketpair(integer(0), integer(1), integer(2), word(3)),
        libc::SYS_bind
        | libc::SYS_connect
        | libc::SYS_listen
        | libc::SYS_accept
        | libc::SYS_accept4
        | libc::SYS_getsockname
        | libc::SYS_getpeername
        | libc::SYS_sendto
        | libc::SYS_recvfrom
        | libc::SYS_sendmsg
        | libc::SYS_recvmsg
        | libc::SYS_sendmmsg
        | libc::SYS_recvmmsg
        | libc::SYS_setsockopt
        | libc::SYS_getsockopt
        | libc::SYS_shutdown => sockets::on_descriptor(integer(0)),

        // Memory.
        libc::SYS_mmap => memory::map(
            word(0),
            word(1),
            integer(2),
            integer(3),
            integer(4),
            word(5) as i64,
        ),
        libc::SYS_munmap => memory::unmap(word(0), word(1)),
        libc::SYS_mprotect => memory::protect(word(0), word(1), integer(2)),
        libc::SYS_madvise => memory::advise(word(0), word(1), integer(2)),
        libc::SYS_mremap => memory::remap(word(0), word(1), word(2), integer(3), word(4)),
        libc::SYS_brk => memory::set_break(word(0)),
        // Memory is always resident (no paging) and anonymous (nothing to write back).
        libc::SYS_mlock
        | libc::SYS_munlock
        | libc::SYS_mlock2
        | libc::SYS_mlockall
        | libc::SYS_munlockall
        | libc::SYS_msync => Ok(0),

        // Time.
        libc::SYS_clock_getres => time::clock_getres(integer(0), word(1)),
        libc::SYS_clock_settime | libc::SYS_settimeofday => time::clock_settime(),
        libc::SYS_nanosleep => time::nanosleep(word(0), word(1)),
        libc::SYS_clock_nanosleep => {
            time::clock_nanosleep(integer(0), integer(1), word(2), word(3))
        }
        libc::SYS_sched_yield => {
            kernel::yield_now();
            Ok(0)
        }
        libc::SYS_times => time::times(word(0)),
        libc::SYS_getrusage => time::getrusage(integer(0), word(1)),
        libc::SYS_getrandom => random::getrandom(word(0), word(1), word(2) as u32),

        // Identity and limits.
        libc::SYS_getpid => identity::getpid(),
        libc::SYS_getppid => identity::getppid(),
        libc::SYS_gettid => threads::gettid(),
        libc::SYS_getuid | libc::SYS_geteuid | libc::SYS_getgid | libc::SYS_getegid => {
            identity::root()
        }
        libc::SYS_getresuid | libc::SYS_getresgid => {
            identity::real_effective_saved(word(0), word(1), word(2))
        }
        libc::SYS_getgroups => identity::getgroups(integer(0), word(1)),
        libc::SYS_getpgid | libc::SYS_getsid => identity::process_group(integer(0)),
        libc::SYS_setpgid => identity::process_group(integer(0))
            .and_then(|_| identity::process_group(integer(1)).map(|_| 0)),
        libc::SYS_setsid => Err(Errno::EPERM),
        libc::SYS_setuid | libc::SYS_setgid => identity::set_identity(&arguments[..1]),
        // These return the previous file-system id, which is root's, and never fail.
        libc::SYS_setfsuid | libc::SYS_setfsgid => Ok(0),
        libc::SYS_setreuid | libc::SYS_setregid => identity::set_identity(&arguments[..2]),
        libc::SYS_setresuid | libc::SYS_setresgid => identity::set_identity(&arguments[..3]),
        libc::SYS_setgroups if word(0) == 0 => Ok(0),
        libc::SYS_setgroups => Err(Errno::EPERM),
        libc::SYS_uname => identity::uname(word(0)),
        libc::SYS_sched_getaffinity => identity::get_affinity(integer(0), word(1), word(2)),
        libc::SYS_sched_setaffinity => identity::set_affinity(integer(0), word(1), word(2)),
        libc::SYS_getcpu => identity::getcpu(word(0), word(1)),
        libc::SYS_prlimit64 => identity::prlimit(integer(0), word(1) as u32, word(2), word(3)),
        libc::SYS_getrlimit => identity::prlimit(0, word(0) as u32, 0, word(1)),
        libc::SYS_setrlimit => identity::prlimit(0, word(0) as u32, word(1), 0),
        libc::SYS_umask => identity::umask(word(0) as u32),
        libc::SYS_prctl => identity::prctl(integer(0), word(1), &arguments[2..]),

        // Signals.
        libc::SYS_rt_sigaction => signals::action(integer(0), word(1), word(2), word(3)),
        libc::SYS_rt_sigprocmask => signals::mask(integer(0), word(1), word(2), word(3)),
        libc::SYS_rt_sigpending => signals::pending(word(0), word(1)),
        libc::SYS_rt_sigsuspend => signals::suspend(word(0), word(1)),
        libc::SYS_rt_sigtimedwait => signals::timed_wait(word(0), word(1), word(2), word(3)),
        libc::SYS_sigaltstack => signals::alternate_stack(word(0), word(1)),
        libc::SYS_kill => signals::kill(integer(0), integer(1)),
        libc::SYS_tkill => signals::thread_kill(integer(0), integer(1)),
        libc::SYS_tgkill => signals::group_thread_kill(integer(0), integer(1), integer(2)),

        // Threads and exit.
        libc::SYS_set_tid_address => threads::set_tid_address(word(0)),
        // The kernel never ends a single thread from outside, so a robust list is only walked
        // by musl itself, in pthread_exit: nothing for libposix to keep.
        libc::SYS_set_robust_list if word(1) == 3 * core::mem::size_of::<usize>() => Ok(0),
        libc::SYS_set_robust_list => Err(Errno::EINVAL),
        libc::SYS_exit => threads::exit_thread(),
        libc::SYS_exit_group => threads::exit_group(integer(0)),

        _ => arch::legacy_call(number, arguments).unwrap_or(Err(Errno::ENOSYS)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fake;

    fn system_call(number: c_long, arguments: [usize; 6]) -> c_long {
        let [first, second, third, fourth, fifth, sixth] =
            arguments.map(|argument| argument as c_long);
        __septa_syscall(number, first, second, third, fourth, fifth, sixth)
    }

    #[test]
    fn results_come_back_as_raw_words() {
        fake::take_console();
        let text = b"through musl\n";
        assert_eq!(
            system_call(
                libc::SYS_write,
                [1, text.as_ptr() as usize, text.len(), 0, 0, 0]
            ),
            text.len() as c_long
        );
        assert_eq!(fake::take_console(), text);
        assert_eq!(
            system_call(libc::SYS_write, [77, 0, 0, 0, 0, 0]),
            -(libc::EBADF as c_long)
        );
        assert_eq!(system_call(libc::SYS_getppid, [0; 6]), 0);
    }

    #[test]
    fn unknown_calls_are_enosys_and_counted() {
        let before = unsupported::counted(libc::SYS_vmsplice);
        assert_eq!(
            system_call(libc::SYS_vmsplice, [0; 6]),
            -(libc::ENOSYS as c_long)
        );
        assert_eq!(
            system_call(libc::SYS_vmsplice, [0; 6]),
            -(libc::ENOSYS as c_long)
        );
        assert_eq!(unsupported::counted(libc::SYS_vmsplice), before + 2);
        assert_eq!(
            system_call(libc::SYS_execve, [0; 6]),
            -(libc::ENOSYS as c_long)
        );
    }

    #[test]
    fn the_clock_reads_through_the_dispatcher() {
        let mut time = crate::time::timespec(0);
        let pointer = &mut time as *mut libc::timespec as usize;
        assert_eq!(
            system_call(libc::SYS_clock_gettime, [1, pointer, 0, 0, 0, 0]),
            0
        );
        let earlier = crate::time::nanoseconds(&time).unwrap();
        assert_eq!(
            system_call(libc::SYS_clock_gettime, [0, pointer, 0, 0, 0, 0]),
            0
        );
        assert!(crate::time::nanoseconds(&time).unwrap() >= earlier);
        assert_eq!(
            system_call(libc::SYS_clock_gettime, [99, pointer, 0, 0, 0, 0]),
            -(libc::EINVAL as c_long)
        );
    }
}
