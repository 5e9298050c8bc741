//! The ramfs: a file system in the server's memory (the default `/` and `/tmp`), with regular
//! files, directories and symbolic links, link counts, and files that outlive their last name
//! while open.
//!
//! Everything it holds is charged to a [`MemoryBudget`] shared by the server's ramfs instances:
//! each inode a fixed [`INODE_COST`], each name and link target its bytes, each file its 4 KiB
//! pages. A full budget is `ENOSPC`.

mod budget;
mod contents;

pub use budget::MemoryBudget;
pub use contents::PAGE_SIZE;

use crate::errno::{Errno, Result};
use crate::file_system::{
    DirectoryItem, FIRST_ENTRY_COOKIE, FileKind, FileSystem, InodeNumber, Metadata, list_dots,
};
use crate::path;
use crate::time::Timestamp;
use contents::Contents;
use std::collections::{BTreeMap, HashMap};

/// What an inode costs the budget besides its names and data: an estimate of its record.
pub const INODE_COST: u64 = 256;

/// The root directory's inode number.
const ROOT: InodeNumber = 1;

/// Size a directory reports per entry (`.` and `..` included), as Linux's tmpfs does.
const DIRECTORY_ENTRY_SIZE: u64 = 20;

/// A ramfs instance.
#[derive(Debug)]
pub struct Ramfs {
    inodes: HashMap<InodeNumber, Inode>,
    next_inode: InodeNumber,
    budget: MemoryBudget,
}

#[derive(Debug)]
struct Inode {
    node: Node,
    permissions: u32,
    /// Names of the file, plus for a directory its `.` and its subdirectories' `..`.
    links: u32,
    /// Open file descriptions on it.
    open_count: u32,
    access: Timestamp,
    modify: Timestamp,
    change: Timestamp,
}

#[derive(Debug)]
enum Node {
    Regular(Contents),
    Directory(Directory),
    SymbolicLink(String),
}

/// A directory's entries, by cookie (the listing order) and by name.
#[derive(Debug)]
struct Directory {
    parent: InodeNumber,
    entries: BTreeMap<u64, Entry>,
    cookies: HashMap<String, u64>,
    next_cookie: u64,
}

#[derive(Debug)]
struct Entry {
    name: String,
    inode: InodeNumber,
}

impl Directory {
    fn new(parent: InodeNumber) -> Directory {
        Directory {
            parent,
            entries: BTreeMap::new(),
            cookies: HashMap::new(),
            next_cookie: FIRST_ENTRY_COOKIE,
        }
    }

    fn get(&self, name: &str) -> Option<InodeNumber> {
        let cookie = self.cookies.get(name)?;
        self.entries.get(cookie).map(|entry| entry.inode)
    }

    /// Adds an entry with a cookie never used before in this directory.
    fn insert(&mut self, name: &str, inode: InodeNumber) {
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.cookies.insert(name.to_owned(), cookie);
        self.entries.insert(
            cookie,
            Entry {
                name: name.to_owned(),
                inode,
            },
        );
    }

    fn remove(&mut self, name: &str) -> Option<InodeNumber> {
        let cookie = self.cookies.remove(name)?;
        self.entries.remove(&cookie).map(|entry| entry.inode)
    }
}

impl Inode {
    fn new(node: Node, permissions: u32, links: u32, now: Timestamp) -> Inode {
        Inode {
            node,
            permissions: permissions & 0o7777,
            links,
            open_count: 0,
            access: now,
            modify: now,
            change: now,
        }
    }

    fn kind(&self) -> FileKind {
        match self.node {
            Node::Regular(_) => FileKind::Regular,
            Node::Directory(_) => FileKind::Directory,
            Node::SymbolicLink(_) => FileKind::SymbolicLink,
        }
    }

    fn touch(&mut self, now: Timestamp) {
        self.modify = now;
        self.change = now;
    }
}

impl Ramfs {
    /// An empty ramfs (a root directory with permissions `0o755`) charging `budget`.
    pub fn new(budget: MemoryBudget, now: Timestamp) -> Ramfs {
        let mut inodes = HashMap::new();
        inodes.insert(
            ROOT,
            Inode::new(Node::Directory(Directory::new(ROOT)), 0o755, 2, now),
        );
        Ramfs {
            inodes,
            next_inode: ROOT + 1,
            budget,
        }
    }

