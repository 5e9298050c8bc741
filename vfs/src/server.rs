//! The server: POSIX file semantics over the namespace and the open descriptions, one typed
//! operation per File method returning `Result<_, Errno>`, and the generated `FileServer`
//! trait mapped onto them (the errno becomes the reply status in one place).

use crate::bulk::{BulkRegions, NoRegions};
use crate::configuration::Configuration;
use crate::descriptions::{Access, Description, Descriptions, status_flags};
use crate::errno::{Errno, Result};
use crate::fat::FatFileSystem;
use crate::file_system::{FileKind, FileSystem, MAXIMUM_FILE_SIZE};
use crate::monitor::{self, Monitor, Unmonitored};
use crate::mount::{FileSystemKind, MountTable};
use crate::namespace::{Location, Namespace, Resolved};
use crate::path;
use crate::ramfs::{MemoryBudget, Ramfs};
use crate::storage::BlockStorage;
use crate::time::{Clock, Timestamp};
use septa_abi::MESSAGE_ARENA_MAX;
use septa_interfaces::Recorder;
use septa_interfaces::file::{FileClient, FileServer};
use septa_interfaces::file_records::{DirectoryEntry, FileStatus};

/// The `cookie` of `read_directory` that continues from the description's own position (its
/// offset), so that a client need not keep one: `getdents` is one call, shared by duplicated
/// descriptors, and `lseek(fd, 0, SEEK_SET)` rewinds.
pub const CONTINUE_COOKIE: u64 = u64::MAX;

/// `st_blksize`: the ramfs's page.
const BLOCK_SIZE: u32 = 4096;

/// Permission bits `open` keeps of its mode (`S_IALLUGO`).
const FILE_PERMISSIONS: u32 = 0o7777;
/// Permission bits `mkdir` keeps of its mode (`S_IRWXUGO | S_ISVTX`).
const DIRECTORY_PERMISSIONS: u32 = 0o1777;

/// How `set_times` changes one timestamp.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeChange {
    /// Leave it (`UTIME_OMIT`).
    Omit,
    /// The current time (`UTIME_NOW`).
    Now,
    /// This time.
    Set(Timestamp),
}

impl TimeChange {
    /// Reads a `timespec` as `utimensat` does: `UTIME_NOW`, `UTIME_OMIT`, or nanoseconds in
    /// `0..1_000_000_000` (anything else is `EINVAL`).
    pub fn from_timespec(seconds: i64, nanoseconds: i64) -> Result<TimeChange> {
        match nanoseconds {
            libc::UTIME_NOW => Ok(TimeChange::Now),
            libc::UTIME_OMIT => Ok(TimeChange::Omit),
            0..=999_999_999 => Ok(TimeChange::Set(Timestamp::new(seconds, nanoseconds as u32))),
            _ => Err(Errno::EINVAL),
        }
    }

    /// The `timespec` `from_timespec` reads as this change.
    pub fn to_timespec(self) -> (i64, i64) {
        match self {
            TimeChange::Omit => (0, libc::UTIME_OMIT),
            TimeChange::Now => (0, libc::UTIME_NOW),
            TimeChange::Set(time) => (time.seconds, i64::from(time.nanoseconds)),
        }
    }

    fn resolve(self, now: Timestamp) -> Option<Timestamp> {
        match self {
            TimeChange::Omit => None,
            TimeChange::Now => Some(now),
            TimeChange::Set(time) => Some(time),
        }
    }
}

/// Opens the block device a `fat:DEVICE` mount names (the start-up capability `DEVICE`).
pub type DeviceOpener<'a> =
    dyn FnMut(&str) -> std::result::Result<Box<dyn BlockStorage>, String> + 'a;

/// The file VFS server's state.
pub struct Vfs {
    namespace: Namespace,
    descriptions: Descriptions,
    clock: Box<dyn Clock>,
    budget: MemoryBudget,
    bulk: Box<dyn BulkRegions>,
    monitor: Box<dyn Monitor>,
}

impl Vfs {
    /// A server configured by `configuration`, stamping times from `clock`, without block
    /// devices: a `fat:DEVICE` mount is an error (the host has no Block interface).
    pub fn new(
        configuration: &Configuration,
        clock: Box<dyn Clock>,
    ) -> std::result::Result<Vfs, String> {
        Vfs::with_devices(configuration, clock, &mut |device| {
            Err(format!(
                "no block device '{device}': FAT mounts need a Block connection on Septa"
            ))
        })
    }

