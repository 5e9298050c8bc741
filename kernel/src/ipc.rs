//! Synchronous IPC (call, receive, reply) and notifications, with the monitor in the path.
//!
//! A request is copied once from the caller into the kernel's staging buffer, stamped with the
//! caller's identity, checked by the monitor, and copied from there into the receiver: the
//! bytes the monitor judged are the bytes delivered. When the receiver is already waiting the
//! kernel switches to it directly, and a reply switches directly back to the caller.

use crate::console;
use crate::kernel::{EntityId, Kernel, Object, State, ThreadId};
use crate::memory::user;
use alloc::vec::Vec;
use septa_abi::{Error, MESSAGE_HEADER_SIZE, MessageHeader, kernel_message, rights};
use septa_monitor::{DenyReason, Direction, Message, Verdict};

/// Copies a message from the current entity into the staging buffer; returns its length and
/// its header, stamped with the sender (the header is parsed here once, for every later step).
fn stage(kernel: &mut Kernel, address: u64) -> Result<(usize, MessageHeader), Error> {
    let root = kernel.entities[kernel.current_entity() as usize].root;
    user::read(root, address, &mut kernel.staging[..MESSAGE_HEADER_SIZE])?;
    let mut header = header_of(&kernel.staging);
    let length = header.total_size().ok_or(Error::Malformed)?;
    user::read(
        root,
        address + MESSAGE_HEADER_SIZE as u64,
        &mut kernel.staging[MESSAGE_HEADER_SIZE..length],
    )?;
    header.sender = kernel.current_entity();
    kernel.staging[..MESSAGE_HEADER_SIZE].copy_from_slice(&header.to_bytes());
    Ok((length, header))
}

/// Asks the monitor about the staged message (whose header is `header`); prints the audit line
/// for a denial.
fn check(
    kernel: &mut Kernel,
    header: &MessageHeader,
    length: usize,
    target: u32,
    direction: Direction,
) -> Result<(), Error> {
    check_as(kernel, header, length, target, direction, "")
}

/// [`check`], with `note` after the kind of message in the audit line.
fn check_as(
    kernel: &mut Kernel,
    header: &MessageHeader,
    length: usize,
    target: u32,
    direction: Direction,
    note: &str,
) -> Result<(), Error> {
    let fixed_end = MESSAGE_HEADER_SIZE + header.fixed_size as usize;
    let message = Message {
        source: header.sender,
        target,
        direction,
        header: *header,
        fixed: &kernel.staging[MESSAGE_HEADER_SIZE..fixed_end],
        arena: &kernel.staging[fixed_end..length],
    };
    let decision = kernel.policy().check(&message);
    let Verdict::Deny(reason) = decision.verdict else {
        return Ok(());
    };
    let name = |entity: u32| {
        kernel
            .entities
            .get(entity as usize)
            .map_or("?", |record| record.name.as_str())
    };
    let interface = kernel.policy().interface(header.interface);
    let method = kernel.policy().method(header.interface, header.method);
    let interface_name = interface.map_or("?", |descriptor| descriptor.name.as_str());
    let method_name = method.map_or("?", |descriptor| descriptor.name.as_str());
    // Name the field a reason points at, so the audit line reads in the policy's terms.
    let field = match reason {
        DenyReason::ConditionFailed { field }
        | DenyReason::SliceOutOfBounds { field }
        | DenyReason::BadString { field } => method.and_then(|descriptor| {
            let fields = match direction {
                Direction::Request => &descriptor.request,
                Direction::Reply => &descriptor.reply,
            };
            fields
                .get(field as usize)
                .map(|descriptor| descriptor.name.as_str())
        }),
        _ => None,
    };
    let verdict = if kernel.audit_only {
        "WOULD DENY"
    } else {
        "DENY"
    };
    let kind = match direction {
        Direction::Request => "request",
        Direction::Reply => "reply",
    };
    console::line(format_args!(
        "[audit] {verdict} {} -> {} {interface_name}.{method_name} ({kind}{note}, interface {} method {}): {reason}{}",
        name(header.sender),
        name(target),
        header.interface,
        header.method,
        field.map_or(alloc::string::String::new(), |field| alloc::format!(
            " ('{field}')"
        )),
    ));
    if kernel.audit_only {
        Ok(())
    } else {
        Err(Error::Denied)
    }
}

