//! The interface definition compiler: definition files to stubs, dispatch and descriptors.
#![no_std]
#![forbid(unsafe_code)]
