//! Shared test fixture: a small policy, a message encoder and a raw-bytes message decoder.
//!
//! The integration tests, the stable no-panic test and the cargo-fuzz target all include this
//! file, so they exercise the same policy.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the fixture"
)]

use septa_abi::layout::{self, FieldKind};
use septa_abi::{MESSAGE_HEADER_SIZE, MessageHeader};
use septa_monitor::{
    Condition, Decision, Direction, EntityId, FieldDescriptor, InterfaceDescriptor, Message,
    MethodDescriptor, Policy, Predicate, Rule, Verdict,
};

pub const INIT: EntityId = 0;
pub const SHELL: EntityId = 1;
pub const FILES: EntityId = 2;
pub const NETWORK: EntityId = 3;
pub const STRANGER: EntityId = 4;

pub const FILE_SYSTEM: u32 = 10;
/// `open(path: String, flags: U32) -> (handle: U64)`.
pub const OPEN: u32 = 0;
/// `read(handle: U64, offset: U64, length: U32) -> (data: Bytes)`.
pub const READ: u32 = 1;
/// `seek(offset: I64, whence: I32) -> (position: I64)`.
pub const SEEK: u32 = 2;
/// `write(handle: U64, data: Bytes) -> (written: U32)`.
pub const WRITE: u32 = 3;
/// `rename(from: String, to: String) -> ()`.
pub const RENAME: u32 = 4;

pub const SOCKETS: u32 = 20;
/// `send(payload: Bytes, port: U32, priority: I32) -> ()`.
pub const SEND: u32 = 0;
/// `resolve(name: String) -> (address: U32)`.
pub const RESOLVE: u32 = 1;
/// `reserve(bytes: U64) -> ()`.
pub const RESERVE: u32 = 2;

/// An interface of methods with only `U32` fields, to probe the bound on the field count.
pub const WIDE: u32 = 30;
/// Method of [`WIDE`] with 256 fields: exactly [`septa_abi::MESSAGE_FIXED_MAX`] bytes.
pub const WIDEST_CALLABLE: u32 = 0;
/// Method of [`WIDE`] with 300 fields: more than any fixed part can hold.
pub const TOO_WIDE: u32 = 1;

fn field(name: &str, kind: FieldKind) -> FieldDescriptor {
    FieldDescriptor {
        name: name.into(),
        kind,
    }
}

fn method(
    id: u32,
    name: &str,
    request: &[(&str, FieldKind)],
    reply: &[(&str, FieldKind)],
) -> MethodDescriptor {
    MethodDescriptor {
        id,
        name: name.into(),
        request: request
            .iter()
            .map(|(name, kind)| field(name, *kind))
            .collect(),
        reply: reply
            .iter()
            .map(|(name, kind)| field(name, *kind))
            .collect(),
    }
}

fn wide_method(id: u32, name: &str, count: usize) -> MethodDescriptor {
    MethodDescriptor {
        id,
        name: name.into(),
        request: (0..count).map(|_| field("word", FieldKind::U32)).collect(),
        reply: Vec::new(),
    }
}

fn rule(
    source: EntityId,
    target: EntityId,
    interface: u32,
    method: Option<u32>,
    conditions: &[(u32, Predicate)],
) -> Rule {
    Rule {
        source,
        target,
        interface,
        method,
        conditions: conditions
            .iter()
            .map(|(field, predicate)| Condition {
                field: *field,
                predicate: predicate.clone(),
            })
            .collect(),
    }
}

fn prefix(bytes: &[u8]) -> Predicate {
    Predicate::Prefix(bytes.to_vec())
}

fn range(minimum: i128, maximum: i128) -> Predicate {
    Predicate::Range { minimum, maximum }
}

