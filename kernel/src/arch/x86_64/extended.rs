//! Per-thread state beyond the trap frame: the SSE/x87 registers and the FS base.
//!
//! The kernel itself never touches floating-point or vector registers (it is built
//! soft-float), so they hold whichever user thread used them last. A thread gets a save area
//! only when it first executes such an instruction: until then `CR0.TS` is set, the instruction
//! raises #NM, and [`enable_floating_point`] gives the thread a clean area. On a switch the
//! previous thread's registers are saved and the next thread's loaded; a thread that never used
//! them gets clean registers (so nothing of another entity stays readable, even speculatively)
//! and `TS` set. Servers that never use floating point pay nothing on their IPC path.
//!
//! The registers are saved with `fxsave` (x87 and SSE). `CR4.OSXSAVE` stays clear, so programs
//! see no AVX and the 512-byte area is the whole state.

use alloc::boxed::Box;
use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The `fxsave` area.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct FloatingPoint([u8; 512]);

/// The state an `fninit`-ed processor has: x87 control word 0x37f, MXCSR 0x1f80.
const CLEAN: FloatingPoint = {
    let mut area = [0u8; 512];
    area[0] = 0x7f;
    area[1] = 0x03;
    area[24] = 0x80;
    area[25] = 0x1f;
    FloatingPoint(area)
};
static CLEAN_AREA: FloatingPoint = CLEAN;

/// A thread's extended state.
#[derive(Default)]
pub struct Extended {
    /// The FS base: the thread pointer of the x86_64 TLS ABI.
    thread_pointer: u64,
    /// Saved registers, once the thread has used them.
    floating_point: Option<Box<FloatingPoint>>,
}

/// Whether the registers hold some thread's values (not the clean state).
static DIRTY: AtomicBool = AtomicBool::new(false);
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

fn set_trapping(trapping: bool) {
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

fn restore(area: &FloatingPoint) {
    set_trapping(false);
    // SAFETY: the area is a valid 16-byte-aligned fxsave image (clean or saved by `save`).
    unsafe { asm!("fxrstor64 [{}]", in(reg) area, options(nostack, readonly)) };
}

/// Saves the registers of the thread that owned them.
pub fn save(extended: &mut Extended) {
    if let Some(area) = extended.floating_point.as_deref_mut() {
        // SAFETY: the thread's registers are loaded and TS is clear (it ran with them); the
        // area is 16-byte aligned and 512 bytes.
        unsafe { asm!("fxsave64 [{}]", in(reg) area, options(nostack)) };
    }
}

/// Loads `extended` for the thread about to run.
pub fn load(extended: &Extended) {
    if LOADED_THREAD_POINTER.swap(extended.thread_pointer, Ordering::Relaxed)
        != extended.thread_pointer
    {
        write_thread_pointer(extended.thread_pointer);
    }
    match extended.floating_point.as_deref() {
        Some(area) => {
            restore(area);
            DIRTY.store(true, Ordering::Relaxed);
        }
        None => {
            if DIRTY.swap(false, Ordering::Relaxed) {
                restore(&CLEAN_AREA);
            }
            set_trapping(true);
        }
    }
}

/// Gives the current thread a clean register area on its first floating-point instruction.
/// Fails (and changes nothing) when the kernel heap is exhausted.
pub fn enable_floating_point(extended: &mut Extended) -> Result<(), ()> {
    let area = crate::memory::try_box(CLEAN).ok_or(())?;
    restore(&area);
    DIRTY.store(true, Ordering::Relaxed);
    extended.floating_point = Some(area);
    Ok(())
}

/// Sets a thread's thread pointer; `running` says whether it is the thread now loaded.
pub fn set_thread_pointer(
    _context: &mut super::Context,
    extended: &mut Extended,
    value: u64,
    running: bool,
) {
    extended.thread_pointer = value;
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