/// `MONITOR_CHECK`: whether `source` may send the request at `request` to the calling entity,
/// as the monitor would decide for a `CALL`; a denial prints its audit line.
pub fn monitor_check(kernel: &mut Kernel, source: u64, request: u64) -> Result<(), Error> {
    let source = u32::try_from(source)
        .ok()
        .filter(|source| (*source as usize) < kernel.entities.len())
        .ok_or(Error::InvalidArgument)?;
    let (length, mut header) = stage(kernel, request)?;
    header.sender = source;
    let target = kernel.current_entity();
    check_as(
        kernel,
        &header,
        length,
        target,
        Direction::Request,
        ", checked again by the server",
    )?;
    kernel.set_current_return(Ok(0), 0);
    Ok(())
}

/// Copies a message into a blocked receiver's buffer and makes it runnable. `Err` leaves the
/// receiver waiting.
fn deliver(kernel: &mut Kernel, receiver: ThreadId, message: &[u8]) -> Result<(), Error> {
    let State::Receiving { buffer, size, .. } = kernel.threads[receiver as usize].state else {
        return Err(Error::PeerGone);
    };
    if message.len() as u64 > size {
        return Err(Error::TooLarge);
    }
    let root = kernel.entities[kernel.threads[receiver as usize].entity as usize].root;
    user::write(root, buffer, message)?;
    Ok(())
}

fn endpoint_for(kernel: &Kernel, handle: u64, right: u32) -> Result<u32, Error> {
    match kernel.capability(handle, right)?.object {
        Object::Endpoint(index) => Ok(index),
        _ => Err(Error::BadHandle),
    }
}

/// `CALL`: send a request and wait for the reply.
pub fn call(
    kernel: &mut Kernel,
    handle: u64,
    request: u64,
    reply_buffer: u64,
    reply_size: u64,
    timeout: u64,
) -> Result<(), Error> {
    let endpoint = endpoint_for(kernel, handle, rights::SEND)?;
    if !kernel.endpoints[endpoint as usize].alive {
        return Err(Error::PeerGone);
    }
    let (length, header) = stage(kernel, request)?;
    let target = kernel.endpoints[endpoint as usize].owner;
    check(kernel, &header, length, target, Direction::Request)?;
    let caller = kernel.current();
    // A waiting receiver gets the message now, and the processor.
    while let Some(receiver) = kernel.endpoints[endpoint as usize].receivers.pop_front() {
        let staged = core::mem::take(&mut kernel.staging);
        let delivered = deliver(kernel, receiver, &staged[..length]);
        kernel.staging = staged;
        match delivered {
            Ok(()) => {
                let sender = kernel.current_entity();
                kernel.threads[caller as usize].state = State::AwaitingReply {
                    server: receiver,
                    reply_buffer,
                    reply_size,
                    interface: header.interface,
                    method: header.method,
                };
                kernel.block_current(timeout);
                kernel.threads[receiver as usize].reply_to = Some(caller);
                kernel.threads[receiver as usize].state = State::Ready;
                kernel.threads[receiver as usize].deadline = None;
                kernel.threads[receiver as usize]
                    .context
                    .set_return(sender as u64, length as u64);
                kernel.switch_to(receiver);
                return Ok(());
            }
            Err(Error::TooLarge) => {
                kernel.endpoints[endpoint as usize]
                    .receivers
                    .push_front(receiver);
                return Err(Error::TooLarge);
            }
            Err(_) => {
                // The receiver's buffer is bad: it gets the error, the caller tries the next.
                kernel.threads[receiver as usize].state = State::Dead;
                kernel.wake(receiver, Err(Error::BadAddress), 0);
            }
        }
    }
    if timeout == septa_abi::TIMEOUT_NONE {
        return Err(Error::WouldBlock);
    }
    let message: Vec<u8> = kernel.staging[..length].to_vec();
    kernel.threads[caller as usize].state = State::Sending {
        endpoint,
        message,
        reply_buffer,
        reply_size,
    };
    kernel.endpoints[endpoint as usize]
        .senders
        .push_back(caller);
    kernel.block_current(timeout);
    Ok(())
}

fn header_of(bytes: &[u8]) -> MessageHeader {
    let mut header = [0u8; MESSAGE_HEADER_SIZE];
    header.copy_from_slice(&bytes[..MESSAGE_HEADER_SIZE]);
    MessageHeader::from_bytes(&header)
}

