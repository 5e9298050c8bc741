//! x86_64: the `syscall` trap, the time-stamp counter, RDRAND, the thread trampoline, the Linux
//! calls only x86_64 has, and the layouts of the x86_64 musl ABI.

use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use libc::c_long;

use crate::directory_entries::Format;
use crate::errno::{Errno, Result};
use crate::{files, identity, paths, threads, time};

/// `uname`'s machine field.
pub const MACHINE: &[u8] = b"x86_64";

/// `arch_prctl` codes (asm/prctl.h).
const ARCH_SET_FS: usize = 0x1002;
const ARCH_GET_FS: usize = 0x1003;

/// Traps into the kernel: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; results in
/// rax and rdx; the instruction itself clobbers rcx and r11.
///
/// # Safety
///
/// See [`crate::kernel::call`]: the kernel accesses memory as the call documents.
#[cfg(not(test))]
#[inline(always)]
pub unsafe fn trap(number: usize, arguments: [usize; 6]) -> (isize, usize) {
    let first: isize;
    let second: usize;
    // SAFETY: `syscall` enters the kernel, which reads the argument registers, returns in
    // rax/rdx, preserves every other register (vector state included) and touches user memory
    // only as the call documents, which the caller vouches for.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number as isize => first,
            in("rdi") arguments[0],
            in("rsi") arguments[1],
            inlateout("rdx") arguments[2] => second,
            in("r10") arguments[3],
            in("r8") arguments[4],
            in("r9") arguments[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (first, second)
}

/// The time-stamp counter, readable in user mode; its rate comes from the kernel's `TIMESTAMP`.
#[inline(always)]
pub fn counter() -> u64 {
    // SAFETY: rdtsc reads a register and has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Whether the processor has RDRAND: 0 unknown, 1 no, 2 yes.
static RDRAND: AtomicU8 = AtomicU8::new(0);

fn has_rdrand() -> bool {
    match RDRAND.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            // CPUID leaf 1, ECX bit 30 (Intel SDM vol. 2A, "CPUID", feature information).
            #[allow(unused_unsafe)]
            // SAFETY: CPUID is available on every x86_64 processor and only reads.
            let leaf = unsafe { core::arch::x86_64::__cpuid(1) };
            let present = leaf.ecx & (1 << 30) != 0;
            RDRAND.store(if present { 2 } else { 1 }, Ordering::Relaxed);
            present
        }
    }
}

/// A 64-bit hardware random number, or `None` when RDRAND is missing or keeps failing (Intel
/// recommends retrying ten times: "Intel Digital Random Number Generator Software
/// Implementation Guide", 5.2.1).
pub fn random_word() -> Option<u64> {
    if !has_rdrand() {
        return None;
    }
    for _ in 0..10 {
        let value: u64;
        let success: u8;
        // SAFETY: RDRAND is present (checked above); it writes one register and the carry flag.
        unsafe {
            core::arch::asm!(
                "rdrand {value}",
                "setc {success}",
                value = out(reg) value,
                success = out(reg_byte) success,
                options(nomem, nostack),
            );
        }
        if success != 0 {
            return Some(value);
        }
    }
    None
}

/// Whether any thread of the entity has set its thread pointer (before that, FS base is 0 and
/// `%fs:0` must not be read).
static THREAD_POINTER_SET: AtomicBool = AtomicBool::new(false);

/// The calling thread's thread pointer, or 0 before the program has set one.
///
/// The x86_64 ELF TLS ABI (variant II) keeps the thread pointer itself in the first word of
/// the thread control block, so `%fs:0` reads it without privileged instructions.
pub fn thread_pointer() -> usize {
    if !THREAD_POINTER_SET.load(Ordering::Acquire) {
        return 0;
    }
    let value: usize;
    // SAFETY: once a thread pointer has been set, every thread has one (new threads get one
    // from `clone`, inherited when not given) and the TLS ABI keeps its self-pointer at %fs:0.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) value, options(nostack, readonly, preserves_flags));
    }
    value
}

