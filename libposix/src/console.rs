//! The kernel console: whole writes of a program's bytes, and a formatter for libposix's own
//! lines (panics, the unsupported-call report, fatal signals).

use crate::errno::{Errno, Result};
use crate::kernel;

/// Writes all of `bytes` (the kernel takes at most a page per call); returns how many were
/// written, which is less than asked only when the kernel refused part of the buffer.
pub fn write_all(bytes: &[u8]) -> Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match kernel::console_write(&bytes[written..]) {
            Ok(0) => break,
            Ok(count) => written += count,
            Err(error) if written == 0 => return Err(Errno::from(error)),
            Err(_) => break,
        }
    }
    Ok(written)
}

/// A `core::fmt::Write` sink for libposix's own console lines, buffered so that one line goes
/// out in one kernel call where it fits.
pub struct Writer {
    buffer: [u8; 256],
    length: usize,
}

impl Writer {
    /// An empty writer.
    pub const fn new() -> Writer {
        Writer {
            buffer: [0; 256],
            length: 0,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        let _ = write_all(&self.buffer[..self.length]);
        self.length = 0;
    }
}

impl Default for Writer {
    fn default() -> Writer {
        Writer::new()
    }
}

impl core::fmt::Write for Writer {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for byte in text.bytes() {
            if self.length == self.buffer.len() {
                self.flush();
            }
            self.buffer[self.length] = byte;
            self.length += 1;
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fake;
    use core::fmt::Write;

    #[test]
    fn long_writes_go_out_whole() {
        let bytes = std::vec![b'x'; 10_000];
        fake::take_console();
        assert_eq!(write_all(&bytes), Ok(10_000));
        assert_eq!(fake::take_console(), bytes);
    }

    #[test]
    fn the_writer_formats_and_flushes() {
        fake::take_console();
        {
            let mut writer = Writer::new();
            write!(writer, "[libposix] value {}", 42).unwrap();
            for _ in 0..100 {
                writer.write_str("abc").unwrap();
            }
        }
        let text = fake::take_console();
        assert!(text.starts_with(b"[libposix] value 42abc"));
        assert_eq!(text.len(), "[libposix] value 42".len() + 300);
    }
}
