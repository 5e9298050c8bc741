//! The file VFS server (not yet built; see issue 5).
#![no_std]
#![forbid(unsafe_code)]
