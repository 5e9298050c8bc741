//! An in-process file VFS for host tests: a small in-memory tree behind the generated File
//! dispatcher, installed as the fake kernel's IPC server, so that tests run the whole path
//! from `__septa_syscall` through the File client and back.
//!
//! It keeps what the tests look at: the requests' paths and the lengths of reads and writes.
//! Its semantics are only as complete as the tests need.

use std::boxed::Box;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::string::{String, ToString};
use std::vec::Vec;

use septa_abi::{Error, status};
use septa_interfaces::file::{self, FileServer};
use septa_interfaces::file_records::{DirectoryEntry, FileStatus};

use crate::kernel::fake;
use crate::startup::build;

/// The endpoint of the server mounted at `/`.
pub const ROOT_ENDPOINT: u32 = 7;
/// The endpoint of a second server, mounted at `/other`.
pub const OTHER_ENDPOINT: u32 = 8;
/// An endpoint whose calls the monitor denies.
pub const DENIED_ENDPOINT: u32 = 9;
/// The endpoint of a server that tests make go away (used by one test only).
pub const GONE_ENDPOINT: u32 = 10;

fn failure(errno: i32) -> u32 {
    status::APPLICATION + errno as u32
}

#[derive(Clone, Debug)]
enum Content {
    File(Vec<u8>),
    Directory,
    Link(String),
}

#[derive(Clone, Debug)]
struct Node {
    mode: u32,
    content: Content,
    times: [(i64, i64); 2],
}

#[derive(Clone, Debug)]
struct Open {
    inode: u64,
    offset: u64,
    flags: u32,
}

/// The server's state.
#[derive(Debug, Default)]
pub struct Files {
    inodes: BTreeMap<u64, Node>,
    names: BTreeMap<String, u64>,
    handles: BTreeMap<u64, Open>,
    next: u64,
    /// Every path a request named, in order.
    pub paths: Vec<String>,
    /// `(offset, length)` of each read request.
    pub reads: Vec<(i64, u32)>,
    /// `(offset, length)` of each write request.
    pub writes: Vec<(i64, usize)>,
    /// `(access, flags, mode)` of the last open.
    pub last_open: Option<(u32, u32, u32)>,
    /// The lengths `read_directory` was asked for.
    pub listing_lengths: Vec<u32>,
    /// Whether the server is gone: every call fails with `PeerGone`.
    pub gone: bool,
}

impl Files {
    fn new() -> Files {
        let mut files = Files {
            next: 2,
            ..Files::default()
        };
        files.inodes.insert(
            1,
            Node {
                mode: libc::S_IFDIR | 0o755,
                content: Content::Directory,
                times: [(0, 0); 2],
            },
        );
        files.names.insert("/".to_string(), 1);
        files
    }

    /// Creates the directory `path` holding empty files `names`.
    pub fn make_directory_for_test(&mut self, path: &str, names: &[&str]) {
        self.create(path, libc::S_IFDIR | 0o755, Content::Directory)
            .unwrap();
        for name in names {
            let child = std::format!("{path}/{name}");
            self.create(&child, libc::S_IFREG | 0o644, Content::File(Vec::new()))
                .unwrap();
        }
    }

    /// Open handles.
    pub fn open_handles(&self) -> usize {
        self.handles.len()
    }

    /// The contents of the file at `path`.
    pub fn contents(&self, path: &str) -> Option<Vec<u8>> {
        match &self.inodes.get(self.names.get(path)?)?.content {
            Content::File(data) => Some(data.clone()),
            _ => None,
        }
    }

    /// The permission bits of `path`.
    pub fn mode(&self, path: &str) -> Option<u32> {
        Some(self.inodes.get(self.names.get(path)?)?.mode & 0o7777)
    }

    /// The times of `path`: `[(access), (modify)]`.
    pub fn times(&self, path: &str) -> Option<[(i64, i64); 2]> {
        Some(self.inodes.get(self.names.get(path)?)?.times)
    }

    fn parent(path: &str) -> &str {
        match path.rfind('/') {
            Some(0) => "/",
            Some(index) => &path[..index],
            None => "/",
        }
    }

    /// Checks the parent of `path` is a directory.
    fn check_parent(&self, path: &str) -> Result<(), u32> {
        let parent = Self::parent(path);
        let inode = self.names.get(parent).ok_or(failure(libc::ENOENT))?;
        match self.inodes[inode].content {
            Content::Directory => Ok(()),
            _ => Err(failure(libc::ENOTDIR)),
        }
    }