/// Sets the calling thread's thread pointer (FS base) through the kernel.
///
/// # Safety
///
/// Code reading thread-local storage must find the new value valid.
pub unsafe fn set_thread_pointer(value: usize) -> Result<usize> {
    // SAFETY: the caller upholds the contract.
    unsafe { crate::kernel::thread_pointer_set(value) }?;
    THREAD_POINTER_SET.store(true, Ordering::Release);
    Ok(0)
}

/// Records that a thread was created with a thread pointer (so `%fs:0` is readable).
pub fn note_thread_pointer(value: usize) {
    if value != 0 {
        THREAD_POINTER_SET.store(true, Ordering::Release);
    }
}

/// Where a new thread starts: the kernel enters with the stack pointer at the start record
/// (16-byte aligned) and its address in rdi. The frame pointer is zeroed so that unwinders
/// stop here, and `call` leaves the stack as the SysV ABI expects at a function's entry.
#[cfg(not(test))]
#[unsafe(naked)]
unsafe extern "C" fn thread_entry_code() -> ! {
    core::arch::naked_asm!(
        "xor ebp, ebp",
        "call {start}",
        "ud2",
        start = sym crate::threads::thread_start,
    )
}

/// The address of the thread trampoline, for `THREAD_CREATE`.
#[cfg(not(test))]
pub fn thread_entry() -> usize {
    thread_entry_code as *const () as usize
}

/// The Linux calls that exist only on x86_64 (the older, non-`at` forms), served by the generic
/// backends; `None` for numbers this architecture does not add.
pub fn legacy_call(number: c_long, arguments: &[usize; 6]) -> Option<Result<usize>> {
    let word = |index: usize| arguments[index];
    let here = libc::AT_FDCWD;
    Some(match number {
        libc::SYS_open => paths::open_at(here, word(0), word(1) as i32, word(2) as u32),
        libc::SYS_creat => paths::open_at(
            here,
            word(0),
            libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
            word(1) as u32,
        ),
        libc::SYS_stat => paths::stat_at(here, word(0), word(1), 0),
        libc::SYS_lstat => paths::stat_at(here, word(0), word(1), libc::AT_SYMLINK_NOFOLLOW),
        libc::SYS_access => paths::access_at(here, word(0), word(1) as i32, 0),
        libc::SYS_mkdir => paths::mkdir_at(here, word(0), word(1) as u32),
        libc::SYS_rmdir => paths::unlink_at(here, word(0), libc::AT_REMOVEDIR),
        libc::SYS_unlink => paths::unlink_at(here, word(0), 0),
        libc::SYS_readlink => paths::readlink_at(here, word(0), word(1), word(2)),
        libc::SYS_chmod | libc::SYS_chown | libc::SYS_lchown | libc::SYS_mknod => {
            paths::path_call(here, word(0), 0)
        }
        libc::SYS_utime => paths::utime(word(0), word(1)),
        libc::SYS_utimes => paths::utimes_at(here, word(0), word(1)),
        libc::SYS_futimesat => paths::utimes_at(word(0) as i32, word(1), word(2)),
        libc::SYS_rename => paths::rename_at(here, word(0), here, word(1), 0),
        libc::SYS_link => paths::two_path_call(here, word(0), here, word(1)),
        libc::SYS_symlink => paths::symlink_at(word(0), here, word(1)),
        libc::SYS_poll => files::poll(word(0), word(1), time::milliseconds_timeout(word(2) as i32)),
        libc::SYS_select => match time::timeval_timeout(word(4)) {
            Ok(timeout) => files::select(word(0) as i32, word(1), word(2), word(3), timeout),
            Err(error) => Err(error),
        },
        libc::SYS_dup2 => files::dup2(word(0) as i32, word(1) as i32),
        libc::SYS_getdents => files::getdents(word(0) as i32, word(1), word(2), Format::Legacy),
        libc::SYS_time => time::time(word(0)),
        libc::SYS_getpgrp => identity::getpid(),
        libc::SYS_arch_prctl => match word(0) {
            // SAFETY: the program asks for this thread pointer, as on Linux.
            ARCH_SET_FS => unsafe { threads::set_thread_pointer(word(1)) },
            ARCH_GET_FS => crate::user::write(word(1) as *mut usize, thread_pointer()).map(|()| 0),
            _ => Err(Errno::EINVAL),
        },
        _ => return None,
    })
}

