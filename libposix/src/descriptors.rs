//! The file-descriptor table: numbers, their close-on-exec flags, and the open file
//! descriptions they share.
//!
//! As in POSIX, a descriptor names an open file *description*; `dup` and friends make another
//! descriptor for the same description, so status flags and the offset (kept by the file VFS
//! for its handle) are shared, while close-on-exec belongs to the descriptor. A description
//! lives until its last descriptor closes; [`Descriptors::close`] hands it back then, so its
//! server can be told. Both tables have [`DESCRIPTOR_LIMIT`] entries, fixed.
//!
//! Besides what it refers to and its flags, a description of a file keeps, client-side, the
//! absolute path it was opened by (for `fchdir` and as the base of `*at` calls), whether it is
//! known to be a directory, and the cookie where its directory listing continues.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::errno::{Errno, Result};

/// Most descriptors an entity may have open (also `RLIMIT_NOFILE`).
pub const DESCRIPTOR_LIMIT: usize = 1024;

/// What a description refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The kernel console: standard input, output and error at start.
    Console,
    /// A file or directory of a file VFS.
    File(OpenFile),
}

/// An open file description of a file VFS: the server and its handle for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenFile {
    /// The file VFS's endpoint (the route's capability).
    pub endpoint: u32,
    /// The server's handle of the description.
    pub handle: u64,
    /// The server's generation when the description was opened (see [`crate::vfs`]).
    pub generation: u32,
}

/// An open file description: what it refers to and its `open` flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Description {
    /// What the description refers to.
    pub kind: Kind,
    /// The access mode (`O_RDONLY`, `O_WRONLY`, `O_RDWR`) and status flags (`O_APPEND`,
    /// `O_NONBLOCK`, ...).
    pub flags: i32,
}

/// What a file description keeps besides its [`Description`].
#[derive(Debug, Default)]
pub struct Details {
    /// The absolute, normalised path the description was opened by.
    pub path: Option<Box<[u8]>>,
    /// Whether the description is a directory, once known.
    pub directory: Option<bool>,
    /// Where the directory listing continues (`getdents64`); 0 is the start.
    pub cookie: u64,
}

impl Details {
    /// Details for a description opened by `path`, a copy of which is kept (`ENOMEM` when
    /// libposix's heap cannot hold it).
    pub fn with_path(path: &[u8], directory: Option<bool>) -> Result<Details> {
        let mut copy = Vec::new();
        copy.try_reserve_exact(path.len())
            .map_err(|_| Errno::ENOMEM)?;
        copy.extend_from_slice(path);
        Ok(Details {
            path: Some(copy.into_boxed_slice()),
            directory,
            cookie: 0,
        })
    }
}

/// The access-mode bits of open flags: the kernel's `O_ACCMODE` (musl's own includes
/// `O_PATH`, so `libc::O_ACCMODE` differs between musl and the host's glibc).
pub const ACCESS_MODE: i32 = 0o3;

/// The status flags `F_SETFL` may change (Linux's `SETFL_MASK`).
pub const SETTABLE_STATUS_FLAGS: i32 =
    libc::O_APPEND | libc::O_NONBLOCK | libc::O_ASYNC | libc::O_DIRECT | libc::O_NOATIME;

#[derive(Debug)]
struct Shared {
    description: Description,
    details: Details,
    references: u32,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    shared: u16,
    close_on_exec: bool,
}

/// The descriptor table.
pub struct Descriptors {
    slots: [Option<Slot>; DESCRIPTOR_LIMIT],
    shared: [Option<Shared>; DESCRIPTOR_LIMIT],
}

const _: () = assert!(DESCRIPTOR_LIMIT <= u16::MAX as usize);

impl Descriptors {
    /// A table with nothing open.
    pub const fn empty() -> Descriptors {
        Descriptors {
            slots: [None; DESCRIPTOR_LIMIT],
            shared: [const { None }; DESCRIPTOR_LIMIT],
        }
    }

    /// The table an entity starts with: 0, 1 and 2 on one console description, opened for
    /// reading and writing, as a terminal's are on Linux.
    pub const fn with_console() -> Descriptors {
        let mut table = Descriptors::empty();
        // The slot held `None`: forgetting it (a `const fn` cannot run a destructor) loses
        // nothing.
        let empty = table.shared[0].replace(Shared {
            description: Description {
                kind: Kind::Console,
                flags: libc::O_RDWR,
            },
            details: Details {
                path: None,
                directory: Some(false),
                cookie: 0,
            },
            references: 3,
        });
        core::mem::forget(empty);
        let slot = Some(Slot {
            shared: 0,
            close_on_exec: false,
        });
        table.slots[0] = slot;
        table.slots[1] = slot;
        table.slots[2] = slot;
        table
    }

