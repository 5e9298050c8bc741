//! Unsupported system calls: every call that ends in `ENOSYS` is counted by number, and the
//! counts are reported on the console when the entity exits, as
//! `[libposix] unsupported system calls: fork (2), 999 (1)`.

use core::fmt::Write;
use core::sync::atomic::{AtomicU32, Ordering};

use libc::c_long;

/// Numbers below this are counted one by one; the rest share the last counter.
const COUNTED_NUMBERS: usize = 512;

static COUNTS: [AtomicU32; COUNTED_NUMBERS + 1] =
    [const { AtomicU32::new(0) }; COUNTED_NUMBERS + 1];

fn slot(number: c_long) -> usize {
    usize::try_from(number)
        .ok()
        .filter(|number| *number < COUNTED_NUMBERS)
        .unwrap_or(COUNTED_NUMBERS)
}

/// Counts one unsupported call of `number`.
pub fn count(number: c_long) {
    COUNTS[slot(number)].fetch_add(1, Ordering::Relaxed);
}

/// How many unsupported calls of `number` were made.
pub fn counted(number: c_long) -> u32 {
    COUNTS[slot(number)].load(Ordering::Relaxed)
}

/// `(libc::SYS_x, "SYS_x")` for each name.
macro_rules! names {
    ($($constant:ident),* $(,)?) => {
        &[$((libc::$constant, stringify!($constant))),*]
    };
}

/// Names of the calls every architecture has (the `SYS_` prefix is dropped when printed).
const NAMES: &[(c_long, &str)] = names!(
    SYS_accept,
    SYS_accept4,
    SYS_bind,
    SYS_brk,
    SYS_chdir,
    SYS_chroot,
    SYS_clock_adjtime,
    SYS_clone,
    SYS_clone3,
    SYS_close_range,
    SYS_connect,
    SYS_copy_file_range,
    SYS_epoll_create1,
    SYS_epoll_ctl,
    SYS_epoll_pwait,
    SYS_epoll_pwait2,
    SYS_eventfd2,
    SYS_execve,
    SYS_execveat,
    SYS_fadvise64,
    SYS_fallocate,
    SYS_fanotify_init,
    SYS_fchdir,
    SYS_fchmod,
    SYS_fchown,
    SYS_flock,
    SYS_fdatasync,
    SYS_fgetxattr,
    SYS_fstatfs,
    SYS_fsync,
    SYS_ftruncate,
    SYS_futex,
    SYS_futex_waitv,
    SYS_get_robust_list,
    SYS_getcpu,
    SYS_getdents64,
    SYS_getitimer,
    SYS_getpeername,
    SYS_getpriority,
    SYS_getsockname,
    SYS_getsockopt,
    SYS_getxattr,
    SYS_inotify_add_watch,
    SYS_inotify_init1,
    SYS_io_uring_setup,
    SYS_io_setup,
    SYS_ioctl,
    SYS_ioprio_get,
    SYS_kcmp,
    SYS_kill,
    SYS_linkat,
    SYS_listen,
    SYS_lseek,
    SYS_madvise,
    SYS_membarrier,
    SYS_memfd_create,
    SYS_mincore,
    SYS_mkdirat,
    SYS_mknodat,
    SYS_mlock,
    SYS_mmap,
    SYS_mount,
    SYS_mq_open,
    SYS_mremap,
    SYS_msgget,
    SYS_msync,
    SYS_name_to_handle_at,
    SYS_newfstatat,
    SYS_openat,
    SYS_openat2,
    SYS_perf_event_open,
    SYS_personality,
    SYS_pidfd_open,
    SYS_pidfd_send_signal,
    SYS_pipe2,
    SYS_pkey_alloc,
    SYS_prctl,
    SYS_pread64,
    SYS_preadv,
    SYS_preadv2,
    SYS_process_vm_readv,
    SYS_ptrace,
    SYS_pwrite64,
    SYS_pwritev,
    SYS_pwritev2,
    SYS_readahead,
    SYS_readlinkat,
    SYS_reboot,
    SYS_recvfrom,
    SYS_recvmmsg,
    SYS_recvmsg,
    SYS_renameat,
    SYS_renameat2,
    SYS_restart_syscall,
    SYS_rseq,
    SYS_rt_sigqueueinfo,
    SYS_rt_sigreturn,
    SYS_rt_tgsigqueueinfo,
    SYS_sched_getattr,
    SYS_sched_getparam,
    SYS_sched_getscheduler,
    SYS_sched_get_priority_max,
    SYS_sched_get_priority_min,
    SYS_sched_setparam,
    SYS_sched_setscheduler,
    SYS_seccomp,
    SYS_semget,
    SYS_sendfile,
    SYS_sendmmsg,
    SYS_sendmsg,
    SYS_sendto,
    SYS_set_mempolicy,
    SYS_setgid,
    SYS_setgroups,
    SYS_sethostname,
    SYS_setitimer,
    SYS_setns,
    SYS_setpriority,
    SYS_setregid,
    SYS_setresgid,
    SYS_setresuid,
    SYS_setreuid,
    SYS_setsockopt,
    SYS_setuid,
    SYS_shmget,
    SYS_shutdown,
    SYS_signalfd4,
    SYS_socket,
    SYS_socketpair,
    SYS_splice,
    SYS_statfs,
    SYS_statx,
    SYS_symlinkat,
    SYS_sync,
    SYS_syncfs,
    SYS_sysinfo,
    SYS_syslog,
    SYS_tee,
    SYS_tgkill,
    SYS_timer_create,
    SYS_timer_settime,
    SYS_timerfd_create,
    SYS_timerfd_settime,
    SYS_tkill,
    SYS_truncate,
    SYS_umount2,
    SYS_unlinkat,
    SYS_unshare,
    SYS_userfaultfd,
    SYS_utimensat,
    SYS_vhangup,
    SYS_vmsplice,
    SYS_wait4,
    SYS_waitid,
    SYS_faccessat,
    SYS_faccessat2,
    SYS_fchmodat,
    SYS_fchownat,
    SYS_mq_unlink,
    SYS_getrusage,
);

