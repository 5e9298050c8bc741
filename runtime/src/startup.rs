//! The start-up block: the entity's identity, arguments and named handles.

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};
use septa_abi::startup::{HEADER_SIZE, STARTUP_MAGIC, STARTUP_MAX_SIZE};

static BLOCK: AtomicUsize = AtomicUsize::new(0);

/// Records where the block is (called once by `_start`).
pub fn initialise(address: usize) {
    BLOCK.store(address, Ordering::Relaxed);
}

fn block() -> &'static [u8] {
    let address = BLOCK.load(Ordering::Relaxed);
    if address == 0 {
        return &[];
    }
    // SAFETY: the kernel maps a read-only page of STARTUP_MAX_SIZE bytes at this address for
    // the entity's whole life.
    unsafe { core::slice::from_raw_parts(address as *const u8, STARTUP_MAX_SIZE) }
}

fn word(bytes: &[u8], offset: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        bytes.get(offset..offset + 4)?.try_into().ok()?,
    ))
}

/// The arguments, the first being the entity's name.
pub fn arguments() -> Vec<&'static str> {
    let bytes = block();
    let mut result = Vec::new();
    if word(bytes, 0) != Some(STARTUP_MAGIC) {
        return result;
    }
    let count = word(bytes, 8).unwrap_or(0) as usize;
    let mut offset = HEADER_SIZE;
    for _ in 0..count {
        let Some(length) = bytes
            .get(offset..)
            .and_then(|rest| rest.iter().position(|b| *b == 0))
        else {
            break;
        };
        result.push(core::str::from_utf8(&bytes[offset..offset + length]).unwrap_or(""));
        offset += length + 1;
    }
    result
}

fn handles_offset(bytes: &[u8]) -> Option<usize> {
    let count = word(bytes, 8)? as usize;
    let mut offset = HEADER_SIZE;
    for _ in 0..count {
        offset += bytes.get(offset..)?.iter().position(|b| *b == 0)? + 1;
    }
    Some(offset)
}

/// The handle of the capability named `name` in the system description.
pub fn handle(name: &str) -> Option<u32> {
    let bytes = block();
    if word(bytes, 0) != Some(STARTUP_MAGIC) {
        return None;
    }
    let count = word(bytes, 12)? as usize;
    let mut offset = handles_offset(bytes)?;
    for _ in 0..count {
        let handle = word(bytes, offset)?;
        let length = word(bytes, offset + 4)? as usize;
        let candidate = bytes.get(offset + 8..offset + 8 + length)?;
        if candidate == name.as_bytes() {
            return Some(handle);
        }
        offset += 8 + length;
    }
    None
}

/// The entity's identity, from the start-up block.
pub fn entity_id() -> u32 {
    word(block(), 4).unwrap_or(u32::MAX)
}

/// The entity's name (its first argument).
pub fn name() -> &'static str {
    arguments().first().copied().unwrap_or("entity")
}

/// The arguments as owned strings.
pub fn owned_arguments() -> Vec<String> {
    arguments().into_iter().map(String::from).collect()
}
