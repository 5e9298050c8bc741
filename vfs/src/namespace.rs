//! The namespace: one tree of paths over the mount table, walked component by component,
//! crossing mounts and following symbolic links.
//!
//! The walk keeps the *resolved* path of where it stands (the path with every symbolic link
//! replaced by what it points to), so that mounts and the policy are decided on where a path
//! really leads, not on how the client spelled it: the server checks the resolved path with
//! the monitor again ([`crate::server`]), so a link `/tmp/x -> /etc` cannot carry a client
//! allowed only `/tmp` into `/etc`, and cannot hide a mount. A link's `..` goes up from where
//! the link points, as on Linux.

use crate::errno::{Errno, Result};
use crate::file_system::{FileKind, FileSystem, Metadata};
use crate::mount::MountTable;
use crate::path::{self, NAME_MAX, PATH_MAX};
use crate::time::Timestamp;
use std::collections::VecDeque;

/// Symbolic links one path may pass through before the walk gives up with `ELOOP` (Linux's
/// `MAXSYMLINKS`).
pub const SYMBOLIC_LINK_LIMIT: u32 = 40;

/// A file: its mount and its inode number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Location {
    pub mount: usize,
    pub inode: u64,
}

/// Where a name lives: its directory (`None` on a path above every mount, where nothing can be
/// created) and the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub parent: Option<Location>,
    pub name: String,
}

/// What a path resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The resolved path of the final component (where it would be, if it does not exist).
    pub path: String,
    /// The file the path names, if it exists.
    pub target: Option<Location>,
    /// The final name in its directory; `None` for `/`.
    pub link: Option<Link>,
    /// The path ended in `/`, so it names a directory or nothing.
    pub directory_required: bool,
}

/// The mounted file systems as one tree.
#[derive(Debug)]
pub struct Namespace {
    mounts: MountTable,
}

/// The walk's position: a directory (or a path above every mount), its resolved path, and its
/// name in its parent.
#[derive(Clone)]
struct Position {
    location: Option<Location>,
    path_length: usize,
    link: Option<Link>,
}

impl Namespace {
    /// The namespace of `mounts`. Each mount point gets a directory in the file system below
    /// it (`/tmp` in the root ramfs), so that listings show it; a file system that cannot make
    /// one is left as it is, the mount point being reachable all the same.
    pub fn new(mounts: MountTable, now: Timestamp) -> Namespace {
        let mut namespace = Namespace { mounts };
        let prefixes: Vec<String> = namespace
            .mounts
            .iter()
            .map(|mount| mount.prefix.clone())
            .collect();
        for prefix in prefixes {
            namespace.make_mount_point(&prefix, now);
        }
        namespace
    }

    /// Makes the directories leading to and at `prefix` in the file systems below it.
    fn make_mount_point(&mut self, prefix: &str, now: Timestamp) {
        let Ok(checked) = path::check(prefix) else {
            return;
        };
        let mut partial = String::new();
        for component in checked.components {
            partial.push('/');
            partial.push_str(component);
            let Ok(resolved) = self.resolve(&partial, false) else {
                return;
            };
            let Some(Link {
                parent: Some(parent),
                name,
            }) = resolved.link
            else {
                continue;
            };
            let Some(file_system) = self.file_system_mut(parent.mount) else {
                return;
            };
            if file_system.lookup(parent.inode, &name) == Err(Errno::ENOENT) {
                // Best effort: a file system without room or without directories simply
                // does not show the mount point in its listings.
                let _ = file_system.make_directory(parent.inode, &name, 0o755, now);
            }
        }
    }

    /// The mount table.
    pub fn mounts(&self) -> &MountTable {
        &self.mounts
    }

    /// The file system of mount `mount`.
    pub fn file_system(&self, mount: usize) -> Option<&dyn FileSystem> {
        self.mounts
            .get(mount)
            .map(|mount| mount.file_system.as_ref())
    }

    /// The file system of mount `mount`, to change it.
    pub fn file_system_mut(&mut self, mount: usize) -> Option<&mut (dyn FileSystem + 'static)> {
        self.mounts
            .get_mut(mount)
            .map(|mount| mount.file_system.as_mut())
    }

    /// The file system of `location`'s mount, or `EIO` for a mount that does not exist (a
    /// location always comes from this namespace, so that is a server bug, not a client's).
    pub fn file_system_of(
        &mut self,
        location: Location,
    ) -> Result<&mut (dyn FileSystem + 'static)> {
        self.file_system_mut(location.mount).ok_or(Errno::EIO)
    }

    /// The metadata of the file at `location`.
    pub fn metadata(&self, location: Location) -> Result<Metadata> {
        self.file_system(location.mount)
            .ok_or(Errno::EIO)?
            .metadata(location.inode)
    }

    /// The `st_dev` of `mount`'s files.
    pub fn device(&self, mount: usize) -> u64 {
        self.mounts.get(mount).map_or(0, |mount| mount.device)
    }

    /// Whether `location` is the root of its mount (a mount point: it cannot be removed or
    /// renamed).
    pub fn is_mount_root(&self, location: Location) -> bool {
        self.file_system(location.mount)
            .is_some_and(|file_system| file_system.root() == location.inode)
    }

