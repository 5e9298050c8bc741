//! The processor-specific parts of the attempts: a return instruction to plant on the stack, and
//! the machine's power-off, which only the kernel may reach.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use self::aarch64::*;

/// The status a successful power-off attempt would end the machine with: anything but 0, so
/// that a broken barrier fails the test run.
pub const STOLEN_STATUS: u8 = 85;
