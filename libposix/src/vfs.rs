//! The file VFS servers as libposix calls them: generated File clients over the kernel's
//! `CALL`, kept in a small pool so that several threads can call at once, and the one
//! translation of call errors into errno values.
//!
//! # Clients
//!
//! A [`FileClient`] owns its request and reply buffers (one message each, allocated once from
//! libposix's [heap](crate::heap)). The pool keeps up to [`CLIENTS`] of them. A call takes one
//! for its whole duration, points its transport at the server's endpoint and gives it back
//! afterwards; the pool's lock is held only to take and to give back, never across the
//! blocking `CALL`. So up to [`CLIENTS`] calls of one entity are in flight at once, on any
//! servers, and a further caller waits (yielding) until a client is free. Each client is made
//! on first need: a single-threaded program uses one, about 32 KiB.
//!
//! # Bulk data
//!
//! File data goes through the bulk region the system's image shares between the entity and
//! each file VFS it mounts (the mount route names it): each pool slot owns a [`Window`] of
//! `size / CLIENTS` bytes there, so concurrent calls never share one. The server reads a file
//! straight into the window and the client copies it out (and the reverse for writes): one copy
//! on each side, none through the kernel. Without a region (none declared, or it would not
//! map), data goes in messages.
//!
//! # Errors
//!
//! A server answers an error with the status `APPLICATION + errno` (Linux values), which
//! becomes that errno. The monitor's denial is `EACCES`. A server that died (`ServerGone`),
//! another kernel error, a malformed reply, a status outside the application range or an
//! application status that is no errno is `EIO`; a method the server does not know is
//! `ENOSYS` (counted as the system call's) and a request it could not decode `EINVAL`.
//!
//! # A server that went away
//!
//! When a call finds its server gone, the server's *generation* goes up. Every description
//! records the generation of its server when it is opened; once they differ, its handle may
//! name nothing, or a description another open made after a restart, so every later call on
//! it is `EIO` without reaching the server, and `close` just forgets it.

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use septa_abi::{Error, status};
use septa_interfaces::file::FileClient;
use septa_interfaces::{CallError, Transport};

use crate::descriptors::OpenFile;
use crate::errno::{Errno, Result};
use crate::kernel;
use crate::lock::{Lock, pause};

/// Most calls one entity has in flight at once (clients in the pool).
pub const CLIENTS: usize = 8;

/// A File client of the pool.
pub type Client = FileClient<PoolTransport>;

/// The transport of pool client `slot`: the kernel's `CALL` to the endpoint the client's
/// current user chose.
pub struct PoolTransport {
    slot: usize,
}

/// The endpoint each pool client calls; written by the thread that holds the client.
static ENDPOINTS: [AtomicU32; CLIENTS] = [const { AtomicU32::new(0) }; CLIENTS];

impl Transport for PoolTransport {
    fn call(&mut self, request: &[u8], reply: &mut [u8]) -> core::result::Result<usize, Error> {
        kernel::ipc_call(ENDPOINTS[self.slot].load(Ordering::Relaxed), request, reply)
    }
}

struct Pool {
    clients: [Option<Client>; CLIENTS],
    busy: [bool; CLIENTS],
}

static POOL: Lock<Pool> = Lock::new(Pool {
    clients: [const { None }; CLIENTS],
    busy: [false; CLIENTS],
});

/// Takes a free slot of the pool, and its client if one was made already; waits while every
/// slot is busy.
fn take() -> (usize, Option<Client>) {
    let mut attempts = 0;
    loop {
        {
            let mut pool = POOL.lock();
            let free = |slot: &usize| !pool.busy[*slot];
            let chosen = (0..CLIENTS)
                .filter(free)
                .find(|slot| pool.clients[*slot].is_some())
                .or_else(|| (0..CLIENTS).find(free));
            if let Some(slot) = chosen {
                pool.busy[slot] = true;
                return (slot, pool.clients[slot].take());
            }
        }
        pause(&mut attempts);
    }
}

fn give_back(slot: usize, client: Client) {
    let mut pool = POOL.lock();
    pool.clients[slot] = Some(client);
    pool.busy[slot] = false;
}

/// Calls the file VFS at `endpoint` with a pool client: `operation` makes one or more calls
/// through it. Errors come back as errno values; a server found gone is recorded.
pub fn call<T>(
    endpoint: u32,
    operation: impl FnOnce(&mut Client) -> core::result::Result<T, CallError>,
) -> Result<T> {
    call_in_slot(endpoint, |client, _| operation(client))
}