    /// Resolves a client's `path`: checks it ([`path::check`]), walks it from `/` across mounts
    /// following symbolic links (the final one only if `follow_final`, or if the path ends in
    /// `/`).
    ///
    /// A missing final component is not an error: the result has no target, and the directory
    /// where it would be created. Errors are Linux's: `ENOENT` for a missing directory on the
    /// way, `ENOTDIR` for a non-directory on the way (or at the end of a path ending in `/`),
    /// `ELOOP` past [`SYMBOLIC_LINK_LIMIT`] links, `ENAMETOOLONG` for a resolved path of
    /// [`PATH_MAX`] bytes or more or a link target's component over [`NAME_MAX`].
    pub fn resolve(&self, path: &str, follow_final: bool) -> Result<Resolved> {
        let checked = path::check(path)?;
        let follow_final = follow_final || checked.directory_required;
        let mut pending: VecDeque<String> = checked
            .components
            .iter()
            .map(|component| (*component).to_owned())
            .collect();
        let mut resolved_path = String::from("/");
        let mut position = self.root_position();
        let mut ancestors: Vec<Position> = Vec::new();
        let mut links_followed = 0;

        while let Some(component) = pending.pop_front() {
            let is_final = pending.is_empty();
            match component.as_str() {
                // Only a link's target can hold these (client paths are checked).
                "." => continue,
                ".." => {
                    if let Some(parent) = ancestors.pop() {
                        resolved_path.truncate(parent.path_length);
                        position = parent;
                    }
                    continue;
                }
                _ => {}
            }
            if component.len() > NAME_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let child_path = path::join(&resolved_path, &component);
            if child_path.len() >= PATH_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            let child = self.child(position.location, &child_path, &component)?;
            let child_link = Link {
                parent: position.location,
                name: component,
            };
            let Some(child) = child else {
                if !is_final {
                    if position.location.is_none() && self.mounts.has_mount_below(&child_path) {
                        // A path above a mount with nothing mounted here: walk on through it.
                        ancestors.push(position.clone());
                        position = Position {
                            location: None,
                            path_length: child_path.len(),
                            link: Some(child_link),
                        };
                        resolved_path = child_path;
                        continue;
                    }
                    return Err(Errno::ENOENT);
                }
                return finish(
                    Resolved {
                        path: child_path,
                        target: None,
                        link: Some(child_link),
                        directory_required: checked.directory_required,
                    },
                    None,
                );
            };
            let metadata = self.metadata(child)?;
            if metadata.kind == FileKind::SymbolicLink && (!is_final || follow_final) {
                links_followed += 1;
                if links_followed > SYMBOLIC_LINK_LIMIT {
                    return Err(Errno::ELOOP);
                }
                let target = self
                    .file_system(child.mount)
                    .ok_or(Errno::EIO)?
                    .read_link(child.inode)?;
                if target.starts_with('/') {
                    resolved_path = String::from("/");
                    position = self.root_position();
                    ancestors.clear();
                }
                for part in target.split('/').rev().filter(|part| !part.is_empty()) {
                    pending.push_front(part.to_owned());
                }
                continue;
            }
            if !is_final && metadata.kind != FileKind::Directory {
                return Err(Errno::ENOTDIR);
            }
            ancestors.push(position);
            position = Position {
                location: Some(child),
                path_length: child_path.len(),
                link: Some(child_link),
            };
            resolved_path = child_path;
        }
        let target = position.location;
        let kind = match target {
            Some(location) => Some(self.metadata(location)?.kind),
            None => None,
        };
        finish(
            Resolved {
                path: resolved_path,
                target,
                link: position.link,
                directory_required: checked.directory_required,
            },
            kind,
        )
    }

    /// Where the walk starts: the root mount's root, or a path above every mount.
    fn root_position(&self) -> Position {
        let location = self.mounts.at("/").and_then(|mount| {
            self.file_system(mount).map(|file_system| Location {
                mount,
                inode: file_system.root(),
            })
        });
        Position {
            location,
            path_length: 1,
            link: None,
        }
    }

    /// The file `name` in `directory` (at `child_path`): a mount's root if one is mounted
    /// there, else what the directory's file system has, `None` if nothing.
    fn child(
        &self,
        directory: Option<Location>,
        child_path: &str,
        name: &str,
    ) -> Result<Option<Location>> {
        if let Some(mount) = self.mounts.at(child_path) {
            let file_system = self.file_system(mount).ok_or(Errno::EIO)?;
            return Ok(Some(Location {
                mount,
                inode: file_system.root(),
            }));
        }
        let Some(directory) = directory else {
            return Ok(None);
        };
        let file_system = self.file_system(directory.mount).ok_or(Errno::EIO)?;
        match file_system.lookup(directory.inode, name) {
            Ok(inode) => Ok(Some(Location {
                mount: directory.mount,
                inode,
            })),
            Err(Errno::ENOENT) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// The last check of a walk: a path ending in `/` must name a directory (`kind` is the
/// target's, if it exists).
fn finish(resolved: Resolved, kind: Option<FileKind>) -> Result<Resolved> {
    if resolved.directory_required && kind.is_some_and(|kind| kind != FileKind::Directory) {
        return Err(Errno::ENOTDIR);
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests;
