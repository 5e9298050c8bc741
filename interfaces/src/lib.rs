//! IPC interfaces: client stubs and server dispatch generated from the definition files.
//!
//! Each interface is written once, as a TOML file in `definitions/` (format:
//! `interfaces/README.md`). `build.rs` runs the interface compiler (`septa-idl`) over them and
//! includes the result here: one module per interface (`echo`, `system_test`, ...) holding
//!
//! - `INTERFACE_ID` and one `<METHOD>_ID` constant per method;
//! - a client, `EchoClient<T: Transport>`, with one method per IPC method, which encodes the
//!   request into a buffer allocated once, calls the [`Transport`] and decodes the reply;
//! - a server trait, `EchoServer`, and `dispatch`, which decodes a request defensively, calls
//!   the trait and encodes the reply.
//!
//! The crate is transport-agnostic: entities pass a transport built on the kernel's `call`
//! system call; tests pass an in-process one that calls `dispatch` directly. Messages are laid
//! out by [`septa_abi::layout`], the same code the security monitor checks them with.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use core::fmt;
use septa_abi::Error;

pub mod file_records;
mod wire;

/// Carries a request to a server and its reply back (the kernel's `call`, or a test double).
pub trait Transport {
    /// Sends the whole message `request` and waits for the reply, which is written to the start
    /// of `reply`; returns the reply's length in bytes.
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error>;
}

impl<T: Transport + ?Sized> Transport for &mut T {
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
        (**self).call(request, reply)
    }
}

/// A transport that sends nothing and keeps the request a client encoded: how code gets a
/// method's message without calling, as a server that asks the monitor about a request it
/// rewrote does. Each call records its request, then fails with `WouldBlock`.
#[derive(Clone, Debug, Default)]
pub struct Recorder {
    /// The last request encoded (empty before any).
    pub request: alloc::vec::Vec<u8>,
}

impl Transport for Recorder {
    fn call(&mut self, request: &[u8], _reply: &mut [u8]) -> Result<usize, Error> {
        self.request.clear();
        self.request.extend_from_slice(request);
        Err(Error::WouldBlock)
    }
}

/// Why a call through a generated client failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The kernel refused or failed the call (bad handle, denied by the monitor, timed out...).
    Kernel(Error),
    /// The server died or restarted before it replied; the call may not have been carried out.
    ServerGone,
    /// The server replied with a non-zero status (see [`septa_abi::status`]).
    Status(u32),
    /// The reply does not match the method's reply layout.
    BadReply,
}

impl CallError {
    /// Whether the security monitor denied the call.
    pub fn is_denied(&self) -> bool {
        matches!(self, CallError::Kernel(Error::Denied))
    }
}

impl From<Error> for CallError {
    fn from(error: Error) -> CallError {
        match error {
            Error::PeerGone => CallError::ServerGone,
            other => CallError::Kernel(other),
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Kernel(error) => formatter.write_str(error.description()),
            CallError::ServerGone => formatter.write_str("server died or restarted"),
            CallError::Status(status) => write!(formatter, "server replied with status {status}"),
            CallError::BadReply => formatter.write_str("malformed reply"),
        }
    }
}

impl core::error::Error for CallError {}

include!(concat!(env!("OUT_DIR"), "/interfaces.rs"));
