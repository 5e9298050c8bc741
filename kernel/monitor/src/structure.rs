//! Structural validation: a message's header and body checked against its method's descriptor.
//!
//! Every read goes through `get` and checked arithmetic, because the header, the fixed part and
//! the arena all come from an untrusted sender. Field placement is not re-derived here: it comes
//! from [`septa_abi::layout`], the same code the interface generator encodes with.

use crate::{DenyReason, Direction, FieldDescriptor, Message, Policy};
use septa_abi::layout::{self, FieldKind};
use septa_abi::{MESSAGE_ARENA_MAX, MESSAGE_FIXED_MAX, MESSAGE_HANDLES_MAX};

/// Every field kind, to derive [`SMALLEST_FIELD_SIZE`] from the ABI rather than restate it.
const ALL_KINDS: [FieldKind; 6] = [
    FieldKind::U32,
    FieldKind::I32,
    FieldKind::U64,
    FieldKind::I64,
    FieldKind::Bytes,
    FieldKind::String,
];

/// The fewest bytes any field takes in the fixed part.
const SMALLEST_FIELD_SIZE: usize = {
    let mut smallest = usize::MAX;
    let mut index = 0;
    while index < ALL_KINDS.len() {
        let size = ALL_KINDS[index].size();
        if size < smallest {
            smallest = size;
        }
        index += 1;
    }
    smallest
};

/// The most fields a fixed part of at most [`MESSAGE_FIXED_MAX`] bytes can hold. A method that
/// declares more can never be called, so its messages fail with `BadFixedSize`.
const FIELDS_MAX: usize = MESSAGE_FIXED_MAX / SMALLEST_FIELD_SIZE;

/// A method's field kinds, copied onto the stack.
///
/// The ABI's layout functions take a slice of kinds while descriptors hold whole
/// [`FieldDescriptor`]s; collecting the kinds into a `Vec` would allocate on every message, which
/// the kernel's hot path must not do. [`FIELDS_MAX`] bounds the copy (a few hundred bytes).
pub(crate) struct Kinds {
    buffer: [FieldKind; FIELDS_MAX],
    count: usize,
}

impl Kinds {
    /// The kinds of `fields`, or `None` when no valid fixed part could hold that many fields.
    fn of(fields: &[FieldDescriptor]) -> Option<Kinds> {
        if fields.len() > FIELDS_MAX {
            return None;
        }
        let mut buffer = [FieldKind::U32; FIELDS_MAX];
        for (slot, field) in buffer.iter_mut().zip(fields) {
            *slot = field.kind;
        }
        Some(Kinds {
            buffer,
            count: fields.len(),
        })
    }

    /// No fields: the body of an error reply.
    fn none() -> Kinds {
        Kinds {
            buffer: [FieldKind::U32; FIELDS_MAX],
            count: 0,
        }
    }

    fn as_slice(&self) -> &[FieldKind] {
        // `count` never exceeds the buffer (checked in `of`); the fallback only keeps this total.
        self.buffer.get(..self.count).unwrap_or(&[])
    }
}

/// One field's value, read from a message.
pub(crate) enum Value<'a> {
    /// An integer field, widened so that every signed and unsigned kind compares correctly.
    Integer(i128),
    /// A `Bytes` or `String` field: its slice of the arena.
    Slice(&'a [u8]),
}

/// A message body whose structure has been validated against its method's fields.
pub(crate) struct Body<'a> {
    kinds: Kinds,
    fixed: &'a [u8],
    arena: &'a [u8],
}

impl<'a> Body<'a> {
    /// The value of field `index`, or `None` when the method has no such field.
    pub(crate) fn field(&self, index: u32) -> Option<Value<'a>> {
        read_field(
            self.kinds.as_slice(),
            self.fixed,
            self.arena,
            usize::try_from(index).ok()?,
        )
    }
}

