//! Architecture selection: exactly one architecture module is compiled in.
//!
//! Each module offers the same surface to the portable kernel: `NAME`, `ELF_MACHINE`, `Context`
//! (the saved user registers, with system-call accessors), `Fault`, `initialise_late`,
//! `power_off`, and the modules `cpu` (entry to user mode, idling, the counter, instruction
//! cache upkeep), `extended` (floating-point registers and thread pointer, switched per thread), `paging` (per-entity roots, user mappings, the direct map), `serial` (the
//! console) and `timer` (the tick and the clock).

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use self::aarch64::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("Septa's kernel supports x86_64 and aarch64");