    /// The inode at `path`, following a final link unless `nofollow`.
    fn lookup(&self, path: &str, nofollow: bool) -> Result<u64, u32> {
        let mut path = path.to_string();
        for _ in 0..8 {
            self.check_parent(&path)?;
            let inode = *self.names.get(&path).ok_or(failure(libc::ENOENT))?;
            match &self.inodes[&inode].content {
                Content::Link(target) if !nofollow => {
                    path = if target.starts_with('/') {
                        target.clone()
                    } else {
                        std::format!("{}/{}", Self::parent(&path), target)
                    };
                }
                _ => return Ok(inode),
            }
        }
        Err(failure(libc::ELOOP))
    }

    fn create(&mut self, path: &str, mode: u32, content: Content) -> Result<u64, u32> {
        self.check_parent(path)?;
        if self.names.contains_key(path) {
            return Err(failure(libc::EEXIST));
        }
        let inode = self.next;
        self.next += 1;
        self.inodes.insert(
            inode,
            Node {
                mode,
                content,
                times: [(0, 0); 2],
            },
        );
        self.names.insert(path.to_string(), inode);
        Ok(inode)
    }

    fn children(&self, directory: &str) -> Vec<(String, u64)> {
        self.names
            .iter()
            .filter(|(name, _)| name.as_str() != "/" && Self::parent(name) == directory)
            .map(|(name, inode)| (name[name.rfind('/').unwrap() + 1..].to_string(), *inode))
            .collect()
    }

    fn path_of(&self, inode: u64) -> Option<String> {
        self.names
            .iter()
            .find(|(_, candidate)| **candidate == inode)
            .map(|(name, _)| name.clone())
    }

    fn open_file(&mut self, handle: u64) -> Result<&mut Open, u32> {
        self.handles.get_mut(&handle).ok_or(failure(libc::EBADF))
    }

    fn status(&self, inode: u64) -> FileStatus {
        let node = &self.inodes[&inode];
        let size = match &node.content {
            Content::File(data) => data.len() as i64,
            Content::Link(target) => target.len() as i64,
            Content::Directory => 4096,
        };
        FileStatus {
            inode,
            mode: node.mode,
            links: 1,
            size,
            blocks: (size + 511) / 512,
            block_size: 4096,
            access_seconds: node.times[0].0,
            access_nanoseconds: node.times[0].1 as u32,
            modify_seconds: node.times[1].0,
            modify_nanoseconds: node.times[1].1 as u32,
            ..FileStatus::default()
        }
    }
}

impl FileServer for Files {
    fn open(
        &mut self,
        _sender: u32,
        path: &str,
        access: u32,
        flags: u32,
        mode: u32,
    ) -> Result<u64, u32> {
        self.paths.push(path.to_string());
        self.last_open = Some((access, flags, mode));
        let open_flags = flags as i32;
        let nofollow = open_flags & libc::O_NOFOLLOW != 0;
        let inode = match self.lookup(path, nofollow) {
            Ok(_) if open_flags & libc::O_CREAT != 0 && open_flags & libc::O_EXCL != 0 => {
                return Err(failure(libc::EEXIST));
            }
            Ok(inode) => inode,
            Err(error) if error == failure(libc::ENOENT) && open_flags & libc::O_CREAT != 0 => {
                self.create(path, libc::S_IFREG | mode, Content::File(Vec::new()))?
            }
            Err(error) => return Err(error),
        };
        let node = self.inodes.get_mut(&inode).unwrap();
        match (&mut node.content, open_flags & libc::O_DIRECTORY != 0) {
            (Content::Directory, _) if access != 0 || open_flags & libc::O_CREAT != 0 => {
                return Err(failure(libc::EISDIR));
            }
            (Content::Directory, _) => {}
            (Content::Link(_), _) => return Err(failure(libc::ELOOP)),
            (Content::File(_), true) => return Err(failure(libc::ENOTDIR)),
            (Content::File(data), false) => {
                if open_flags & libc::O_TRUNC != 0 && access != 0 {
                    data.clear();
                }
            }
        }
        let handle = self.next;
        self.next += 1;
        self.handles.insert(
            handle,
            Open {
                inode,
                offset: 0,
                flags,
            },
        );
        Ok(handle)
    }

    fn close(&mut self, _sender: u32, handle: u64) -> Result<(), u32> {
        self.handles
            .remove(&handle)
            .map(|_| ())
            .ok_or(failure(libc::EBADF))
    }

    fn read(
        &mut self,
        _sender: u32,
        handle: u64,
        offset: i64,
        length: u32,
    ) -> Result<Vec<u8>, u32> {
        self.reads.push((offset, length));
        let open = self.open_file(handle)?.clone();
        let Content::File(data) = &self.inodes[&open.inode].content else {
            return Err(failure(libc::EISDIR));
        };
        let start = if offset == -1 {
            open.offset
        } else {
            offset as u64
        } as usize;
        let start = start.min(data.len());
        let end = (start + length as usize).min(data.len());
        let result = data[start..end].to_vec();
        if offset == -1 {
            self.open_file(handle)?.offset = end as u64;
        }
        Ok(result)
    }

