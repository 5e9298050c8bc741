//! Architecture selection: the trap, counter, random numbers, thread trampoline, calls only one
//! architecture has, and the ABI assertions, one module per architecture.
//!
//! Each module provides the same items: `trap` (not under host tests), `counter`,
//! `random_word`, `thread_pointer`, `set_thread_pointer`, `thread_entry` (not under host
//! tests), `MACHINE`, `legacy_call` and `LEGACY_NAMES`.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use self::aarch64::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("libposix supports x86_64 and aarch64");
