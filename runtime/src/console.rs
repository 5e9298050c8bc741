//! Printing to the console through the kernel.

use core::fmt::Write;

/// Writes bytes to the console.
pub fn write_bytes(bytes: &[u8]) {
    for chunk in bytes.chunks(4096) {
        let _ = crate::system::call(
            septa_abi::syscall::CONSOLE_WRITE,
            [chunk.as_ptr() as u64, chunk.len() as u64, 0, 0, 0],
        );
    }
}

/// A line buffer, so each `println!` reaches the console in one system call and lines from
/// different entities do not interleave mid-line.
pub struct LineWriter {
    buffer: [u8; 512],
    length: usize,
}

impl LineWriter {
    /// An empty line.
    pub const fn new() -> Self {
        LineWriter {
            buffer: [0; 512],
            length: 0,
        }
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) {
        write_bytes(&self.buffer[..self.length]);
        self.length = 0;
    }
}

impl Default for LineWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl Write for LineWriter {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for &byte in text.as_bytes() {
            if self.length == self.buffer.len() {
                self.flush();
            }
            self.buffer[self.length] = byte;
            self.length += 1;
        }
        Ok(())
    }
}

/// Prints formatted text.
#[macro_export]
macro_rules! print {
    ($($argument:tt)*) => {{
        let mut writer = $crate::console::LineWriter::new();
        let _ = core::fmt::Write::write_fmt(&mut writer, format_args!($($argument)*));
        writer.flush();
    }};
}

/// Prints formatted text and a newline.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($argument:tt)*) => {{
        let mut writer = $crate::console::LineWriter::new();
        let _ = core::fmt::Write::write_fmt(&mut writer, format_args!($($argument)*));
        let _ = core::fmt::Write::write_str(&mut writer, "\n");
        writer.flush();
    }};
}
