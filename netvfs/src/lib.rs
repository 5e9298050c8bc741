//! The internal and external net VFS servers (not yet built).
#![no_std]
#![forbid(unsafe_code)]
