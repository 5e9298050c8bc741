//! The FAT backend: FAT12, FAT16 and FAT32 volumes with long names, through the `fatfs`
//! crate (0.3), on block storage behind a write-back cache ([`crate::storage`]).
//!
//! fatfs works on paths from the root and hands out short-lived `Dir`, `File` and `DirEntry`
//! objects that borrow the volume. The backend keeps none of them between calls (two live
//! `File`s of one file would overwrite each other's directory entry): each operation finds
//! its file again, from the inode table ([`nodes`]) to a path, and drops what it opened before
//! it returns. So every operation leaves the disk (in the cache) consistent.
//!
//! What FAT cannot hold, and what the backend does instead:
//!
//! - **Inode numbers**: assigned by the backend the first time it meets a file and kept while
//!   the volume is mounted (renames keep them); not the same from one mount to the next.
//! - **Permissions and owners**: directories are reported `0o755`, files `0o644` (`0o444` and
//!   `0o555` with FAT's read-only attribute); `chmod` has nothing to change.
//! - **Symbolic links and hard links**: `symlink` is `EPERM`, as on Linux's vfat.
//! - **Link counts**: 1 for every file and directory (0 once unlinked).
//! - **Times**: modification (2 s), access (a day), no change time (reported as the
//!   modification time); a directory's times cannot be set (fatfs 0.3 has no way to), so
//!   `set_times` on one succeeds and changes nothing.
//! - **Case**: names are compared without regard to case, as FAT does: `A` and `a` are one
//!   file, and the name keeps the case it was created with.
//! - **Files unlinked while open** stay readable and writable: the entry moves to the hidden
//!   root directory [`UNLINKED_DIRECTORY`] until the last close deletes it; a mount deletes
//!   whatever a crash left there.
//! - **File size**: at most 4 GiB - 1 byte (`EFBIG` past it).
//! - **Moving a directory to another directory** is `EXDEV` (renaming it within its
//!   directory works): fatfs 0.3 would leave its `..` entry naming the old parent, which
//!   `fsck.fat` then "repairs" by deleting it. `mv` copies and removes instead, as it does
//!   across file systems.
//!
//! # Directory repair
//!
//! fatfs 0.3.6 writes a new directory's `.` and `..` with a long-name entry before each, and,
//! on FAT32, gives the `..` of a directory in the root the root's cluster instead of 0. FAT
//! requires `.` and `..` to be the directory's first two entries (`fsck.fat` renames and
//! deletes them otherwise), so [`FatFileSystem::create_directory`] rewrites those four entries
//! right after fatfs made them: the two short entries moved to the first two slots, `..`'s
//! cluster 0 under the root, the long-name entries cleared. It finds them by watching the
//! writes fatfs does (the block cache notes where each 11-byte name write begins), checks that
//! they are laid out as fatfs 0.3.6 lays them out, and otherwise leaves them alone. This is
//! the only place the backend writes FAT structures itself.

mod nodes;
mod time;

pub use nodes::ROOT;

use crate::errno::{Errno, Result};
use crate::file_system::{DirectoryItem, FileKind, FileSystem, InodeNumber, Metadata, list_dots};
use crate::path;
use crate::storage::{
    BlockCache, BlockStorage, CachedDisk, DEFAULT_CACHE_SIZE, ImageFile, device_errno,
};
use crate::time::Timestamp;
use fatfs::{FatType, FileAttributes};
use nodes::{NodeState, NodeTable, name_key};
use std::cell::RefCell;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;
use time::{FatClock, date_time_from_timestamp, timestamp_from_date, timestamp_from_date_time};

pub use crate::storage::CacheStatistics;

type Volume = fatfs::FileSystem<CachedDisk>;
type Directory<'volume> = fatfs::Dir<'volume, CachedDisk>;
type Entry<'volume> = fatfs::DirEntry<'volume, CachedDisk>;
type FatFile<'volume> = fatfs::File<'volume, CachedDisk>;

/// The hidden root directory that holds files unlinked while open, each named by its inode
/// number, until their last close. Clients cannot see, create or remove this name (`ENOENT`,
/// `EPERM`).
pub const UNLINKED_DIRECTORY: &str = ".septa-unlinked";

/// FAT's largest file: its size is a 32-bit field.
pub const MAXIMUM_FAT_FILE_SIZE: u64 = u32::MAX as u64;

/// Permission bits reported for a directory and a file.
const DIRECTORY_PERMISSIONS: u32 = 0o755;
const FILE_PERMISSIONS: u32 = 0o644;

/// Free clusters a change of names needs before it is tried: a new directory's cluster, and
/// one to grow the parent for a 255-character name's entries (two with 512-byte clusters).
/// Checking first keeps fatfs from failing half way, which can leave a lost cluster.
const RESERVED_CLUSTERS: u32 = 2;

/// Bytes of zeros written at a time to fill a gap (FAT has no holes).
const ZEROS_SIZE: usize = 4096;