    /// A server configured by `configuration`, stamping times from `clock`; `open_device`
    /// gives the block device of each `fat:DEVICE` mount (on Septa, the Block client on the
    /// capability `DEVICE`; in tests, an image file).
    pub fn with_devices(
        configuration: &Configuration,
        clock: Box<dyn Clock>,
        open_device: &mut DeviceOpener<'_>,
    ) -> std::result::Result<Vfs, String> {
        let now = clock.now();
        let cache_size = usize::try_from(configuration.block_cache).unwrap_or(usize::MAX);
        let budget = MemoryBudget::new(configuration.ramfs_limit);
        let mut table = MountTable::new();
        for mount in &configuration.mounts {
            let file_system: Box<dyn FileSystem> = match &mount.kind {
                FileSystemKind::Ramfs => Box::new(Ramfs::new(budget.clone(), now)),
                FileSystemKind::Fat { device } => {
                    let storage = open_device(device)?;
                    let volume =
                        FatFileSystem::mount(storage, cache_size, now).map_err(|error| {
                            format!("cannot mount {} (fat:{device}): {error}", mount.prefix)
                        })?;
                    Box::new(volume)
                }
            };
            table.add(&mount.prefix, file_system)?;
        }
        Ok(Vfs {
            namespace: Namespace::new(table, now),
            descriptions: Descriptions::new(configuration.handles_per_client),
            clock,
            budget,
            bulk: Box::new(NoRegions),
            monitor: Box::new(Unmonitored),
        })
    }

    /// Makes `monitor` what the server asks about requests whose paths symbolic links changed
    /// (at first [`Unmonitored`]: everything is permitted).
    pub fn set_monitor(&mut self, monitor: Box<dyn Monitor>) {
        self.monitor = monitor;
    }

    /// Makes `bulk` where the server finds each client's bulk region (none at first).
    pub fn set_bulk_regions(&mut self, bulk: Box<dyn BulkRegions>) {
        self.bulk = bulk;
    }

    /// The namespace (mounts and file systems).
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The budget every ramfs mount charges.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Open descriptions of every client.
    pub fn open_descriptions(&self) -> usize {
        self.descriptions.len()
    }

    fn resolve(&self, path: &str, follow_final: bool) -> Result<Resolved> {
        self.namespace.resolve(path, follow_final)
    }

    /// When symbolic links changed a path (`changed`), checks with the monitor that `client`
    /// may make the same request on the resolved path(s): `encode` writes that request.
    /// `EACCES` when it may not.
    fn check_resolved(
        &mut self,
        client: u32,
        changed: bool,
        encode: impl FnOnce(&mut FileClient<Recorder>),
    ) -> Result<()> {
        if !changed {
            return Ok(());
        }
        let request = monitor::encoded(encode);
        if !request.is_empty() && self.monitor.permits(client, &request) {
            Ok(())
        } else {
            Err(Errno::EACCES)
        }
    }

    fn file_system(&mut self, location: Location) -> Result<&mut (dyn FileSystem + 'static)> {
        self.namespace.file_system_of(location)
    }

    fn status(&self, location: Location) -> Result<FileStatus> {
        let metadata = self.namespace.metadata(location)?;
        let clamp = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        Ok(FileStatus {
            inode: metadata.inode,
            mode: metadata.kind.mode_bits() | metadata.permissions,
            links: metadata.links,
            user: 0,
            group: 0,
            size: clamp(metadata.size),
            blocks: clamp(metadata.blocks),
            block_size: BLOCK_SIZE,
            device: self.namespace.device(location.mount),
            access_seconds: metadata.access.seconds,
            access_nanoseconds: metadata.access.nanoseconds,
            modify_seconds: metadata.modify.seconds,
            modify_nanoseconds: metadata.modify.nanoseconds,
            change_seconds: metadata.change.seconds,
            change_nanoseconds: metadata.change.nanoseconds,
        })
    }