/// `RECEIVE`: take the next request, or wait for one.
pub fn receive(
    kernel: &mut Kernel,
    handle: u64,
    buffer: u64,
    size: u64,
    timeout: u64,
) -> Result<(), Error> {
    let endpoint = endpoint_for(kernel, handle, rights::RECEIVE)?;
    let receiver = kernel.current();
    if kernel.threads[receiver as usize].reply_to.is_some() {
        // Receiving again without replying would strand the caller: refuse.
        return Err(Error::InvalidArgument);
    }
    kernel.threads[receiver as usize].state = State::Receiving {
        endpoint,
        buffer,
        size,
    };
    // The kernel's news of an ended client comes before any request.
    if let Some(&client) = kernel.endpoints[endpoint as usize].ended_clients.front() {
        let delivered = deliver(kernel, receiver, &client_ended_message(client));
        kernel.threads[receiver as usize].state = State::Ready;
        delivered?;
        kernel.endpoints[endpoint as usize]
            .ended_clients
            .pop_front();
        kernel.set_current_return(Ok(client as usize), MESSAGE_HEADER_SIZE as u64);
        return Ok(());
    }
    if let Some(sender) = kernel.endpoints[endpoint as usize].senders.pop_front() {
        let State::Sending {
            message,
            reply_buffer,
            reply_size,
            ..
        } = core::mem::replace(&mut kernel.threads[sender as usize].state, State::Dead)
        else {
            kernel.threads[receiver as usize].state = State::Ready;
            return Err(Error::PeerGone);
        };
        let result = deliver(kernel, receiver, &message);
        kernel.threads[receiver as usize].state = State::Ready;
        if let Err(error) = result {
            kernel.wake(sender, Err(error), 0);
            return Err(error);
        }
        let header = header_of(&message);
        kernel.threads[sender as usize].state = State::AwaitingReply {
            server: receiver,
            reply_buffer,
            reply_size,
            interface: header.interface,
            method: header.method,
        };
        kernel.threads[receiver as usize].reply_to = Some(sender);
        kernel.set_current_return(Ok(header.sender as usize), message.len() as u64);
        return Ok(());
    }
    if timeout == septa_abi::TIMEOUT_NONE {
        kernel.threads[receiver as usize].state = State::Ready;
        return Err(Error::WouldBlock);
    }
    kernel.endpoints[endpoint as usize]
        .receivers
        .push_back(receiver);
    kernel.block_current(timeout);
    Ok(())
}

/// The message that tells a server `client` ended: a header alone, from the kernel.
fn client_ended_message(client: EntityId) -> [u8; MESSAGE_HEADER_SIZE] {
    MessageHeader {
        interface: kernel_message::INTERFACE,
        method: kernel_message::CLIENT_ENDED,
        sender: client,
        ..MessageHeader::default()
    }
    .to_bytes()
}

/// `ENDPOINT_WATCH`: the owner of the endpoint will be told of clients that end.
pub fn watch(kernel: &mut Kernel, handle: u64) -> Result<(), Error> {
    let endpoint = endpoint_for(kernel, handle, rights::RECEIVE)?;
    kernel.endpoints[endpoint as usize].watched = true;
    kernel.set_current_return(Ok(0), 0);
    Ok(())
}

/// As `entity` ends: every watched endpoint it could call queues the news for its owner, and
/// a receiver waiting there gets it at once.
pub fn tell_servers_of_end(kernel: &mut Kernel, entity: EntityId) {
    let endpoints: Vec<u32> = kernel.entities[entity as usize]
        .capabilities
        .iter()
        .filter_map(|(_, capability)| match capability.object {
            Object::Endpoint(index) if capability.rights & rights::SEND != 0 => Some(index),
            _ => None,
        })
        .collect();
    for endpoint in endpoints {
        let record = &mut kernel.endpoints[endpoint as usize];
        if !record.watched
            || !record.alive
            || record.owner == entity
            || record.ended_clients.contains(&entity)
        {
            continue;
        }
        record.ended_clients.push_back(entity);
        while let Some(receiver) = kernel.endpoints[endpoint as usize].receivers.pop_front() {
            let delivered = deliver(kernel, receiver, &client_ended_message(entity));
            match delivered {
                Ok(()) => {
                    kernel.endpoints[endpoint as usize]
                        .ended_clients
                        .pop_front();
                    kernel.wake(receiver, Ok(entity as usize), MESSAGE_HEADER_SIZE as u64);
                    break;
                }
                // Its buffer cannot take a header: it learns why, and the next one is asked.
                Err(error) => kernel.wake(receiver, Err(error), 0),
            }
        }
    }
}

