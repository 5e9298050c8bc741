//! libposix: the POSIX system-call layer under musl (not yet built; see issue 4).
#![no_std]
#![forbid(unsafe_code)]
