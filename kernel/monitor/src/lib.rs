//! Septa's security monitor: a pure decision engine that grants or denies every IPC message.
//!
//! The kernel asks the monitor about every request and every reply, passing the kernel-stamped
//! source and target entity identities, the message header and the message bytes. The monitor
//! first validates the message's structure against the interface descriptors (generated from
//! the interface definition files), then looks for a rule that grants it. Anything not granted
//! is denied. Every decision comes with an [`AuditRecord`] the kernel prints for denials.
//!
//! The [`Policy`] is compiled by the image tool from the system description and is read-only
//! once the kernel has booted. This crate has no unsafe code, allocates only when a policy is
//! built or decoded, and never panics on message bytes (it is fuzzed).
//!
//! Checking is two private stages: `structure` validates the header and body against the
//! method's descriptor (every read bounds-checked, field placement from [`septa_abi::layout`]),
//! and only then `rules` looks for a grant. Failing closed is the rule throughout: a condition
//! that does not fit its field, or a field the method lacks, never holds. The crate's README
//! lists what the monitor does not support.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

mod rules;
mod structure;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use septa_abi::MessageHeader;
use septa_abi::layout::FieldKind;
use serde::{Deserialize, Serialize};

/// An entity's identity: its index in the system description.
pub type EntityId = u32;

/// Everything the monitor decides with: interface descriptors and rules.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Policy {
    /// Entity names, indexed by [`EntityId`], for audit records.
    pub entity_names: Vec<String>,
    /// Every interface the system's messages may use.
    pub interfaces: Vec<InterfaceDescriptor>,
    /// Grant rules; a message is granted when one rule matches it.
    pub rules: Vec<Rule>,
}

/// One interface, as generated from its definition file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct InterfaceDescriptor {
    /// Interface identifier (message header `interface`).
    pub id: u32,
    /// Interface name.
    pub name: String,
    /// Its methods.
    pub methods: Vec<MethodDescriptor>,
}

/// One method of an interface.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct MethodDescriptor {
    /// Method identifier (message header `method`).
    pub id: u32,
    /// Method name.
    pub name: String,
    /// Fields of the request, in order.
    pub request: Vec<FieldDescriptor>,
    /// Fields of a successful reply, in order.
    pub reply: Vec<FieldDescriptor>,
}

/// One typed field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FieldDescriptor {
    /// Field name.
    pub name: String,
    /// Field type.
    #[serde(with = "field_kind_serde")]
    pub kind: FieldKind,
}

/// A grant rule: `source` may call `method` (or every method) of `interface` on `target`,
/// provided every condition holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Rule {
    /// Calling entity.
    pub source: EntityId,
    /// Serving entity.
    pub target: EntityId,
    /// Interface identifier.
    pub interface: u32,
    /// Method identifier, or `None` for every method of the interface.
    pub method: Option<u32>,
    /// Conditions on request fields; all must hold.
    pub conditions: Vec<Condition>,
}

/// A condition on one request field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Condition {
    /// Index of the field in the method's request.
    pub field: u32,
    /// What must hold of it.
    pub predicate: Predicate,
}

/// A test on a typed field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Predicate {
    /// A `String` or `Bytes` field starts with these bytes.
    Prefix(Vec<u8>),
    /// An integer field lies in `minimum..=maximum`.
    Range {
        /// Smallest allowed value.
        minimum: i128,
        /// Largest allowed value.
        maximum: i128,
    },
}

/// Whether a message is a request or a reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server.
    Request,
    /// Server to client, answering a request the kernel saw granted.
    Reply,
}

/// A message as the kernel presents it to the monitor.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// Kernel-stamped sender.
    pub source: EntityId,
    /// Receiver.
    pub target: EntityId,
    /// Request or reply.
    pub direction: Direction,
    /// For a reply: the interface and method of the request it answers.
    pub header: MessageHeader,
    /// The fixed part (exactly `header.fixed_size` bytes).
    pub fixed: &'a [u8],
    /// The arena (exactly `header.arena_size` bytes).
    pub arena: &'a [u8],
}

/// The monitor's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The message may be delivered.
    Grant,
    /// The message must not be delivered.
    Deny(DenyReason),
}

/// Why a message was denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenyReason {
    /// The header's sizes or handle count are out of bounds, `fixed`/`arena` do not match its
    /// sizes, or its reserved word is not zero.
    BadSizes,
    /// The interface identifier is not known.
    UnknownInterface,
    /// The method identifier is not known in the interface.
    UnknownMethod,
    /// The fixed part's size does not match the method's descriptor.
    BadFixedSize,
    /// A slice field points outside the arena.
    SliceOutOfBounds {
        /// The offending field's index.
        field: u32,
    },
    /// A `String` field is not UTF-8 or contains NUL.
    BadString {
        /// The offending field's index.
        field: u32,
    },
    /// No rule grants this source, target, interface and method.
    NoRule,
    /// A rule matched the call but its condition on this field did not hold.
    ConditionFailed {
        /// The field whose condition failed.
        field: u32,
    },
    /// A reply carried an error status with a non-empty body.
    BadReply,
}

