//! aarch64: `_start` and the `svc` instruction.

use core::arch::{asm, global_asm};

global_asm!(
    ".global _start",
    "_start:",
    "    mov x29, #0",
    "    mov x30, #0",
    "    bl {start}",
    "    udf #0",
    start = sym crate::runtime_start,
);

/// Makes a system call with up to five arguments; returns the two result words.
#[inline(always)]
pub fn system_call(number: usize, arguments: [u64; 5]) -> (isize, u64) {
    let first: isize;
    let second: u64;
    // SAFETY: `svc` enters the kernel, which reads x8 and x0..x4, returns in x0 and x1 and
    // preserves every other register; user memory is accessed by the kernel only as each call
    // documents.
    unsafe {
        asm!(
            "svc #0",
            in("x8") number,
            inlateout("x0") arguments[0] => first,
            inlateout("x1") arguments[1] => second,
            in("x2") arguments[2],
            in("x3") arguments[3],
            in("x4") arguments[4],
            options(nostack),
        );
    }
    (first, second)
}

/// Reads the virtual counter (EL0 may read it).
#[inline(always)]
pub fn timestamp() -> u64 {
    let value: u64;
    // SAFETY: reading the counter has no side effects.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack)) };
    value
}

/// Runs a register-only loop of exactly `2 * count` instructions (`subs; b.ne`), to calibrate
/// instruction counts in benchmarks.
#[inline(never)]
pub fn instruction_loop(count: u64) {
    if count == 0 {
        return;
    }
    // SAFETY: touches only the one register it is given; no memory, no stack.
    unsafe {
        asm!("2:", "subs {counter}, {counter}, #1", "b.ne 2b",
            counter = inout(reg) count => _, options(nomem, nostack));
    }
}

global_asm!(
    ".global septa_runtime_thread_exit_stub",
    "septa_runtime_thread_exit_stub:",
    "    mov x8, #{thread_exit}",
    "    mov x0, #0",
    "    mov x1, #0",
    "    svc #0",
    "    udf #0",
    thread_exit = const septa_abi::syscall::THREAD_EXIT,
);