    fn write(&mut self, _sender: u32, handle: u64, offset: i64, bytes: &[u8]) -> Result<u64, u32> {
        self.writes.push((offset, bytes.len()));
        let open = self.open_file(handle)?.clone();
        let Content::File(data) = &mut self.inodes.get_mut(&open.inode).unwrap().content else {
            return Err(failure(libc::EISDIR));
        };
        let start = if offset != -1 {
            offset as usize
        } else if open.flags as i32 & libc::O_APPEND != 0 {
            data.len()
        } else {
            open.offset as usize
        };
        if data.len() < start + bytes.len() {
            data.resize(start + bytes.len(), 0);
        }
        data[start..start + bytes.len()].copy_from_slice(bytes);
        if offset == -1 {
            self.open_file(handle)?.offset = (start + bytes.len()) as u64;
        }
        Ok(bytes.len() as u64)
    }

    fn seek(&mut self, _sender: u32, handle: u64, offset: i64, whence: u32) -> Result<u64, u32> {
        let open = self.open_file(handle)?.clone();
        let size = self.status(open.inode).size;
        let base = match whence {
            0 => 0,
            1 => open.offset as i64,
            2 => size,
            _ => return Err(failure(libc::EINVAL)),
        };
        let position = base + offset;
        if position < 0 {
            return Err(failure(libc::EINVAL));
        }
        self.open_file(handle)?.offset = position as u64;
        Ok(position as u64)
    }

    fn stat(&mut self, _sender: u32, path: &str, nofollow: u32) -> Result<Vec<u8>, u32> {
        self.paths.push(path.to_string());
        let inode = self.lookup(path, nofollow == 1)?;
        Ok(self.status(inode).to_bytes().to_vec())
    }

    fn fstat(&mut self, _sender: u32, handle: u64) -> Result<Vec<u8>, u32> {
        let inode = self.open_file(handle)?.inode;
        Ok(self.status(inode).to_bytes().to_vec())
    }

    fn truncate(&mut self, _sender: u32, handle: u64, length: i64) -> Result<(), u32> {
        let inode = self.open_file(handle)?.inode;
        match &mut self.inodes.get_mut(&inode).unwrap().content {
            Content::File(data) => {
                data.resize(length as usize, 0);
                Ok(())
            }
            _ => Err(failure(libc::EISDIR)),
        }
    }

    fn sync(&mut self, _sender: u32, handle: u64) -> Result<(), u32> {
        self.open_file(handle).map(|_| ())
    }

    fn make_directory(&mut self, _sender: u32, path: &str, mode: u32) -> Result<(), u32> {
        self.paths.push(path.to_string());
        self.create(path, libc::S_IFDIR | mode, Content::Directory)
            .map(|_| ())
    }

    fn remove_directory(&mut self, _sender: u32, path: &str) -> Result<(), u32> {
        self.paths.push(path.to_string());
        let inode = self.lookup(path, true)?;
        if !matches!(self.inodes[&inode].content, Content::Directory) {
            return Err(failure(libc::ENOTDIR));
        }
        if !self.children(path).is_empty() {
            return Err(failure(libc::ENOTEMPTY));
        }
        self.names.remove(path);
        Ok(())
    }

    fn unlink(&mut self, _sender: u32, path: &str) -> Result<(), u32> {
        self.paths.push(path.to_string());
        let inode = self.lookup(path, true)?;
        if matches!(self.inodes[&inode].content, Content::Directory) {
            return Err(failure(libc::EISDIR));
        }
        self.names.remove(path);
        Ok(())
    }

    fn rename(&mut self, _sender: u32, path: &str, target: &str) -> Result<(), u32> {
        self.paths.push(path.to_string());
        self.paths.push(target.to_string());
        let inode = self.lookup(path, true)?;
        self.check_parent(target)?;
        self.names.remove(path);
        self.names.insert(target.to_string(), inode);
        Ok(())
    }

    fn symlink(&mut self, _sender: u32, target: &str, path: &str) -> Result<(), u32> {
        self.paths.push(path.to_string());
        self.create(
            path,
            libc::S_IFLNK | 0o777,
            Content::Link(target.to_string()),
        )
        .map(|_| ())
    }

    fn read_link(&mut self, _sender: u32, path: &str) -> Result<String, u32> {
        self.paths.push(path.to_string());
        let inode = self.lookup(path, true)?;
        match &self.inodes[&inode].content {
            Content::Link(target) => Ok(target.clone()),
            _ => Err(failure(libc::EINVAL)),
        }
    }

