//! The `FileSystem` trait: what a backend (the ramfs, FAT on a block device) gives
//! the server, one directory and one name at a time.
//!
//! A backend names its files by inode number and knows nothing of mounts, paths, handles,
//! clients or symbolic-link resolution: the namespace (`crate::namespace`) walks paths across
//! mounts and follows links, and the server (`crate::server`) keeps the open file descriptions.
//! Every name a backend receives has been checked (`crate::path::check_name`); backends check
//! it again all the same, as they check that an inode exists and has the right kind.

use crate::errno::{Errno, Result};
use crate::time::Timestamp;

/// A file's number within its file system (`st_ino`).
pub type InodeNumber = u64;

/// Largest file size and offset: `off_t`'s maximum.
pub const MAXIMUM_FILE_SIZE: u64 = i64::MAX as u64;

/// What a file is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    Regular,
    Directory,
    SymbolicLink,
}

impl FileKind {
    /// The `S_IFMT` bits of `st_mode`.
    pub fn mode_bits(self) -> u32 {
        match self {
            FileKind::Regular => libc::S_IFREG,
            FileKind::Directory => libc::S_IFDIR,
            FileKind::SymbolicLink => libc::S_IFLNK,
        }
    }

    /// The `d_type` of a directory entry.
    pub fn directory_entry_type(self) -> u8 {
        match self {
            FileKind::Regular => libc::DT_REG,
            FileKind::Directory => libc::DT_DIR,
            FileKind::SymbolicLink => libc::DT_LNK,
        }
    }
}

/// What a backend knows of a file: `struct stat` without the device, owner and block size,
/// which the server fills in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub inode: InodeNumber,
    pub kind: FileKind,
    /// Permission bits (`0o7777`).
    pub permissions: u32,
    /// Names and directory links to it; 0 once removed (an open file lives on until closed).
    pub links: u32,
    /// Bytes (for a symbolic link, its target's length).
    pub size: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    pub access: Timestamp,
    pub modify: Timestamp,
    pub change: Timestamp,
}

/// The cookie of a directory's first real entry: every backend lists `.` at cookie 0 and `..`
/// at cookie 1 ([`list_dots`]), then its entries from this cookie on.
pub const FIRST_ENTRY_COOKIE: u64 = 2;

/// Lists `.` and `..` of `directory` (whose parent is `parent`) from `cookie`, as every
/// backend begins a listing; `false` when `visit` asked to stop.
pub fn list_dots(
    directory: InodeNumber,
    parent: InodeNumber,
    cookie: u64,
    visit: &mut dyn FnMut(DirectoryItem<'_>) -> bool,
) -> bool {
    let dot = DirectoryItem {
        inode: directory,
        kind: FileKind::Directory,
        name: ".",
        next_cookie: 1,
    };
    if cookie == 0 && !visit(dot) {
        return false;
    }
    let dot_dot = DirectoryItem {
        inode: parent,
        kind: FileKind::Directory,
        name: "..",
        next_cookie: FIRST_ENTRY_COOKIE,
    };
    cookie > 1 || visit(dot_dot)
}

/// One entry of a directory listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirectoryItem<'a> {
    pub inode: InodeNumber,
    pub kind: FileKind,
    pub name: &'a str,
    /// The cookie that continues the listing after this entry.
    pub next_cookie: u64,
}

/// A file system the server can mount.
///
/// Errors are errno values with their POSIX meaning for the call the method serves; the
/// method descriptions name the ones a backend must give.
pub trait FileSystem {
    /// A short name of the backend for messages (`ramfs`, `fat`).
    fn kind(&self) -> &'static str;

    /// The root directory.
    fn root(&self) -> InodeNumber;

    /// The file `name` in `directory`: `ENOENT` when there is none, `ENOTDIR` when `directory`
    /// is not one.
    fn lookup(&self, directory: InodeNumber, name: &str) -> Result<InodeNumber>;

    /// The file's metadata.
    fn metadata(&self, inode: InodeNumber) -> Result<Metadata>;

    /// Notes that the server opened `inode` (a file stays alive while open, even unlinked).
    fn open(&mut self, inode: InodeNumber) -> Result<()>;