    /// `open`: opens or creates `path`; returns the new description's handle.
    ///
    /// `access` is 0, 1 or 2; `flags` holds the other open flags, Linux values: `O_CREAT`,
    /// `O_EXCL` (with `O_CREAT`: the final component is not followed, and existing is
    /// `EEXIST`), `O_TRUNC`, `O_APPEND`, `O_DIRECTORY` (`ENOTDIR` unless a directory),
    /// `O_NOFOLLOW` (`ELOOP` on a final symbolic link), `O_NONBLOCK` (kept; files never block).
    /// Others are ignored as Linux ignores them (`O_CLOEXEC` is the client's), except
    /// `O_TMPFILE` (`EOPNOTSUPP`) and `O_CREAT` with `O_DIRECTORY` (`EINVAL`, as Linux 6.4).
    pub fn open(
        &mut self,
        client: u32,
        path: &str,
        access: u32,
        flags: u32,
        mode: u32,
    ) -> Result<u64> {
        let access = Access::from_field(access)?;
        let has = |flag: i32| flags & flag as u32 != 0;
        if has(libc::O_TMPFILE & !libc::O_DIRECTORY) {
            return Err(Errno::EOPNOTSUPP);
        }
        let create = has(libc::O_CREAT);
        let exclusive = create && has(libc::O_EXCL);
        if create && has(libc::O_DIRECTORY) {
            return Err(Errno::EINVAL);
        }
        self.descriptions.check_room(client)?;
        let follow_final = !has(libc::O_NOFOLLOW) && !exclusive;
        let resolved = self.resolve(path, follow_final)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.open(&resolved.path, access.field(), flags, mode);
        })?;
        let now = self.clock.now();
        let (location, created) = match resolved.target {
            Some(_) if exclusive => return Err(Errno::EEXIST),
            Some(location) => (location, false),
            None if !create => return Err(Errno::ENOENT),
            None if resolved.directory_required => return Err(Errno::EISDIR),
            None => {
                let link = resolved.link.ok_or(Errno::ENOENT)?;
                let parent = link.parent.ok_or(Errno::ENOENT)?;
                let inode = self.file_system(parent)?.create(
                    parent.inode,
                    &link.name,
                    mode & FILE_PERMISSIONS,
                    now,
                )?;
                let location = Location {
                    mount: parent.mount,
                    inode,
                };
                (location, true)
            }
        };
        let kind = self.namespace.metadata(location)?.kind;
        match kind {
            // Reached only with O_NOFOLLOW: other links were followed.
            FileKind::SymbolicLink => return Err(Errno::ELOOP),
            FileKind::Directory if access.writable() || create || has(libc::O_TRUNC) => {
                return Err(Errno::EISDIR);
            }
            FileKind::Regular if has(libc::O_DIRECTORY) => return Err(Errno::ENOTDIR),
            _ => {}
        }
        if kind == FileKind::Regular && has(libc::O_TRUNC) && !created {
            self.file_system(location)?
                .truncate(location.inode, 0, now)?;
        }
        self.file_system(location)?.open(location.inode)?;
        let description = Description {
            owner: client,
            location,
            kind,
            access,
            flags: status_flags(flags),
            offset: 0,
        };
        match self.descriptions.insert(description) {
            Ok(handle) => Ok(handle),
            Err(error) => {
                self.file_system(location)?.release(location.inode);
                Err(error)
            }
        }
    }

    /// `close`: ends the description; an unlinked file goes with its last one.
    pub fn close(&mut self, client: u32, handle: u64) -> Result<()> {
        let description = self.descriptions.remove(client, handle)?;
        let location = description.location;
        self.file_system(location)?.release(location.inode);
        Ok(())
    }

    /// Closes every description of `client` (for when the client is known to be gone);
    /// returns how many there were.
    pub fn release_client(&mut self, client: u32) -> usize {
        let descriptions = self.descriptions.remove_client(client);
        let count = descriptions.len();
        for description in descriptions {
            let location = description.location;
            if let Ok(file_system) = self.file_system(location) {
                file_system.release(location.inode);
            }
        }
        count
    }

    /// `read` and `pread`: up to `length` bytes (at most a message's arena) at `offset`, or at
    /// the description's offset, advancing it, when `offset` is -1.
    pub fn read(&mut self, client: u32, handle: u64, offset: i64, length: u32) -> Result<Vec<u8>> {
        let mut buffer = vec![0; (length as usize).min(MESSAGE_ARENA_MAX)];
        let count = self.read_into(client, handle, offset, &mut buffer)?;
        buffer.truncate(count);
        Ok(buffer)
    }

    /// `read` into `buffer` (as many bytes as it holds); returns how many were read.
    fn read_into(
        &mut self,
        client: u32,
        handle: u64,
        offset: i64,
        buffer: &mut [u8],
    ) -> Result<usize> {
        let description = self.descriptions.get(client, handle)?.clone();
        if !description.access.readable() {
            return Err(Errno::EBADF);
        }
        if description.kind == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        let position = match offset {
            -1 => description.offset,
            offset => u64::try_from(offset).map_err(|_| Errno::EINVAL)?,
        };
        let location = description.location;
        let count = self
            .file_system(location)?
            .read_at(location.inode, position, buffer)?;
        if offset == -1 {
            self.descriptions.get_mut(client, handle)?.offset = position + count as u64;
        }
        Ok(count)
    }

    /// `read` into `client`'s bulk region: up to `length` bytes at `window` there (`EINVAL`
    /// when the client has no region or the window runs past its end).
    pub fn read_shared(
        &mut self,
        client: u32,
        handle: u64,
        offset: i64,
        length: u32,
        window: u32,
    ) -> Result<u64> {
        self.in_window(client, window, length, |server, buffer| {
            server.read_into(client, handle, offset, buffer)
        })
        .map(|count| count as u64)
    }

    /// `write` from `client`'s bulk region: the `length` bytes at `window` there (`EINVAL`
    /// when the client has no region or the window runs past its end).
    pub fn write_shared(
        &mut self,
        client: u32,
        handle: u64,
        offset: i64,
        length: u32,
        window: u32,
    ) -> Result<u64> {
        self.in_window(client, window, length, |server, data| {
            server.write(client, handle, offset, data)
        })
    }

    /// Runs `operation` on the `length` bytes at `window` in `client`'s bulk region (`EINVAL`
    /// when it has none or the window runs past its end). The regions are set aside meanwhile,
    /// so that `operation` may use the rest of the server.
    fn in_window<T>(
        &mut self,
        client: u32,
        window: u32,
        length: u32,
        operation: impl FnOnce(&mut Vfs, &mut [u8]) -> Result<T>,
    ) -> Result<T> {
        let mut bulk = std::mem::replace(&mut self.bulk, Box::new(NoRegions));
        let result = window_of(bulk.as_mut(), client, window, length)
            .and_then(|buffer| operation(self, buffer));
        self.bulk = bulk;
        result
    }

    /// `write` and `pwrite`: `data` at `offset`, or at the description's offset, advancing it,
    /// when `offset` is -1. With `O_APPEND` every write goes to the end, `pwrite`'s too, as on
    /// Linux. Returns the bytes written: fewer than given only when the file system filled.
    pub fn write(&mut self, client: u32, handle: u64, offset: i64, data: &[u8]) -> Result<u64> {
        let description = self.descriptions.get(client, handle)?.clone();
        if !description.access.writable() {
            return Err(Errno::EBADF);
        }
        if offset < -1 {
            return Err(Errno::EINVAL);
        }
        let location = description.location;
        let position = if description.appends() {
            self.namespace.metadata(location)?.size
        } else if offset == -1 {
            description.offset
        } else {
            offset as u64
        };
        if data.is_empty() {
            return Ok(0);
        }
        let now = self.clock.now();
        let written = self
            .file_system(location)?
            .write_at(location.inode, position, data, now)?;
        if offset == -1 {
            self.descriptions.get_mut(client, handle)?.offset = position + written as u64;
        }
        Ok(written as u64)
    }

    /// `lseek`: moves the description's offset (`SEEK_SET`, `SEEK_CUR`, `SEEK_END`, and
    /// `SEEK_DATA`/`SEEK_HOLE`, for which the only hole is the end). On a directory the offset
    /// is the listing's cookie: `SEEK_SET` and `SEEK_CUR` only.
    pub fn seek(&mut self, client: u32, handle: u64, offset: i64, whence: u32) -> Result<u64> {
        let description = self.descriptions.get(client, handle)?.clone();
        let is_directory = description.kind == FileKind::Directory;
        let whence = i32::try_from(whence).map_err(|_| Errno::EINVAL)?;
        let size = || -> Result<u64> { Ok(self.namespace.metadata(description.location)?.size) };
        let position: i128 = match whence {
            libc::SEEK_SET => i128::from(offset),
            libc::SEEK_CUR => i128::from(description.offset) + i128::from(offset),
            libc::SEEK_END if !is_directory => i128::from(size()?) + i128::from(offset),
            libc::SEEK_DATA | libc::SEEK_HOLE if !is_directory => {
                let size = size()?;
                let start = u64::try_from(offset).map_err(|_| Errno::ENXIO)?;
                if start >= size {
                    return Err(Errno::ENXIO);
                }
                let found = if whence == libc::SEEK_DATA {
                    start
                } else {
                    size
                };
                i128::from(found)
            }
            _ => return Err(Errno::EINVAL),
        };
        if position < 0 {
            return Err(Errno::EINVAL);
        }
        if position > i128::from(i64::MAX) {
            return Err(Errno::EOVERFLOW);
        }
        let position = position as u64;
        self.descriptions.get_mut(client, handle)?.offset = position;
        Ok(position)
    }

    /// `stat` and `lstat` (`follow_final` false).
    pub fn stat(&mut self, client: u32, path: &str, follow_final: bool) -> Result<FileStatus> {
        let resolved = self.resolve(path, follow_final)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.stat(&resolved.path, u32::from(!follow_final));
        })?;
        self.status(resolved.target.ok_or(Errno::ENOENT)?)
    }

    /// `fstat`.
    pub fn fstat(&mut self, client: u32, handle: u64) -> Result<FileStatus> {
        let location = self.descriptions.get(client, handle)?.location;
        self.status(location)
    }

    /// `ftruncate`: `EINVAL` for a negative length or a description not open for writing, as
    /// Linux.
    pub fn truncate(&mut self, client: u32, handle: u64, length: i64) -> Result<()> {
        let description = self.descriptions.get(client, handle)?.clone();
        let length = u64::try_from(length).map_err(|_| Errno::EINVAL)?;
        if !description.access.writable() || description.kind != FileKind::Regular {
            return Err(Errno::EINVAL);
        }
        if length > MAXIMUM_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let now = self.clock.now();
        let location = description.location;
        self.file_system(location)?
            .truncate(location.inode, length, now)
    }

    /// `fsync` and `fdatasync`.
    pub fn sync(&mut self, client: u32, handle: u64) -> Result<()> {
        let location = self.descriptions.get(client, handle)?.location;
        self.file_system(location)?.sync(location.inode)
    }

    /// `mkdir`.
    pub fn make_directory(&mut self, client: u32, path: &str, mode: u32) -> Result<()> {
        let resolved = self.resolve(path, false)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.make_directory(&resolved.path, mode);
        })?;
        if resolved.target.is_some() {
            return Err(Errno::EEXIST);
        }
        let link = resolved.link.ok_or(Errno::EEXIST)?;
        let parent = link.parent.ok_or(Errno::ENOENT)?;
        let now = self.clock.now();
        self.file_system(parent)?.make_directory(
            parent.inode,
            &link.name,
            mode & DIRECTORY_PERMISSIONS,
            now,
        )?;
        Ok(())
    }

    /// `rmdir`: `EBUSY` for `/` and mount points.
    pub fn remove_directory(&mut self, client: u32, path: &str) -> Result<()> {
        let resolved = self.resolve(path, false)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.remove_directory(&resolved.path);
        })?;
        let target = resolved.target.ok_or(Errno::ENOENT)?;
        if self.namespace.is_mount_root(target)
            || self.namespace.mounts().has_mount_below(&resolved.path)
        {
            return Err(Errno::EBUSY);
        }
        let link = resolved.link.ok_or(Errno::EBUSY)?;
        let parent = link.parent.ok_or(Errno::EBUSY)?;
        if self.namespace.metadata(target)?.kind != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        let now = self.clock.now();
        self.file_system(parent)?
            .remove_directory(parent.inode, &link.name, now)
    }

    /// `unlink`: a directory is `EISDIR` (Linux's answer); an open file lives on until its
    /// last close.
    pub fn unlink(&mut self, client: u32, path: &str) -> Result<()> {
        let resolved = self.resolve(path, false)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.unlink(&resolved.path);
        })?;
        let target = resolved.target.ok_or(Errno::ENOENT)?;
        if self.namespace.metadata(target)?.kind == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        let link = resolved.link.ok_or(Errno::EISDIR)?;
        let parent = link.parent.ok_or(Errno::EISDIR)?;
        let now = self.clock.now();
        self.file_system(parent)?
            .unlink(parent.inode, &link.name, now)
    }

    /// `rename`: as POSIX, neither final component followed. `EXDEV` across mounts, `EBUSY`
    /// for `/`, mount points and directories holding one, `EINVAL` for a directory moved
    /// below itself.
    pub fn rename(&mut self, client: u32, path: &str, target: &str) -> Result<()> {
        let from = self.resolve(path, false)?;
        let to = self.resolve(target, false)?;
        self.check_resolved(client, from.path != path || to.path != target, |file| {
            let _ = file.rename(&from.path, &to.path);
        })?;
        let source = from.target.ok_or(Errno::ENOENT)?;
        let mounts = self.namespace.mounts();
        let is_busy = |resolved: &Resolved| {
            resolved.link.is_none()
                || resolved
                    .target
                    .is_some_and(|location| self.namespace.is_mount_root(location))
                || mounts.has_mount_below(&resolved.path)
        };
        if is_busy(&from) || is_busy(&to) {
            return Err(Errno::EBUSY);
        }
        let (Some(from_link), Some(to_link)) = (from.link, to.link) else {
            return Err(Errno::EBUSY);
        };
        let from_parent = from_link.parent.ok_or(Errno::EBUSY)?;
        let to_parent = to_link.parent.ok_or(Errno::ENOENT)?;
        if from_parent.mount != to_parent.mount {
            return Err(Errno::EXDEV);
        }
        if to.target == Some(source) {
            return Ok(());
        }
        let kind = self.namespace.metadata(source)?.kind;
        if kind == FileKind::Directory && path::is_within(&to.path, &from.path) {
            return Err(Errno::EINVAL);
        }
        if to.directory_required && kind != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        let now = self.clock.now();
        self.file_system(from_parent)?.rename(
            from_parent.inode,
            &from_link.name,
            to_parent.inode,
            &to_link.name,
            now,
        )
    }

    /// `symlink`: creates `path` holding `target`, which is kept as given (any bytes but NUL,
    /// not empty).
    pub fn symlink(&mut self, client: u32, target: &str, path: &str) -> Result<()> {
        path::check_link_target(target)?;
        let resolved = self.resolve(path, false)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.symlink(target, &resolved.path);
        })?;
        if resolved.target.is_some() {
            return Err(Errno::EEXIST);
        }
        if resolved.directory_required {
            return Err(Errno::ENOENT);
        }
        let link = resolved.link.ok_or(Errno::EEXIST)?;
        let parent = link.parent.ok_or(Errno::ENOENT)?;
        let now = self.clock.now();
        self.file_system(parent)?
            .symlink(parent.inode, &link.name, target, now)?;
        Ok(())
    }

    /// `readlink`: `EINVAL` for a file that is not a symbolic link.
    pub fn read_link(&mut self, client: u32, path: &str) -> Result<String> {
        let resolved = self.resolve(path, false)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.read_link(&resolved.path);
        })?;
        let target = resolved.target.ok_or(Errno::ENOENT)?;
        if self.namespace.metadata(target)?.kind != FileKind::SymbolicLink {
            return Err(Errno::EINVAL);
        }
        self.file_system(target)?.read_link(target.inode)
    }

    /// `getdents64`: `DirectoryEntry` records from `cookie` on ([`CONTINUE_COOKIE`]: from the
    /// description's offset), at most `length` bytes (and a message's arena); an empty result
    /// is the end. `EINVAL` when the first entry does not fit. The description's offset
    /// becomes the cookie after the last entry returned.
    pub fn read_directory(
        &mut self,
        client: u32,
        handle: u64,
        cookie: u64,
        length: u32,
    ) -> Result<Vec<u8>> {
        let description = self.descriptions.get(client, handle)?.clone();
        if description.kind != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        let cookie = if cookie == CONTINUE_COOKIE {
            description.offset
        } else {
            cookie
        };
        let limit = (length as usize).min(MESSAGE_ARENA_MAX);
        let mut entries = Vec::new();
        let mut last_cookie = None;
        let mut too_small = false;
        let location = description.location;
        self.namespace
            .file_system(location.mount)
            .ok_or(Errno::EIO)?
            .read_directory(location.inode, cookie, &mut |item| {
                let entry = DirectoryEntry {
                    inode: item.inode,
                    next_cookie: item.next_cookie,
                    kind: item.kind.directory_entry_type(),
                    name: item.name.as_bytes(),
                };
                if entries.len() + entry.encoded_size() > limit {
                    too_small = entries.is_empty();
                    return false;
                }
                entry.encode(&mut entries);
                last_cookie = Some(item.next_cookie);
                true
            })?;
        if too_small {
            return Err(Errno::EINVAL);
        }
        self.descriptions.get_mut(client, handle)?.offset = last_cookie.unwrap_or(cookie);
        Ok(entries)
    }

    /// `access` and `faccessat`: every client is root, so reading and writing are allowed;
    /// executing needs an execute bit on a file that is not a directory (`EACCES`).
    pub fn access(&mut self, client: u32, path: &str, mode: u32) -> Result<()> {
        let all = (libc::R_OK | libc::W_OK | libc::X_OK) as u32;
        if mode & !all != 0 {
            return Err(Errno::EINVAL);
        }
        let resolved = self.resolve(path, true)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let _ = file.access(&resolved.path, mode);
        })?;
        let metadata = self
            .namespace
            .metadata(resolved.target.ok_or(Errno::ENOENT)?)?;
        let wants_execute = mode & libc::X_OK as u32 != 0;
        if wants_execute
            && metadata.kind != FileKind::Directory
            && metadata.permissions & 0o111 == 0
        {
            return Err(Errno::EACCES);
        }
        Ok(())
    }

    /// `utimensat`: sets the access and modification times of `path` (its final symbolic link
    /// itself unless `follow_final`); the change time becomes now unless both are omitted.
    pub fn set_times(
        &mut self,
        client: u32,
        path: &str,
        follow_final: bool,
        access: TimeChange,
        modify: TimeChange,
    ) -> Result<()> {
        let resolved = self.resolve(path, follow_final)?;
        self.check_resolved(client, resolved.path != path, |file| {
            let (access_seconds, access_nanoseconds) = access.to_timespec();
            let (modify_seconds, modify_nanoseconds) = modify.to_timespec();
            let _ = file.set_times(
                &resolved.path,
                u32::from(!follow_final),
                access_seconds,
                access_nanoseconds,
                modify_seconds,
                modify_nanoseconds,
            );
        })?;
        let target = resolved.target.ok_or(Errno::ENOENT)?;
        if access == TimeChange::Omit && modify == TimeChange::Omit {
            return Ok(());
        }
        let now = self.clock.now();
        self.file_system(target)?.set_times(
            target.inode,
            access.resolve(now),
            modify.resolve(now),
            now,
        )
    }

    /// `fcntl(F_SETFL)`: replaces the description's `O_APPEND` and `O_NONBLOCK`.
    pub fn set_flags(&mut self, client: u32, handle: u64, flags: u32) -> Result<()> {
        self.descriptions.get_mut(client, handle)?.flags = status_flags(flags);
        Ok(())
    }
}