/// `REPLY`: answer the request this thread received.
///
/// On success the caller is left runnable but on no queue, and returned: the system call
/// switches to it directly ([`switch_to_caller`], or `REPLY_RECEIVE`). On failure the caller
/// (if still waiting) is woken with the error and queued.
pub fn reply(kernel: &mut Kernel, message: u64) -> Result<ThreadId, Error> {
    let server = kernel.current();
    let caller = kernel.threads[server as usize]
        .reply_to
        .ok_or(Error::NoPendingReply)?;
    let State::AwaitingReply {
        reply_buffer,
        reply_size,
        interface,
        method,
        ..
    } = kernel.threads[caller as usize].state
    else {
        kernel.threads[server as usize].reply_to = None;
        return Err(Error::PeerGone);
    };
    // The caller is no longer owed this thread's reply, whatever happens below.
    kernel.threads[server as usize].reply_to = None;
    kernel.threads[caller as usize].state = State::Dead;
    let (length, mut header) = match stage(kernel, message) {
        Ok(staged) => staged,
        Err(error) => {
            // A reply the server cannot even describe fails both sides; the caller is freed.
            kernel.wake(caller, Err(Error::PeerGone), 0);
            return Err(error);
        }
    };
    // The reply answers the request: the kernel, not the server, names interface and method.
    header.interface = interface;
    header.method = method;
    kernel.staging[..MESSAGE_HEADER_SIZE].copy_from_slice(&header.to_bytes());
    let caller_entity = kernel.threads[caller as usize].entity;
    let result = check(kernel, &header, length, caller_entity, Direction::Reply).and_then(|()| {
        if length as u64 > reply_size {
            return Err(Error::TooLarge);
        }
        let root = kernel.entities[caller_entity as usize].root;
        user::write(root, reply_buffer, &kernel.staging[..length])
    });
    match result {
        Ok(()) => {
            kernel.resume_directly(caller, Ok(length), 0);
            kernel.set_current_return(Ok(0), 0);
            Ok(caller)
        }
        Err(error) => {
            kernel.wake(caller, Err(error), 0);
            Err(error)
        }
    }
}

/// Makes the caller of a successful reply run next, keeping the server runnable.
pub fn switch_to_caller(kernel: &mut Kernel, caller: ThreadId) {
    let server = kernel.current();
    if matches!(kernel.threads[server as usize].state, State::Ready) {
        kernel.enqueue(server);
    }
    kernel.switch_to(caller);
}

fn notification_for(kernel: &Kernel, handle: u64, right: u32) -> Result<u32, Error> {
    match kernel.capability(handle, right)?.object {
        Object::Notification(index) => Ok(index),
        _ => Err(Error::BadHandle),
    }
}

/// `NOTIFY`: set bits; the first waiter takes them.
pub fn notify(kernel: &mut Kernel, handle: u64, bits: u64) -> Result<(), Error> {
    let index = notification_for(kernel, handle, rights::SIGNAL)? as usize;
    kernel.notifications[index].bits |= bits;
    if let Some(waiter) = kernel.notifications[index].waiters.pop_front() {
        let taken = core::mem::take(&mut kernel.notifications[index].bits);
        kernel.threads[waiter as usize].state = State::Dead;
        kernel.wake(waiter, Ok(taken as usize), 0);
    }
    kernel.set_current_return(Ok(0), 0);
    Ok(())
}

/// `WAIT`: take pending bits, or wait for some.
pub fn wait(kernel: &mut Kernel, handle: u64, timeout: u64) -> Result<(), Error> {
    let index = notification_for(kernel, handle, rights::WAIT)?;
    let bits = core::mem::take(&mut kernel.notifications[index as usize].bits);
    if bits != 0 {
        kernel.set_current_return(Ok(bits as usize), 0);
        return Ok(());
    }
    if timeout == septa_abi::TIMEOUT_NONE {
        return Err(Error::WouldBlock);
    }
    let thread = kernel.current();
    kernel.threads[thread as usize].state = State::Waiting {
        notification: index,
    };
    kernel.notifications[index as usize]
        .waiters
        .push_back(thread);
    kernel.block_current(timeout);
    Ok(())
}
