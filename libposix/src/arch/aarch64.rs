//! aarch64: the `svc` trap, the virtual counter, RNDR, the thread trampoline and the layouts
//! of the aarch64 musl ABI. aarch64 has only the generic Linux calls, so it adds none.

use libc::c_long;

use crate::errno::Result;

/// `uname`'s machine field.
pub const MACHINE: &[u8] = b"aarch64";

/// Traps into the kernel: number in x8, arguments in x0..x5, results in x0 and x1.
///
/// # Safety
///
/// See [`crate::kernel::call`]: the kernel accesses memory as the call documents.
#[cfg(not(test))]
#[inline(always)]
pub unsafe fn trap(number: usize, arguments: [usize; 6]) -> (isize, usize) {
    let first: isize;
    let second: usize;
    // SAFETY: `svc` enters the kernel, which reads x8 and x0..x5, returns in x0 and x1,
    // preserves every other register (FP/SIMD state included) and touches user memory only as
    // the call documents, which the caller vouches for.
    unsafe {
        core::arch::asm!(
            "svc #0",
            in("x8") number,
            inlateout("x0") arguments[0] => first,
            inlateout("x1") arguments[1] => second,
            in("x2") arguments[2],
            in("x3") arguments[3],
            in("x4") arguments[4],
            in("x5") arguments[5],
            options(nostack),
        );
    }
    (first, second)
}

/// The virtual counter (CNTVCT_EL0), which the kernel lets EL0 read (CNTKCTL_EL1.EL0VCTEN).
/// The `isb` keeps the read from being hoisted above earlier instructions (Arm ARM D12.2.2).
#[inline(always)]
pub fn counter() -> u64 {
    let value: u64;
    // SAFETY: reading the counter has no side effects.
    unsafe {
        core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}

/// A 64-bit hardware random number from RNDR (FEAT_RNG), or `None` when it keeps failing.
///
/// RNDR is tried directly: finding out whether FEAT_RNG exists means reading
/// ID_AA64ISAR0_EL1, which traps at EL0 unless the kernel emulates it (Linux does; Septa does
/// not), and Septa's kernel passes no `AT_HWCAP2`. Every machine Septa runs on (QEMU `virt`
/// with `-cpu max`) has FEAT_RNG; on one without it the instruction is undefined and the entity
/// stops with the fault, which docs/posix.md records.
pub fn random_word() -> Option<u64> {
    for _ in 0..10 {
        let value: u64;
        let success: u64;
        // SAFETY: RNDR (s3_3_c2_c4_0) writes one register and NZCV (Z set on failure).
        unsafe {
            core::arch::asm!(
                "mrs {value}, s3_3_c2_c4_0",
                "cset {success}, ne",
                value = out(reg) value,
                success = out(reg) success,
                options(nomem, nostack),
            );
        }
        if success != 0 {
            return Some(value);
        }
    }
    None
}

/// The calling thread's thread pointer (TPIDR_EL0, readable at EL0; 0 until set).
pub fn thread_pointer() -> usize {
    let value: usize;
    // SAFETY: reading TPIDR_EL0 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, tpidr_el0", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}

/// Sets the calling thread's thread pointer. EL0 may write TPIDR_EL0 itself (musl does so);
/// the kernel saves it with the thread.
///
/// # Safety
///
/// Code reading thread-local storage must find the new value valid.
pub unsafe fn set_thread_pointer(value: usize) -> Result<usize> {
    // SAFETY: the caller upholds the contract; writing TPIDR_EL0 touches no memory.
    unsafe {
        core::arch::asm!("msr tpidr_el0, {}", in(reg) value, options(nomem, nostack, preserves_flags));
    }
    Ok(0)
}

/// Records that a thread was created with a thread pointer (nothing to do: TPIDR_EL0 is always
/// readable).
pub fn note_thread_pointer(_value: usize) {}

/// Where a new thread starts: the kernel enters with sp at the start record (16-byte aligned)
/// and its address in x0. The frame pointer and link register are zeroed so that unwinders
/// stop here.
#[cfg(not(test))]
#[unsafe(naked)]
unsafe extern "C" fn thread_entry_code() -> ! {
    core::arch::naked_asm!(
        "mov x29, xzr",
        "mov x30, xzr",
        "bl {start}",
        "udf #0",
        start = sym crate::threads::thread_start,
    )
}

/// The address of the thread trampoline, for `THREAD_CREATE`.
#[cfg(not(test))]
pub fn thread_entry() -> usize {
    thread_entry_code as *const () as usize
}

/// aarch64 has no calls beyond the generic ones.
pub fn legacy_call(_number: c_long, _arguments: &[usize; 6]) -> Option<Result<usize>> {
    None
}

/// aarch64 has no calls beyond the generic ones.
pub const LEGACY_NAMES: &[(c_long, &str)] = &[];

/// The layout of `struct stat`, the one structure libposix writes whose layout differs between
/// architectures, checked against the aarch64 musl ABI (arch/aarch64/bits/stat.h); the rest
/// are checked once, in `abi.rs`.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<libc::stat>() == 128);
    assert!(offset_of!(libc::stat, st_ino) == 8);
    assert!(offset_of!(libc::stat, st_mode) == 16);
    assert!(offset_of!(libc::stat, st_nlink) == 20);
    assert!(offset_of!(libc::stat, st_uid) == 24);
    assert!(offset_of!(libc::stat, st_rdev) == 32);
    assert!(offset_of!(libc::stat, st_size) == 48);
    assert!(offset_of!(libc::stat, st_blksize) == 56);
    assert!(offset_of!(libc::stat, st_blocks) == 64);
    assert!(offset_of!(libc::stat, st_atime) == 72);
    assert!(offset_of!(libc::stat, st_mtime) == 88);
    assert!(offset_of!(libc::stat, st_ctime) == 104);
};
