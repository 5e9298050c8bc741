//! The start-up block the kernel places at `STARTUP_ADDRESS`: a checked, zero-copy view of the
//! entity's identity, arguments, named handles and routes.
//!
//! [`StartupBlock::new_checked`] walks every record once and refuses a block whose counts or
//! lengths run past its end, so the iterators after it never fail and nothing panics on the
//! block's bytes. The layout is documented in `septa_abi::startup`.

use septa_abi::startup::{HEADER_SIZE, STARTUP_MAGIC};

/// The block is not a well-formed start-up block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// Words before a route record's prefix: kind, handle, bulk and the prefix's length.
const ROUTE_WORDS: usize = 4;

/// A checked start-up block.
#[derive(Clone, Copy, Debug)]
pub struct StartupBlock<'a> {
    bytes: &'a [u8],
    entity_id: u32,
    argument_count: usize,
    handle_count: usize,
    route_count: usize,
    handles_offset: usize,
    routes_offset: usize,
}

/// One route record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    /// `septa_abi::startup::route::{MOUNT, UNIX, INET}` (other values are skipped by routing).
    pub kind: u32,
    /// The capability of the server.
    pub handle: u32,
    /// The shared-memory region for bulk data with the server, or 0 for none.
    pub bulk: u32,
    /// The mount prefix (empty for socket routes).
    pub prefix: &'a [u8],
}

fn word(bytes: &[u8], offset: usize) -> Option<u32> {
    let end = offset.checked_add(4)?;
    Some(u32::from_le_bytes(bytes.get(offset..end)?.try_into().ok()?))
}

/// Length of the NUL-terminated string at `offset`, NUL excluded.
fn string_length(bytes: &[u8], offset: usize) -> Option<usize> {
    bytes.get(offset..)?.iter().position(|byte| *byte == 0)
}

/// A `(u32, ..., length, bytes)` record of `words` words, the length last: returns the offset after it.
fn skip_record(bytes: &[u8], offset: usize, words: usize) -> Option<usize> {
    let length = word(bytes, offset + 4 * (words - 1))? as usize;
    let end = offset.checked_add(4 * words)?.checked_add(length)?;
    (end <= bytes.len()).then_some(end)
}

impl<'a> StartupBlock<'a> {
    /// Checks `bytes` and returns the view.
    pub fn new_checked(bytes: &'a [u8]) -> Result<StartupBlock<'a>, Malformed> {
        if word(bytes, 0) != Some(STARTUP_MAGIC) {
            return Err(Malformed);
        }
        let header = |index: usize| word(bytes, 4 * index).ok_or(Malformed);
        let entity_id = header(1)?;
        let argument_count = header(2)? as usize;
        let handle_count = header(3)? as usize;
        let route_count = header(4)? as usize;
        // Every record takes at least one byte, so a count beyond the block's size is malformed
        // without walking it.
        if argument_count.max(handle_count).max(route_count) > bytes.len() {
            return Err(Malformed);
        }
        let mut offset = HEADER_SIZE;
        for _ in 0..argument_count {
            offset += string_length(bytes, offset).ok_or(Malformed)? + 1;
        }
        let handles_offset = offset;
        for _ in 0..handle_count {
            offset = skip_record(bytes, offset, 2).ok_or(Malformed)?;
        }
        let routes_offset = offset;
        for _ in 0..route_count {
            offset = skip_record(bytes, offset, ROUTE_WORDS).ok_or(Malformed)?;
        }
        Ok(StartupBlock {
            bytes,
            entity_id,
            argument_count,
            handle_count,
            route_count,
            handles_offset,
            routes_offset,
        })
    }

    /// The entity's identity.
    pub fn entity_id(&self) -> u32 {
        self.entity_id
    }

    /// The arguments, the first being the entity's name.
    pub fn arguments(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let bytes = self.bytes;
        let mut offset = HEADER_SIZE;
        (0..self.argument_count).map(move |_| {
            let length = string_length(bytes, offset).unwrap_or(0);
            let argument = &bytes[offset..offset + length];
            offset += length + 1;
            argument
        })
    }

    /// The named handles: `(handle, name)`.
    pub fn handles(&self) -> impl Iterator<Item = (u32, &'a [u8])> + 'a {
        let bytes = self.bytes;
        let mut offset = self.handles_offset;
        (0..self.handle_count).map(move |_| {
            let handle = word(bytes, offset).unwrap_or(0);
            let end = skip_record(bytes, offset, 2).unwrap_or(offset);
            let name = &bytes[(offset + 8).min(end)..end];
            offset = end;
            (handle, name)
        })
    }

    /// The route records.
    pub fn routes(&self) -> impl Iterator<Item = Route<'a>> + 'a {
        let bytes = self.bytes;
        let mut offset = self.routes_offset;
        (0..self.route_count).map(move |_| {
            let kind = word(bytes, offset).unwrap_or(0);
            let handle = word(bytes, offset + 4).unwrap_or(0);
            let bulk = word(bytes, offset + 8).unwrap_or(0);
            let end = skip_record(bytes, offset, ROUTE_WORDS).unwrap_or(offset);
            let prefix = &bytes[(offset + 4 * ROUTE_WORDS).min(end)..end];
            offset = end;
            Route {
                kind,
                handle,
                bulk,
                prefix,
            }
        })
    }

    /// The handle named `name`, if the system description gave the entity one.
    pub fn handle(&self, name: &[u8]) -> Option<u32> {
        self.handles()
            .find(|(_, candidate)| *candidate == name)
            .map(|(handle, _)| handle)
    }
}

/// The entity's start-up block, or `None` if it is malformed (under host tests: the block the
/// test thread installed with `build::install`, if any).
pub fn block() -> Option<StartupBlock<'static>> {
    #[cfg(not(test))]
    {
        use septa_abi::startup::{STARTUP_ADDRESS, STARTUP_MAX_SIZE};
        // SAFETY: the kernel maps a read-only page of STARTUP_MAX_SIZE bytes at STARTUP_ADDRESS
        // in every entity, for the entity's whole life.
        let bytes =
            unsafe { core::slice::from_raw_parts(STARTUP_ADDRESS as *const u8, STARTUP_MAX_SIZE) };
        StartupBlock::new_checked(bytes).ok()
    }
    #[cfg(test)]
    {
        build::installed().and_then(|bytes| StartupBlock::new_checked(bytes).ok())
    }
}

/// Builders of start-up blocks for tests.
#[cfg(test)]
pub mod build {
    use std::cell::Cell;
    use std::vec::Vec;