/// The policy every test runs against.
pub fn policy() -> Policy {
    use FieldKind::*;
    Policy {
        entity_names: ["init", "shell", "files", "network", "stranger"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        interfaces: vec![
            InterfaceDescriptor {
                id: FILE_SYSTEM,
                name: "file_system".into(),
                methods: vec![
                    method(
                        OPEN,
                        "open",
                        &[("path", String), ("flags", U32)],
                        &[("handle", U64)],
                    ),
                    method(
                        READ,
                        "read",
                        &[("handle", U64), ("offset", U64), ("length", U32)],
                        &[("data", Bytes)],
                    ),
                    method(
                        SEEK,
                        "seek",
                        &[("offset", I64), ("whence", I32)],
                        &[("position", I64)],
                    ),
                    method(
                        WRITE,
                        "write",
                        &[("handle", U64), ("data", Bytes)],
                        &[("written", U32)],
                    ),
                    method(RENAME, "rename", &[("from", String), ("to", String)], &[]),
                ],
            },
            InterfaceDescriptor {
                id: SOCKETS,
                name: "sockets".into(),
                methods: vec![
                    method(
                        SEND,
                        "send",
                        &[("payload", Bytes), ("port", U32), ("priority", I32)],
                        &[],
                    ),
                    method(RESOLVE, "resolve", &[("name", String)], &[("address", U32)]),
                    method(RESERVE, "reserve", &[("bytes", U64)], &[]),
                ],
            },
            InterfaceDescriptor {
                id: WIDE,
                name: "wide".into(),
                methods: vec![
                    wide_method(WIDEST_CALLABLE, "widest_callable", 256),
                    wide_method(TOO_WIDE, "too_wide", 300),
                ],
            },
        ],
        rules: vec![
            // The shell may open files under /home/ or /tmp/: two rules, so the second can grant
            // what the first refuses.
            rule(
                SHELL,
                FILES,
                FILE_SYSTEM,
                Some(OPEN),
                &[(0, prefix(b"/home/"))],
            ),
            rule(
                SHELL,
                FILES,
                FILE_SYSTEM,
                Some(OPEN),
                &[(0, prefix(b"/tmp/"))],
            ),
            // Unsigned edges: reads of at most 4096 bytes.
            rule(
                SHELL,
                FILES,
                FILE_SYSTEM,
                Some(READ),
                &[(2, range(0, 4096))],
            ),
            // Signed edges, two conditions.
            rule(
                SHELL,
                FILES,
                FILE_SYSTEM,
                Some(SEEK),
                &[(0, range(-100, 100)), (1, range(0, 2))],
            ),
            // A prefix predicate on an integer field never holds, even an empty prefix.
            rule(SHELL, FILES, FILE_SYSTEM, Some(WRITE), &[(0, prefix(b""))]),
            // Renames within /home/ only.
            rule(
                SHELL,
                FILES,
                FILE_SYSTEM,
                Some(RENAME),
                &[(0, prefix(b"/home/")), (1, prefix(b"/home/"))],
            ),
            // Init may call every method of the file system, unconditionally.
            rule(INIT, FILES, FILE_SYSTEM, None, &[]),
            // HTTP requests to port 80 only, at a priority in -10..=10 (a signed 32-bit range).
            rule(
                SHELL,
                NETWORK,
                SOCKETS,
                Some(SEND),
                &[
                    (0, prefix(b"GET ")),
                    (1, range(80, 80)),
                    (2, range(-10, 10)),
                ],
            ),
            // A condition on a field that does not exist never holds.
            rule(SHELL, NETWORK, SOCKETS, Some(RESOLVE), &[(5, prefix(b""))]),
            // A range predicate on a string field never holds.
            rule(
                INIT,
                NETWORK,
                SOCKETS,
                Some(RESOLVE),
                &[(0, range(i128::MIN, i128::MAX))],
            ),
            // Unsigned 64-bit values must not be read as negative.
            rule(
                SHELL,
                NETWORK,
                SOCKETS,
                Some(RESERVE),
                &[(0, range(i128::from(u64::MAX) - 1, i128::from(u64::MAX)))],
            ),
            rule(SHELL, FILES, WIDE, None, &[]),
        ],
    }
}

/// A field value to encode.
#[derive(Clone, Copy, Debug)]
pub enum Field<'a> {
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    Bytes(&'a [u8]),
    String(&'a str),
}

impl Field<'_> {
    fn kind(self) -> FieldKind {
        match self {
            Field::U32(_) => FieldKind::U32,
            Field::I32(_) => FieldKind::I32,
            Field::U64(_) => FieldKind::U64,
            Field::I64(_) => FieldKind::I64,
            Field::Bytes(_) => FieldKind::Bytes,
            Field::String(_) => FieldKind::String,
        }
    }
}

/// A message that owns its bytes; tests corrupt its parts, then [`OwnedMessage::view`] it.
#[derive(Clone, Debug)]
pub struct OwnedMessage {
    pub source: EntityId,
    pub target: EntityId,
    pub direction: Direction,
    pub header: MessageHeader,
    pub fixed: Vec<u8>,
    pub arena: Vec<u8>,
}

impl OwnedMessage {
    pub fn view(&self) -> Message<'_> {
        Message {
            source: self.source,
            target: self.target,
            direction: self.direction,
            header: self.header,
            fixed: &self.fixed,
            arena: &self.arena,
        }
    }

    /// Replaces the fixed part and keeps the header's size in step with it.
    pub fn with_fixed(mut self, fixed: Vec<u8>) -> OwnedMessage {
        self.header.fixed_size = fixed.len() as u32;
        self.fixed = fixed;
        self
    }

    /// Replaces the arena and keeps the header's size in step with it.
    pub fn with_arena(mut self, arena: Vec<u8>) -> OwnedMessage {
        self.header.arena_size = arena.len() as u32;
        self.arena = arena;
        self
    }

    /// Overwrites the (offset, length) pair of slice field `index`, laid out as `kinds`.
    pub fn with_slice(
        mut self,
        kinds: &[FieldKind],
        index: usize,
        offset: u32,
        length: u32,
    ) -> OwnedMessage {
        let at = layout::field_offset(kinds, index).expect("the field exists");
        self.fixed[at..at + 4].copy_from_slice(&offset.to_le_bytes());
        self.fixed[at + 4..at + 8].copy_from_slice(&length.to_le_bytes());
        self
    }
}