    fn slot(&self, descriptor: i32) -> Result<Slot> {
        usize::try_from(descriptor)
            .ok()
            .and_then(|index| self.slots.get(index).copied().flatten())
            .ok_or(Errno::EBADF)
    }

    fn lowest_free(&self, minimum: usize) -> Result<usize> {
        (minimum..DESCRIPTOR_LIMIT)
            .find(|index| self.slots[*index].is_none())
            .ok_or(Errno::EMFILE)
    }

    /// Opens a new description at the lowest free descriptor; returns the descriptor.
    pub fn open(&mut self, description: Description, close_on_exec: bool) -> Result<i32> {
        self.open_with(description, Details::default(), close_on_exec)
    }

    /// Opens a new description with its details at the lowest free descriptor; returns the
    /// descriptor.
    pub fn open_with(
        &mut self,
        description: Description,
        details: Details,
        close_on_exec: bool,
    ) -> Result<i32> {
        let index = self.lowest_free(0)?;
        let shared = self
            .shared
            .iter()
            .position(Option::is_none)
            .ok_or(Errno::EMFILE)?;
        self.shared[shared] = Some(Shared {
            description,
            details,
            references: 1,
        });
        self.slots[index] = Some(Slot {
            shared: shared as u16,
            close_on_exec,
        });
        Ok(index as i32)
    }

    fn shared(&self, descriptor: i32) -> Result<&Shared> {
        let slot = self.slot(descriptor)?;
        Ok(self.shared[slot.shared as usize]
            .as_ref()
            .expect("a slot names a live description"))
    }

    fn shared_mut(&mut self, descriptor: i32) -> Result<&mut Shared> {
        let slot = self.slot(descriptor)?;
        Ok(self.shared[slot.shared as usize]
            .as_mut()
            .expect("a slot names a live description"))
    }

    /// The description a descriptor names.
    pub fn get(&self, descriptor: i32) -> Result<Description> {
        Ok(self.shared(descriptor)?.description)
    }

    /// The details of the description a descriptor names.
    pub fn details(&self, descriptor: i32) -> Result<&Details> {
        Ok(&self.shared(descriptor)?.details)
    }

    /// Records whether the descriptor's description is a directory.
    pub fn set_directory(&mut self, descriptor: i32, directory: bool) -> Result<()> {
        self.shared_mut(descriptor)?.details.directory = Some(directory);
        Ok(())
    }

    /// Moves the directory listing of the descriptor's description to `cookie`.
    pub fn set_cookie(&mut self, descriptor: i32, cookie: u64) -> Result<()> {
        self.shared_mut(descriptor)?.details.cookie = cookie;
        Ok(())
    }

    /// Another descriptor for the same description, the lowest free one at or above
    /// `minimum` (`dup`, `F_DUPFD`, `F_DUPFD_CLOEXEC`).
    pub fn duplicate(&mut self, descriptor: i32, minimum: i32, close_on_exec: bool) -> Result<i32> {
        let slot = self.slot(descriptor)?;
        let minimum = usize::try_from(minimum).map_err(|_| Errno::EINVAL)?;
        if minimum >= DESCRIPTOR_LIMIT {
            return Err(Errno::EINVAL);
        }
        let index = self.lowest_free(minimum)?;
        self.reference(slot.shared);
        self.slots[index] = Some(Slot {
            shared: slot.shared,
            close_on_exec,
        });
        Ok(index as i32)
    }

    /// Makes `target` name the same description as `descriptor`, closing what `target` named
    /// (`dup2`, `dup3`). Returns the description that closing `target` released, if it was the
    /// last reference. The caller handles `descriptor == target`, which differs between `dup2`
    /// and `dup3`.
    pub fn duplicate_to(
        &mut self,
        descriptor: i32,
        target: i32,
        close_on_exec: bool,
    ) -> Result<Option<Description>> {
        let slot = self.slot(descriptor)?;
        let index = usize::try_from(target)
            .ok()
            .filter(|index| *index < DESCRIPTOR_LIMIT)
            .ok_or(Errno::EBADF)?;
        self.reference(slot.shared);
        let released = match self.slots[index].take() {
            Some(old) => self.release(old.shared),
            None => None,
        };
        self.slots[index] = Some(Slot {
            shared: slot.shared,
            close_on_exec,
        });
        Ok(released)
    }

    /// Closes a descriptor; returns its description if this was the last reference.
    pub fn close(&mut self, descriptor: i32) -> Result<Option<Description>> {
        let slot = self.slot(descriptor)?;
        self.slots[descriptor as usize] = None;
        Ok(self.release(slot.shared))
    }