/// The `length` bytes at `window` in `client`'s bulk region.
fn window_of(
    bulk: &mut dyn BulkRegions,
    client: u32,
    window: u32,
    length: u32,
) -> Result<&mut [u8]> {
    let region = bulk.region(client).ok_or(Errno::EINVAL)?;
    let start = window as usize;
    let end = start.checked_add(length as usize).ok_or(Errno::EINVAL)?;
    region.get_mut(start..end).ok_or(Errno::EINVAL)
}

/// A `nofollow` field: 0 follows the final symbolic link, 1 does not.
fn follows(nofollow: u32) -> Result<bool> {
    match nofollow {
        0 => Ok(true),
        1 => Ok(false),
        _ => Err(Errno::EINVAL),
    }
}

/// The File interface, each method one typed operation; errors become `APPLICATION + errno`.
impl FileServer for Vfs {
    fn open(
        &mut self,
        sender: u32,
        path: &str,
        access: u32,
        flags: u32,
        mode: u32,
    ) -> std::result::Result<u64, u32> {
        Vfs::open(self, sender, path, access, flags, mode).map_err(Errno::status)
    }

    fn close(&mut self, sender: u32, handle: u64) -> std::result::Result<(), u32> {
        Vfs::close(self, sender, handle).map_err(Errno::status)
    }

