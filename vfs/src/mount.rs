//! The mount table: which file system serves which path prefix, as the program's `--mount`
//! arguments say (`--mount /=ramfs --mount /tmp=ramfs --mount /data=fat:virtio-blk`).
//!
//! The deepest mount wins: a path belongs to the mount with the longest prefix that matches it
//! on a component boundary (`/data` serves `/data/x`, not `/database`), which is what the
//! namespace's walk gives component by component.

use crate::file_system::FileSystem;
use crate::path;
use std::collections::HashMap;
use std::fmt;

/// The file systems the server can mount.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileSystemKind {
    /// A ramfs (`ramfs`), charged to the server's `--ramfs-limit`.
    Ramfs,
    /// A FAT volume (`fat:DEVICE`) on the block device the server reaches through the
    /// capability its start-up block names `DEVICE` (a connection to a block driver entity).
    Fat { device: String },
}

impl fmt::Display for FileSystemKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileSystemKind::Ramfs => formatter.write_str("ramfs"),
            FileSystemKind::Fat { device } => write!(formatter, "fat:{device}"),
        }
    }
}

/// One `--mount PREFIX=KIND` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountSpecification {
    pub prefix: String,
    pub kind: FileSystemKind,
}

impl MountSpecification {
    /// Parses `PREFIX=KIND`: an absolute, normal prefix (`/` or `/a/b`: no `.`, `..`,
    /// repeated or trailing `/`) and a kind (`ramfs`, or `fat:DEVICE` with the name of a
    /// start-up capability: letters, digits, `-`, `_` and `.`).
    pub fn parse(text: &str) -> Result<MountSpecification, String> {
        let Some((prefix, kind)) = text.split_once('=') else {
            return Err(format!(
                "mount '{text}' is not PREFIX=KIND (for example /tmp=ramfs)"
            ));
        };
        check_prefix(prefix)?;
        let kind = match kind.split_once(':') {
            None if kind == "ramfs" => FileSystemKind::Ramfs,
            Some(("fat", device)) if is_capability_name(device) => FileSystemKind::Fat {
                device: device.to_owned(),
            },
            Some(("fat", device)) => {
                return Err(format!(
                    "mount '{text}': '{device}' is not a capability name \
                     (letters, digits, '-', '_' and '.'; for example fat:virtio-blk)"
                ));
            }
            _ => {
                return Err(format!(
                    "mount '{text}': unknown file system '{kind}' (known: ramfs, fat:DEVICE)"
                ));
            }
        };
        Ok(MountSpecification {
            prefix: prefix.to_owned(),
            kind,
        })
    }
}

/// Whether `name` can name a start-up capability: not empty, at most 64 bytes of letters,
/// digits, `-`, `_` and `.`.
fn is_capability_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.".contains(&byte))
}

/// Checks a mount prefix: absolute and normal, without a trailing slash.
fn check_prefix(prefix: &str) -> Result<(), String> {
    let normal = path::check(prefix).is_ok_and(|checked| !checked.directory_required);
    if normal {
        Ok(())
    } else {
        Err(format!(
            "mount prefix '{prefix}' is not an absolute, normal path \
             (/ or /a/b: no '.', '..', repeated or trailing '/')"
        ))
    }
}

/// A mounted file system.
pub struct Mount {
    pub prefix: String,
    pub file_system: Box<dyn FileSystem>,
    /// `st_dev` of its files: distinct per mount.
    pub device: u64,
}

impl fmt::Debug for Mount {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Mount")
            .field("prefix", &self.prefix)
            .field("kind", &self.file_system.kind())
            .field("device", &self.device)
            .finish()
    }
}

/// The mounts, by index (the index is a file's mount everywhere in the server).
#[derive(Debug, Default)]
pub struct MountTable {
    mounts: Vec<Mount>,
    by_prefix: HashMap<String, usize>,
}

impl MountTable {
    /// An empty table.
    pub fn new() -> MountTable {
        MountTable::default()
    }

    /// Mounts `file_system` at `prefix`; returns its index. A prefix that is not normal, or is
    /// mounted already, is an error.
    pub fn add(&mut self, prefix: &str, file_system: Box<dyn FileSystem>) -> Result<usize, String> {
        check_prefix(prefix)?;
        if self.by_prefix.contains_key(prefix) {
            return Err(format!("'{prefix}' is mounted twice"));
        }
        let index = self.mounts.len();
        self.mounts.push(Mount {
            prefix: prefix.to_owned(),
            file_system,
            device: index as u64 + 1,
        });
        self.by_prefix.insert(prefix.to_owned(), index);
        Ok(index)
    }

