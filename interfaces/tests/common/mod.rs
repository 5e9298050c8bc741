//! Test servers, transports and message builders shared by the interface tests.
#![allow(dead_code, reason = "each test binary uses part of this module")]

use septa_abi::{Error, MESSAGE_HEADER_SIZE, MessageHeader, status};
use septa_interfaces::echo::{EchoServer, TransferReply};
use septa_interfaces::system_test::SystemTestServer;
use septa_interfaces::{Transport, echo, system_test};

/// Entity identity the loopback transport stamps on requests, as the kernel would.
pub const CLIENT_ENTITY: u32 = 5;

/// An application status the test server returns for paths that are not absolute.
pub const NOT_ABSOLUTE: u32 = status::APPLICATION + 1;

/// A server for both test interfaces, recording the last sender it saw.
#[derive(Default)]
pub struct TestServer {
    pub last_sender: Option<u32>,
    pub null_calls: u64,
}

impl EchoServer for TestServer {
    fn ping(&mut self, sender: u32, value: u64) -> Result<u64, u32> {
        self.last_sender = Some(sender);
        Ok(value)
    }

    fn greet(&mut self, sender: u32, name: &str) -> Result<String, u32> {
        self.last_sender = Some(sender);
        Ok(format!("Hello, {name}!"))
    }

    fn add(&mut self, sender: u32, left: i64, right: i64) -> Result<i64, u32> {
        self.last_sender = Some(sender);
        Ok(left.wrapping_add(right))
    }

    fn open(&mut self, sender: u32, path: &str, flags: u32) -> Result<u64, u32> {
        self.last_sender = Some(sender);
        match path {
            "/zero-status" => Err(status::OK),
            path if !path.starts_with('/') => Err(NOT_ABSOLUTE),
            path => Ok((u64::from(sender) << 32) | (path.len() as u64) << 8 | u64::from(flags)),
        }
    }

    fn transfer(&mut self, sender: u32, data: &[u8]) -> Result<TransferReply, u32> {
        self.last_sender = Some(sender);
        let checksum = word_checksum(data);
        Ok(TransferReply {
            length: data.len() as u64,
            checksum,
        })
    }
}

impl SystemTestServer for TestServer {
    fn null(&mut self, sender: u32) -> Result<(), u32> {
        self.last_sender = Some(sender);
        self.null_calls += 1;
        Ok(())
    }

    fn sized(&mut self, sender: u32, data: &[u8]) -> Result<Vec<u8>, u32> {
        self.last_sender = Some(sender);
        Ok(data.to_vec())
    }
}

/// Which generated dispatcher a [`Loopback`] hands requests to.
#[derive(Clone, Copy)]
pub enum Served {
    Echo,
    SystemTest,
}

/// An in-process transport: stamps the sender like the kernel, then calls `dispatch`.
pub struct Loopback {
    pub server: TestServer,
    pub served: Served,
    /// Kept between calls so that a call allocates nothing.
    stamped: Vec<u8>,
}

impl Loopback {
    pub fn new(served: Served) -> Loopback {
        Loopback {
            server: TestServer::default(),
            served,
            stamped: vec![0; septa_abi::MESSAGE_MAX_SIZE],
        }
    }
}

impl Transport for Loopback {
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
        let stamped = self
            .stamped
            .get_mut(..request.len())
            .ok_or(Error::TooLarge)?;
        stamped.copy_from_slice(request);
        if let Some(sender) = stamped.get_mut(24..28) {
            sender.copy_from_slice(&CLIENT_ENTITY.to_le_bytes());
        }
        Ok(match self.served {
            Served::Echo => echo::dispatch(&mut self.server, stamped, reply),
            Served::SystemTest => system_test::dispatch(&mut self.server, stamped, reply),
        })
    }
}

/// A transport that answers every call with a fixed result, recording the last request.
pub struct Scripted {
    pub answer: Result<Vec<u8>, Error>,
    pub last_request: Vec<u8>,
}

impl Transport for Scripted {
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
        self.last_request = request.to_vec();
        let answer = self.answer.clone()?;
        reply[..answer.len()].copy_from_slice(&answer);
        Ok(answer.len())
    }
}

/// A message with the given header fields, fixed part and arena (sizes filled in).
pub fn message(interface: u32, method: u32, status: u32, fixed: &[u8], arena: &[u8]) -> Vec<u8> {
    let header = MessageHeader {
        interface,
        method,
        fixed_size: fixed.len() as u32,
        arena_size: arena.len() as u32,
        status,
        ..MessageHeader::default()
    };
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(fixed);
    bytes.extend_from_slice(arena);
    bytes
}

/// The (offset, length) words of a slice field.
pub fn slice_field(offset: u32, length: u32) -> Vec<u8> {
    let mut bytes = offset.to_le_bytes().to_vec();
    bytes.extend_from_slice(&length.to_le_bytes());
    bytes
}

/// The header of a reply.
pub fn reply_header(reply: &[u8]) -> MessageHeader {
    let bytes: [u8; MESSAGE_HEADER_SIZE] = reply[..MESSAGE_HEADER_SIZE]
        .try_into()
        .expect("a reply holds a header");
    MessageHeader::from_bytes(&bytes)
}

/// Marsaglia's xorshift64: deterministic pseudo-random numbers without a dependency.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `bound` (which must not be 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }
}

/// Wrapping sum of `data` as little-endian 64-bit words, the last one zero-padded: the
/// `Echo.transfer` checksum.
pub fn word_checksum(data: &[u8]) -> u64 {
    data.chunks(8).fold(0u64, |sum, chunk| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u64::from_le_bytes(word))
    })
}