    fn read(
        &mut self,
        sender: u32,
        handle: u64,
        offset: i64,
        length: u32,
    ) -> std::result::Result<Vec<u8>, u32> {
        Vfs::read(self, sender, handle, offset, length).map_err(Errno::status)
    }

    fn write(
        &mut self,
        sender: u32,
        handle: u64,
        offset: i64,
        data: &[u8],
    ) -> std::result::Result<u64, u32> {
        Vfs::write(self, sender, handle, offset, data).map_err(Errno::status)
    }

    fn read_shared(
        &mut self,
        sender: u32,
        handle: u64,
        offset: i64,
        length: u32,
        window: u32,
    ) -> std::result::Result<u64, u32> {
        Vfs::read_shared(self, sender, handle, offset, length, window).map_err(Errno::status)
    }

    fn write_shared(
        &mut self,
        sender: u32,
        handle: u64,
        offset: i64,
        length: u32,
        window: u32,
    ) -> std::result::Result<u64, u32> {
        Vfs::write_shared(self, sender, handle, offset, length, window).map_err(Errno::status)
    }

    fn seek(
        &mut self,
        sender: u32,
        handle: u64,
        offset: i64,
        whence: u32,
    ) -> std::result::Result<u64, u32> {
        Vfs::seek(self, sender, handle, offset, whence).map_err(Errno::status)
    }