    /// The mount whose prefix is exactly `path`.
    pub fn at(&self, path: &str) -> Option<usize> {
        self.by_prefix.get(path).copied()
    }

    /// The mount serving `path` (a normal absolute path): the longest prefix that matches on a
    /// component boundary.
    pub fn serving(&self, path: &str) -> Option<usize> {
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, mount)| path::is_within(path, &mount.prefix))
            .max_by_key(|(_, mount)| mount.prefix.len())
            .map(|(index, _)| index)
    }

    /// Whether some mount lies strictly below `path` (so `path` must be walkable even where no
    /// file system has it).
    pub fn has_mount_below(&self, path: &str) -> bool {
        self.mounts
            .iter()
            .any(|mount| mount.prefix != path && path::is_within(&mount.prefix, path))
    }

    /// The mount at `index`.
    pub fn get(&self, index: usize) -> Option<&Mount> {
        self.mounts.get(index)
    }

    /// The mount at `index`, to change its file system.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Mount> {
        self.mounts.get_mut(index)
    }

    /// The mounts, in index order.
    pub fn iter(&self) -> impl Iterator<Item = &Mount> {
        self.mounts.iter()
    }

    /// How many mounts there are.
    pub fn len(&self) -> usize {
        self.mounts.len()
    }

    /// Whether nothing is mounted.
    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ramfs::{MemoryBudget, Ramfs};
    use crate::time::Timestamp;

    fn ramfs() -> Box<dyn FileSystem> {
        Box::new(Ramfs::new(MemoryBudget::new(1 << 20), Timestamp::default()))
    }

    #[test]
    fn specifications_parse() {
        assert_eq!(
            MountSpecification::parse("/tmp=ramfs"),
            Ok(MountSpecification {
                prefix: "/tmp".to_owned(),
                kind: FileSystemKind::Ramfs
            })
        );
        assert!(MountSpecification::parse("/=ramfs").is_ok());
        assert_eq!(
            MountSpecification::parse("/data=fat:virtio-blk"),
            Ok(MountSpecification {
                prefix: "/data".to_owned(),
                kind: FileSystemKind::Fat {
                    device: "virtio-blk".to_owned()
                }
            })
        );
        for bad in [
            "/data=fat",
            "/data=fat:",
            "/data=fat:a b",
            "/data=fat:a/b",
            "/data=ext4:disk",
            "/tmp",
            "tmp=ramfs",
            "/tmp/=ramfs",
            "/a/../b=ramfs",
            "//a=ramfs",
            "/tmp=ext4",
            "=ramfs",
        ] {
            assert!(MountSpecification::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_longest_prefix_serves() {
        let mut table = MountTable::new();
        let root = table.add("/", ramfs()).unwrap();
        let data = table.add("/data", ramfs()).unwrap();
        let deeper = table.add("/data/deeper", ramfs()).unwrap();
        assert_eq!(table.serving("/"), Some(root));
        assert_eq!(table.serving("/database"), Some(root));
        assert_eq!(table.serving("/data"), Some(data));
        assert_eq!(table.serving("/data/x"), Some(data));
        assert_eq!(table.serving("/data/deeper/x"), Some(deeper));
        assert_eq!(table.at("/data"), Some(data));
        assert_eq!(table.at("/data/x"), None);
        assert!(table.has_mount_below("/"));
        assert!(table.has_mount_below("/data"));
        assert!(!table.has_mount_below("/data/deeper"));
        assert!(table.add("/data", ramfs()).is_err());
        assert!(table.add("/x/", ramfs()).is_err());
        assert_eq!(table.len(), 3);
        assert_ne!(
            table.get(root).unwrap().device,
            table.get(data).unwrap().device
        );
    }

    #[test]
    fn without_a_root_mount_only_prefixes_are_served() {
        let mut table = MountTable::new();
        table.add("/data", ramfs()).unwrap();
        assert_eq!(table.serving("/etc/passwd"), None);
        assert_eq!(table.serving("/"), None);
        assert_eq!(table.serving("/data/file"), Some(0));
    }
}
