//! The Septa kernel calls libposix makes, typed: the only module that traps into the kernel.
//!
//! Under host tests the trap is replaced by `fake`, which serves the few calls the tests
//! reach (console writes are recorded; memory calls succeed without mapping anything; IPC
//! calls go to an in-process server the test installs).

use septa_abi::{Error, decode_result, protection, syscall};

/// Makes system call `number` with six arguments and returns the two result words.
///
/// # Safety
///
/// The kernel reads and writes the caller's memory as the call's documentation says (it checks
/// that every range belongs to the entity with the needed access); the caller must not pass
/// memory that Rust code is using in a conflicting way, and calls that unmap, protect or end
/// threads must not pull memory from under live references.
#[inline(always)]
pub unsafe fn call(number: usize, arguments: [usize; 6]) -> (isize, usize) {
    #[cfg(not(test))]
    {
        // SAFETY: the caller upholds this function's contract, which is the trap's.
        unsafe { crate::arch::trap(number, arguments) }
    }
    #[cfg(test)]
    {
        fake::trap(number, arguments)
    }
}

/// A call whose only result is the first word.
#[inline(always)]
fn simple(number: usize, arguments: [usize; 6]) -> Result<usize, Error> {
    // SAFETY: used only for calls that touch no memory of the caller's (yield, sleep, notify,
    // futex wake and requeue, entity id); the kernel validates every argument.
    decode_result(unsafe { call(number, arguments) }.0)
}

/// Writes bytes to the console; returns how many were written (the kernel caps one call).
pub fn console_write(bytes: &[u8]) -> Result<usize, Error> {
    // SAFETY: the kernel only reads `bytes`, which is a live slice.
    let (word, _) = unsafe {
        call(
            syscall::CONSOLE_WRITE,
            [bytes.as_ptr() as usize, bytes.len(), 0, 0, 0, 0],
        )
    };
    decode_result(word)
}

/// Ends the entity, every thread, with `status`.
pub fn entity_exit(status: i32) -> ! {
    // SAFETY: ending the entity touches no memory; nothing runs afterwards.
    unsafe { call(syscall::ENTITY_EXIT, [status as usize, 0, 0, 0, 0, 0]) };
    unreachable_after_exit()
}

/// Ends the calling thread, then has the kernel unmap `(stack, length)` unless both are 0.
///
/// # Safety
///
/// Nothing may use the range after the thread ends; the caller runs on that stack until the
/// trap, which never returns.
pub unsafe fn thread_exit(stack: usize, length: usize) -> ! {
    // SAFETY: the caller guarantees the range is no longer needed once the thread has ended.
    unsafe { call(syscall::THREAD_EXIT, [stack, length, 0, 0, 0, 0]) };
    unreachable_after_exit()
}

#[cfg(not(test))]
fn unreachable_after_exit() -> ! {
    // The kernel never returns from an exit; if it did, spinning is the only safe answer.
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(test)]
fn unreachable_after_exit() -> ! {
    panic!("the fake kernel returned from an exit call")
}

/// Creates a thread in this entity; returns its kernel thread id.
///
/// # Safety
///
/// `entry` must be code that can run with `argument` on the stack at `stack_top`, and
/// `clear_address` (if not 0) a `u32` the kernel may zero when the thread ends.
pub unsafe fn thread_create(
    entry: usize,
    stack_top: usize,
    argument: usize,
    priority: usize,
    thread_pointer: usize,
    clear_address: usize,
) -> Result<usize, Error> {
    // SAFETY: the caller upholds the contract above; the kernel validates the addresses.
    let (word, _) = unsafe {
        call(
            syscall::THREAD_CREATE,
            [
                entry,
                stack_top,
                argument,
                priority,
                thread_pointer,
                clear_address,
            ],
        )
    };
    decode_result(word)
}

/// Sets the calling thread's clear-on-exit address and returns its kernel thread id.
///
/// # Safety
///
/// `clear_address` (if not 0) must stay a `u32` that may be zeroed when the thread ends.
pub unsafe fn thread_self(clear_address: usize) -> Result<usize, Error> {
    // SAFETY: the caller upholds the contract above.
    decode_result(unsafe { call(syscall::THREAD_SELF, [clear_address, 0, 0, 0, 0, 0]) }.0)
}

/// Sets the calling thread's thread pointer (x86_64 FS base, aarch64 TPIDR_EL0).
///
/// # Safety
///
/// Code that reads thread-local storage through the thread pointer must find it valid.
pub unsafe fn thread_pointer_set(value: usize) -> Result<usize, Error> {
    // SAFETY: the caller upholds the contract above.
    decode_result(unsafe { call(syscall::THREAD_POINTER_SET, [value, 0, 0, 0, 0, 0]) }.0)
}

