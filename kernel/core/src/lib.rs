//! The kernel's pure logic: capability tables, scheduling queues and frame accounting, host-tested.
#![no_std]
#![forbid(unsafe_code)]
