//! The message codec the generated clients and dispatchers share.
//!
//! A message is a [`MessageHeader`], a fixed part and an arena, laid out by
//! [`septa_abi::layout`]; the generated code passes each field's offset, computed by the
//! interface compiler with that same module. Everything that reads a message works on
//! untrusted bytes: reads go through `get` and checked arithmetic and answer `None` rather than
//! panic.

use crate::{CallError, Transport};
use septa_abi::{
    Error, MESSAGE_ARENA_MAX, MESSAGE_FIXED_MAX, MESSAGE_HANDLES_MAX, MESSAGE_HEADER_SIZE,
    MessageHeader, status,
};

/// Writes one message into a caller's buffer: fixed-part fields at their offsets, slices
/// appended to the arena, then the header.
///
/// A write that does not fit (buffer too small, arena over [`MESSAGE_ARENA_MAX`], a slice longer
/// than a `u32` can say) marks the message as not fitting; the `finish_` methods report it.
pub(crate) struct Encoder<'a> {
    buffer: &'a mut [u8],
    fixed_size: usize,
    arena_size: usize,
    fits: bool,
}

impl<'a> Encoder<'a> {
    /// Starts a message whose fixed part is `fixed_size` bytes, zeroing that part so that no
    /// stale bytes (padding) leave the entity.
    pub(crate) fn new(buffer: &'a mut [u8], fixed_size: usize) -> Encoder<'a> {
        let fixed = MESSAGE_HEADER_SIZE
            .checked_add(fixed_size)
            .filter(|_| fixed_size <= MESSAGE_FIXED_MAX)
            .and_then(|end| buffer.get_mut(MESSAGE_HEADER_SIZE..end));
        let fits = match fixed {
            Some(fixed) => {
                fixed.fill(0);
                true
            }
            None => false,
        };
        Encoder {
            buffer,
            fixed_size,
            arena_size: 0,
            fits,
        }
    }

    /// Copies `bytes` to `offset` in the message, if it fits.
    fn put(&mut self, offset: usize, bytes: &[u8]) {
        let slot = offset
            .checked_add(bytes.len())
            .and_then(|end| self.buffer.get_mut(offset..end));
        match slot {
            Some(slot) => slot.copy_from_slice(bytes),
            None => self.fits = false,
        }
    }

    /// Copies `bytes` to `offset` in the fixed part, if it lies within the fixed part.
    fn put_fixed(mut self, offset: usize, bytes: &[u8]) -> Self {
        if offset
            .checked_add(bytes.len())
            .is_some_and(|end| end <= self.fixed_size)
        {
            self.put(MESSAGE_HEADER_SIZE + offset, bytes);
        } else {
            self.fits = false;
        }
        self
    }

    /// A `u32` field at `offset` in the fixed part.
    pub(crate) fn u32(self, offset: usize, value: u32) -> Self {
        self.put_fixed(offset, &value.to_le_bytes())
    }

    /// An `i32` field at `offset` in the fixed part.
    #[allow(
        dead_code,
        reason = "generated code uses a kind's method only if a field has it"
    )]
    pub(crate) fn i32(self, offset: usize, value: i32) -> Self {
        self.put_fixed(offset, &value.to_le_bytes())
    }

    /// A `u64` field at `offset` in the fixed part.
    pub(crate) fn u64(self, offset: usize, value: u64) -> Self {
        self.put_fixed(offset, &value.to_le_bytes())
    }

    /// An `i64` field at `offset` in the fixed part.
    pub(crate) fn i64(self, offset: usize, value: i64) -> Self {
        self.put_fixed(offset, &value.to_le_bytes())
    }

    /// A byte-string field: `value` appended to the arena, its (offset, length) at `offset`.
    pub(crate) fn bytes(mut self, offset: usize, value: &[u8]) -> Self {
        let start = self.arena_size;
        let end = start
            .checked_add(value.len())
            .filter(|end| *end <= MESSAGE_ARENA_MAX);
        let (Some(end), Ok(start_word), Ok(length_word)) =
            (end, u32::try_from(start), u32::try_from(value.len()))
        else {
            self.fits = false;
            return self;
        };
        self.put(MESSAGE_HEADER_SIZE + self.fixed_size + start, value);
        self.arena_size = end;
        self.put_fixed(offset, &start_word.to_le_bytes())
            .put_fixed(offset + 4, &length_word.to_le_bytes())
    }

    /// A string field, carried like a byte string.
    pub(crate) fn string(self, offset: usize, value: &str) -> Self {
        self.bytes(offset, value.as_bytes())
    }

    /// Writes the header; returns the whole message, or the buffer back if it did not fit.
    fn finish(self, interface: u32, method: u32, status: u32) -> Result<&'a [u8], &'a mut [u8]> {
        let header = MessageHeader {
            interface,
            method,
            // Both are bounded by the ABI maximums, far below `u32::MAX`.
            fixed_size: u32::try_from(self.fixed_size).unwrap_or(u32::MAX),
            arena_size: u32::try_from(self.arena_size).unwrap_or(u32::MAX),
            handle_count: 0,
            status,
            sender: 0,
            reserved: 0,
        };
        let length = MESSAGE_HEADER_SIZE + self.fixed_size + self.arena_size;
        let buffer = self.buffer;
        // Every write having fitted, the buffer holds the whole message; checked all the same,
        // so that slicing below cannot fail.
        if !self.fits || buffer.len() < length {
            return Err(buffer);
        }
        buffer[..MESSAGE_HEADER_SIZE].copy_from_slice(&header.to_bytes());
        Ok(&buffer[..length])
    }

    /// Finishes a request; one that does not fit a message is the kernel's `TooLarge`.
    pub(crate) fn finish_request(self, interface: u32, method: u32) -> Result<&'a [u8], CallError> {
        self.finish(interface, method, status::OK)
            .map_err(|_| CallError::Kernel(Error::TooLarge))
    }

    /// Finishes a successful reply to `request` and returns its length.
    ///
    /// A reply that does not fit is replaced by a `BAD_REQUEST` status: the request asked for
    /// more than one message can carry back.
    pub(crate) fn finish_reply(self, request: &MessageHeader) -> usize {
        match self.finish(request.interface, request.method, status::OK) {
            Ok(message) => message.len(),
            Err(buffer) => bad_request(buffer, request),
        }
    }
}

