//! x86_64's part of the extended state (see `crate::extended`): the `fxsave` area of the x87
//! and SSE registers, `CR0.TS` as the first-use trap, and the FS base as thread pointer.
//!
//! `CR4.OSXSAVE` stays clear, so programs see no AVX and the 512-byte area is the whole state.

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The `fxsave` area.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct FloatingPoint([u8; 512]);

/// The state an `fninit`-ed processor has: x87 control word 0x37f, MXCSR 0x1f80.
pub const CLEAN: FloatingPoint = {
    let mut area = [0u8; 512];
    area[0] = 0x7f;
    area[1] = 0x03;
    area[24] = 0x80;
    area[25] = 0x1f;
    FloatingPoint(area)
};
/// [`CLEAN`] at a fixed address, to restore from.
pub static CLEAN_AREA: FloatingPoint = CLEAN;

/// The FS base: the thread pointer of the x86_64 TLS ABI, kept outside the trap frame.
#[derive(Clone, Copy, Default)]
pub struct ThreadPointer(u64);
/// Whether `CR0.TS` is set.
static TRAPPING: AtomicBool = AtomicBool::new(true);
/// The FS base now loaded.
static LOADED_THREAD_POINTER: AtomicU64 = AtomicU64::new(0);

const FS_BASE: u32 = 0xC000_0100;
const CR0_TASK_SWITCHED: u64 = 1 << 3;

/// Turns on SSE for user mode (`CR4.OSFXSR`, `OSXMMEXCPT`; `CR0.MP` set, `EM` clear) with
/// `CR0.TS` set, so the first use traps.
pub fn initialise() {
    // SAFETY: enabling SSE support and setting TS changes nothing the kernel relies on (it
    // executes no x87/SSE instruction).
    unsafe {
        asm!(
            "mov {scratch}, cr4",
            "or {scratch}, {cr4_bits}",
            "mov cr4, {scratch}",
            "mov {scratch}, cr0",
            "and {scratch}, {clear_emulation}",
            "or {scratch}, {cr0_bits}",
            "mov cr0, {scratch}",
            scratch = out(reg) _,
            cr4_bits = const (1u64 << 9) | (1 << 10),
            clear_emulation = const !(1u64 << 2),
            cr0_bits = const (1u64 << 1) | CR0_TASK_SWITCHED,
            options(nostack),
        );
    }
}

/// Arms (or disarms) the first-use trap.
pub fn set_trapping(trapping: bool) {
    if TRAPPING.swap(trapping, Ordering::Relaxed) == trapping {
        return;
    }
    // SAFETY: TS only decides whether x87/SSE instructions raise #NM.
    unsafe {
        if trapping {
            asm!(
                "mov {scratch}, cr0",
                "or {scratch}, {bit}",
                "mov cr0, {scratch}",
                scratch = out(reg) _,
                bit = const CR0_TASK_SWITCHED,
                options(nostack),
            );
        } else {
            asm!("clts", options(nostack, nomem));
        }
    }
}

/// Loads the registers from `area`, disarming the trap.
pub fn restore_registers(area: &FloatingPoint) {
    set_trapping(false);
    // SAFETY: the area is a valid 16-byte-aligned fxsave image (clean or saved by `save`).
    unsafe { asm!("fxrstor64 [{}]", in(reg) area, options(nostack, readonly)) };
}

/// Saves the registers into `area`; they are loaded and the trap disarmed (their thread ran
/// with them).
pub fn save_registers(area: &mut FloatingPoint) {
    // SAFETY: TS is clear while a thread owns the registers; the area is 16-byte aligned and
    // 512 bytes.
    unsafe { asm!("fxsave64 [{}]", in(reg) area, options(nostack)) };
}

/// Loads a thread's FS base when it differs from the one loaded.
pub fn load_thread_pointer(thread_pointer: &ThreadPointer) {
    if LOADED_THREAD_POINTER.swap(thread_pointer.0, Ordering::Relaxed) != thread_pointer.0 {
        write_thread_pointer(thread_pointer.0);
    }
}

/// Sets a thread's thread pointer; `running` says whether it is the thread now loaded.
pub fn set_thread_pointer(
    _context: &mut super::Context,
    thread_pointer: &mut ThreadPointer,
    value: u64,
    running: bool,
) {
    thread_pointer.0 = value;
    if running {
        LOADED_THREAD_POINTER.store(value, Ordering::Relaxed);
        write_thread_pointer(value);
    }
}

fn write_thread_pointer(value: u64) {
    // SAFETY: the FS base is used only by user code; the caller checked it is a user address.
    unsafe {
        asm!("wrmsr", in("ecx") FS_BASE, in("eax") value as u32, in("edx") (value >> 32) as u32,
            options(nostack, preserves_flags));
    }
}