    /// Notes that the server closed `inode` once; the last close of an unlinked file frees it.
    fn release(&mut self, inode: InodeNumber);

    /// Reads from `offset` into `buffer`; returns the bytes read, 0 at or past the end.
    /// `EISDIR` for a directory.
    fn read_at(&mut self, inode: InodeNumber, offset: u64, buffer: &mut [u8]) -> Result<usize>;

    /// Writes `data` at `offset`, extending the file; returns the bytes written, which is
    /// fewer than asked only when the space ran out part way (`ENOSPC` when none was written).
    /// `EFBIG` past [`MAXIMUM_FILE_SIZE`].
    fn write_at(
        &mut self,
        inode: InodeNumber,
        offset: u64,
        data: &[u8],
        now: Timestamp,
    ) -> Result<usize>;

    /// Sets a regular file's length; bytes past the old end read as zeros.
    fn truncate(&mut self, inode: InodeNumber, length: u64, now: Timestamp) -> Result<()>;

    /// Sets the access and modification times (`None` leaves one as it is); the change time
    /// becomes `now`.
    fn set_times(
        &mut self,
        inode: InodeNumber,
        access: Option<Timestamp>,
        modify: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()>;

    /// Creates the regular file `name` in `directory`: `EEXIST` if the name is taken,
    /// `ENOSPC` when full.
    fn create(
        &mut self,
        directory: InodeNumber,
        name: &str,
        permissions: u32,
        now: Timestamp,
    ) -> Result<InodeNumber>;

    /// Creates the directory `name` in `directory`: as [`FileSystem::create`].
    fn make_directory(
        &mut self,
        directory: InodeNumber,
        name: &str,
        permissions: u32,
        now: Timestamp,
    ) -> Result<InodeNumber>;

    /// Creates the symbolic link `name` in `directory` holding `target`. A backend without
    /// symbolic links gives `EPERM`, as Linux's FAT does.
    fn symlink(
        &mut self,
        directory: InodeNumber,
        name: &str,
        target: &str,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        let _ = (directory, name, target, now);
        Err(Errno::EPERM)
    }

    /// The target of a symbolic link: `EINVAL` when `inode` is not one.
    fn read_link(&self, inode: InodeNumber) -> Result<String>;

    /// Removes the name `name` (not a directory: `EISDIR`) from `directory`.
    fn unlink(&mut self, directory: InodeNumber, name: &str, now: Timestamp) -> Result<()>;

    /// Removes the empty directory `name` from `directory`: `ENOTDIR` if it is not a
    /// directory, `ENOTEMPTY` if it has entries.
    fn remove_directory(
        &mut self,
        directory: InodeNumber,
        name: &str,
        now: Timestamp,
    ) -> Result<()>;

    /// Renames `from_directory/from_name` to `to_directory/to_name` as POSIX `rename` does:
    /// the same file under both names does nothing; an existing target is replaced when the
    /// kinds agree (`ENOTDIR` for a directory onto a non-directory, `EISDIR` the other way,
    /// `ENOTEMPTY` onto a directory with entries); a directory moved below itself is `EINVAL`.
    fn rename(
        &mut self,
        from_directory: InodeNumber,
        from_name: &str,
        to_directory: InodeNumber,
        to_name: &str,
        now: Timestamp,
    ) -> Result<()>;

    /// Lists `directory` from `cookie` on (0 is the start: `.`, then `..`, then the entries),
    /// calling `visit` for each entry until it returns `false` or the entries end.
    ///
    /// Cookies are stable: an entry keeps its cookie while it exists, entries added or removed
    /// meanwhile do not make the listing repeat or skip the others, and a cookie a client kept
    /// stays valid (entries removed since are simply not listed). `ENOTDIR` when `directory` is
    /// not one. A removed directory lists nothing.
    fn read_directory(
        &self,
        directory: InodeNumber,
        cookie: u64,
        visit: &mut dyn FnMut(DirectoryItem<'_>) -> bool,
    ) -> Result<()>;

    /// Makes the file's data and metadata durable.
    fn sync(&mut self, inode: InodeNumber) -> Result<()>;
}