/// What the directory repair needs of FAT's layout: a directory entry's size, the short names
/// of `.` and `..`, and the attribute bytes of a directory and of a long-name entry.
const ENTRY_SIZE: usize = 32;
const DOT: &[u8; 11] = b".          ";
const DOT_DOT: &[u8; 11] = b"..         ";
const ATTRIBUTE_DIRECTORY: u8 = 0x10;
const ATTRIBUTE_LONG_NAME: u8 = 0x0F;

/// A mounted FAT volume.
pub struct FatFileSystem {
    /// `None` only once unmounted.
    volume: Option<Volume>,
    cache: Rc<RefCell<BlockCache>>,
    clock: &'static FatClock,
    nodes: RefCell<NodeTable>,
    read_only: bool,
    cluster_size: u64,
    fat_type: FatType,
}

impl FatFileSystem {
    /// Mounts the FAT volume on `storage`, with a block cache of `cache_size` bytes; `now` is
    /// the time of anything the mount writes. Files left in [`UNLINKED_DIRECTORY`] by a crash
    /// are deleted. A device that refuses writes is mounted read-only (`EROFS` for changes).
    pub fn mount(
        storage: Box<dyn BlockStorage>,
        cache_size: usize,
        now: Timestamp,
    ) -> std::result::Result<FatFileSystem, String> {
        let read_only = storage.read_only();
        let cache = Rc::new(RefCell::new(BlockCache::new(storage, cache_size)));
        // fatfs keeps its time provider by `&'static`: one small clock per mount, for as long
        // as the server runs.
        let clock: &'static FatClock = Box::leak(Box::default());
        clock.set(now);
        let options = fatfs::FsOptions::new()
            .update_accessed_date(false)
            .time_provider(clock);
        let volume = Volume::new(CachedDisk::new(cache.clone()), options)
            .map_err(|error| format!("no FAT volume on the device: {}", describe(&error)))?;
        let file_system = FatFileSystem {
            cluster_size: u64::from(volume.cluster_size()),
            fat_type: volume.fat_type(),
            volume: Some(volume),
            cache,
            clock,
            nodes: RefCell::new(NodeTable::new()),
            read_only,
        };
        if !read_only {
            file_system.remove_unlinked_files().map_err(|error| {
                format!(
                    "cannot clear {UNLINKED_DIRECTORY} on the FAT volume: errno {}",
                    error.0
                )
            })?;
        }
        Ok(file_system)
    }

    /// Mounts the FAT image file at `image` (host tests and tools), with the default cache.
    pub fn open_image(
        image: &std::path::Path,
        now: Timestamp,
    ) -> std::result::Result<FatFileSystem, String> {
        let storage = ImageFile::open(image)
            .map_err(|error| format!("cannot open the image {}: {error}", image.display()))?;
        FatFileSystem::mount(Box::new(storage), DEFAULT_CACHE_SIZE, now)
    }