    fn stat(
        &mut self,
        sender: u32,
        path: &str,
        nofollow: u32,
    ) -> std::result::Result<Vec<u8>, u32> {
        follows(nofollow)
            .and_then(|follow_final| Vfs::stat(self, sender, path, follow_final))
            .map(|status| status.to_bytes().to_vec())
            .map_err(Errno::status)
    }

    fn fstat(&mut self, sender: u32, handle: u64) -> std::result::Result<Vec<u8>, u32> {
        Vfs::fstat(self, sender, handle)
            .map(|status| status.to_bytes().to_vec())
            .map_err(Errno::status)
    }

    fn truncate(&mut self, sender: u32, handle: u64, length: i64) -> std::result::Result<(), u32> {
        Vfs::truncate(self, sender, handle, length).map_err(Errno::status)
    }

    fn sync(&mut self, sender: u32, handle: u64) -> std::result::Result<(), u32> {
        Vfs::sync(self, sender, handle).map_err(Errno::status)
    }

    fn make_directory(
        &mut self,
        sender: u32,
        path: &str,
        mode: u32,
    ) -> std::result::Result<(), u32> {
        Vfs::make_directory(self, sender, path, mode).map_err(Errno::status)
    }

    fn remove_directory(&mut self, sender: u32, path: &str) -> std::result::Result<(), u32> {
        Vfs::remove_directory(self, sender, path).map_err(Errno::status)
    }

