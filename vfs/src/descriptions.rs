//! Open file descriptions: what a handle names (a file, an offset, an access mode and status
//! flags), which client owns it, and how many each client may hold.
//!
//! Handles are numbered from 1 and never reused, so a stale handle can never name someone
//! else's file. Each belongs to the client that opened it, known by the sender identity the
//! kernel stamps on every message: another client using the number gets `EBADF`, exactly as if
//! it did not exist. Duplicated descriptors (`dup`) share one handle in the client, so they
//! share its offset, as POSIX wants.

use crate::errno::{Errno, Result};
use crate::file_system::FileKind;
use crate::namespace::Location;
use std::collections::HashMap;

/// How a description may be used (`O_ACCMODE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    WriteOnly,
    ReadWrite,
}

impl Access {
    /// The access of an `open`'s `access` field: 0, 1 or 2 (`O_RDONLY`, `O_WRONLY`, `O_RDWR`);
    /// anything else is `EINVAL`.
    pub fn from_field(access: u32) -> Result<Access> {
        match access {
            0 => Ok(Access::ReadOnly),
            1 => Ok(Access::WriteOnly),
            2 => Ok(Access::ReadWrite),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The `access` field that [`Access::from_field`] reads as this access.
    pub fn field(self) -> u32 {
        match self {
            Access::ReadOnly => 0,
            Access::WriteOnly => 1,
            Access::ReadWrite => 2,
        }
    }

    /// Whether the description may be read.
    pub fn readable(self) -> bool {
        self != Access::WriteOnly
    }

    /// Whether the description may be written.
    pub fn writable(self) -> bool {
        self != Access::ReadOnly
    }
}

/// The status flags a description keeps and `set_flags` replaces (`fcntl(F_SETFL)`).
pub fn status_flags(flags: u32) -> u32 {
    flags & (libc::O_APPEND | libc::O_NONBLOCK) as u32
}

/// One open file description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    /// The client entity that opened it.
    pub owner: u32,
    pub location: Location,
    pub kind: FileKind,
    pub access: Access,
    /// `O_APPEND` and `O_NONBLOCK`, Linux values.
    pub flags: u32,
    /// The file offset; for a directory, the listing's cookie.
    pub offset: u64,
}

impl Description {
    /// Whether writes go to the end of the file.
    pub fn appends(&self) -> bool {
        self.flags & libc::O_APPEND as u32 != 0
    }
}

/// Every open description of the server, by handle.
#[derive(Debug)]
pub struct Descriptions {
    table: HashMap<u64, Description>,
    per_client: HashMap<u32, usize>,
    next_handle: u64,
    limit_per_client: usize,
}

impl Descriptions {
    /// An empty table allowing each client `limit_per_client` handles.
    pub fn new(limit_per_client: usize) -> Descriptions {
        Descriptions {
            table: HashMap::new(),
            per_client: HashMap::new(),
            next_handle: 1,
            limit_per_client,
        }
    }

    /// Checks that `owner` may open one more description: `EMFILE` at its limit.
    pub fn check_room(&self, owner: u32) -> Result<()> {
        if self.held_by(owner) >= self.limit_per_client {
            return Err(Errno::EMFILE);
        }
        Ok(())
    }

    /// Adds a description; returns its new handle. `EMFILE` at the owner's limit.
    pub fn insert(&mut self, description: Description) -> Result<u64> {
        self.check_room(description.owner)?;
        let handle = self.next_handle;
        self.next_handle += 1;
        *self.per_client.entry(description.owner).or_default() += 1;
        self.table.insert(handle, description);
        Ok(handle)
    }

    /// The description `handle` of `owner`: `EBADF` when there is none, or it is another's.
    pub fn get(&self, owner: u32, handle: u64) -> Result<&Description> {
        self.table
            .get(&handle)
            .filter(|description| description.owner == owner)
            .ok_or(Errno::EBADF)
    }

    /// As [`Descriptions::get`], to change it.
    pub fn get_mut(&mut self, owner: u32, handle: u64) -> Result<&mut Description> {
        self.table
            .get_mut(&handle)
            .filter(|description| description.owner == owner)
            .ok_or(Errno::EBADF)
    }