    fn read_directory(
        &mut self,
        _sender: u32,
        handle: u64,
        cookie: u64,
        length: u32,
    ) -> Result<Vec<u8>, u32> {
        self.listing_lengths.push(length);
        let inode = self.open_file(handle)?.inode;
        if !matches!(self.inodes[&inode].content, Content::Directory) {
            return Err(failure(libc::ENOTDIR));
        }
        let path = self.path_of(inode).ok_or(failure(libc::ENOENT))?;
        let mut entries = std::vec![(".".to_string(), inode), ("..".to_string(), 1)];
        entries.extend(self.children(&path));
        let mut bytes = Vec::new();
        for (index, (name, child)) in entries.iter().enumerate().skip(cookie as usize) {
            let kind = match self.inodes[child].content {
                Content::File(_) => libc::DT_REG,
                Content::Directory => libc::DT_DIR,
                Content::Link(_) => libc::DT_LNK,
            };
            let entry = DirectoryEntry {
                inode: *child,
                next_cookie: index as u64 + 1,
                kind,
                name: name.as_bytes(),
            };
            if bytes.len() + entry.encoded_size() > length as usize {
                break;
            }
            entry.encode(&mut bytes);
        }
        Ok(bytes)
    }

    fn access(&mut self, _sender: u32, path: &str, mode: u32) -> Result<(), u32> {
        self.paths.push(path.to_string());
        let inode = self.lookup(path, false)?;
        if mode & libc::X_OK as u32 != 0 && self.inodes[&inode].mode & 0o111 == 0 {
            return Err(failure(libc::EACCES));
        }
        Ok(())
    }

    fn set_times(
        &mut self,
        _sender: u32,
        path: &str,
        nofollow: u32,
        access_seconds: i64,
        access_nanoseconds: i64,
        modify_seconds: i64,
        modify_nanoseconds: i64,
    ) -> Result<(), u32> {
        self.paths.push(path.to_string());
        let inode = self.lookup(path, nofollow == 1)?;
        let node = self.inodes.get_mut(&inode).unwrap();
        node.times = [
            (access_seconds, access_nanoseconds),
            (modify_seconds, modify_nanoseconds),
        ];
        Ok(())
    }

    fn set_flags(&mut self, _sender: u32, handle: u64, flags: u32) -> Result<(), u32> {
        self.open_file(handle)?.flags = flags;
        Ok(())
    }

    /// No client of this server has a bulk region (the fake kernel maps none), as the file
    /// VFS answers such a client.
    fn read_shared(&mut self, _: u32, _: u64, _: i64, _: u32, _: u32) -> Result<u64, u32> {
        Err(failure(libc::EINVAL))
    }

    fn write_shared(&mut self, _: u32, _: u64, _: i64, _: u32, _: u32) -> Result<u64, u32> {
        Err(failure(libc::EINVAL))
    }
}

/// The servers [`install`] makes, to look into.
pub struct Servers {
    /// Mounted at `/`.
    pub root: Rc<RefCell<Files>>,
    /// Mounted at `/other`.
    pub other: Rc<RefCell<Files>>,
    /// Mounted at `/gone`, on an endpoint no other test uses (its generation is global).
    pub gone: Rc<RefCell<Files>>,
}

/// Installs, for this test thread, the mounts `/`, `/other` and `/gone` (each a fresh server)
/// and `/denied` (denied by the monitor).
pub fn install() -> Servers {
    use septa_abi::startup::route;
    build::install(build::block(
        1,
        &["test"],
        &[],
        &[
            (route::MOUNT, ROOT_ENDPOINT, "/"),
            (route::MOUNT, OTHER_ENDPOINT, "/other"),
            (route::MOUNT, DENIED_ENDPOINT, "/denied"),
            (route::MOUNT, GONE_ENDPOINT, "/gone"),
        ],
    ));
    let servers = Servers {
        root: Rc::new(RefCell::new(Files::new())),
        other: Rc::new(RefCell::new(Files::new())),
        gone: Rc::new(RefCell::new(Files::new())),
    };
    for server in [&servers.other, &servers.gone] {
        let mut server = server.borrow_mut();
        // Paths arrive whole: the mount points are directories of their servers too.
        for mount in ["/other", "/gone"] {
            server
                .create(mount, libc::S_IFDIR | 0o755, Content::Directory)
                .unwrap();
        }
    }
    let served = [
        (ROOT_ENDPOINT, Rc::clone(&servers.root)),
        (OTHER_ENDPOINT, Rc::clone(&servers.other)),
        (GONE_ENDPOINT, Rc::clone(&servers.gone)),
    ];
    fake::serve(Some(Box::new(move |endpoint, request, reply| {
        if endpoint == DENIED_ENDPOINT {
            return Err(Error::Denied);
        }
        let (_, server) = served
            .iter()
            .find(|(candidate, _)| *candidate == endpoint)
            .ok_or(Error::BadHandle)?;
        let mut server = server.borrow_mut();
        if server.gone {
            return Err(Error::PeerGone);
        }
        Ok(file::dispatch(&mut *server, request, reply))
    })));
    servers
}