    fn unlink(&mut self, sender: u32, path: &str) -> std::result::Result<(), u32> {
        Vfs::unlink(self, sender, path).map_err(Errno::status)
    }

    fn rename(&mut self, sender: u32, path: &str, target: &str) -> std::result::Result<(), u32> {
        Vfs::rename(self, sender, path, target).map_err(Errno::status)
    }

    fn symlink(&mut self, sender: u32, target: &str, path: &str) -> std::result::Result<(), u32> {
        Vfs::symlink(self, sender, target, path).map_err(Errno::status)
    }

    fn read_link(&mut self, sender: u32, path: &str) -> std::result::Result<String, u32> {
        Vfs::read_link(self, sender, path).map_err(Errno::status)
    }

    fn read_directory(
        &mut self,
        sender: u32,
        handle: u64,
        cookie: u64,
        length: u32,
    ) -> std::result::Result<Vec<u8>, u32> {
        Vfs::read_directory(self, sender, handle, cookie, length).map_err(Errno::status)
    }

    fn access(&mut self, sender: u32, path: &str, mode: u32) -> std::result::Result<(), u32> {
        Vfs::access(self, sender, path, mode).map_err(Errno::status)
    }

    fn set_times(
        &mut self,
        sender: u32,
        path: &str,
        nofollow: u32,
        access_seconds: i64,
        access_nanoseconds: i64,
        modify_seconds: i64,
        modify_nanoseconds: i64,
    ) -> std::result::Result<(), u32> {
        let changes =
            TimeChange::from_timespec(access_seconds, access_nanoseconds).and_then(|access| {
                let modify = TimeChange::from_timespec(modify_seconds, modify_nanoseconds)?;
                Ok((access, modify, follows(nofollow)?))
            });
        changes
            .and_then(|(access, modify, follow_final)| {
                Vfs::set_times(self, sender, path, follow_final, access, modify)
            })
            .map_err(Errno::status)
    }

    fn set_flags(&mut self, sender: u32, handle: u64, flags: u32) -> std::result::Result<(), u32> {
        Vfs::set_flags(self, sender, handle, flags).map_err(Errno::status)
    }
}