    /// Takes the description `handle` of `owner` out of the table (`close`).
    pub fn remove(&mut self, owner: u32, handle: u64) -> Result<Description> {
        self.get(owner, handle)?;
        let description = self.table.remove(&handle).ok_or(Errno::EBADF)?;
        self.forget_one(owner);
        Ok(description)
    }

    /// Takes every description of `owner` out of the table (the client is gone).
    pub fn remove_client(&mut self, owner: u32) -> Vec<Description> {
        let handles: Vec<u64> = self
            .table
            .iter()
            .filter(|(_, description)| description.owner == owner)
            .map(|(handle, _)| *handle)
            .collect();
        self.per_client.remove(&owner);
        handles
            .into_iter()
            .filter_map(|handle| self.table.remove(&handle))
            .collect()
    }

    /// How many descriptions `owner` holds.
    pub fn held_by(&self, owner: u32) -> usize {
        self.per_client.get(&owner).copied().unwrap_or(0)
    }

    /// How many descriptions are open in all.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no description is open.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn forget_one(&mut self, owner: u32) {
        if let Some(count) = self.per_client.get_mut(&owner) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.per_client.remove(&owner);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description(owner: u32) -> Description {
        Description {
            owner,
            location: Location { mount: 0, inode: 7 },
            kind: FileKind::Regular,
            access: Access::ReadWrite,
            flags: 0,
            offset: 0,
        }
    }

    #[test]
    fn handles_belong_to_their_owner() {
        let mut descriptions = Descriptions::new(8);
        let handle = descriptions.insert(description(3)).unwrap();
        assert!(descriptions.get(3, handle).is_ok());
        assert_eq!(descriptions.get(4, handle), Err(Errno::EBADF));
        assert_eq!(descriptions.get_mut(4, handle).err(), Some(Errno::EBADF));
        assert_eq!(descriptions.remove(4, handle), Err(Errno::EBADF));
        assert!(descriptions.remove(3, handle).is_ok());
        assert_eq!(descriptions.get(3, handle), Err(Errno::EBADF));
        assert_eq!(descriptions.remove(3, handle), Err(Errno::EBADF));
        assert_eq!(descriptions.get(3, 0), Err(Errno::EBADF));
    }

    #[test]
    fn handles_are_never_reused() {
        let mut descriptions = Descriptions::new(8);
        let first = descriptions.insert(description(1)).unwrap();
        descriptions.remove(1, first).unwrap();
        let second = descriptions.insert(description(1)).unwrap();
        assert_ne!(first, second);
    }

    #[test]
    fn each_client_has_its_own_limit() {
        let mut descriptions = Descriptions::new(2);
        let first = descriptions.insert(description(1)).unwrap();
        descriptions.insert(description(1)).unwrap();
        assert_eq!(descriptions.insert(description(1)), Err(Errno::EMFILE));
        assert!(descriptions.insert(description(2)).is_ok());
        descriptions.remove(1, first).unwrap();
        assert!(descriptions.insert(description(1)).is_ok());
        assert_eq!(descriptions.held_by(1), 2);
        let gone = descriptions.remove_client(1);
        assert_eq!(gone.len(), 2);
        assert_eq!(descriptions.held_by(1), 0);
        assert_eq!(descriptions.len(), 1);
    }

    #[test]
    fn access_modes() {
        assert_eq!(Access::from_field(0), Ok(Access::ReadOnly));
        assert_eq!(Access::from_field(3), Err(Errno::EINVAL));
        assert!(Access::ReadOnly.readable() && !Access::ReadOnly.writable());
        assert!(!Access::WriteOnly.readable() && Access::WriteOnly.writable());
        assert!(Access::ReadWrite.readable() && Access::ReadWrite.writable());
        let all = (libc::O_APPEND | libc::O_NONBLOCK | libc::O_CREAT | libc::O_TRUNC) as u32;
        assert_eq!(
            status_flags(all),
            (libc::O_APPEND | libc::O_NONBLOCK) as u32
        );
    }
}