    /// The budget this ramfs charges.
    pub fn budget(&self) -> &MemoryBudget {
        &self.budget
    }

    /// Inodes alive, the root included (removed files still open count).
    pub fn inode_count(&self) -> usize {
        self.inodes.len()
    }

    fn inode(&self, inode: InodeNumber) -> Result<&Inode> {
        self.inodes.get(&inode).ok_or(Errno::ENOENT)
    }

    fn inode_mut(&mut self, inode: InodeNumber) -> Result<&mut Inode> {
        self.inodes.get_mut(&inode).ok_or(Errno::ENOENT)
    }

    fn directory(&self, inode: InodeNumber) -> Result<&Directory> {
        match &self.inode(inode)?.node {
            Node::Directory(directory) => Ok(directory),
            _ => Err(Errno::ENOTDIR),
        }
    }

    fn directory_mut(&mut self, inode: InodeNumber) -> Result<&mut Directory> {
        match &mut self.inode_mut(inode)?.node {
            Node::Directory(directory) => Ok(directory),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Checks that `directory` is a directory still in the tree, where names can be added:
    /// `ENOTDIR`, or `ENOENT` for a removed one (as Linux says creating in it).
    fn check_linked_directory(&self, directory: InodeNumber) -> Result<()> {
        self.directory(directory)?;
        if self.inode(directory)?.links == 0 {
            return Err(Errno::ENOENT);
        }
        Ok(())
    }

    /// Adds a new inode named `name` in `directory`, charging its cost (`extra` bytes beyond
    /// the record and the name).
    fn add(
        &mut self,
        directory: InodeNumber,
        name: &str,
        node: Node,
        permissions: u32,
        extra: u64,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        path::check_name(name)?;
        self.check_linked_directory(directory)?;
        if self.directory(directory)?.get(name).is_some() {
            return Err(Errno::EEXIST);
        }
        self.budget.charge(INODE_COST + name.len() as u64 + extra)?;
        let is_directory = matches!(node, Node::Directory(_));
        let inode = self.next_inode;
        self.next_inode += 1;
        let links = if is_directory { 2 } else { 1 };
        self.inodes
            .insert(inode, Inode::new(node, permissions, links, now));
        let parent = self.inode_mut(directory)?;
        parent.touch(now);
        if is_directory {
            parent.links += 1;
        }
        self.directory_mut(directory)?.insert(name, inode);
        Ok(inode)
    }

    /// Takes the entry `name` out of `directory` and drops the link it was; the caller has
    /// checked the kind.
    fn remove_entry(&mut self, directory: InodeNumber, name: &str, now: Timestamp) -> Result<()> {
        let inode = self
            .directory_mut(directory)?
            .remove(name)
            .ok_or(Errno::ENOENT)?;
        self.budget.release(name.len() as u64);
        self.inode_mut(directory)?.touch(now);
        let removed = self.inode_mut(inode)?;
        removed.change = now;
        if matches!(removed.node, Node::Directory(_)) {
            // Its `.` and its name go at once; its `..` no longer counts in the parent.
            removed.links = 0;
            let parent = self.inode_mut(directory)?;
            parent.links = parent.links.saturating_sub(1);
        } else {
            removed.links = removed.links.saturating_sub(1);
        }
        self.free_if_unused(inode);
        Ok(())
    }

    /// Frees an inode that has neither a name nor an open description.
    fn free_if_unused(&mut self, inode: InodeNumber) {
        let unused = self
            .inodes
            .get(&inode)
            .is_some_and(|record| record.links == 0 && record.open_count == 0);
        if !unused || inode == ROOT {
            return;
        }
        if let Some(mut record) = self.inodes.remove(&inode) {
            let data = match &mut record.node {
                Node::Regular(contents) => {
                    contents.release_all(&self.budget);
                    0
                }
                Node::SymbolicLink(target) => target.len() as u64,
                Node::Directory(_) => 0,
            };
            self.budget.release(INODE_COST + data);
        }
    }

    /// Whether `inode` is `ancestor` or lies below it.
    fn is_below(&self, inode: InodeNumber, ancestor: InodeNumber) -> bool {
        let mut current = inode;
        // Parents form a tree rooted at ROOT; the bound only guards against a broken one.
        for _ in 0..=self.inodes.len() {
            if current == ancestor {
                return true;
            }
            if current == ROOT {
                return false;
            }
            match self.directory(current) {
                Ok(directory) => current = directory.parent,
                Err(_) => return false,
            }
        }
        false
    }

    fn is_empty_directory(&self, inode: InodeNumber) -> Result<bool> {
        Ok(self.directory(inode)?.entries.is_empty())
    }
}

impl FileSystem for Ramfs {
    fn kind(&self) -> &'static str {
        "ramfs"
    }

    fn root(&self) -> InodeNumber {
        ROOT
    }

    fn lookup(&self, directory: InodeNumber, name: &str) -> Result<InodeNumber> {
        let entries = self.directory(directory)?;
        match name {
            "." => Ok(directory),
            ".." => Ok(entries.parent),
            _ => entries.get(name).ok_or(Errno::ENOENT),
        }
    }

    fn metadata(&self, inode: InodeNumber) -> Result<Metadata> {
        let record = self.inode(inode)?;
        let (size, blocks) = match &record.node {
            Node::Regular(contents) => (contents.size(), contents.allocated_bytes() / 512),
            Node::Directory(directory) => (
                (directory.entries.len() as u64 + 2) * DIRECTORY_ENTRY_SIZE,
                0,
            ),
            Node::SymbolicLink(target) => (target.len() as u64, 0),
        };
        Ok(Metadata {
            inode,
            kind: record.kind(),
            permissions: record.permissions,
            links: record.links,
            size,
            blocks,
            access: record.access,
            modify: record.modify,
            change: record.change,
        })
    }

    fn open(&mut self, inode: InodeNumber) -> Result<()> {
        let record = self.inode_mut(inode)?;
        record.open_count = record.open_count.checked_add(1).ok_or(Errno::EMFILE)?;
        Ok(())
    }

    fn release(&mut self, inode: InodeNumber) {
        if let Ok(record) = self.inode_mut(inode) {
            record.open_count = record.open_count.saturating_sub(1);
        }
        self.free_if_unused(inode);
    }

    fn read_at(&mut self, inode: InodeNumber, offset: u64, buffer: &mut [u8]) -> Result<usize> {
        match &self.inode(inode)?.node {
            Node::Regular(contents) => Ok(contents.read_at(offset, buffer)),
            Node::Directory(_) => Err(Errno::EISDIR),
            Node::SymbolicLink(_) => Err(Errno::EINVAL),
        }
    }

    fn write_at(
        &mut self,
        inode: InodeNumber,
        offset: u64,
        data: &[u8],
        now: Timestamp,
    ) -> Result<usize> {
        let budget = self.budget.clone();
        let record = self.inode_mut(inode)?;
        let written = match &mut record.node {
            Node::Regular(contents) => contents.write_at(offset, data, &budget)?,
            Node::Directory(_) => return Err(Errno::EISDIR),
            Node::SymbolicLink(_) => return Err(Errno::EINVAL),
        };
        if written > 0 {
            record.touch(now);
        }
        Ok(written)
    }

    fn truncate(&mut self, inode: InodeNumber, length: u64, now: Timestamp) -> Result<()> {
        let budget = self.budget.clone();
        let record = self.inode_mut(inode)?;
        match &mut record.node {
            Node::Regular(contents) => contents.truncate(length, &budget)?,
            Node::Directory(_) => return Err(Errno::EISDIR),
            Node::SymbolicLink(_) => return Err(Errno::EINVAL),
        }
        record.touch(now);
        Ok(())
    }

    fn set_times(
        &mut self,
        inode: InodeNumber,
        access: Option<Timestamp>,
        modify: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let record = self.inode_mut(inode)?;
        if let Some(access) = access {
            record.access = access;
        }
        if let Some(modify) = modify {
            record.modify = modify;
        }
        record.change = now;
        Ok(())
    }

    fn create(
        &mut self,
        directory: InodeNumber,
        name: &str,
        permissions: u32,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        let node = Node::Regular(Contents::default());
        self.add(directory, name, node, permissions, 0, now)
    }

    fn make_directory(
        &mut self,
        directory: InodeNumber,
        name: &str,
        permissions: u32,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        let node = Node::Directory(Directory::new(directory));
        self.add(directory, name, node, permissions, 0, now)
    }

    fn symlink(
        &mut self,
        directory: InodeNumber,
        name: &str,
        target: &str,
        now: Timestamp,
    ) -> Result<InodeNumber> {
        path::check_link_target(target)?;
        let node = Node::SymbolicLink(target.to_owned());
        self.add(directory, name, node, 0o777, target.len() as u64, now)
    }

    fn read_link(&self, inode: InodeNumber) -> Result<String> {
        match &self.inode(inode)?.node {
            Node::SymbolicLink(target) => Ok(target.clone()),
            _ => Err(Errno::EINVAL),
        }
    }

    fn unlink(&mut self, directory: InodeNumber, name: &str, now: Timestamp) -> Result<()> {
        path::check_name(name)?;
        let inode = self.lookup(directory, name)?;
        if self.inode(inode)?.kind() == FileKind::Directory {
            return Err(Errno::EISDIR);
        }
        self.remove_entry(directory, name, now)
    }

    fn remove_directory(
        &mut self,
        directory: InodeNumber,
        name: &str,
        now: Timestamp,
    ) -> Result<()> {
        path::check_name(name)?;
        let inode = self.lookup(directory, name)?;
        if !self.is_empty_directory(inode)? {
            return Err(Errno::ENOTEMPTY);
        }
        self.remove_entry(directory, name, now)
    }

    fn rename(
        &mut self,
        from_directory: InodeNumber,
        from_name: &str,
        to_directory: InodeNumber,
        to_name: &str,
        now: Timestamp,
    ) -> Result<()> {
        path::check_name(from_name)?;
        path::check_name(to_name)?;
        let source = self.lookup(from_directory, from_name)?;
        self.check_linked_directory(to_directory)?;
        let existing = match self.lookup(to_directory, to_name) {
            Ok(inode) => Some(inode),
            Err(Errno::ENOENT) => None,
            Err(error) => return Err(error),
        };
        if existing == Some(source) {
            return Ok(());
        }
        let source_is_directory = self.inode(source)?.kind() == FileKind::Directory;
        if source_is_directory && self.is_below(to_directory, source) {
            return Err(Errno::EINVAL);
        }
        if let Some(target) = existing {
            let target_is_directory = self.inode(target)?.kind() == FileKind::Directory;
            match (source_is_directory, target_is_directory) {
                (true, false) => return Err(Errno::ENOTDIR),
                (false, true) => return Err(Errno::EISDIR),
                (true, true) if !self.is_empty_directory(target)? => {
                    return Err(Errno::ENOTEMPTY);
                }
                _ => {}
            }
        }
        // The one step that can fail for want of room comes before any change.
        self.budget.charge(to_name.len() as u64)?;
        if existing.is_some() {
            self.remove_entry(to_directory, to_name, now)?;
        }
        self.directory_mut(from_directory)?.remove(from_name);
        self.budget.release(from_name.len() as u64);
        self.directory_mut(to_directory)?.insert(to_name, source);
        if source_is_directory && from_directory != to_directory {
            self.directory_mut(source)?.parent = to_directory;
            let old_parent = self.inode_mut(from_directory)?;
            old_parent.links = old_parent.links.saturating_sub(1);
            self.inode_mut(to_directory)?.links += 1;
        }
        self.inode_mut(source)?.change = now;
        self.inode_mut(from_directory)?.touch(now);
        self.inode_mut(to_directory)?.touch(now);
        Ok(())
    }

    fn read_directory(
        &self,
        directory: InodeNumber,
        cookie: u64,
        visit: &mut dyn FnMut(DirectoryItem<'_>) -> bool,
    ) -> Result<()> {
        let entries = self.directory(directory)?;
        if self.inode(directory)?.links == 0 {
            return Ok(());
        }
        if !list_dots(directory, entries.parent, cookie, visit) {
            return Ok(());
        }
        for (entry_cookie, entry) in entries.entries.range(cookie.max(FIRST_ENTRY_COOKIE)..) {
            let kind = self.inode(entry.inode)?.kind();
            let item = DirectoryItem {
                inode: entry.inode,
                kind,
                name: &entry.name,
                next_cookie: entry_cookie + 1,
            };
            if !visit(item) {
                break;
            }
        }
        Ok(())
    }

    fn sync(&mut self, inode: InodeNumber) -> Result<()> {
        // Memory is as durable as a ramfs gets.
        self.inode(inode).map(|_| ())
    }
}

#[cfg(test)]
mod tests;