/// Lays `fields` out as the interface generator does: fixed part per [`layout`], slices appended
/// to the arena in field order.
pub fn encode(fields: &[Field<'_>]) -> (Vec<u8>, Vec<u8>) {
    let kinds: Vec<FieldKind> = fields.iter().map(|field| field.kind()).collect();
    let mut fixed = vec![0u8; layout::fixed_size(&kinds)];
    let mut arena = Vec::new();
    for (index, field) in fields.iter().enumerate() {
        let at = layout::field_offset(&kinds, index).expect("the field exists");
        let mut put = |bytes: &[u8]| fixed[at..at + bytes.len()].copy_from_slice(bytes);
        match *field {
            Field::U32(value) => put(&value.to_le_bytes()),
            Field::I32(value) => put(&value.to_le_bytes()),
            Field::U64(value) => put(&value.to_le_bytes()),
            Field::I64(value) => put(&value.to_le_bytes()),
            Field::Bytes(bytes) => {
                put(&(arena.len() as u32).to_le_bytes());
                fixed[at + 4..at + 8].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
                arena.extend_from_slice(bytes);
            }
            Field::String(text) => {
                put(&(arena.len() as u32).to_le_bytes());
                fixed[at + 4..at + 8].copy_from_slice(&(text.len() as u32).to_le_bytes());
                arena.extend_from_slice(text.as_bytes());
            }
        }
    }
    (fixed, arena)
}

fn build(
    source: EntityId,
    target: EntityId,
    direction: Direction,
    interface: u32,
    method: u32,
    status: u32,
    fields: &[Field<'_>],
) -> OwnedMessage {
    let (fixed, arena) = encode(fields);
    OwnedMessage {
        source,
        target,
        direction,
        header: MessageHeader {
            interface,
            method,
            fixed_size: fixed.len() as u32,
            arena_size: arena.len() as u32,
            handle_count: 0,
            status,
            sender: source,
            reserved: 0,
        },
        fixed,
        arena,
    }
}

/// A well-formed request.
pub fn request(
    source: EntityId,
    target: EntityId,
    interface: u32,
    method: u32,
    fields: &[Field<'_>],
) -> OwnedMessage {
    build(
        source,
        target,
        Direction::Request,
        interface,
        method,
        0,
        fields,
    )
}

/// A well-formed reply from `source` (the server) to `target` (the client).
pub fn reply(
    source: EntityId,
    target: EntityId,
    interface: u32,
    method: u32,
    status: u32,
    fields: &[Field<'_>],
) -> OwnedMessage {
    build(
        source,
        target,
        Direction::Reply,
        interface,
        method,
        status,
        fields,
    )
}

/// Checks `message` and asserts the audit record describes it, whatever the verdict.
pub fn check(policy: &Policy, message: &Message<'_>) -> Verdict {
    let Decision { verdict, audit } = policy.check(message);
    assert_eq!(audit.source, message.source);
    assert_eq!(audit.target, message.target);
    assert_eq!(audit.direction, message.direction);
    assert_eq!(audit.interface, message.header.interface);
    assert_eq!(audit.method, message.header.method);
    assert_eq!(audit.verdict, verdict);
    verdict
}

/// Decodes arbitrary bytes into a message, for the fuzz target and the no-panic test.
///
/// Byte 0 picks the direction (bit 7), the source (bits 0-2) and the target (bits 3-5), so that
/// the fixture's entities come up often. The next [`MESSAGE_HEADER_SIZE`] bytes are the header.
/// The rest is split at the header's `fixed_size` (or its end, if shorter) into the fixed part
/// and the arena, so a fuzzer reaches the rules once it learns to make sizes agree.
pub fn message_from_bytes(bytes: &[u8]) -> Option<Message<'_>> {
    let (&control, rest) = bytes.split_first()?;
    let (header, rest) = rest.split_first_chunk::<MESSAGE_HEADER_SIZE>()?;
    let header = MessageHeader::from_bytes(header);
    let fixed_length =
        usize::try_from(header.fixed_size).map_or(rest.len(), |size| size.min(rest.len()));
    let (fixed, arena) = rest.split_at(fixed_length);
    Some(Message {
        source: EntityId::from(control & 0b111),
        target: EntityId::from((control >> 3) & 0b111),
        direction: if control & 0x80 == 0 {
            Direction::Request
        } else {
            Direction::Reply
        },
        header,
        fixed,
        arena,
    })
}
