//! Septa's own C API (`include/septa/entity.h`, `include/septa/ipc.h`): the entity's identity,
//! its named handles, and raw IPC over the kernel's message format.
//!
//! Every function returns a non-negative value or a negated errno value, like the raw system
//! calls; none sets `errno` (libposix cannot reach musl's per-thread `errno`). Kernel errors
//! map to errno values as everywhere in libposix ([`crate::errno`]).

use core::ffi::{c_char, c_long, c_void};
use core::mem::{offset_of, size_of};

use septa_abi::{MessageHeader, syscall};

use crate::errno::{Errno, Result, encode};
use crate::{kernel, memory, startup, user};

// The C header's `struct septa_message_header` is this layout: both sides assert it.
const _: () = {
    assert!(size_of::<MessageHeader>() == 32);
    assert!(offset_of!(MessageHeader, interface) == 0);
    assert!(offset_of!(MessageHeader, method) == 4);
    assert!(offset_of!(MessageHeader, fixed_size) == 8);
    assert!(offset_of!(MessageHeader, arena_size) == 12);
    assert!(offset_of!(MessageHeader, handle_count) == 16);
    assert!(offset_of!(MessageHeader, status) == 20);
    assert!(offset_of!(MessageHeader, sender) == 24);
    assert!(offset_of!(MessageHeader, reserved) == 28);
};

fn word(result: Result<usize>) -> c_long {
    encode(result) as c_long
}

/// The two result words of a kernel call, the first decoded.
///
/// # Safety
///
/// As [`kernel::call`]: the pointers are the C caller's, valid as the header documents.
unsafe fn kernel_call(number: usize, arguments: [usize; 6]) -> Result<(usize, usize)> {
    // SAFETY: the caller upholds the contract above; the kernel checks every range.
    let (first, second) = unsafe { kernel::call(number, arguments) };
    septa_abi::decode_result(first)
        .map(|value| (value, second))
        .map_err(Errno::from)
}

/// `septa_entity_id`: the calling entity's identity (`getpid()` is this plus one).
#[unsafe(no_mangle)]
pub extern "C" fn septa_entity_id() -> u32 {
    match startup::block() {
        Some(block) => block.entity_id(),
        None => kernel::entity_id().unwrap_or(0) as u32,
    }
}

/// `septa_handle`: the capability the system description names `name` for this entity, or
/// `-ENOENT`.
///
/// # Safety
///
/// `name` must be a NUL-terminated string (or null, which is `-EFAULT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_handle(name: *const c_char) -> c_long {
    word(user::string(name as usize).and_then(|name| {
        startup::block()
            .and_then(|block| block.handle(name))
            .map(|handle| handle as usize)
            .ok_or(Errno::ENOENT)
    }))
}

/// `septa_shared_memory_map`: maps the shared-memory region `handle` names where libposix
/// picks, stores its address at `address` and returns its size.
///
/// # Safety
///
/// `address` must be a writable `void *` (or null, which is `-EFAULT`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_shared_memory_map(handle: u32, address: *mut *mut c_void) -> c_long {
    if address.is_null() {
        return word(Err(Errno::EFAULT));
    }
    word(memory::map_shared(handle).map(|(start, size)| {
        // SAFETY: the caller gives a writable `void *`, checked non-null above.
        unsafe { address.write(start as *mut c_void) };
        size
    }))
}

/// `septa_ipc_call`: sends the message at `request` on `endpoint` and waits up to `timeout`
/// nanoseconds for the reply, written to `reply`; returns the reply's length.
///
/// # Safety
///
/// `request` must hold a whole message (header, fixed part, arena) and `reply` must have
/// `reply_capacity` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_ipc_call(
    endpoint: u32,
    request: *const c_void,
    reply: *mut c_void,
    reply_capacity: usize,
    timeout: u64,
) -> c_long {
    let arguments = [
        endpoint as usize,
        request as usize,
        reply as usize,
        reply_capacity,
        timeout as usize,
        0,
    ];
    // SAFETY: the caller vouches for both buffers, as documented.
    word(unsafe { kernel_call(syscall::CALL, arguments) }.map(|(length, _)| length))
}

/// `septa_monitor_check`: whether the policy lets entity `source` send the request message
/// at `request` to the calling entity: 0 if so, `-EACCES` if not (the kernel prints the audit
/// line), `-EINVAL` for an unknown entity, `-EFAULT` for a bad pointer.
///
/// # Safety
///
/// `request` must hold a whole message (header, fixed part, arena).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_monitor_check(source: u32, request: *const c_void) -> c_long {
    let arguments = [source as usize, request as usize, 0, 0, 0, 0];
    // SAFETY: the kernel only reads the message, which the caller vouches for.
    word(unsafe { kernel_call(syscall::MONITOR_CHECK, arguments) }.map(|(value, _)| value))
}

