//! The console, a PL011 UART found through the device tree and polled; and the power-off
//! through QEMU's semihosting `SYS_EXIT`.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// Data register.
const DATA: u64 = 0x00;
/// Flag register; bit 5 is "transmit FIFO full".
const FLAGS: u64 = 0x18;
const TRANSMIT_FULL: u32 = 1 << 5;
/// Control register: UART and transmitter enabled.
const CONTROL: u64 = 0x30;
const CONTROL_ENABLE: u32 = (1 << 0) | (1 << 8) | (1 << 9);

/// Virtual address of the UART's registers; 0 until [`initialise`] (writes are dropped).
static BASE: AtomicU64 = AtomicU64::new(0);

/// Takes the UART at physical address `physical` and enables its transmitter.
pub fn initialise(physical: u64) {
    let base = super::paging::physical_to_virtual(physical);
    BASE.store(base, Ordering::Relaxed);
    // SAFETY: the device tree names this register block as a PL011, mapped as device memory in
    // the direct map.
    unsafe { core::ptr::write_volatile((base + CONTROL) as *mut u32, CONTROL_ENABLE) };
}

/// Writes bytes, translating `\n` to `\r\n`.
pub fn write(bytes: &[u8]) {
    let base = BASE.load(Ordering::Relaxed);
    if base == 0 {
        return;
    }
    for &byte in bytes {
        if byte == b'\n' {
            write_byte(base, b'\r');
        }
        write_byte(base, byte);
    }
}

fn write_byte(base: u64, byte: u8) {
    // SAFETY: `base` is the PL011's register block (see `initialise`); aligned 32-bit accesses.
    unsafe {
        while core::ptr::read_volatile((base + FLAGS) as *const u32) & TRANSMIT_FULL != 0 {}
        core::ptr::write_volatile((base + DATA) as *mut u32, byte as u32);
    }
}

/// Powers the machine off with `status`: a semihosting `SYS_EXIT` whose exit code is
/// `(status << 1) | 1`, the code QEMU's `isa-debug-exit` gives on x86_64, so the build tool reads
/// both architectures alike. QEMU accepts semihosting calls from EL1 only.
pub fn power_off(status: u8) -> ! {
    const SYS_EXIT: u64 = 0x18;
    const APPLICATION_EXIT: u64 = 0x2_0026;
    let block = [APPLICATION_EXIT, ((status as u64) << 1) | 1];
    // SAFETY: the semihosting call reads the two-word block and ends the machine; the block
    // stays alive across the call.
    unsafe {
        asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack));
    }
    loop {
        // SAFETY: with interrupts masked, waiting forever; only reached without semihosting.
        unsafe { asm!("msr daifset, #0xf", "wfi", options(nomem, nostack)) };
    }
}