/// Reads the fields of a message whose sizes have been checked by [`split`].
#[derive(Clone, Copy)]
pub(crate) struct Decoder<'a> {
    fixed: &'a [u8],
    arena: &'a [u8],
}

impl<'a> Decoder<'a> {
    /// Size of the fixed part.
    pub(crate) fn fixed_size(&self) -> usize {
        self.fixed.len()
    }

    fn array<const SIZE: usize>(&self, offset: usize) -> Option<[u8; SIZE]> {
        self.fixed
            .get(offset..offset.checked_add(SIZE)?)?
            .try_into()
            .ok()
    }

    /// The `u32` field at `offset`.
    pub(crate) fn u32(&self, offset: usize) -> Option<u32> {
        self.array(offset).map(u32::from_le_bytes)
    }

    /// The `i32` field at `offset`.
    #[allow(
        dead_code,
        reason = "generated code uses a kind's method only if a field has it"
    )]
    pub(crate) fn i32(&self, offset: usize) -> Option<i32> {
        self.array(offset).map(i32::from_le_bytes)
    }

    /// The `u64` field at `offset`.
    pub(crate) fn u64(&self, offset: usize) -> Option<u64> {
        self.array(offset).map(u64::from_le_bytes)
    }

    /// The `i64` field at `offset`.
    pub(crate) fn i64(&self, offset: usize) -> Option<i64> {
        self.array(offset).map(i64::from_le_bytes)
    }

    /// The byte-string field at `offset`: its slice of the arena, if within it.
    pub(crate) fn bytes(&self, offset: usize) -> Option<&'a [u8]> {
        let start = usize::try_from(self.u32(offset)?).ok()?;
        let length = usize::try_from(self.u32(offset.checked_add(4)?)?).ok()?;
        self.arena.get(start..start.checked_add(length)?)
    }

    /// The string field at `offset`: UTF-8 without NUL (the rule the monitor enforces).
    pub(crate) fn string(&self, offset: usize) -> Option<&'a str> {
        let bytes = self.bytes(offset)?;
        if bytes.contains(&0) {
            return None;
        }
        core::str::from_utf8(bytes).ok()
    }
}

