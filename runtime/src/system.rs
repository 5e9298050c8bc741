//! Thin typed wrappers over the system calls that are not IPC.

use crate::arch::system_call;
use septa_abi::{Error, decode_result, syscall};

/// Calls system call `number` and decodes the first result word.
pub fn call(number: usize, arguments: [u64; 5]) -> Result<usize, Error> {
    decode_result(system_call(number, arguments).0)
}

/// Ends the entity with `status`.
pub fn exit(status: i32) -> ! {
    let _ = call(syscall::ENTITY_EXIT, [status as u64, 0, 0, 0, 0]);
    unreachable!("the kernel does not return from exit")
}

/// Gives up the processor.
pub fn yield_now() {
    let _ = call(syscall::YIELD, [0; 5]);
}

/// Sleeps for `nanoseconds`.
pub fn sleep(nanoseconds: u64) {
    let _ = call(syscall::SLEEP, [nanoseconds, 0, 0, 0, 0]);
}

/// Nanoseconds since boot.
pub fn now() -> u64 {
    call(syscall::CLOCK, [0; 5]).unwrap_or(0) as u64
}

/// This entity's identity (its index in the system description).
pub fn entity_id() -> u32 {
    call(syscall::ENTITY_ID, [0; 5]).unwrap_or(u32::MAX as usize) as u32
}

/// Maps zeroed memory; `address` 0 lets the kernel choose.
pub fn map_memory(address: usize, length: usize, protection: usize) -> Result<usize, Error> {
    call(
        syscall::MEMORY_MAP,
        [address as u64, length as u64, protection as u64, 0, 0],
    )
}

/// Unmaps `length` bytes at `address` (both page-aligned), returning owned memory.
pub fn unmap_memory(address: usize, length: usize) -> Result<(), Error> {
    call(
        syscall::MEMORY_UNMAP,
        [address as u64, length as u64, 0, 0, 0],
    )
    .map(|_| ())
}

/// Maps a shared-memory region held by `handle` at `address`, which must have room for all of
/// it; returns its size.
pub fn map_shared_memory(handle: u32, address: usize) -> Result<usize, Error> {
    let size = call(syscall::SHARED_MEMORY_MAP, [handle as u64, 0, 0, 0, 0])?;
    call(
        syscall::SHARED_MEMORY_MAP,
        [handle as u64, address as u64, size as u64, 0, 0],
    )
}

/// Sets bits on a notification.
pub fn notify(handle: u32, bits: u64) -> Result<(), Error> {
    call(syscall::NOTIFY, [handle as u64, bits, 0, 0, 0]).map(|_| ())
}

/// Waits for bits on a notification.
pub fn wait(handle: u32, timeout: u64) -> Result<u64, Error> {
    call(syscall::WAIT, [handle as u64, timeout, 0, 0, 0]).map(|bits| bits as u64)
}

/// The raw time-stamp counter, for benchmarks.
pub fn timestamp() -> u64 {
    crate::arch::timestamp()
}

/// Executes exactly `2 * count` instructions, to calibrate instruction counts in benchmarks.
pub fn instruction_loop(count: u64) {
    crate::arch::instruction_loop(count)
}

/// Makes system call `number` with raw arguments and returns the raw result word: for tests
/// that must reach the kernel with arguments no typed wrapper would pass.
pub fn raw(number: usize, arguments: [u64; 5]) -> isize {
    crate::arch::system_call(number, arguments).0
}

/// A thread entry point that ends its thread at once without touching memory, not even its
/// stack: for tests that start threads with arbitrary stacks.
pub fn thread_exit_entry() -> u64 {
    unsafe extern "C" {
        /// Each architecture's `THREAD_EXIT` stub, in `arch/`.
        fn septa_runtime_thread_exit_stub();
    }
    septa_runtime_thread_exit_stub as *const () as u64
}