/// As [`call`], also telling `operation` the pool slot it holds.
fn call_in_slot<T>(
    endpoint: u32,
    operation: impl FnOnce(&mut Client, usize) -> core::result::Result<T, CallError>,
) -> Result<T> {
    let (slot, client) = take();
    ENDPOINTS[slot].store(endpoint, Ordering::Relaxed);
    let mut client = client.unwrap_or_else(|| FileClient::new(PoolTransport { slot }));
    let result = operation(&mut client, slot);
    give_back(slot, client);
    result.map_err(|error| {
        if error == CallError::ServerGone {
            note_gone(endpoint);
        }
        errno(error)
    })
}

/// Calls the server of an open file, unless the description was lost with its server.
pub fn call_on<T>(
    file: OpenFile,
    operation: impl FnOnce(&mut Client, u64) -> core::result::Result<T, CallError>,
) -> Result<T> {
    if lost(file) {
        return Err(Errno::EIO);
    }
    call(file.endpoint, |client| operation(client, file.handle))
}

/// As [`call_on`], also giving `operation` the pool slot's window of the bulk region shared
/// with the file's server, when there is one (see [`Window`]).
pub fn call_on_bulk<T>(
    file: OpenFile,
    operation: impl FnOnce(&mut Client, u64, Option<Window>) -> core::result::Result<T, CallError>,
) -> Result<T> {
    if lost(file) {
        return Err(Errno::EIO);
    }
    let region = bulk_region(file.endpoint);
    call_in_slot(file.endpoint, |client, slot| {
        let window = region.map(|region| {
            let length = region.size / CLIENTS;
            Window {
                address: region.address + slot * length,
                offset: (slot * length) as u32,
                length,
            }
        });
        operation(client, file.handle, window)
    })
}

/// The bulk region shared with one server: where it is mapped and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    address: usize,
    size: usize,
}

/// Distinct servers whose bulk regions are remembered; beyond them, data goes in messages.
const BULK_ENTRIES: usize = 16;

/// `(endpoint, region)` of each server a bulk region was looked for, `None` when it has none
/// or it could not be mapped.
static BULK: Lock<[Option<(u32, Option<Region>)>; BULK_ENTRIES]> = Lock::new([None; BULK_ENTRIES]);

/// The bulk region shared with the server at `endpoint`: its mount route names it, and it is
/// mapped the first time it is needed. A region that will not map is not tried again.
fn bulk_region(endpoint: u32) -> Option<Region> {
    let mut entries = BULK.lock();
    if let Some((_, region)) = entries
        .iter()
        .flatten()
        .find(|(known, _)| *known == endpoint)
    {
        return *region;
    }
    let free = entries.iter().position(Option::is_none)?;
    let handle = crate::startup::block()?
        .routes()
        .find(|route| route.handle == endpoint && route.bulk != 0)
        .map(|route| route.bulk);
    let region = handle
        .and_then(|handle| crate::memory::map_shared(handle).ok())
        .map(|(address, size)| Region { address, size })
        .filter(|region| region.size / CLIENTS > 0 && region.size <= u32::MAX as usize);
    entries[free] = Some((endpoint, region));
    region
}

/// One pool slot's part of a bulk region: `length` bytes at `offset` in the region (the
/// `window` of `File.read_shared` and `write_shared`), mapped at `address`. The slot's holder
/// alone uses it while it holds the slot, and the server only during that holder's call.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    address: usize,
    offset: u32,
    length: usize,
}

impl Window {
    /// Bytes the window holds.
    pub fn length(&self) -> usize {
        self.length
    }

    /// The window's offset in the region, as the server is told it.
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// Copies the first `destination.len()` bytes of the window (at most its length) out.
    pub fn copy_out(&self, destination: &mut [u8]) {
        let count = destination.len().min(self.length);
        // SAFETY: the window is `length` bytes of a mapped, readable region that nothing else
        // of this entity uses while the caller holds the slot; `destination` is a distinct
        // live buffer of at least `count` bytes. The server wrote the bytes before replying.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.address as *const u8,
                destination.as_mut_ptr(),
                count,
            );
        }
    }

    /// Copies `source` (at most the window's length) into the window.
    pub fn copy_in(&self, source: &[u8]) {
        let count = source.len().min(self.length);
        // SAFETY: as `copy_out`; the region is mapped writable (the image tool gives both
        // sides read and write), and the server reads it only during the call that follows.
        unsafe {
            core::ptr::copy_nonoverlapping(source.as_ptr(), self.address as *mut u8, count);
        }
    }
}