/// `septa_endpoint_watch`: from now on, a receive on `endpoint` also yields the kernel's
/// message that a client ended (`septa_abi::kernel_message`); returns 0.
#[unsafe(no_mangle)]
pub extern "C" fn septa_endpoint_watch(endpoint: u32) -> c_long {
    let arguments = [endpoint as usize, 0, 0, 0, 0, 0];
    // SAFETY: the call touches no memory of the caller's.
    word(unsafe { kernel_call(syscall::ENDPOINT_WATCH, arguments) }.map(|(value, _)| value))
}

/// `septa_ipc_receive`: waits up to `timeout` nanoseconds for a request on `endpoint`, written
/// to `buffer`; stores the sender's entity id at `sender` (if not null) and returns the
/// request's length.
///
/// # Safety
///
/// `buffer` must have `capacity` writable bytes; `sender` must be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_ipc_receive(
    endpoint: u32,
    buffer: *mut c_void,
    capacity: usize,
    timeout: u64,
    sender: *mut u32,
) -> c_long {
    let arguments = [
        endpoint as usize,
        buffer as usize,
        capacity,
        timeout as usize,
        0,
        0,
    ];
    // SAFETY: the caller vouches for the buffer, as documented.
    let result = unsafe { kernel_call(syscall::RECEIVE, arguments) };
    word(result.and_then(|(from, length)| {
        user::write_optional(sender, from as u32)?;
        Ok(length)
    }))
}

/// `septa_ipc_reply`: replies with the message at `reply` to the request this thread last
/// received.
///
/// # Safety
///
/// `reply` must hold a whole message.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_ipc_reply(reply: *const c_void) -> c_long {
    // SAFETY: the caller vouches for the message, as documented.
    word(unsafe { kernel_call(syscall::REPLY, [reply as usize, 0, 0, 0, 0, 0]) }.map(|_| 0))
}

/// `septa_ipc_reply_receive`: replies, then waits for the next request, in one kernel call;
/// results as `septa_ipc_receive`.
///
/// # Safety
///
/// As `septa_ipc_reply` and `septa_ipc_receive`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_ipc_reply_receive(
    reply: *const c_void,
    endpoint: u32,
    buffer: *mut c_void,
    capacity: usize,
    timeout: u64,
    sender: *mut u32,
) -> c_long {
    let arguments = [
        reply as usize,
        endpoint as usize,
        buffer as usize,
        capacity,
        timeout as usize,
        0,
    ];
    // SAFETY: the caller vouches for both buffers, as documented.
    let result = unsafe { kernel_call(syscall::REPLY_RECEIVE, arguments) };
    word(result.and_then(|(from, length)| {
        user::write_optional(sender, from as u32)?;
        Ok(length)
    }))
}

/// `septa_notify`: sets `bits` on the notification `notification`.
#[unsafe(no_mangle)]
pub extern "C" fn septa_notify(notification: u32, bits: u64) -> c_long {
    let arguments = [notification as usize, bits as usize, 0, 0, 0, 0];
    // SAFETY: NOTIFY touches no memory of the caller's.
    word(unsafe { kernel_call(syscall::NOTIFY, arguments) }.map(|_| 0))
}

/// `septa_wait`: waits up to `timeout` nanoseconds for bits on `notification`, takes and
/// clears them, and stores them at `bits` (if not null).
///
/// # Safety
///
/// `bits` must be null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn septa_wait(notification: u32, timeout: u64, bits: *mut u64) -> c_long {
    let arguments = [notification as usize, timeout as usize, 0, 0, 0, 0];
    // SAFETY: WAIT touches no memory of the caller's.
    let result = unsafe { kernel_call(syscall::WAIT, arguments) };
    word(result.and_then(|(taken, _)| {
        user::write_optional(bits, taken as u64)?;
        Ok(0)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::build;

    #[test]
    fn handles_are_found_by_name() {
        build::install(build::block(
            4,
            &["client"],
            &[(9, "echo"), (11, "log")],
            &[],
        ));
        let name = c"log";
        // SAFETY: a NUL-terminated string.
        assert_eq!(unsafe { septa_handle(name.as_ptr()) }, 11);
        let missing = c"files";
        // SAFETY: as above.
        let answer = unsafe { septa_handle(missing.as_ptr()) };
        assert_eq!(answer, -(libc::ENOENT as c_long));
        // SAFETY: null is allowed and refused.
        let answer = unsafe { septa_handle(core::ptr::null()) };
        assert_eq!(answer, -(libc::EFAULT as c_long));
        assert_eq!(septa_entity_id(), 4);
    }

    #[test]
    fn kernel_errors_come_back_as_errno() {
        // The fake kernel has no IPC: NoSuchCall, which is ENOSYS.
        assert_eq!(septa_notify(1, 1), -(libc::ENOSYS as c_long));
    }
}
