//! IPC: endpoints as transports for generated clients, and the server receive loop.

use alloc::boxed::Box;
use alloc::vec;
use septa_abi::{Error, MESSAGE_MAX_SIZE, TIMEOUT_NEVER, decode_result, syscall};

/// A client's capability to an endpoint; implements the generated clients' transport.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    handle: u32,
    timeout: u64,
}

impl Endpoint {
    /// The endpoint capability named `name` in the system description.
    pub fn named(name: &str) -> Option<Endpoint> {
        crate::startup::handle(name).map(Endpoint::from_handle)
    }

    /// An endpoint from a raw handle (which may be invalid: the kernel checks).
    pub fn from_handle(handle: u32) -> Endpoint {
        Endpoint {
            handle,
            timeout: TIMEOUT_NEVER,
        }
    }

    /// The same endpoint with a timeout for each call, in nanoseconds.
    pub fn with_timeout(self, timeout: u64) -> Endpoint {
        Endpoint { timeout, ..self }
    }

    /// The raw handle.
    pub fn handle(&self) -> u32 {
        self.handle
    }
}

/// Sends `request` (a whole message) on `handle` and waits for the reply in `reply`.
pub fn call(handle: u32, request: &[u8], reply: &mut [u8], timeout: u64) -> Result<usize, Error> {
    let (word, _) = crate::arch::system_call(
        syscall::CALL,
        [
            handle as u64,
            request.as_ptr() as u64,
            reply.as_mut_ptr() as u64,
            reply.len() as u64,
            timeout,
        ],
    );
    decode_result(word)
}

impl septa_interfaces::Transport for Endpoint {
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
        call(self.handle, request, reply, self.timeout)
    }
}

/// A request as received: who sent it and how long it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The sender's identity, stamped by the kernel.
    pub sender: u32,
    /// Bytes of message in the buffer.
    pub length: usize,
}

/// Waits for a request on the endpoint `handle`.
pub fn receive(handle: u32, buffer: &mut [u8], timeout: u64) -> Result<Received, Error> {
    let (word, length) = crate::arch::system_call(
        syscall::RECEIVE,
        [
            handle as u64,
            buffer.as_mut_ptr() as u64,
            buffer.len() as u64,
            timeout,
            0,
        ],
    );
    received(word, length)
}

/// Decodes the result words of a receive: the sender's identity, then the message length.
fn received(word: isize, length: u64) -> Result<Received, Error> {
    decode_result(word).map(|sender| Received {
        sender: sender as u32,
        length: length as usize,
    })
}

/// Replies to the request this thread last received.
pub fn reply(message: &[u8]) -> Result<(), Error> {
    let (word, _) = crate::arch::system_call(syscall::REPLY, [message.as_ptr() as u64, 0, 0, 0, 0]);
    decode_result(word).map(|_| ())
}

/// Replies, then waits for the next request, in one system call.
pub fn reply_receive(
    message: &[u8],
    handle: u32,
    buffer: &mut [u8],
    timeout: u64,
) -> Result<Received, Error> {
    let (word, length) = crate::arch::system_call(
        syscall::REPLY_RECEIVE,
        [
            message.as_ptr() as u64,
            handle as u64,
            buffer.as_mut_ptr() as u64,
            buffer.len() as u64,
            timeout,
        ],
    );
    received(word, length)
}

/// Serves requests on the endpoint named `endpoint` forever: each request is passed to
/// `handle(request, reply) -> reply length` (typically a generated `dispatch`).
pub fn serve(endpoint: &str, mut handle: impl FnMut(&[u8], &mut [u8]) -> usize) -> ! {
    let Some(endpoint_handle) = crate::startup::handle(endpoint) else {
        crate::println!(
            "[{}] no capability named '{endpoint}'",
            crate::startup::name()
        );
        crate::system::exit(2);
    };
    let mut request: Box<[u8]> = vec![0u8; MESSAGE_MAX_SIZE].into_boxed_slice();
    let mut reply: Box<[u8]> = vec![0u8; MESSAGE_MAX_SIZE].into_boxed_slice();
    let mut received = receive(endpoint_handle, &mut request, TIMEOUT_NEVER);
    loop {
        match received {
            Ok(Received { length, .. }) => {
                let reply_length = handle(&request[..length], &mut reply);
                received = reply_receive(
                    &reply[..reply_length],
                    endpoint_handle,
                    &mut request,
                    TIMEOUT_NEVER,
                );
            }
            Err(error) => {
                crate::println!(
                    "[{}] receive failed: {}",
                    crate::startup::name(),
                    error.description()
                );
                received = receive(endpoint_handle, &mut request, TIMEOUT_NEVER);
            }
        }
    }
}

/// The interface identifier in a message's header, to route requests on an endpoint that
/// serves several interfaces.
pub fn interface_of(message: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(message.get(0..4)?.try_into().ok()?))
}