    /// Closes (or, with `close_on_exec`, marks) every open descriptor in `first..=last`
    /// (`close_range`); calls `released` with each description whose last reference closed.
    pub fn close_range(
        &mut self,
        first: u32,
        last: u32,
        close_on_exec: bool,
        mut released: impl FnMut(Description),
    ) {
        let last = (last as usize).min(DESCRIPTOR_LIMIT - 1);
        for index in first as usize..=last {
            let Some(slot) = self.slots[index] else {
                continue;
            };
            if close_on_exec {
                self.slots[index] = Some(Slot {
                    close_on_exec: true,
                    ..slot
                });
            } else {
                self.slots[index] = None;
                if let Some(description) = self.release(slot.shared) {
                    released(description);
                }
            }
        }
    }

    /// The descriptor's close-on-exec flag.
    pub fn close_on_exec(&self, descriptor: i32) -> Result<bool> {
        Ok(self.slot(descriptor)?.close_on_exec)
    }

    /// Sets the descriptor's close-on-exec flag.
    pub fn set_close_on_exec(&mut self, descriptor: i32, close_on_exec: bool) -> Result<()> {
        let slot = self.slot(descriptor)?;
        self.slots[descriptor as usize] = Some(Slot {
            close_on_exec,
            ..slot
        });
        Ok(())
    }

    /// Replaces the settable status flags of the descriptor's description (`F_SETFL`); the
    /// access mode and other flags are kept.
    pub fn set_status_flags(&mut self, descriptor: i32, flags: i32) -> Result<()> {
        let shared = self.shared_mut(descriptor)?;
        let kept = shared.description.flags & !SETTABLE_STATUS_FLAGS;
        shared.description.flags = kept | (flags & SETTABLE_STATUS_FLAGS);
        Ok(())
    }

    /// How many descriptors are open.
    pub fn open_count(&self) -> usize {
        self.slots.iter().filter(|slot| slot.is_some()).count()
    }

    fn reference(&mut self, shared: u16) {
        if let Some(entry) = self.shared[shared as usize].as_mut() {
            entry.references += 1;
        }
    }

