//! aarch64: `ret`, and QEMU's semihosting exit.

use core::arch::asm;

/// A return instruction (`ret`, 0xd65f03c0), little-endian.
pub const RETURN_INSTRUCTION: [u8; 4] = 0xd65f_03c0u32.to_le_bytes();

/// Makes the semihosting `SYS_EXIT` call the kernel powers off with.
///
/// # Safety
/// Must fault: QEMU honours semihosting from EL1 only, so at EL0 `hlt #0xf000` is an undefined
/// instruction. If it did not, the machine would end.
pub unsafe fn power_off() {
    const SYS_EXIT: u64 = 0x18;
    const APPLICATION_EXIT: u64 = 0x2_0026;
    let block = [APPLICATION_EXIT, ((super::STOLEN_STATUS as u64) << 1) | 1];
    // SAFETY: see above; the block outlives the call.
    unsafe { asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack)) };
}
