//! aarch64's part of the extended state (see `crate::extended`): `q0`..`q31`, `fpcr` and
//! `fpsr`, `CPACR_EL1.FPEN` as the first-use trap. The thread pointer (`TPIDR_EL0`) is part of
//! the trap frame here. SVE and SME stay disabled (their instructions fault).

use core::arch::asm;
use core::sync::atomic::{AtomicBool, Ordering};

/// `q0`..`q31`, then `fpcr` and `fpsr`.
#[repr(C, align(16))]
#[derive(Clone)]
pub struct FloatingPoint {
    vectors: [u128; 32],
    control: u64,
    status: u64,
}

pub const CLEAN: FloatingPoint = FloatingPoint {
    vectors: [0; 32],
    control: 0,
    status: 0,
};
/// [`CLEAN`] at a fixed address, to restore from.
pub static CLEAN_AREA: FloatingPoint = CLEAN;

/// Nothing: the thread pointer lives in the trap frame on this architecture.
#[derive(Clone, Copy, Default)]
pub struct ThreadPointer;
/// Whether FP/SIMD access traps.
static TRAPPING: AtomicBool = AtomicBool::new(true);

/// `CPACR_EL1.FPEN`: no trapping at EL0 or EL1.
const FULL_ACCESS: u64 = 0b11 << 20;

/// Arms the trap (it is armed from reset; this makes the state explicit).
pub fn initialise() {
    TRAPPING.store(false, Ordering::Relaxed);
    set_trapping(true);
}

/// Arms (or disarms) the first-use trap.
pub fn set_trapping(trapping: bool) {
    if TRAPPING.swap(trapping, Ordering::Relaxed) == trapping {
        return;
    }
    let value = if trapping { 0 } else { FULL_ACCESS };
    // SAFETY: CPACR_EL1 only decides whether FP/SIMD instructions trap; the kernel uses none.
    unsafe { asm!("msr cpacr_el1, {}", "isb", in(reg) value, options(nostack, nomem)) };
}

/// Loads the registers from `area`, disarming the trap.
pub fn restore_registers(area: &FloatingPoint) {
    set_trapping(false);
    // SAFETY: access is enabled just above; the area is a 16-byte-aligned FloatingPoint.
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "ldp q0, q1, [{area}, #0]",
            "ldp q2, q3, [{area}, #32]",
            "ldp q4, q5, [{area}, #64]",
            "ldp q6, q7, [{area}, #96]",
            "ldp q8, q9, [{area}, #128]",
            "ldp q10, q11, [{area}, #160]",
            "ldp q12, q13, [{area}, #192]",
            "ldp q14, q15, [{area}, #224]",
            "ldp q16, q17, [{area}, #256]",
            "ldp q18, q19, [{area}, #288]",
            "ldp q20, q21, [{area}, #320]",
            "ldp q22, q23, [{area}, #352]",
            "ldp q24, q25, [{area}, #384]",
            "ldp q26, q27, [{area}, #416]",
            "ldp q28, q29, [{area}, #448]",
            "ldp q30, q31, [{area}, #480]",
            "add {scratch}, {area}, #512",
            "ldp {control}, {status}, [{scratch}]",
            "msr fpcr, {control}",
            "msr fpsr, {status}",
            area = in(reg) area,
            control = out(reg) _,
            status = out(reg) _,
            scratch = out(reg) _,
            options(nostack, readonly),
        );
    }
}

/// Saves the registers into `area`; they are loaded and the trap disarmed (their thread ran
/// with them).
pub fn save_registers(area: &mut FloatingPoint) {
    {
        // SAFETY: the thread ran with access enabled, so it still is; the area is 16-byte
        // aligned and large enough.
        unsafe {
            asm!(
                ".arch_extension fp",
                ".arch_extension simd",
                "stp q0, q1, [{area}, #0]",
                "stp q2, q3, [{area}, #32]",
                "stp q4, q5, [{area}, #64]",
                "stp q6, q7, [{area}, #96]",
                "stp q8, q9, [{area}, #128]",
                "stp q10, q11, [{area}, #160]",
                "stp q12, q13, [{area}, #192]",
                "stp q14, q15, [{area}, #224]",
                "stp q16, q17, [{area}, #256]",
                "stp q18, q19, [{area}, #288]",
                "stp q20, q21, [{area}, #320]",
                "stp q22, q23, [{area}, #352]",
                "stp q24, q25, [{area}, #384]",
                "stp q26, q27, [{area}, #416]",
                "stp q28, q29, [{area}, #448]",
                "stp q30, q31, [{area}, #480]",
                "mrs {control}, fpcr",
                "mrs {status}, fpsr",
                "add {scratch}, {area}, #512",
                "stp {control}, {status}, [{scratch}]",
                area = in(reg) area as *mut FloatingPoint,
                control = out(reg) _,
                status = out(reg) _,
                scratch = out(reg) _,
                options(nostack),
            );
        }
    }
}

/// Nothing to load: `TPIDR_EL0` is restored from the trap frame.
pub fn load_thread_pointer(_thread_pointer: &ThreadPointer) {}

/// Sets a thread's thread pointer (`TPIDR_EL0`, restored from the frame on every return).
pub fn set_thread_pointer(
    context: &mut super::Context,
    _thread_pointer: &mut ThreadPointer,
    value: u64,
    _running: bool,
) {
    context.thread_pointer = value;
}
