//! The early console: the 16550 UART at I/O port 0x3f8, polled.

use core::arch::asm;

const PORT: u16 = 0x3f8;

fn out_byte(port: u16, value: u8) {
    // SAFETY: the UART's ports are owned by the kernel; writing them has no memory effects.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack)) };
}

fn in_byte(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as for `out_byte`.
    unsafe { asm!("in al, dx", in("dx") port, out("al") value, options(nomem, nostack)) };
    value
}

/// Sets 115200 baud, 8N1, FIFOs on, interrupts off.
pub fn initialise() {
    out_byte(PORT + 1, 0x00);
    out_byte(PORT + 3, 0x80);
    out_byte(PORT, 0x01);
    out_byte(PORT + 1, 0x00);
    out_byte(PORT + 3, 0x03);
    out_byte(PORT + 2, 0xc7);
    out_byte(PORT + 4, 0x03);
}

/// Writes bytes, translating `\n` to `\r\n`.
pub fn write(bytes: &[u8]) {
    for &byte in bytes {
        if byte == b'\n' {
            write_byte(b'\r');
        }
        write_byte(byte);
    }
}

fn write_byte(byte: u8) {
    while in_byte(PORT + 5) & 0x20 == 0 {}
    out_byte(PORT, byte);
}

/// Powers the machine off with `status` through QEMU's `isa-debug-exit` device at port 0xf4
/// (QEMU then exits with `(status << 1) | 1`).
pub fn power_off(status: u8) -> ! {
    out_byte(0xf4, status);
    loop {
        // SAFETY: with interrupts masked, `hlt` stops the processor for good; only reached
        // when the machine has no exit device.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) };
    }
}

/// Masks both legacy 8259 interrupt controllers; the kernel uses the local APIC only.
pub fn mask_legacy_interrupt_controllers() {
    out_byte(0x21, 0xff);
    out_byte(0xa1, 0xff);
}