/// The errno value for a failed call.
pub fn errno(error: CallError) -> Errno {
    match error {
        CallError::Status(code) if code >= status::APPLICATION => {
            match i32::try_from(code - status::APPLICATION) {
                Ok(number @ 1..=4095) => Errno(number),
                _ => Errno::EIO,
            }
        }
        CallError::Status(status::UNKNOWN_METHOD) => Errno::ENOSYS,
        CallError::Status(status::BAD_REQUEST) => Errno::EINVAL,
        CallError::Kernel(Error::Denied) => Errno::EACCES,
        CallError::Status(_)
        | CallError::Kernel(_)
        | CallError::ServerGone
        | CallError::BadReply => Errno::EIO,
    }
}

/// Servers whose generation may have moved, so that the usual check is one load.
static ANY_GONE: AtomicBool = AtomicBool::new(false);

/// Distinct servers whose generations are kept apart; beyond them, servers share the last
/// entry (a server found gone then makes the others' descriptions lost too).
const GENERATION_ENTRIES: usize = 32;

/// `(endpoint, generation)` of each server found gone at least once.
static GENERATIONS: Lock<[Option<(u32, u32)>; GENERATION_ENTRIES]> =
    Lock::new([None; GENERATION_ENTRIES]);

fn entry_of(entries: &[Option<(u32, u32)>; GENERATION_ENTRIES], endpoint: u32) -> Option<usize> {
    entries
        .iter()
        .position(|entry| entry.is_some_and(|(candidate, _)| candidate == endpoint))
}

/// How many times the server at `endpoint` was found gone: descriptions record it at open.
pub fn generation(endpoint: u32) -> u32 {
    if !ANY_GONE.load(Ordering::Acquire) {
        return 0;
    }
    let entries = GENERATIONS.lock();
    let shared = entries[GENERATION_ENTRIES - 1].map_or(0, |(_, generation)| generation);
    entry_of(&entries, endpoint)
        .and_then(|index| entries[index])
        .map_or(shared, |(_, generation)| generation)
}

/// Whether `file`'s server went away since it was opened.
pub fn lost(file: OpenFile) -> bool {
    generation(file.endpoint) != file.generation
}

fn note_gone(endpoint: u32) {
    let mut entries = GENERATIONS.lock();
    let index = entry_of(&entries, endpoint)
        .or_else(|| entries.iter().position(Option::is_none))
        .unwrap_or(GENERATION_ENTRIES - 1);
    let generation = entries[index].map_or(0, |(_, generation)| generation);
    entries[index] = Some((endpoint, generation.wrapping_add(1).max(1)));
    ANY_GONE.store(true, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kernel_errors_become_errno_values() {
        let application = |errno: i32| CallError::Status(status::APPLICATION + errno as u32);
        assert_eq!(errno(application(libc::ENOENT)), Errno::ENOENT);
        assert_eq!(errno(application(libc::ENOTEMPTY)), Errno::ENOTEMPTY);
        assert_eq!(errno(application(libc::EXDEV)), Errno::EXDEV);
        assert_eq!(errno(CallError::Status(status::APPLICATION)), Errno::EIO);
        assert_eq!(errno(CallError::Status(u32::MAX)), Errno::EIO);
        assert_eq!(
            errno(CallError::Status(status::UNKNOWN_METHOD)),
            Errno::ENOSYS
        );
        assert_eq!(errno(CallError::Status(status::BAD_REQUEST)), Errno::EINVAL);
        assert_eq!(errno(CallError::Status(7)), Errno::EIO);
        assert_eq!(errno(CallError::Kernel(Error::Denied)), Errno::EACCES);
        assert_eq!(errno(CallError::Kernel(Error::BadHandle)), Errno::EIO);
        assert_eq!(errno(CallError::Kernel(Error::TooLarge)), Errno::EIO);
        assert_eq!(errno(CallError::ServerGone), Errno::EIO);
        assert_eq!(errno(CallError::BadReply), Errno::EIO);
    }

    #[test]
    fn a_server_found_gone_loses_its_descriptions() {
        // Endpoints 900 and up are this test's own.
        let before = OpenFile {
            endpoint: 900,
            handle: 1,
            generation: generation(900),
        };
        let other = OpenFile {
            endpoint: 901,
            handle: 1,
            generation: generation(901),
        };
        assert!(!lost(before));
        note_gone(900);
        assert!(lost(before));
        assert!(!lost(other));
        let after = OpenFile {
            generation: generation(900),
            ..before
        };
        assert!(!lost(after));
        assert_eq!(call_on(before, |_, _| Ok(())), Err(Errno::EIO));
    }
}