/// What the kernel logs about a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Sender.
    pub source: EntityId,
    /// Receiver.
    pub target: EntityId,
    /// Request or reply.
    pub direction: Direction,
    /// Interface identifier from the header.
    pub interface: u32,
    /// Method identifier from the header.
    pub method: u32,
    /// The verdict.
    pub verdict: Verdict,
}

/// A decision: the verdict and its audit record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The verdict.
    pub verdict: Verdict,
    /// What to log.
    pub audit: AuditRecord,
}

mod field_kind_serde {
    //! Serde encoding of [`FieldKind`], which lives in the dependency-free ABI crate.
    use septa_abi::layout::FieldKind;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    const KINDS: [FieldKind; 6] = [
        FieldKind::U32,
        FieldKind::I32,
        FieldKind::U64,
        FieldKind::I64,
        FieldKind::Bytes,
        FieldKind::String,
    ];

    pub fn serialize<S: Serializer>(kind: &FieldKind, serializer: S) -> Result<S::Ok, S::Error> {
        let index = KINDS
            .iter()
            .position(|candidate| candidate == kind)
            .unwrap_or(0) as u8;
        index.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<FieldKind, D::Error> {
        let index = u8::deserialize(deserializer)?;
        KINDS
            .get(index as usize)
            .copied()
            .ok_or_else(|| serde::de::Error::custom("unknown field kind"))
    }
}

impl Policy {
    /// Decides whether `message` may be delivered.
    ///
    /// Requests: the structure is validated against the method's request descriptor, then a
    /// rule with matching source, target, interface and method (or `None`) whose conditions all
    /// hold grants it. Replies: the structure is validated against the method's reply
    /// descriptor (a non-zero `status` requires an empty body), and the reply is granted when
    /// some rule lets the reply's target call that interface and method on the reply's source
    /// (conditions are not re-evaluated: the kernel only lets a server reply to a call it
    /// delivered).
    pub fn check(&self, message: &Message<'_>) -> Decision {
        let verdict = match self.decide(message) {
            Ok(()) => Verdict::Grant,
            Err(reason) => Verdict::Deny(reason),
        };
        Decision {
            verdict,
            audit: AuditRecord {
                source: message.source,
                target: message.target,
                direction: message.direction,
                interface: message.header.interface,
                method: message.header.method,
                verdict,
            },
        }
    }

    /// Structure first, then rules: a rule is only ever evaluated on a message whose fields
    /// are known to lie where its descriptor says.
    fn decide(&self, message: &Message<'_>) -> Result<(), DenyReason> {
        let body = structure::validate(self, message)?;
        match message.direction {
            Direction::Request => rules::grant_request(self, message, &body),
            Direction::Reply => rules::grant_reply(self, message),
        }
    }

    /// The interface with identifier `id`; the first one if the policy lists it twice.
    pub fn interface(&self, id: u32) -> Option<&InterfaceDescriptor> {
        self.interfaces.iter().find(|interface| interface.id == id)
    }

    /// Method `method` of interface `interface`.
    pub fn method(&self, interface: u32, method: u32) -> Option<&MethodDescriptor> {
        self.interface(interface)?
            .methods
            .iter()
            .find(|candidate| candidate.id == method)
    }
}

/// A short reason for the kernel's audit line.
impl fmt::Display for DenyReason {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenyReason::BadSizes => {
                formatter.write_str("header sizes, handle count or reserved word invalid")
            }
            DenyReason::UnknownInterface => formatter.write_str("unknown interface"),
            DenyReason::UnknownMethod => formatter.write_str("unknown method"),
            DenyReason::BadFixedSize => {
                formatter.write_str("fixed part size does not match the method")
            }
            DenyReason::SliceOutOfBounds { field } => {
                write!(formatter, "slice field {field} outside the arena")
            }
            DenyReason::BadString { field } => {
                write!(formatter, "string field {field} not UTF-8 or contains NUL")
            }
            DenyReason::NoRule => formatter.write_str("no rule grants this call"),
            DenyReason::ConditionFailed { field } => {
                write!(formatter, "condition on field {field} failed")
            }
            DenyReason::BadReply => formatter.write_str("error reply with a non-empty body"),
        }
    }
}
