//! The bulk regions clients share with the server for file data (`File.read_shared` and
//! `File.write_shared`): the image tool gives every entity that mounts a file VFS one region
//! with it, which the server finds by the entity the kernel says is calling.
//!
//! The server treats a region's bytes as the client's: it writes file data there and reads
//! data to write from there, and decides nothing on them, so a client that changes its region
//! during a call can only spoil its own data.

use std::collections::HashMap;

/// Where the server finds each client's bulk region.
pub trait BulkRegions {
    /// The region `client` shares with the server, or `None` when it has none.
    fn region(&mut self, client: u32) -> Option<&mut [u8]>;
}

/// No client has a region: every shared read or write is `EINVAL`.
#[derive(Debug, Default)]
pub struct NoRegions;

impl BulkRegions for NoRegions {
    fn region(&mut self, _client: u32) -> Option<&mut [u8]> {
        None
    }
}

/// Regions in the server's own memory, by client: what tests use.
#[derive(Debug, Default)]
pub struct MemoryRegions {
    /// Each client's region.
    pub regions: HashMap<u32, Vec<u8>>,
}

impl BulkRegions for MemoryRegions {
    fn region(&mut self, client: u32) -> Option<&mut [u8]> {
        self.regions.get_mut(&client).map(Vec::as_mut_slice)
    }
}
