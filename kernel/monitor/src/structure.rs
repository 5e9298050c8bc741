//! Structural validation: a message's header and body checked against its method's descriptor.
//!
//! Every read goes through `get` and checked arithmetic, because the header, the fixed part and
//! the arena all come from an untrusted sender. Field placement is not re-derived here: it comes
//! from [`septa_abi::layout`], the same code the interface generator encodes with.

use crate::{DenyReason, Direction, FieldDescriptor, Message, Policy};
use septa_abi::layout::{self, FieldKind};
use septa_abi::{MESSAGE_ARENA_MAX, MESSAGE_FIXED_MAX, MESSAGE_HANDLES_MAX};

/// One field's value, read from a message.
pub(crate) enum Value<'a> {
    /// An integer field, widened so that every signed and unsigned kind compares correctly.
    Integer(i128),
    /// A `Bytes` or `String` field: its slice of the arena.
    Slice(&'a [u8]),
}

/// A message body whose structure has been validated against its method's fields.
pub(crate) struct Body<'policy, 'a> {
    fields: &'policy [FieldDescriptor],
    fixed: &'a [u8],
    arena: &'a [u8],
}

impl<'a> Body<'_, 'a> {
    /// The value of field `index`, or `None` when the method has no such field.
    pub(crate) fn field(&self, index: u32) -> Option<Value<'a>> {
        let index = usize::try_from(index).ok()?;
        let (kind, offset) = layout::placements(kinds(self.fields)).nth(index)?;
        read_field(kind, offset, self.fixed, self.arena)
    }
}

/// The kinds of `fields`, in order, without copying them out.
fn kinds(fields: &[FieldDescriptor]) -> impl Iterator<Item = FieldKind> + '_ {
    fields.iter().map(|field| field.kind)
}

/// Validates `message` against `policy`'s descriptors and returns its body for the rules.
pub(crate) fn validate<'policy, 'a>(
    policy: &'policy Policy,
    message: &Message<'a>,
) -> Result<Body<'policy, 'a>, DenyReason> {
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
                fields: &[],
                fixed: message.fixed,
                arena: message.arena,
            });
        }
        Direction::Reply => &method.reply,
    };

    // A fixed part larger than the ABI allows can never match: such a method cannot be called.
    let fixed_size = layout::fixed_size_of(kinds(fields));
    if fixed_size > MESSAGE_FIXED_MAX || fixed_size != message.fixed.len() {
        return Err(DenyReason::BadFixedSize);
    }

    for (index, (kind, offset)) in layout::placements(kinds(fields)).enumerate() {
        if !kind.is_slice() {
            continue;
        }
        // The fixed part holds at most a few hundred fields, so the index always fits; the
        // fallback only keeps this total.
        let field = u32::try_from(index).unwrap_or(u32::MAX);
        let Some(Value::Slice(bytes)) = read_field(kind, offset, message.fixed, message.arena)
        else {
            return Err(DenyReason::SliceOutOfBounds { field });
        };
        if kind == FieldKind::String && !is_valid_string(bytes) {
            return Err(DenyReason::BadString { field });
        }
    }

    Ok(Body {
        fields,
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

/// Reads the field of `kind` at `offset` in the fixed part.
///
/// Returns `None` when the fixed part is too short for it, or when a slice field's (offset,
/// length) does not lie within the arena.
fn read_field<'a>(
    kind: FieldKind,
    offset: usize,
    fixed: &'a [u8],
    arena: &'a [u8],
) -> Option<Value<'a>> {
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