/// Gives up the rest of the time slice.
pub fn yield_now() {
    let _ = simple(syscall::YIELD, [0; 6]);
}

/// Sleeps for `nanoseconds` (the kernel's timeouts are relative).
pub fn sleep(nanoseconds: u64) {
    let _ = simple(syscall::SLEEP, [nanoseconds as usize, 0, 0, 0, 0, 0]);
}

/// The calling entity's identity.
pub fn entity_id() -> Result<usize, Error> {
    simple(syscall::ENTITY_ID, [0; 6])
}

/// The processor's counter and its rate: `(ticks, ticks per second)`.
pub fn timestamp() -> (u64, u64) {
    // SAFETY: the call touches no memory.
    let (word, rate) = unsafe { call(syscall::TIMESTAMP, [0; 6]) };
    (word as u64, rate as u64)
}

/// Maps zeroed memory at `address` (never 0: libposix chooses every address).
pub fn memory_map(address: usize, length: usize, protection: usize) -> Result<usize, Error> {
    debug_assert!(address != 0);
    // SAFETY: the kernel maps fresh pages only where nothing is mapped, so no live memory
    // changes.
    decode_result(unsafe { call(syscall::MEMORY_MAP, [address, length, protection, 0, 0, 0]) }.0)
}

/// The size of the shared-memory region `handle` names, mapping nothing.
pub fn shared_memory_size(handle: u32) -> Result<usize, Error> {
    simple(syscall::SHARED_MEMORY_MAP, [handle as usize, 0, 0, 0, 0, 0])
}

/// Maps the shared-memory region `handle` names at `address`, where `length` bytes are set
/// aside for it; returns its size.
///
/// # Safety
///
/// Nothing may be mapped or in use at `address..address + length`: the caller set the range
/// aside (the kernel refuses a range with pages in it).
pub unsafe fn shared_memory_map(
    handle: u32,
    address: usize,
    length: usize,
) -> Result<usize, Error> {
    // SAFETY: the caller upholds the contract above; the kernel maps only where nothing is.
    decode_result(
        unsafe {
            call(
                syscall::SHARED_MEMORY_MAP,
                [handle as usize, address, length, 0, 0, 0],
            )
        }
        .0,
    )
}

/// Unmaps `(address, length)`; pages not mapped are skipped.
///
/// # Safety
///
/// Nothing may use the range afterwards (the program asked for it with `munmap`).
pub unsafe fn memory_unmap(address: usize, length: usize) -> Result<usize, Error> {
    // SAFETY: the caller upholds the contract above.
    decode_result(unsafe { call(syscall::MEMORY_UNMAP, [address, length, 0, 0, 0, 0]) }.0)
}

/// Changes the protection of mapped pages (`protection` 0: inaccessible, contents kept).
///
/// # Safety
///
/// Code must not rely on access the new protection removes.
pub unsafe fn memory_protect(
    address: usize,
    length: usize,
    protection: usize,
) -> Result<usize, Error> {
    // SAFETY: the caller upholds the contract above.
    decode_result(
        unsafe {
            call(
                syscall::MEMORY_PROTECT,
                [address, length, protection, 0, 0, 0],
            )
        }
        .0,
    )
}

/// Sends the whole message `request` on the endpoint `endpoint` and waits (without a timeout)
/// for the reply, written to the start of `reply`; returns the reply's length.
///
/// `request` must be one whole message, its header describing exactly its bytes, as the
/// generated clients build them: the kernel reads the header to learn how much to copy.
pub fn ipc_call(endpoint: u32, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
    if request.len() < septa_abi::MESSAGE_HEADER_SIZE {
        return Err(Error::Malformed);
    }
    // SAFETY: the kernel reads the message at `request`, which is live and as long as its
    // header says (checked by the kernel against the entity's memory all the same), and writes
    // at most `reply.len()` bytes at `reply`, a live buffer nothing else uses during the call.
    let (word, _) = unsafe {
        call(
            syscall::CALL,
            [
                endpoint as usize,
                request.as_ptr() as usize,
                reply.as_mut_ptr() as usize,
                reply.len(),
                septa_abi::TIMEOUT_NEVER as usize,
                0,
            ],
        )
    };
    decode_result(word)
}

/// Waits while the `u32` at `address` equals `expected`, at most `timeout` nanoseconds.
pub fn futex_wait(address: usize, expected: u32, timeout: u64) -> Result<usize, Error> {
    // SAFETY: the kernel only reads the `u32` at `address`, after checking it is the entity's.
    decode_result(
        unsafe {
            call(
                syscall::FUTEX_WAIT,
                [address, expected as usize, timeout as usize, 0, 0, 0],
            )
        }
        .0,
    )
}

