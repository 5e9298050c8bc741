//! x86_64: `_start` and the `syscall` instruction.

use core::arch::{asm, global_asm};

global_asm!(
    ".global _start",
    "_start:",
    "    and rsp, -16",
    "    xor ebp, ebp",
    "    call {start}",
    "    ud2",
    start = sym crate::runtime_start,
);

/// Makes a system call with up to five arguments; returns the two result words.
#[inline(always)]
pub fn system_call(number: usize, arguments: [u64; 5]) -> (isize, u64) {
    let first: isize;
    let second: u64;
    // SAFETY: `syscall` enters the kernel, which only reads the argument registers, returns in
    // rax/rdx, and clobbers rcx and r11 (the instruction's own use); user memory is accessed by
    // the kernel only as each call documents.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") number as isize => first,
            in("rdi") arguments[0],
            in("rsi") arguments[1],
            inlateout("rdx") arguments[2] => second,
            in("r10") arguments[3],
            in("r8") arguments[4],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    (first, second)
}

/// Reads the processor's time-stamp counter (allowed in user mode).
#[inline(always)]
pub fn timestamp() -> u64 {
    // SAFETY: rdtsc has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Runs a register-only loop of exactly `2 * count` instructions (`dec; jnz`), to calibrate
/// instruction counts in benchmarks.
#[inline(never)]
pub fn instruction_loop(count: u64) {
    if count == 0 {
        return;
    }
    // SAFETY: touches only the one register it is given; no memory, no stack.
    unsafe {
        asm!("2:", "dec {counter}", "jnz 2b", counter = inout(reg) count => _, options(nomem, nostack));
    }
}

global_asm!(
    ".global septa_runtime_thread_exit_stub",
    "septa_runtime_thread_exit_stub:",
    "    mov eax, {thread_exit}",
    "    xor edi, edi",
    "    xor esi, esi",
    "    syscall",
    "    ud2",
    thread_exit = const septa_abi::syscall::THREAD_EXIT,
);
