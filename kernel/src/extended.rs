//! Per-thread state beyond the trap frame: floating-point/vector registers and the thread
//! pointer, switched with the thread.
//!
//! The kernel is built soft-float and never touches FP/SIMD registers, so they hold whichever
//! user thread used them last. A thread gets a save area only when it first uses them: until
//! then the access traps (x86_64: `CR0.TS` and #NM; aarch64: `CPACR_EL1.FPEN`, class 0x07)
//! and [`enable_floating_point`] gives the thread a clean area. On a switch the previous
//! thread's registers are saved and the next thread's loaded; a thread that never used them
//! gets clean registers (so nothing of another entity stays readable, even speculatively) and
//! the trap armed. Servers that never use floating point pay nothing on their IPC path. The
//! architecture supplies the register area, its save and restore, the trap switch and the
//! thread pointer (`arch::extended`).

use crate::arch::extended::{self as architecture, FloatingPoint, ThreadPointer};
use alloc::boxed::Box;
use core::sync::atomic::{AtomicBool, Ordering};

/// A thread's extended state.
#[derive(Default)]
pub struct Extended {
    /// Saved registers, once the thread has used them.
    floating_point: Option<Box<FloatingPoint>>,
    /// The thread pointer, where the architecture keeps it outside the trap frame.
    pub thread_pointer: ThreadPointer,
}

/// Whether the registers hold some thread's values (not the clean state).
static DIRTY: AtomicBool = AtomicBool::new(false);

/// Saves the registers of the thread that owned them.
pub fn save(extended: &mut Extended) {
    if let Some(area) = extended.floating_point.as_deref_mut() {
        architecture::save_registers(area);
    }
}

/// Loads `extended` for the thread about to run.
pub fn load(extended: &Extended) {
    architecture::load_thread_pointer(&extended.thread_pointer);
    match extended.floating_point.as_deref() {
        Some(area) => {
            architecture::restore_registers(area);
            DIRTY.store(true, Ordering::Relaxed);
        }
        None => {
            if DIRTY.swap(false, Ordering::Relaxed) {
                architecture::restore_registers(&architecture::CLEAN_AREA);
            }
            architecture::set_trapping(true);
        }
    }
}

/// Gives the current thread a clean register area on its first FP/SIMD instruction. Fails
/// (and changes nothing) when the kernel heap is exhausted.
pub fn enable_floating_point(extended: &mut Extended) -> Result<(), ()> {
    let area = crate::memory::try_box(architecture::CLEAN).ok_or(())?;
    architecture::restore_registers(&area);
    DIRTY.store(true, Ordering::Relaxed);
    extended.floating_point = Some(area);
    Ok(())
}
