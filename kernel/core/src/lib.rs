//! The kernel's pure logic: capability tables, scheduling queues, frame accounting, ELF
//! validation, page-table walks and virtio-mmio transport discovery.
//!
//! Everything here is ordinary safe Rust with no hardware access, so it runs under `cargo test`
//! on the host (the pattern of Hubris's `kerncore`). The kernel binary wraps these types with
//! the architecture-bound parts.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod capability;
pub mod device;
pub mod executable;
pub mod frames;
pub mod page_table;
pub mod scheduler;
