//! The file VFS server: POSIX file semantics over IPC, for every entity whose mount table
//! routes paths here.
//!
//! # Architecture
//!
//! libposix turns a program's file calls into requests of the File interface
//! (`interfaces/definitions/file.toml`); the security monitor checks each one against the
//! system's policy, including prefix rules on its `path` field; the kernel delivers it here
//! stamped with the caller's entity number. The server answers in layers, each host-tested on
//! its own:
//!
//! - [`server`]: one typed operation per File method (`open`, `read`, `rename`, ...) with
//!   POSIX's semantics and Linux's errno values; `impl FileServer for Vfs` maps them onto the
//!   generated dispatcher, turning an errno into the reply status in one place.
//! - [`descriptions`]: open file descriptions behind handles (offset, access mode, status
//!   flags), each owned by the client that opened it and limited per client.
//! - [`namespace`]: paths walked component by component over the [`mount`] table, following
//!   symbolic links, keeping the path each step really reaches.
//! - [`monitor`]: a request whose path symbolic links changed is checked again, with the
//!   resolved path, by the security monitor.
//! - [`path`]: every client path checked again: absolute, normal, within `PATH_MAX` and
//!   `NAME_MAX`, no NUL. Nothing is re-normalised: a path that is not already normal is
//!   refused, so `..`, `//` and NUL cannot make a rule or a mount see one path and the server
//!   act on another.
//! - [`file_system`]: the [`FileSystem`] trait, one directory and one name at a time, that a
//!   backend implements: the [`ramfs`], and [`fat`] (FAT12/16/32 through the `fatfs` crate).
//! - [`bulk`]: the shared-memory region each client has with the server, where `read_shared`
//!   and `write_shared` place and take file data.
//! - [`storage`]: what the FAT backend stands on: block storage (the Block interface's client
//!   to a block driver entity, or an image file in host tests) behind a bounded write-back
//!   block cache that `fsync` writes out and flushes.
//!
//! # Principles
//!
//! - Nothing from a client can panic the server: every size and offset is checked arithmetic,
//!   every handle and inode lookup a `Result`.
//! - Each request is carried out whole before the next is received (one thread), so a client
//!   that dies mid-call leaves every file system consistent, and a failed call changes nothing.
//! - Limits are errors, not crashes: a full ramfs or FAT volume is `ENOSPC`, a client at its
//!   handle limit `EMFILE`, a failing disk `EIO`.
//! - What `fsync` returns for is on the device: the FAT backend writes its cache back and
//!   flushes the device before it answers.
//! - The server decides on the path a request really reaches, after symbolic links, and has
//!   the monitor check that path too, so neither a link nor a spelling escapes a mount or a
//!   policy rule.
//!
//! - File data moves through a region of shared memory per client ([`bulk`]), not in messages.
#![forbid(unsafe_code)]

pub mod bulk;
pub mod configuration;
pub mod descriptions;
pub mod errno;
pub mod fat;
pub mod file_system;
pub mod monitor;
pub mod mount;
pub mod namespace;
pub mod path;
pub mod ramfs;
pub mod server;
pub mod storage;
pub mod time;

pub use configuration::Configuration;
pub use errno::Errno;
pub use file_system::FileSystem;
pub use server::Vfs;
pub use time::{Clock, SystemClock, Timestamp};
