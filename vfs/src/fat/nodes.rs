//! The FAT backend's inode table: FAT has no inode numbers, so the backend numbers each file
//! the first time it meets it (by lookup, listing or creation) and keeps the number, with the
//! file's parent and name, until the file is removed or the file system unmounted.
//!
//! The table is also how the backend finds a file again on disk: from an inode number to its
//! parent's inode and its name, up to the root, which gives fatfs a path. Names are compared
//! as FAT compares them, without regard to case, so the table's index uses the names' upper
//! case.

use crate::errno::{Errno, Result};
use crate::file_system::{FileKind, InodeNumber, Metadata};
use std::collections::HashMap;

/// The root directory's inode number.
pub const ROOT: InodeNumber = 1;

use crate::file_system::FIRST_ENTRY_COOKIE;

/// Deepest directory nesting the table follows to the root: past it, the table is broken.
const MAXIMUM_DEPTH: usize = 4096;

/// Where a file's name is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeState {
    /// Under its name in its parent.
    Linked,
    /// Unlinked while open: its entry moved to the hidden directory of unlinked files, under
    /// its inode number, until its last close.
    Unlinked,
    /// A directory removed while open: gone from the disk, its last metadata kept.
    Removed(Metadata),
}

/// One file the backend has met.
#[derive(Clone, Debug)]
pub struct Node {
    pub parent: InodeNumber,
    /// The name on disk (its long name, or its short name when it has none); empty for the
    /// root.
    pub name: String,
    pub kind: FileKind,
    /// Its cookie in its parent's listing.
    pub cookie: u64,
    /// For a directory, the cookie its next new entry gets.
    pub next_child_cookie: u64,
    /// Open file descriptions on it.
    pub opened: u32,
    pub state: NodeState,
}

/// How FAT compares names: without regard to case.
pub fn name_key(name: &str) -> String {
    name.chars().flat_map(char::to_uppercase).collect()
}

/// Every file met so far, by inode number and by (parent, name).
#[derive(Debug)]
pub struct NodeTable {
    nodes: HashMap<InodeNumber, Node>,
    names: HashMap<(InodeNumber, String), InodeNumber>,
    next_inode: InodeNumber,
}

impl NodeTable {
    /// A table holding only the root.
    pub fn new() -> NodeTable {
        let root = Node {
            parent: ROOT,
            name: String::new(),
            kind: FileKind::Directory,
            cookie: 0,
            next_child_cookie: FIRST_ENTRY_COOKIE,
            opened: 0,
            state: NodeState::Linked,
        };
        NodeTable {
            nodes: HashMap::from([(ROOT, root)]),
            names: HashMap::new(),
            next_inode: ROOT + 1,
        }
    }

    /// The node numbered `inode` (`ENOENT` when there is none).
    pub fn get(&self, inode: InodeNumber) -> Result<&Node> {
        self.nodes.get(&inode).ok_or(Errno::ENOENT)
    }

    /// The node numbered `inode`, to change it.
    pub fn get_mut(&mut self, inode: InodeNumber) -> Result<&mut Node> {
        self.nodes.get_mut(&inode).ok_or(Errno::ENOENT)
    }

    /// The linked file named `name` (in any case) in `parent`, if met already.
    pub fn find(&self, parent: InodeNumber, name: &str) -> Option<InodeNumber> {
        self.names.get(&(parent, name_key(name))).copied()
    }

    /// The file `name` in `parent`, numbered now if it was not met before. `name` is the name
    /// on disk.
    pub fn ensure(&mut self, parent: InodeNumber, name: &str, kind: FileKind) -> InodeNumber {
        if let Some(inode) = self.find(parent, name) {
            return inode;
        }
        let inode = self.next_inode;
        self.next_inode += 1;
        let cookie = self.take_cookie(parent);
        self.nodes.insert(
            inode,
            Node {
                parent,
                name: name.to_owned(),
                kind,
                cookie,
                next_child_cookie: FIRST_ENTRY_COOKIE,
                opened: 0,
                state: NodeState::Linked,
            },
        );
        self.names.insert((parent, name_key(name)), inode);
        inode
    }

    /// A cookie never used before in `directory`.
    fn take_cookie(&mut self, directory: InodeNumber) -> u64 {
        match self.nodes.get_mut(&directory) {
            Some(node) => {
                let cookie = node.next_child_cookie;
                node.next_child_cookie += 1;
                cookie
            }
            None => FIRST_ENTRY_COOKIE,
        }
    }