/// Names of the x86_64-only calls, for the unsupported-call report.
pub const LEGACY_NAMES: &[(c_long, &str)] = &[
    (libc::SYS_open, "open"),
    (libc::SYS_stat, "stat"),
    (libc::SYS_lstat, "lstat"),
    (libc::SYS_poll, "poll"),
    (libc::SYS_access, "access"),
    (libc::SYS_pipe, "pipe"),
    (libc::SYS_select, "select"),
    (libc::SYS_dup2, "dup2"),
    (libc::SYS_pause, "pause"),
    (libc::SYS_alarm, "alarm"),
    (libc::SYS_fork, "fork"),
    (libc::SYS_vfork, "vfork"),
    (libc::SYS_getdents, "getdents"),
    (libc::SYS_rename, "rename"),
    (libc::SYS_mkdir, "mkdir"),
    (libc::SYS_rmdir, "rmdir"),
    (libc::SYS_creat, "creat"),
    (libc::SYS_link, "link"),
    (libc::SYS_unlink, "unlink"),
    (libc::SYS_symlink, "symlink"),
    (libc::SYS_readlink, "readlink"),
    (libc::SYS_chmod, "chmod"),
    (libc::SYS_chown, "chown"),
    (libc::SYS_lchown, "lchown"),
    (libc::SYS_mknod, "mknod"),
    (libc::SYS_uselib, "uselib"),
    (libc::SYS_arch_prctl, "arch_prctl"),
    (libc::SYS_set_thread_area, "set_thread_area"),
    (libc::SYS_get_thread_area, "get_thread_area"),
    (libc::SYS_time, "time"),
    (libc::SYS_utime, "utime"),
    (libc::SYS_utimes, "utimes"),
    (libc::SYS_futimesat, "futimesat"),
    (libc::SYS_getpgrp, "getpgrp"),
    (libc::SYS_epoll_create, "epoll_create"),
    (libc::SYS_epoll_wait, "epoll_wait"),
    (libc::SYS_inotify_init, "inotify_init"),
    (libc::SYS_signalfd, "signalfd"),
    (libc::SYS_eventfd, "eventfd"),
    (libc::SYS_sysfs, "sysfs"),
    (libc::SYS_ustat, "ustat"),
    (libc::SYS_iopl, "iopl"),
    (libc::SYS_ioperm, "ioperm"),
    (libc::SYS_modify_ldt, "modify_ldt"),
];

/// The layout of `struct stat`, the one structure libposix writes whose layout differs between
/// architectures, checked against the x86_64 musl ABI (arch/x86_64/bits/stat.h); the rest
/// are checked once, in `abi.rs`.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<libc::stat>() == 144);
    assert!(offset_of!(libc::stat, st_ino) == 8);
    assert!(offset_of!(libc::stat, st_nlink) == 16);
    assert!(offset_of!(libc::stat, st_mode) == 24);
    assert!(offset_of!(libc::stat, st_uid) == 28);
    assert!(offset_of!(libc::stat, st_rdev) == 40);
    assert!(offset_of!(libc::stat, st_size) == 48);
    assert!(offset_of!(libc::stat, st_blksize) == 56);
    assert!(offset_of!(libc::stat, st_blocks) == 64);
    assert!(offset_of!(libc::stat, st_atime) == 72);
    assert!(offset_of!(libc::stat, st_mtime) == 88);
    assert!(offset_of!(libc::stat, st_ctime) == 104);
};