/// The header at the start of `message`, read as if zero-padded when `message` is shorter.
pub(crate) fn header(message: &[u8]) -> MessageHeader {
    let mut bytes = [0u8; MESSAGE_HEADER_SIZE];
    let available = message.len().min(MESSAGE_HEADER_SIZE);
    bytes[..available].copy_from_slice(&message[..available]);
    MessageHeader::from_bytes(&bytes)
}

/// The header and fields of `message`, if its header describes exactly its bytes, within the
/// ABI's bounds, with no handles and a zero reserved word.
pub(crate) fn split(message: &[u8]) -> Option<(MessageHeader, Decoder<'_>)> {
    let header = MessageHeader::from_bytes(message.get(..MESSAGE_HEADER_SIZE)?.try_into().ok()?);
    if header.total_size()? != message.len()
        || header.handle_count > MESSAGE_HANDLES_MAX
        || header.reserved != 0
    {
        return None;
    }
    let fixed_end = MESSAGE_HEADER_SIZE + usize::try_from(header.fixed_size).ok()?;
    let fixed = message.get(MESSAGE_HEADER_SIZE..fixed_end)?;
    let arena = message.get(fixed_end..)?;
    Some((header, Decoder { fixed, arena }))
}

/// Sends `request` through `transport` and checks the reply: that it is well-formed, answers
/// the same interface and method, succeeded, and has a fixed part of `fixed_size` bytes.
pub(crate) fn call<'r, T: Transport>(
    transport: &mut T,
    request: &[u8],
    reply: &'r mut [u8],
    fixed_size: usize,
) -> Result<Decoder<'r>, CallError> {
    let asked = header(request);
    let length = transport.call(request, reply)?;
    let reply: &'r [u8] = reply;
    let (answer, body) = reply
        .get(..length)
        .and_then(split)
        .ok_or(CallError::BadReply)?;
    if answer.interface != asked.interface || answer.method != asked.method {
        return Err(CallError::BadReply);
    }
    if answer.status != status::OK {
        return Err(CallError::Status(answer.status));
    }
    if body.fixed_size() != fixed_size {
        return Err(CallError::BadReply);
    }
    Ok(body)
}

/// Writes a reply to `request` that carries only `status`; returns its length (0 when `reply`
/// cannot hold a header).
fn status_reply(reply: &mut [u8], request: &MessageHeader, status: u32) -> usize {
    let header = MessageHeader {
        interface: request.interface,
        method: request.method,
        status,
        ..MessageHeader::default()
    };
    match reply.get_mut(..MESSAGE_HEADER_SIZE) {
        Some(slot) => {
            slot.copy_from_slice(&header.to_bytes());
            MESSAGE_HEADER_SIZE
        }
        None => 0,
    }
}

/// Answers `request` with `BAD_REQUEST`.
pub(crate) fn bad_request(reply: &mut [u8], request: &MessageHeader) -> usize {
    status_reply(reply, request, status::BAD_REQUEST)
}

/// Answers `request` with `UNKNOWN_METHOD`.
pub(crate) fn unknown_method(reply: &mut [u8], request: &MessageHeader) -> usize {
    status_reply(reply, request, status::UNKNOWN_METHOD)
}

/// Answers `request` with a server's error status. A status of 0 would claim success with no
/// reply fields, so it is sent as [`status::APPLICATION`] instead.
pub(crate) fn error_reply(reply: &mut [u8], request: &MessageHeader, status: u32) -> usize {
    let status = if status == status::OK {
        status::APPLICATION
    } else {
        status
    };
    status_reply(reply, request, status)
}