    std::thread_local! {
        static INSTALLED: Cell<Option<&'static [u8]>> = const { Cell::new(None) };
    }

    /// Makes `bytes` this test thread's start-up block (leaked: tests are short).
    pub fn install(bytes: Vec<u8>) {
        INSTALLED.with(|installed| installed.set(Some(Vec::leak(bytes))));
    }

    /// The block this test thread installed.
    pub fn installed() -> Option<&'static [u8]> {
        INSTALLED.with(Cell::get)
    }

    /// A block with these arguments, handles `(handle, name)` and routes
    /// `(kind, handle, prefix)` without bulk regions.
    pub fn block(
        entity_id: u32,
        arguments: &[&str],
        handles: &[(u32, &str)],
        routes: &[(u32, u32, &str)],
    ) -> Vec<u8> {
        let routes: Vec<(u32, u32, u32, &str)> = routes
            .iter()
            .map(|(kind, handle, prefix)| (*kind, *handle, 0, *prefix))
            .collect();
        block_with_bulk(entity_id, arguments, handles, &routes)
    }

    /// A block with these arguments, handles `(handle, name)` and routes
    /// `(kind, handle, bulk, prefix)`.
    pub fn block_with_bulk(
        entity_id: u32,
        arguments: &[&str],
        handles: &[(u32, &str)],
        routes: &[(u32, u32, u32, &str)],
    ) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [
            super::STARTUP_MAGIC,
            entity_id,
            arguments.len() as u32,
            handles.len() as u32,
            routes.len() as u32,
        ] {
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        for argument in arguments {
            bytes.extend_from_slice(argument.as_bytes());
            bytes.push(0);
        }
        for (handle, name) in handles {
            bytes.extend_from_slice(&handle.to_le_bytes());
            bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
            bytes.extend_from_slice(name.as_bytes());
        }
        for (kind, handle, bulk, prefix) in routes {
            bytes.extend_from_slice(&kind.to_le_bytes());
            bytes.extend_from_slice(&handle.to_le_bytes());
            bytes.extend_from_slice(&bulk.to_le_bytes());
            bytes.extend_from_slice(&(prefix.len() as u32).to_le_bytes());
            bytes.extend_from_slice(prefix.as_bytes());
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use septa_abi::startup::route;
    use std::vec::Vec;

    fn sample() -> Vec<u8> {
        let mut bytes = build::block_with_bulk(
            9,
            &["shell", "-c", "ls"],
            &[(4, "log"), (7, "files"), (6, "bulk")],
            &[
                (route::MOUNT, 7, 6, "/data"),
                (route::UNIX, 8, 0, ""),
                (route::INET, 5, 0, ""),
            ],
        );
        bytes.resize(4096, 0);
        bytes
    }

    #[test]
    fn reads_every_record() {
        let bytes = sample();
        let block = StartupBlock::new_checked(&bytes).unwrap();
        assert_eq!(block.entity_id(), 9);
        let arguments: Vec<&[u8]> = block.arguments().collect();
        assert_eq!(arguments, [&b"shell"[..], b"-c", b"ls"]);
        assert_eq!(block.handle(b"files"), Some(7));
        assert_eq!(block.handle(b"log"), Some(4));
        assert_eq!(block.handle(b"lo"), None);
        let routes: Vec<Route> = block.routes().collect();
        assert_eq!(routes.len(), 3);
        assert_eq!(
            routes[0],
            Route {
                kind: route::MOUNT,
                handle: 7,
                bulk: 6,
                prefix: b"/data"
            }
        );
        assert_eq!(routes[2].kind, route::INET);
        assert_eq!(routes[2].prefix, b"");
    }

    #[test]
    fn an_empty_block_is_well_formed() {
        let bytes = build::block(0, &[], &[], &[]);
        let block = StartupBlock::new_checked(&bytes).unwrap();
        assert_eq!(block.arguments().count(), 0);
        assert_eq!(block.routes().count(), 0);
    }

    #[test]
    fn refuses_blocks_that_run_past_their_end() {
        let bytes = build::block(1, &["a"], &[(1, "name")], &[(route::MOUNT, 2, "/x")]);
        assert!(StartupBlock::new_checked(&bytes).is_ok());
        // Every truncation of the block is refused.
        for length in 0..bytes.len() {
            assert_eq!(
                StartupBlock::new_checked(&bytes[..length]).err(),
                Some(Malformed),
                "truncated to {length}"
            );
        }
        let mut wrong_magic = bytes.clone();
        wrong_magic[0] ^= 1;
        assert!(StartupBlock::new_checked(&wrong_magic).is_err());
        let mut huge_count = bytes.clone();
        huge_count[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(StartupBlock::new_checked(&huge_count).is_err());
        let mut huge_length = bytes;
        let last = huge_length.len() - 6;
        huge_length[last..last + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(StartupBlock::new_checked(&huge_length).is_err());
    }
}
