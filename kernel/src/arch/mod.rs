//! Architecture selection: exactly one architecture module is compiled in.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("Septa's kernel supports x86_64 only so far; aarch64 is the next port");
