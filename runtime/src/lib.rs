//! The runtime for no_std Rust entities: entry point, system calls, IPC, heap.
#![no_std]
#![forbid(unsafe_code)]
