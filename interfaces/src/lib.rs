//! IPC interfaces: client stubs and server dispatch generated from the definition files.
#![no_std]
#![forbid(unsafe_code)]
