//! The kernel console: formatted lines to the early serial port.

use core::fmt::Write;

struct Console;

impl Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        crate::arch::serial::write(text.as_bytes());
        Ok(())
    }
}

/// Prints one line.
pub fn line(arguments: core::fmt::Arguments<'_>) {
    let _ = Console.write_fmt(arguments);
    crate::arch::serial::write(b"\n");
}

/// Prints bytes an entity wrote, unchanged.
pub fn bytes(bytes: &[u8]) {
    crate::arch::serial::write(bytes);
}
