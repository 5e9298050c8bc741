//! x86_64: `ret`, and the `isa-debug-exit` port.

use core::arch::asm;

/// A return instruction (`ret`), padded with more of the same.
pub const RETURN_INSTRUCTION: [u8; 4] = [0xc3; 4];

/// Writes to QEMU's exit port 0xf4, as the kernel does to power off.
///
/// # Safety
/// Must fault: in ring 3, with IOPL 0 and no I/O permission bitmap, `out` raises a general
/// protection fault. If it did not, the machine would end.
pub unsafe fn power_off() {
    // SAFETY: see above; the caller expects to be stopped here.
    unsafe {
        asm!("out dx, al", in("dx") 0xf4u16, in("al") super::STOLEN_STATUS, options(nomem, nostack))
    };
}