    /// Moves `inode` to the name `name` in `parent` (after a rename on disk); it gets a new
    /// cookie there, as in the ramfs.
    pub fn move_to(&mut self, inode: InodeNumber, parent: InodeNumber, name: &str) -> Result<()> {
        let node = self.get(inode)?;
        let old_key = (node.parent, name_key(&node.name));
        if self.names.get(&old_key) == Some(&inode) {
            self.names.remove(&old_key);
        }
        let cookie = self.take_cookie(parent);
        let node = self.get_mut(inode)?;
        node.parent = parent;
        node.name = name.to_owned();
        node.cookie = cookie;
        self.names.insert((parent, name_key(name)), inode);
        Ok(())
    }

    /// Takes `inode`'s name out of the index (it no longer has one).
    pub fn unname(&mut self, inode: InodeNumber) {
        if let Some(node) = self.nodes.get(&inode) {
            let key = (node.parent, name_key(&node.name));
            if self.names.get(&key) == Some(&inode) {
                self.names.remove(&key);
            }
        }
    }

    /// Forgets `inode` altogether.
    pub fn forget(&mut self, inode: InodeNumber) {
        if inode == ROOT {
            return;
        }
        self.unname(inode);
        self.nodes.remove(&inode);
    }

    /// The path of `inode` from the root, names joined by `/` (empty for the root), as fatfs
    /// takes it.
    pub fn path(&self, inode: InodeNumber) -> Result<String> {
        let mut names = Vec::new();
        let mut current = inode;
        while current != ROOT {
            let node = self.get(current)?;
            names.push(node.name.as_str());
            current = node.parent;
            if names.len() > MAXIMUM_DEPTH {
                return Err(Errno::EIO);
            }
        }
        names.reverse();
        Ok(names.join("/"))
    }

    /// Whether `inode` is `ancestor` or lies below it.
    pub fn is_within(&self, inode: InodeNumber, ancestor: InodeNumber) -> bool {
        let mut current = inode;
        for _ in 0..=MAXIMUM_DEPTH {
            if current == ancestor {
                return true;
            }
            if current == ROOT {
                return false;
            }
            match self.nodes.get(&current) {
                Some(node) => current = node.parent,
                None => return false,
            }
        }
        false
    }

    /// Files met so far (the root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }
}

impl Default for NodeTable {
    fn default() -> NodeTable {
        NodeTable::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_kept_and_names_compared_without_case() {
        let mut table = NodeTable::new();
        let directory = table.ensure(ROOT, "Docs", FileKind::Directory);
        let file = table.ensure(directory, "Read Me.txt", FileKind::Regular);
        assert_eq!(table.ensure(ROOT, "DOCS", FileKind::Directory), directory);
        assert_eq!(table.find(directory, "read me.TXT"), Some(file));
        assert_eq!(table.path(file).unwrap(), "Docs/Read Me.txt");
        assert_eq!(table.path(ROOT).unwrap(), "");
        assert_eq!(table.get(file).unwrap().cookie, FIRST_ENTRY_COOKIE);
        assert!(table.is_within(file, directory));
        assert!(table.is_within(file, ROOT));
        assert!(!table.is_within(directory, file));
    }

    #[test]
    fn moves_give_a_new_cookie_and_forgetting_frees_the_name() {
        let mut table = NodeTable::new();
        let first = table.ensure(ROOT, "a", FileKind::Regular);
        let second = table.ensure(ROOT, "b", FileKind::Regular);
        assert_eq!(table.get(second).unwrap().cookie, FIRST_ENTRY_COOKIE + 1);
        table.move_to(first, ROOT, "c").unwrap();
        assert_eq!(table.find(ROOT, "a"), None);
        assert_eq!(table.find(ROOT, "C"), Some(first));
        assert_eq!(table.get(first).unwrap().cookie, FIRST_ENTRY_COOKIE + 2);
        table.forget(first);
        assert_eq!(table.find(ROOT, "c"), None);
        assert_eq!(table.get(first).unwrap_err(), Errno::ENOENT);
        table.forget(ROOT);
        assert_eq!(table.len(), 2);
        let third = table.ensure(ROOT, "c", FileKind::Regular);
        assert_ne!(third, first, "numbers are never reused");
    }
}
