//! The image tool: validates a system description, compiles its policy and builds the boot image.
#![no_std]
#![forbid(unsafe_code)]