    /// `FAT12`, `FAT16` or `FAT32`.
    pub fn fat_type(&self) -> &'static str {
        match self.fat_type {
            FatType::Fat12 => "FAT12",
            FatType::Fat16 => "FAT16",
            FatType::Fat32 => "FAT32",
        }
    }

    /// Bytes per cluster.
    pub fn cluster_size(&self) -> u64 {
        self.cluster_size
    }

    /// Free clusters on the volume.
    pub fn free_clusters(&self) -> Result<u32> {
        let statistics = self.volume()?.stats().map_err(to_errno)?;
        Ok(statistics.free_clusters())
    }

    /// What the block cache asked of the device so far.
    pub fn cache_statistics(&self) -> CacheStatistics {
        self.cache.borrow().statistics()
    }

    /// Blocks changed in the cache and not yet on the device.
    pub fn dirty_blocks(&self) -> usize {
        self.cache.borrow().dirty_blocks()
    }

    /// Files the inode table holds (the root included): what the backend has met.
    pub fn known_files(&self) -> usize {
        self.nodes.borrow().len()
    }

    /// Unmounts cleanly: deletes the files unlinked while open, lets fatfs write its free
    /// cluster count and clear the volume's dirty flag, then writes the cache back and
    /// flushes the device. Dropping the file system does the same, without the errors.
    pub fn unmount(mut self) -> Result<()> {
        self.unmount_volume()
    }

    fn unmount_volume(&mut self) -> Result<()> {
        if self.volume.is_none() {
            return Ok(());
        }
        if !self.read_only {
            // No handle outlives the mount: best effort, a failure is cleared at next mount.
            let _ = self.remove_unlinked_files();
        }
        if let Some(volume) = self.volume.take() {
            volume.unmount().map_err(to_errno)?;
        }
        self.cache.borrow_mut().sync()
    }

    fn volume(&self) -> Result<&Volume> {
        self.volume.as_ref().ok_or(Errno::EIO)
    }

    fn writable(&self) -> Result<()> {
        if self.read_only {
            Err(Errno::EROFS)
        } else {
            Ok(())
        }
    }

    /// `ENOSPC` unless [`RESERVED_CLUSTERS`] clusters are free.
    fn check_room(&self) -> Result<()> {
        if self.free_clusters()? < RESERVED_CLUSTERS {
            Err(Errno::ENOSPC)
        } else {
            Ok(())
        }
    }

    /// The directory `inode`, opened through fatfs.
    fn directory(&self, inode: InodeNumber) -> Result<Directory<'_>> {
        let path = {
            let nodes = self.nodes.borrow();
            let node = nodes.get(inode)?;
            if node.kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
            if matches!(node.state, NodeState::Removed(_)) {
                return Err(Errno::ENOENT);
            }
            nodes.path(inode)?
        };
        let root = self.volume()?.root_dir();
        if path.is_empty() {
            Ok(root)
        } else {
            root.open_dir(&path).map_err(to_errno)
        }
    }

    /// The directory entry of `inode` (not the root, which has none), found by its name in
    /// its parent. `EIO` if it is not there: the table and the disk disagree.
    fn entry(&self, inode: InodeNumber) -> Result<Entry<'_>> {
        let (parent, name) = {
            let nodes = self.nodes.borrow();
            let node = nodes.get(inode)?;
            if inode == ROOT || matches!(node.state, NodeState::Removed(_)) {
                return Err(Errno::ENOENT);
            }
            (node.parent, node.name.clone())
        };
        let directory = self.directory(parent)?;
        for entry in directory.iter() {
            let entry = entry.map_err(to_errno)?;
            if !is_dot(&entry) && entry.file_name() == name {
                return Ok(entry);
            }
        }
        Err(Errno::EIO)
    }

    /// The regular file `inode`, opened through fatfs, and its size.
    fn file(&self, inode: InodeNumber) -> Result<(FatFile<'_>, u64)> {
        let entry = self.entry(inode)?;
        if entry.is_dir() {
            return Err(Errno::EISDIR);
        }
        Ok((entry.to_file(), entry.len()))
    }

    fn kind(&self, inode: InodeNumber) -> Result<FileKind> {
        Ok(self.nodes.borrow().get(inode)?.kind)
    }

    fn metadata_of_entry(&self, inode: InodeNumber, entry: &Entry<'_>) -> Metadata {
        let kind = kind_of(entry);
        let (size, mut permissions) = match kind {
            FileKind::Directory => (self.cluster_size, DIRECTORY_PERMISSIONS),
            _ => (entry.len(), FILE_PERMISSIONS),
        };
        if entry.attributes().contains(FileAttributes::READ_ONLY) {
            permissions &= !0o222;
        }
        let allocated = size.div_ceil(self.cluster_size.max(1)) * self.cluster_size;
        let modify = timestamp_from_date_time(entry.modified());
        Metadata {
            inode,
            kind,
            permissions,
            links: 1,
            size,
            blocks: allocated / 512,
            access: timestamp_from_date(entry.accessed()),
            modify,
            change: modify,
        }
    }

    fn root_metadata(&self) -> Metadata {
        Metadata {
            inode: ROOT,
            kind: FileKind::Directory,
            permissions: DIRECTORY_PERMISSIONS,
            links: 1,
            size: self.cluster_size,
            blocks: self.cluster_size / 512,
            access: Timestamp::default(),
            modify: Timestamp::default(),
            change: Timestamp::default(),
        }
    }

    /// Checks that `directory` is a directory that still exists.
    fn check_linked_directory(&self, directory: InodeNumber) -> Result<()> {
        let nodes = self.nodes.borrow();
        let node = nodes.get(directory)?;
        if node.kind != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        if node.state != NodeState::Linked {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    /// Checks a name a change would create in `directory`: a valid name FAT can hold
    /// (`EINVAL` otherwise), not the hidden [`UNLINKED_DIRECTORY`] (`EPERM`).
    fn check_new_name(&self, directory: InodeNumber, name: &str) -> Result<()> {
        path::check_name(name)?;
        check_fat_name(name)?;
        if is_reserved(directory, name) {
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    /// The inode of `name` in `directory`, if it exists.
    fn find(&self, directory: InodeNumber, name: &str) -> Result<Option<InodeNumber>> {
        match self.lookup(directory, name) {
            Ok(inode) => Ok(Some(inode)),
            Err(Errno::ENOENT) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The hidden directory of unlinked files, made if there is none.
    fn unlinked_directory(&self) -> Result<InodeNumber> {
        if let Some(inode) = self.nodes.borrow().find(ROOT, UNLINKED_DIRECTORY) {
            return Ok(inode);
        }
        let root = self.volume()?.root_dir();
        match find_entry(&root, UNLINKED_DIRECTORY, false)? {
            Some(entry) if entry.is_dir() => {}
            // A file holds the name (made by another system): unlinking open files cannot
            // keep them.
            Some(_) => return Err(Errno::EBUSY),
            None => {
                self.check_room()?;
                self.create_directory(&root, true, UNLINKED_DIRECTORY)?;
            }
        }
        Ok(self
            .nodes
            .borrow_mut()
            .ensure(ROOT, UNLINKED_DIRECTORY, FileKind::Directory))
    }

    /// Makes the directory `name` in `parent` (the root when `parent_is_root`) through fatfs,
    /// then repairs its `.` and `..` (see "Directory repair" above).
    fn create_directory(
        &self,
        parent: &Directory<'_>,
        parent_is_root: bool,
        name: &str,
    ) -> Result<()> {
        self.cache.borrow_mut().watch_short_names();
        let created = parent.create_dir(name).map(drop);
        let watched = self.cache.borrow_mut().take_watched();
        created.map_err(to_errno)?;
        let mut cache = self.cache.borrow_mut();
        for offset in watched {
            let mut entry = [0u8; ENTRY_SIZE];
            cache.read(offset, &mut entry)?;
            if &entry[..11] != DOT || entry[11] & ATTRIBUTE_DIRECTORY == 0 {
                continue;
            }
            // fatfs 0.3.6's layout: long entry, `.`, long entry, `..`, from the cluster's start.
            let Some(start) = offset.checked_sub(ENTRY_SIZE as u64) else {
                return Ok(());
            };
            let mut slots = [0u8; 4 * ENTRY_SIZE];
            cache.read(start, &mut slots)?;
            let is_long = |slot: usize| slots[slot * ENTRY_SIZE + 11] == ATTRIBUTE_LONG_NAME;
            if !is_long(0) || !is_long(2) || &slots[3 * ENTRY_SIZE..3 * ENTRY_SIZE + 11] != DOT_DOT
            {
                return Ok(());
            }
            let mut repaired = [0u8; 4 * ENTRY_SIZE];
            repaired[..ENTRY_SIZE].copy_from_slice(&slots[ENTRY_SIZE..2 * ENTRY_SIZE]);
            repaired[ENTRY_SIZE..2 * ENTRY_SIZE].copy_from_slice(&slots[3 * ENTRY_SIZE..]);
            if parent_is_root {
                // `..` of a directory in the root names cluster 0 (high and low halves).
                repaired[ENTRY_SIZE + 20..ENTRY_SIZE + 22].fill(0);
                repaired[ENTRY_SIZE + 26..ENTRY_SIZE + 28].fill(0);
            }
            return cache.write(start, &repaired);
        }
        Ok(())
    }

    /// Deletes the files in [`UNLINKED_DIRECTORY`] that no handle holds, and the directory
    /// when it is left empty.
    fn remove_unlinked_files(&self) -> Result<()> {
        let root = self.volume()?.root_dir();
        let Some(entry) = find_entry(&root, UNLINKED_DIRECTORY, false)? else {
            return Ok(());
        };
        if !entry.is_dir() {
            return Ok(());
        }
        let directory = entry.to_dir();
        let unlinked = self.nodes.borrow().find(ROOT, UNLINKED_DIRECTORY);
        let mut names = Vec::new();
        for entry in directory.iter() {
            let entry = entry.map_err(to_errno)?;
            if is_dot(&entry) || entry.is_dir() {
                continue;
            }
            let name = entry.file_name();
            let held = unlinked
                .and_then(|parent| self.nodes.borrow().find(parent, &name))
                .is_some_and(|inode| {
                    self.nodes
                        .borrow()
                        .get(inode)
                        .is_ok_and(|node| node.opened > 0)
                });
            if !held {
                names.push(name);
            }
        }
        for name in names {
            directory.remove(&name).map_err(to_errno)?;
            if let Some(parent) = unlinked {
                let inode = self.nodes.borrow().find(parent, &name);
                if let Some(inode) = inode {
                    self.nodes.borrow_mut().forget(inode);
                }
            }
        }
        drop(directory);
        match root.remove(UNLINKED_DIRECTORY) {
            Ok(()) => {
                if let Some(inode) = unlinked {
                    self.nodes.borrow_mut().forget(inode);
                }
                Ok(())
            }
            Err(error) => match to_errno(error) {
                Errno::ENOTEMPTY => Ok(()),
                errno => Err(errno),
            },
        }
    }

    /// Removes the name of `inode` (a file, or an empty directory). A regular file that is
    /// open moves to [`UNLINKED_DIRECTORY`] instead, to be deleted at its last close; an open
    /// directory is removed, its metadata kept for its handles.
    fn remove_name(&self, inode: InodeNumber) -> Result<()> {
        let node = self.nodes.borrow().get(inode)?.clone();
        let parent = self.directory(node.parent)?;
        if node.kind == FileKind::Regular && node.opened > 0 {
            // Without room for its entry in the hidden directory the file cannot be kept for
            // its handles (and fatfs would lose it half way): the name stays, EBUSY.
            let busy = |error: Errno| match error {
                Errno::ENOSPC => Errno::EBUSY,
                other => other,
            };
            self.check_room().map_err(busy)?;
            let unlinked = self.unlinked_directory().map_err(busy)?;
            let unlinked_directory = self.directory(unlinked)?;
            let kept_name = inode.to_string();
            parent
                .rename(&node.name, &unlinked_directory, &kept_name)
                .map_err(to_errno)?;
            let mut nodes = self.nodes.borrow_mut();
            nodes.move_to(inode, unlinked, &kept_name)?;
            nodes.get_mut(inode)?.state = NodeState::Unlinked;
            return Ok(());
        }
        let kept = if node.kind == FileKind::Directory && node.opened > 0 {
            let entry = self.entry(inode)?;
            let mut metadata = self.metadata_of_entry(inode, &entry);
            metadata.links = 0;
            Some(metadata)
        } else {
            None
        };
        parent.remove(&node.name).map_err(to_errno)?;
        let mut nodes = self.nodes.borrow_mut();
        match kept {
            Some(metadata) => {
                nodes.unname(inode);
                nodes.get_mut(inode)?.state = NodeState::Removed(metadata);
            }
            None => nodes.forget(inode),
        }
        Ok(())
    }

    /// Whether the directory `inode` has entries.
    fn has_entries(&self, inode: InodeNumber) -> Result<bool> {
        let directory = self.directory(inode)?;
        for entry in directory.iter() {
            let entry = entry.map_err(to_errno)?;
            if !is_dot(&entry) {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

impl Drop for FatFileSystem {
    /// A clean unmount: see [`FatFileSystem::unmount`].
    fn drop(&mut self) {
        let _ = self.unmount_volume();
    }
}

impl std::fmt::Debug for FatFileSystem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("FatFileSystem")
            .field("fat_type", &self.fat_type())
            .field("cluster_size", &self.cluster_size)
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl FileSystem for FatFileSystem {
    fn kind(&self) -> &'static str {
        "fat"
    }

    fn root(&self) -> InodeNumber {
        ROOT
    }

    fn lookup(&self, directory: InodeNumber, name: &str) -> Result<InodeNumber> {
        path::check_name(name)?;
        self.check_linked_directory(directory)?;
        if is_reserved(directory, name) {
            return Err(Errno::ENOENT);
        }
        if let Some(inode) = self.nodes.borrow().find(directory, name) {
            return Ok(inode);
        }
        let opened = self.directory(directory)?;
        match find_entry(&opened, name, directory == ROOT)? {
            Some(entry) => {
                let on_disk = entry.file_name();
                Ok(self
                    .nodes
                    .borrow_mut()
                    .ensure(directory, &on_disk, kind_of(&entry)))
            }
            None => Err(Errno::ENOENT),
        }
    }

    fn metadata(&self, inode: InodeNumber) -> Result<Metadata> {
        if inode == ROOT {
            return Ok(self.root_metadata());
        }
        let state = self.nodes.borrow().get(inode)?.state.clone();
        if let NodeState::Removed(metadata) = state {
            return Ok(metadata);
        }
        let entry = self.entry(inode)?;
        let mut metadata = self.metadata_of_entry(inode, &entry);
        if state == NodeState::Unlinked {
            metadata.links = 0;
        }
        Ok(metadata)
    }

    fn open(&mut self, inode: InodeNumber) -> Result<()> {
        let mut nodes = self.nodes.borrow_mut();
        let node = nodes.get_mut(inode)?;
        node.opened = node.opened.saturating_add(1);
        Ok(())
    }

    fn release(&mut self, inode: InodeNumber) {
        let state = {
            let mut nodes = self.nodes.borrow_mut();
            let Ok(node) = nodes.get_mut(inode) else {
                return;
            };
            node.opened = node.opened.saturating_sub(1);
            if node.opened > 0 {
                return;
            }
            node.state.clone()
        };
        match state {
            NodeState::Linked => {}
            NodeState::Removed(_) => self.nodes.borrow_mut().forget(inode),
            // Best effort: what cannot be deleted now is deleted at the next mount.
            NodeState::Unlinked => {
                let _ = self.remove_unlinked_files();
            }
        }
    }

    fn read_at(&mut self, inode: InodeNumber, offset: u64, buffer: &mut [u8]) -> Result<usize> {
        if self.kind(inode)? == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        let (mut file, size) = self.file(inode)?;
        if offset >= size || buffer.is_empty() {
            return Ok(0);
        }
        let wanted = buffer
            .len()
            .min(usize::try_from(size - offset).unwrap_or(usize::MAX));
        file.seek(SeekFrom::Start(offset)).map_err(to_errno)?;
        let mut done = 0;
        while done < wanted {
            match file.read(&mut buffer[done..wanted]) {
                Ok(0) => break,
                Ok(count) => done += count,
                Err(error) if done == 0 => return Err(to_errno(error)),
                Err(_) => break,
            }
        }
        Ok(done)
    }

    fn write_at(
        &mut self,
        inode: InodeNumber,
        offset: u64,
        data: &[u8],
        now: Timestamp,
    ) -> Result<usize> {
        self.writable()?;
        if self.kind(inode)? == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAXIMUM_FAT_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let fits = usize::try_from(MAXIMUM_FAT_FILE_SIZE - offset).unwrap_or(usize::MAX);
        let data = &data[..data.len().min(fits)];
        self.clock.set(now);
        let (mut file, size) = self.file(inode)?;
        if offset > size {
            file.seek(SeekFrom::End(0)).map_err(to_errno)?;
            if let Err(error) = write_zeros(&mut file, offset - size) {
                restore_size(&mut file, size);
                return Err(error);
            }
        }
        file.seek(SeekFrom::Start(offset)).map_err(to_errno)?;
        let mut written = 0;
        let mut failure = Errno::ENOSPC;
        while written < data.len() {
            match file.write(&data[written..]) {
                Ok(0) => break,
                Ok(count) => written += count,
                Err(error) => {
                    failure = to_errno(error);
                    break;
                }
            }
        }
        if written == 0 {
            if offset > size {
                restore_size(&mut file, size);
            }
            file.flush().map_err(to_errno)?;
            return Err(failure);
        }
        file.flush().map_err(to_errno)?;
        Ok(written)
    }

    fn truncate(&mut self, inode: InodeNumber, length: u64, now: Timestamp) -> Result<()> {
        self.writable()?;
        if self.kind(inode)? == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        if length > MAXIMUM_FAT_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        self.clock.set(now);
        let (mut file, size) = self.file(inode)?;
        if length < size {
            file.seek(SeekFrom::Start(length)).map_err(to_errno)?;
            file.truncate().map_err(to_errno)?;
        } else if length > size {
            file.seek(SeekFrom::End(0)).map_err(to_errno)?;
            if let Err(error) = write_zeros(&mut file, length - size) {
                restore_size(&mut file, size);
                let _ = file.flush();
                return Err(error);
            }
        }
        // fatfs 0.3 stamps writes itself but not truncation; its replacement (a custom
        // `TimeProvider`) is what the backend uses, and this setter is the only way to stamp
        // a truncation.
        #[allow(deprecated)]
        file.set_modified(date_time_from_timestamp(now));
        file.flush().map_err(to_errno)
    }

    fn set_times(
        &mut self,
        inode: InodeNumber,
        access: Option<Timestamp>,
        modify: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        self.writable()?;
        // fatfs 0.3 gives no way to change a directory's own entry (nor has the root one).
        if self.kind(inode)? == FileKind::Directory {
            return Ok(());
        }
        self.clock.set(now);
        let (mut file, _) = self.file(inode)?;
        // The deprecated setters are fatfs 0.3's only way to set given times.
        #[allow(deprecated)]
        {
            if let Some(access) = access {
                file.set_accessed(date_time_from_timestamp(access).date);
            }
            if let Some(modify) = modify {
                file.set_modified(date_time_from_timestamp(modify));
            }
        }
        file.flush().map_err(to_errno)
    }

    fn create(
        &mut self,
        directory: InodeNumber,
        name: &str,
        _permissions: u32,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        self.writable()?;
        self.check_new_name(directory, name)?;
        if self.find(directory, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.check_room()?;
        self.clock.set(now);
        let opened = self.directory(directory)?;
        let mut file = opened.create_file(name).map_err(to_errno)?;
        file.flush().map_err(to_errno)?;
        Ok(self
            .nodes
            .borrow_mut()
            .ensure(directory, name, FileKind::Regular))
    }

    fn make_directory(
        &mut self,
        directory: InodeNumber,
        name: &str,
        _permissions: u32,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        self.writable()?;
        self.check_new_name(directory, name)?;
        if self.find(directory, name)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.check_room()?;
        self.clock.set(now);
        let opened = self.directory(directory)?;
        self.create_directory(&opened, directory == ROOT, name)?;
        Ok(self
            .nodes
            .borrow_mut()
            .ensure(directory, name, FileKind::Directory))
    }

    fn read_link(&self, inode: InodeNumber) -> Result<String> {
        self.nodes.borrow().get(inode)?;
        Err(Errno::EINVAL)
    }

    fn unlink(&mut self, directory: InodeNumber, name: &str, now: Timestamp) -> Result<()> {
        self.writable()?;
        let inode = self.lookup(directory, name)?;
        if self.kind(inode)? == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        self.clock.set(now);
        self.remove_name(inode)
    }

    fn remove_directory(
        &mut self,
        directory: InodeNumber,
        name: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.writable()?;
        let inode = self.lookup(directory, name)?;
        if self.kind(inode)? != FileKind::Directory {
            return Err(Errno::ENOTDIR);
        }
        if self.has_entries(inode)? {
            return Err(Errno::ENOTEMPTY);
        }
        self.clock.set(now);
        self.remove_name(inode)
    }

    fn rename(
        &mut self,
        from_directory: InodeNumber,
        from_name: &str,
        to_directory: InodeNumber,
        to_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.writable()?;
        let source = self.lookup(from_directory, from_name)?;
        self.check_linked_directory(to_directory)?;
        self.check_new_name(to_directory, to_name)?;
        let existing = self.find(to_directory, to_name)?;
        if existing == Some(source) {
            return Ok(());
        }
        let source_kind = self.kind(source)?;
        if source_kind == FileKind::Directory && self.nodes.borrow().is_within(to_directory, source)
        {
            return Err(Errno::EINVAL);
        }
        if source_kind == FileKind::Directory && from_directory != to_directory {
            // Its `..` would keep naming the old parent (see the module's documentation).
            return Err(Errno::EXDEV);
        }
        if let Some(target) = existing {
            match (source_kind, self.kind(target)?) {
                (FileKind::Directory, FileKind::Regular) => return Err(Errno::ENOTDIR),
                (FileKind::Regular, FileKind::Directory) => return Err(Errno::EISDIR),
                (FileKind::Directory, FileKind::Directory) if self.has_entries(target)? => {
                    return Err(Errno::ENOTEMPTY);
                }
                _ => {}
            }
        }
        // fatfs 0.3 deletes the old entry before it writes the new one: make sure the new one
        // has room first, or the file would be lost.
        self.check_room()?;
        self.clock.set(now);
        if let Some(target) = existing {
            self.remove_name(target)?;
        }
        let from_name_on_disk = self.nodes.borrow().get(source)?.name.clone();
        let from = self.directory(from_directory)?;
        let to = self.directory(to_directory)?;
        if existing.is_none() {
            // Entries for `to_name`, made and freed again, prove the destination has room
            // (a FAT12/16 root directory cannot grow); the rename reuses them. A replaced
            // target has just freed entries for the same name.
            let mut placeholder = to.create_file(to_name).map_err(to_errno)?;
            placeholder.flush().map_err(to_errno)?;
            drop(placeholder);
            to.remove(to_name).map_err(to_errno)?;
        }
        from.rename(&from_name_on_disk, &to, to_name)
            .map_err(to_errno)?;
        self.nodes
            .borrow_mut()
            .move_to(source, to_directory, to_name)
    }

    fn read_directory(
        &self,
        directory: InodeNumber,
        cookie: u64,
        visit: &mut dyn FnMut(DirectoryItem<'_>) -> bool,
    ) -> Result<()> {
        let (parent, state) = {
            let nodes = self.nodes.borrow();
            let node = nodes.get(directory)?;
            if node.kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
            (node.parent, node.state.clone())
        };
        if matches!(state, NodeState::Removed(_)) {
            return Ok(());
        }
        if !list_dots(directory, parent, cookie, visit) {
            return Ok(());
        }
        // Every entry gets its inode number and its cookie (in the order met, the first time
        // the backend meets it); the listing goes in cookie order, so entries made or removed
        // meanwhile never make it skip or repeat the others.
        let opened = self.directory(directory)?;
        let mut entries = Vec::new();
        for entry in opened.iter() {
            let entry = entry.map_err(to_errno)?;
            if is_dot(&entry) {
                continue;
            }
            let name = entry.file_name();
            if is_reserved(directory, &name) {
                continue;
            }
            let kind = kind_of(&entry);
            let mut nodes = self.nodes.borrow_mut();
            let inode = nodes.ensure(directory, &name, kind);
            let entry_cookie = nodes.get(inode)?.cookie;
            if entry_cookie >= cookie {
                entries.push((entry_cookie, inode, kind, name));
            }
        }
        entries.sort_unstable_by_key(|(entry_cookie, ..)| *entry_cookie);
        for (entry_cookie, inode, kind, name) in &entries {
            let item = DirectoryItem {
                inode: *inode,
                kind: *kind,
                name,
                next_cookie: entry_cookie + 1,
            };
            if !visit(item) {
                break;
            }
        }
        Ok(())
    }

    fn sync(&mut self, inode: InodeNumber) -> Result<()> {
        self.nodes.borrow().get(inode)?;
        self.cache.borrow_mut().sync()
    }
}

/// Whether `name` in `directory` is the hidden [`UNLINKED_DIRECTORY`].
fn is_reserved(directory: InodeNumber, name: &str) -> bool {
    directory == ROOT && name_key(name) == name_key(UNLINKED_DIRECTORY)
}

/// Whether `entry` is a directory's `.` or `..`.
fn is_dot(entry: &Entry<'_>) -> bool {
    matches!(entry.short_file_name_as_bytes(), b"." | b"..")
}

fn kind_of(entry: &Entry<'_>) -> FileKind {
    if entry.is_dir() {
        FileKind::Directory
    } else {
        FileKind::Regular
    }
}

/// The entry named `name` in `directory`, compared as FAT does: the long name or the short
/// (8.3) name, without regard to case. With `hide_reserved`, the root's hidden directory is
/// not seen.
fn find_entry<'volume>(
    directory: &Directory<'volume>,
    name: &str,
    hide_reserved: bool,
) -> Result<Option<Entry<'volume>>> {
    let key = name_key(name);
    for entry in directory.iter() {
        let entry = entry.map_err(to_errno)?;
        if is_dot(&entry) {
            continue;
        }
        let long_name = entry.file_name();
        if hide_reserved && is_reserved(ROOT, &long_name) {
            continue;
        }
        if name_key(&long_name) == key || name_key(&entry.short_file_name()) == key {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// Checks that FAT (as fatfs 0.3 writes long names) can hold `name`: letters, digits,
/// `$%'-_@~`!(){}^#&+,;=[] .` and characters from U+0080 to U+FFFF; anything else
/// (control characters, `"*/:<>?\|`, characters beyond U+FFFF) is `EINVAL`, as Linux's vfat
/// answers. Checked before fatfs is called, because fatfs checks it only after allocating a
/// new directory's cluster.
pub fn check_fat_name(name: &str) -> Result<()> {
    let allowed = |character: char| {
        character.is_ascii_alphanumeric()
            || "$%'-_@~`!(){}^#&+,;=[] .".contains(character)
            || ('\u{80}'..='\u{FFFF}').contains(&character)
    };
    if name.is_empty() || !name.chars().all(allowed) {
        return Err(Errno::EINVAL);
    }
    Ok(())
}

/// Writes `count` zero bytes at the file's position (FAT has no holes).
fn write_zeros(file: &mut FatFile<'_>, mut count: u64) -> Result<()> {
    let zeros = [0u8; ZEROS_SIZE];
    while count > 0 {
        let length = usize::try_from(count).unwrap_or(ZEROS_SIZE).min(ZEROS_SIZE);
        match file.write(&zeros[..length]) {
            Ok(0) => return Err(Errno::ENOSPC),
            Ok(written) => count -= written as u64,
            Err(error) => return Err(to_errno(error)),
        }
    }
    Ok(())
}

/// Cuts the file back to `size` after a failed extension (best effort: the extension's error
/// is what the caller reports).
fn restore_size(file: &mut FatFile<'_>, size: u64) {
    if file.seek(SeekFrom::Start(size)).is_ok() {
        let _ = file.truncate();
    }
}

/// An `io::Error` from fatfs as an errno: device failures as the device said (`EROFS`, else
/// `EIO`), fatfs's own errors by their kind or, where fatfs 0.3 gives only a message, by it.
pub fn to_errno(error: io::Error) -> Errno {
    if let Some(errno) = device_errno(&error) {
        return if errno == Errno::EROFS {
            Errno::EROFS
        } else {
            Errno::EIO
        };
    }
    match error.kind() {
        io::ErrorKind::NotFound => Errno::ENOENT,
        io::ErrorKind::AlreadyExists => Errno::EEXIST,
        // A FAT12/16 root directory has no room for another entry.
        io::ErrorKind::WriteZero => Errno::ENOSPC,
        _ => match error.to_string().as_str() {
            "No space left on device" => Errno::ENOSPC,
            "Directory not empty" => Errno::ENOTEMPTY,
            "Is a directory" => Errno::EISDIR,
            "Not a directory" => Errno::ENOTDIR,
            "File name too long" => Errno::ENAMETOOLONG,
            "File name is empty" | "File name contains unsupported characters" => Errno::EINVAL,
            _ => Errno::EIO,
        },
    }
}

/// An `io::Error` for a message: the device's errno when it is one.
fn describe(error: &io::Error) -> String {
    match device_errno(error) {
        Some(errno) => format!("device error (errno {})", errno.0),
        None => error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fatfs_errors_become_errno_values() {
        let other = |message: &str| io::Error::other(message.to_owned());
        assert_eq!(to_errno(other("No space left on device")), Errno::ENOSPC);
        assert_eq!(to_errno(other("Directory not empty")), Errno::ENOTEMPTY);
        assert_eq!(to_errno(other("Is a directory")), Errno::EISDIR);
        assert_eq!(to_errno(other("Not a directory")), Errno::ENOTDIR);
        assert_eq!(
            to_errno(other("File name contains unsupported characters")),
            Errno::EINVAL
        );
        assert_eq!(to_errno(other("anything else")), Errno::EIO);
        assert_eq!(
            to_errno(io::Error::new(io::ErrorKind::NotFound, "x")),
            Errno::ENOENT
        );
        assert_eq!(
            to_errno(io::Error::new(io::ErrorKind::AlreadyExists, "x")),
            Errno::EEXIST
        );
        assert_eq!(
            to_errno(io::Error::new(io::ErrorKind::UnexpectedEof, "x")),
            Errno::EIO
        );
    }

    #[test]
    fn names_fat_cannot_hold_are_refused() {
        for good in ["a", "Read Me.txt", "été", "x-y_z (1).tar.gz", "[a]{b}"] {
            assert_eq!(check_fat_name(good), Ok(()), "{good}");
        }
        for bad in [
            "a:b", "a*", "what?", "a\\b", "<>", "pipe|", "quote\"", "tab\t", "🙂",
        ] {
            assert_eq!(check_fat_name(bad), Err(Errno::EINVAL), "{bad}");
        }
        assert!(is_reserved(ROOT, ".SEPTA-Unlinked"));
        assert!(!is_reserved(ROOT + 1, UNLINKED_DIRECTORY));
    }
}