/// Wakes up to `count` waiters at `address`; returns how many woke.
pub fn futex_wake(address: usize, count: usize) -> Result<usize, Error> {
    simple(syscall::FUTEX_WAKE, [address, count, 0, 0, 0, 0])
}

/// Wakes up to `wake` waiters at `address` and moves up to `moved` others to `target`.
pub fn futex_requeue(
    address: usize,
    wake: usize,
    target: usize,
    moved: usize,
) -> Result<usize, Error> {
    simple(syscall::FUTEX_REQUEUE, [address, wake, target, moved, 0, 0])
}

/// The kernel protection bits for Linux `PROT_*` bits (`PROT_WRITE` implies read, as on every
/// Septa page).
pub fn protection_bits(prot: i32) -> usize {
    let mut bits = 0;
    if prot & (libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC) != 0 {
        bits |= protection::READ;
    }
    if prot & libc::PROT_WRITE != 0 {
        bits |= protection::WRITE;
    }
    if prot & libc::PROT_EXEC != 0 {
        bits |= protection::EXECUTE;
    }
    bits
}

/// The stand-in kernel of host tests.
#[cfg(test)]
pub mod fake {
    use super::*;
    use std::boxed::Box;
    use std::cell::RefCell;
    use std::vec::Vec;

    /// What serves this test thread's IPC calls: `(endpoint, request, reply) -> reply length`.
    pub type Server = Box<dyn FnMut(u32, &[u8], &mut [u8]) -> Result<usize, Error>>;

    std::thread_local! {
        static CONSOLE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
        static SERVER: RefCell<Option<Server>> = RefCell::new(None);
    }

    /// What this test thread wrote to the console so far; clears it.
    pub fn take_console() -> Vec<u8> {
        CONSOLE.with(|console| core::mem::take(&mut *console.borrow_mut()))
    }

    /// Makes `server` answer this test thread's `CALL`s (none: `BadHandle`, as for a handle
    /// the entity does not hold).
    pub fn serve(server: Option<Server>) {
        SERVER.with(|slot| *slot.borrow_mut() = server);
    }

    /// The fake `CALL`: the request's length from its header, then the thread's server.
    fn ipc_call(arguments: [usize; 6]) -> (isize, usize) {
        let failure = |error: Error| (-(error as isize), 0);
        // SAFETY: `kernel::ipc_call` passes a live message at least a header long.
        let header = unsafe {
            core::slice::from_raw_parts(arguments[1] as *const u8, septa_abi::MESSAGE_HEADER_SIZE)
        };
        let header = septa_abi::MessageHeader::from_bytes(header.try_into().unwrap());
        let Some(length) = header.total_size() else {
            return failure(Error::Malformed);
        };
        // SAFETY: the message is as long as its header says (the generated encoder wrote it).
        let request = unsafe { core::slice::from_raw_parts(arguments[1] as *const u8, length) };
        // SAFETY: `kernel::ipc_call` passes its live reply buffer and that buffer's length.
        let reply =
            unsafe { core::slice::from_raw_parts_mut(arguments[2] as *mut u8, arguments[3]) };
        SERVER.with(|slot| match slot.borrow_mut().as_mut() {
            Some(server) => match server(arguments[0] as u32, request, reply) {
                Ok(length) => (length as isize, 0),
                Err(error) => failure(error),
            },
            None => failure(Error::BadHandle),
        })
    }

    /// The fake trap: the calls tests reach, answered without a kernel.
    pub fn trap(number: usize, arguments: [usize; 6]) -> (isize, usize) {
        let ok = |value: usize| (value as isize, 0);
        match number {
            syscall::CONSOLE_WRITE => {
                let length = arguments[1].min(4096);
                // SAFETY: tests pass live slices, as `console_write` does.
                let bytes =
                    unsafe { core::slice::from_raw_parts(arguments[0] as *const u8, length) };
                CONSOLE.with(|console| console.borrow_mut().extend_from_slice(bytes));
                ok(length)
            }
            syscall::YIELD => {
                std::thread::yield_now();
                ok(0)
            }
            syscall::SLEEP | syscall::MEMORY_UNMAP | syscall::MEMORY_PROTECT => ok(0),
            syscall::MEMORY_MAP => ok(arguments[0]),
            syscall::ENTITY_ID => ok(6),
            syscall::THREAD_SELF => ok(2),
            syscall::TIMESTAMP => (0, 1_000_000_000),
            syscall::FUTEX_WAKE | syscall::FUTEX_REQUEUE => ok(0),
            syscall::CALL => ipc_call(arguments),
            syscall::ENTITY_EXIT | syscall::THREAD_EXIT => {
                panic!("exit({})", arguments[0] as i32)
            }
            _ => (-(Error::NoSuchCall as isize), 0),
        }
    }
}