    fn release(&mut self, shared: u16) -> Option<Description> {
        let entry = self.shared[shared as usize].as_mut()?;
        entry.references -= 1;
        if entry.references == 0 {
            self.shared[shared as usize]
                .take()
                .map(|entry| entry.description)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONSOLE: Description = Description {
        kind: Kind::Console,
        flags: libc::O_RDWR,
    };

    fn boxed(table: Descriptors) -> std::boxed::Box<Descriptors> {
        std::boxed::Box::new(table)
    }

    #[test]
    fn starts_with_the_console_on_0_1_2() {
        let table = boxed(Descriptors::with_console());
        for descriptor in 0..3 {
            assert_eq!(table.get(descriptor), Ok(CONSOLE));
            assert_eq!(table.close_on_exec(descriptor), Ok(false));
        }
        assert_eq!(table.get(3), Err(Errno::EBADF));
        assert_eq!(table.get(-1), Err(Errno::EBADF));
        assert_eq!(table.get(i32::MAX), Err(Errno::EBADF));
        assert_eq!(table.open_count(), 3);
    }

    #[test]
    fn opens_at_the_lowest_free_number() {
        let mut table = boxed(Descriptors::with_console());
        assert_eq!(table.open(CONSOLE, false), Ok(3));
        assert_eq!(table.open(CONSOLE, true), Ok(4));
        assert_eq!(table.close(1), Ok(None));
        assert_eq!(table.open(CONSOLE, false), Ok(1));
        assert_eq!(table.close_on_exec(4), Ok(true));
        assert_eq!(table.close(7), Err(Errno::EBADF));
    }

    #[test]
    fn the_table_fills_up() {
        let mut table = boxed(Descriptors::empty());
        for expected in 0..DESCRIPTOR_LIMIT as i32 {
            assert_eq!(table.open(CONSOLE, false), Ok(expected));
        }
        assert_eq!(table.open(CONSOLE, false), Err(Errno::EMFILE));
        assert_eq!(table.duplicate(0, 0, false), Err(Errno::EMFILE));
        assert_eq!(table.close(500), Ok(Some(CONSOLE)));
        assert_eq!(table.duplicate(0, 0, false), Ok(500));
    }

    #[test]
    fn duplicates_share_the_description() {
        let mut table = boxed(Descriptors::with_console());
        let copy = table.duplicate(1, 0, true).unwrap();
        assert_eq!(copy, 3);
        assert_eq!(table.close_on_exec(copy), Ok(true));
        assert_eq!(table.close_on_exec(1), Ok(false));
        table
            .set_status_flags(copy, libc::O_NONBLOCK | libc::O_WRONLY)
            .unwrap();
        // The status flag is shared; the access mode cannot be changed.
        assert_eq!(table.get(0).unwrap().flags, libc::O_RDWR | libc::O_NONBLOCK);
        assert_eq!(table.duplicate(0, 10, false), Ok(10));
        assert_eq!(
            table.duplicate(0, DESCRIPTOR_LIMIT as i32, false),
            Err(Errno::EINVAL)
        );
        assert_eq!(table.duplicate(0, -1, false), Err(Errno::EINVAL));
        assert_eq!(table.duplicate(9, 0, false), Err(Errno::EBADF));
    }

    #[test]
    fn the_last_close_releases_the_description() {
        let mut table = boxed(Descriptors::empty());
        let first = table.open(CONSOLE, false).unwrap();
        let second = table.duplicate(first, 0, false).unwrap();
        assert_eq!(table.close(first), Ok(None));
        assert_eq!(table.get(second), Ok(CONSOLE));
        assert_eq!(table.close(second), Ok(Some(CONSOLE)));
        assert_eq!(table.close(second), Err(Errno::EBADF));
    }

    #[test]
    fn duplicate_to_replaces_the_target() {
        let mut table = boxed(Descriptors::empty());
        let file = Description {
            kind: Kind::Console,
            flags: libc::O_RDONLY,
        };
        let first = table.open(CONSOLE, false).unwrap();
        let second = table.open(file, false).unwrap();
        // The target's description had one reference: it is released.
        assert_eq!(table.duplicate_to(first, second, true), Ok(Some(file)));
        assert_eq!(table.get(second), Ok(CONSOLE));
        assert_eq!(table.close_on_exec(second), Ok(true));
        // A free target is simply taken.
        assert_eq!(table.duplicate_to(first, 700, false), Ok(None));
        assert_eq!(table.get(700), Ok(CONSOLE));
        assert_eq!(
            table.duplicate_to(first, DESCRIPTOR_LIMIT as i32, false),
            Err(Errno::EBADF)
        );
        assert_eq!(table.duplicate_to(first, -3, false), Err(Errno::EBADF));
        assert_eq!(table.duplicate_to(55, 1, false), Err(Errno::EBADF));
        // Three references now; closing two keeps the description.
        assert_eq!(table.close(700), Ok(None));
        assert_eq!(table.close(second), Ok(None));
        assert_eq!(table.close(first), Ok(Some(CONSOLE)));
    }

    #[test]
    fn file_details_are_shared_by_duplicates() {
        let mut table = boxed(Descriptors::empty());
        let file = Description {
            kind: Kind::File(OpenFile {
                endpoint: 7,
                handle: 42,
                generation: 0,
            }),
            flags: libc::O_RDONLY,
        };
        let details = Details::with_path(b"/data/logs", None).unwrap();
        let first = table.open_with(file, details, false).unwrap();
        let second = table.duplicate(first, 0, false).unwrap();
        assert_eq!(
            table.details(second).unwrap().path.as_deref(),
            Some(&b"/data/logs"[..])
        );
        assert_eq!(table.details(second).unwrap().directory, None);
        table.set_directory(first, true).unwrap();
        table.set_cookie(first, 9).unwrap();
        assert_eq!(table.details(second).unwrap().directory, Some(true));
        assert_eq!(table.details(second).unwrap().cookie, 9);
        assert_eq!(table.close(first), Ok(None));
        assert_eq!(table.close(second), Ok(Some(file)));
        assert_eq!(table.details(second).err(), Some(Errno::EBADF));
        assert_eq!(table.set_cookie(second, 1), Err(Errno::EBADF));
    }

    #[test]
    fn close_range_closes_or_marks() {
        let mut table = boxed(Descriptors::with_console());
        table.duplicate(0, 5, false).unwrap();
        let mut released = 0;
        table.close_range(2, u32::MAX, true, |_| released += 1);
        assert_eq!(table.close_on_exec(5), Ok(true));
        assert_eq!(table.close_on_exec(1), Ok(false));
        table.close_range(1, 4, false, |_| released += 1);
        assert_eq!(table.get(1), Err(Errno::EBADF));
        assert_eq!(table.get(2), Err(Errno::EBADF));
        assert_eq!(released, 0);
        table.close_range(0, 100, false, |_| released += 1);
        assert_eq!(released, 1);
        assert_eq!(table.open_count(), 0);
    }
}