/// Validates `message` against `policy`'s descriptors and returns its body for the rules.
pub(crate) fn validate<'a>(policy: &Policy, message: &Message<'a>) -> Result<Body<'a>, DenyReason> {
    let header = &message.header;
    let sizes_valid = size_matches(header.fixed_size, MESSAGE_FIXED_MAX, message.fixed.len())
        && size_matches(header.arena_size, MESSAGE_ARENA_MAX, message.arena.len())
        && handle_count_allowed(header.handle_count)
        && header.reserved == 0;
    if !sizes_valid {
        return Err(DenyReason::BadSizes);
    }

    let interface = policy
        .interface(header.interface)
        .ok_or(DenyReason::UnknownInterface)?;
    let method = interface
        .methods
        .iter()
        .find(|method| method.id == header.method)
        .ok_or(DenyReason::UnknownMethod)?;

    let fields = match message.direction {
        Direction::Request => &method.request,
        // An error reply says only its status: a body would be data the method's reply
        // descriptor does not describe, so nothing could check it.
        Direction::Reply if header.status != 0 => {
            if !message.fixed.is_empty() || !message.arena.is_empty() {
                return Err(DenyReason::BadReply);
            }
            return Ok(Body {
                kinds: Kinds::none(),
                fixed: message.fixed,
                arena: message.arena,
            });
        }
        Direction::Reply => &method.reply,
    };

    let kinds = Kinds::of(fields).ok_or(DenyReason::BadFixedSize)?;
    if layout::fixed_size(kinds.as_slice()) != message.fixed.len() {
        return Err(DenyReason::BadFixedSize);
    }

    for (index, kind) in kinds.as_slice().iter().enumerate() {
        if !kind.is_slice() {
            continue;
        }
        // Fewer than FIELDS_MAX fields, so the index always fits; the fallback keeps this total.
        let field = u32::try_from(index).unwrap_or(u32::MAX);
        let Some(Value::Slice(bytes)) =
            read_field(kinds.as_slice(), message.fixed, message.arena, index)
        else {
            return Err(DenyReason::SliceOutOfBounds { field });
        };
        if *kind == FieldKind::String && !is_valid_string(bytes) {
            return Err(DenyReason::BadString { field });
        }
    }

    Ok(Body {
        kinds,
        fixed: message.fixed,
        arena: message.arena,
    })
}

/// Whether a header size is within `maximum` and equals the length the kernel handed over.
fn size_matches(declared: u32, maximum: usize, actual: usize) -> bool {
    usize::try_from(declared).is_ok_and(|declared| declared <= maximum && declared == actual)
}

/// Whether a message may carry `count` handles.
#[allow(
    clippy::absurd_extreme_comparisons,
    reason = "the limit is 0 today; `<=` stays right when the ABI raises it"
)]
fn handle_count_allowed(count: u32) -> bool {
    count <= MESSAGE_HANDLES_MAX
}

/// A `String` field: UTF-8, and free of NUL so that C code handed it cannot see it cut short.
fn is_valid_string(bytes: &[u8]) -> bool {
    !bytes.contains(&0) && core::str::from_utf8(bytes).is_ok()
}

/// Reads field `index` of a message laid out as `kinds`.
///
/// Returns `None` when there is no such field, when the fixed part is too short for it, or when
/// a slice field's (offset, length) does not lie within the arena.
fn read_field<'a>(
    kinds: &[FieldKind],
    fixed: &'a [u8],
    arena: &'a [u8],
    index: usize,
) -> Option<Value<'a>> {
    let kind = *kinds.get(index)?;
    let offset = layout::field_offset(kinds, index)?;
    let bytes = fixed.get(offset..offset.checked_add(kind.size())?)?;
    let value = match kind {
        FieldKind::U32 => Value::Integer(i128::from(u32::from_le_bytes(bytes.try_into().ok()?))),
        FieldKind::I32 => Value::Integer(i128::from(i32::from_le_bytes(bytes.try_into().ok()?))),
        FieldKind::U64 => Value::Integer(i128::from(u64::from_le_bytes(bytes.try_into().ok()?))),
        FieldKind::I64 => Value::Integer(i128::from(i64::from_le_bytes(bytes.try_into().ok()?))),
        FieldKind::Bytes | FieldKind::String => {
            let start = word(bytes, 0)?;
            let length = word(bytes, 4)?;
            Value::Slice(arena.get(start..start.checked_add(length)?)?)
        }
    };
    Some(value)
}

/// The little-endian `u32` at `offset` in `bytes`, widened to an index.
fn word(bytes: &[u8], offset: usize) -> Option<usize> {
    let word = bytes.get(offset..offset.checked_add(4)?)?;
    usize::try_from(u32::from_le_bytes(word.try_into().ok()?)).ok()
}