/// The name of call `number`, where libposix knows it.
pub fn name(number: c_long) -> Option<&'static str> {
    NAMES
        .iter()
        .chain(crate::arch::LEGACY_NAMES)
        .find(|(candidate, _)| *candidate == number)
        .map(|(_, name)| name.strip_prefix("SYS_").unwrap_or(name))
}

/// Writes the report line to `output`, or nothing when no unsupported call was made.
pub fn report(output: &mut impl Write) {
    let mut first = true;
    for (index, counter) in COUNTS.iter().enumerate() {
        let count = counter.load(Ordering::Relaxed);
        if count == 0 {
            continue;
        }
        let _ = output.write_str(if first {
            "[libposix] unsupported system calls: "
        } else {
            ", "
        });
        first = false;
        let _ = match (index < COUNTED_NUMBERS).then(|| name(index as c_long)) {
            Some(Some(name)) => write!(output, "{name} ({count})"),
            Some(None) => write!(output, "{index} ({count})"),
            None => write!(output, "others ({count})"),
        };
    }
    if !first {
        let _ = output.write_str("\n");
    }
}

/// Prints the report on the console (at exit).
pub fn print_report() {
    let mut console = crate::console::Writer::new();
    report(&mut console);
    console.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    #[test]
    fn counts_by_number_and_reports_with_names() {
        // Counters are global: this test owns numbers no other test reaches.
        let before = counted(libc::SYS_vhangup);
        count(libc::SYS_vhangup);
        count(libc::SYS_vhangup);
        count(500);
        count(-4);
        assert_eq!(counted(libc::SYS_vhangup), before + 2);
        let mut line = String::new();
        report(&mut line);
        assert!(
            line.starts_with("[libposix] unsupported system calls: "),
            "{line}"
        );
        assert!(
            line.contains(&std::format!("vhangup ({})", before + 2)),
            "{line}"
        );
        assert!(line.contains("500 (1)"), "{line}");
        assert!(line.contains("others ("), "{line}");
        assert!(line.ends_with(")\n"), "{line}");
        assert_eq!(line.matches('\n').count(), 1);
    }

    #[test]
    fn names_cover_both_tables() {
        assert_eq!(name(libc::SYS_execve), Some("execve"));
        assert_eq!(name(libc::SYS_clone), Some("clone"));
        assert_eq!(name(100_000), None);
        for (number, name) in NAMES.iter().chain(crate::arch::LEGACY_NAMES) {
            assert!(*number >= 0 && !name.is_empty());
        }
    }
}
