//! The boot image format: what the image tool writes and the kernel reads at boot.
//!
//! A boot image is handed to the kernel as the boot module (QEMU `-initrd`). It is
//! [`MAGIC`] followed by a postcard encoding of [`BootImage`]. Entity ELF files are borrowed
//! from the image bytes, not copied. The kernel decodes the image once at boot; the policy it
//! carries is read-only from then on.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Bytes at the start of every boot image, including the format version.
pub const MAGIC: &[u8; 8] = b"SEPTA04\n";

/// A whole system, as the kernel boots it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct BootImage<'a> {
    /// The system's name (the description file's stem).
    pub name: String,
    /// The entities, in description order; an entity's identity is its index here.
    #[serde(borrow)]
    pub entities: Vec<EntityImage<'a>>,
    /// Number of endpoints to create; capabilities name them by index.
    pub endpoint_count: u32,
    /// Number of notifications to create.
    pub notification_count: u32,
    /// Shared-memory regions to create, as sizes in bytes (multiples of 4096).
    pub shared_memory_sizes: Vec<u64>,
    /// The compiled policy the security monitor enforces.
    pub policy: septa_monitor::Policy,
    /// The entity whose exit ends the system; its exit code becomes the machine's exit status.
    pub exit_with: Option<u32>,
    /// Whether the monitor records denials without enforcing them (audit mode).
    pub audit_only: bool,
}

/// One entity.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct EntityImage<'a> {
    /// Name from the description.
    pub name: String,
    /// The ELF executable (static, non-PIE, x86_64 or the image's architecture).
    #[serde(borrow)]
    pub elf: &'a [u8],
    /// Arguments, the first being the program name.
    pub arguments: Vec<String>,
    /// Environment, as `NAME=value` strings.
    pub environment: Vec<String>,
    /// Bytes of initial stack (a multiple of 4096).
    pub stack_size: u64,
    /// Scheduling priority, 0 (lowest) to 31 (highest).
    pub priority: u8,
    /// Largest amount of memory, in bytes, the entity may use (image, stack and mappings).
    pub memory_limit: u64,
    /// Capabilities installed at start, in handle order (handle = index + 1).
    pub capabilities: Vec<CapabilityImage>,
    /// The entity's routing for libposix: which capability serves which paths and sockets.
    pub routes: Vec<RouteImage>,
}

/// One route of an entity's POSIX calls to a server (see [`septa_abi::startup::route`]).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RouteImage {
    /// What is routed: `route::MOUNT`, `route::UNIX` or `route::INET`.
    pub kind: u32,
    /// Index in the entity's capabilities of the server's endpoint.
    pub capability: u32,
    /// Index in the entity's capabilities of the shared-memory region for bulk data with that
    /// server, if there is one.
    pub bulk: Option<u32>,
    /// The mount's path prefix (normalised, absolute); empty for socket routes.
    pub prefix: String,
}

/// A capability installed in an entity's table at start.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct CapabilityImage {
    /// Name the entity's runtime finds the handle by (for example `"echo"`).
    pub name: String,
    /// The object the capability refers to.
    pub object: ObjectImage,
    /// Rights, from [`septa_abi::rights`].
    pub rights: u32,
}

/// A kernel object, by index.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum ObjectImage {
    /// Endpoint with this index.
    Endpoint(u32),
    /// Notification with this index.
    Notification(u32),
    /// Shared-memory region with this index.
    SharedMemory(u32),
    /// A virtio-mmio device of this virtio device id (`septa_abi::device::KINDS`): the kernel
    /// binds the capability at boot to the first present transport of that id no other
    /// capability holds, or to none.
    VirtioDevice(u32),
}

/// Why a boot image could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The image does not start with [`MAGIC`].
    BadMagic,
    /// The body is not a valid encoding.
    BadBody,
}

/// Encodes an image.
pub fn encode(image: &BootImage<'_>) -> Vec<u8> {
    let mut bytes = Vec::from(&MAGIC[..]);
    bytes.extend(postcard::to_allocvec(image).unwrap_or_default());
    bytes
}

/// Decodes an image, borrowing the ELF files from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<BootImage<'_>, DecodeError> {
    let body = bytes
        .strip_prefix(&MAGIC[..])
        .ok_or(DecodeError::BadMagic)?;
    postcard::from_bytes(body).map_err(|_| DecodeError::BadBody)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn image(elf: &[u8]) -> BootImage<'_> {
        BootImage {
            name: "demo".into(),
            entities: vec![EntityImage {
                name: "echo".into(),
                elf,
                arguments: vec!["echo".into(), "--loud".into()],
                environment: vec!["HOME=/".into()],
                stack_size: 64 << 10,
                priority: 20,
                memory_limit: 4 << 20,
                capabilities: vec![
                    CapabilityImage {
                        name: "endpoint".into(),
                        object: ObjectImage::Endpoint(0),
                        rights: septa_abi::rights::RECEIVE,
                    },
                    CapabilityImage {
                        name: "virtio-blk".into(),
                        object: ObjectImage::VirtioDevice(2),
                        rights: 0,
                    },
                ],
                routes: vec![RouteImage {
                    kind: septa_abi::startup::route::MOUNT,
                    capability: 0,
                    bulk: Some(1),
                    prefix: "/".into(),
                }],
            }],
            endpoint_count: 1,
            notification_count: 2,
            shared_memory_sizes: vec![4096],
            policy: septa_monitor::Policy::default(),
            exit_with: Some(0),
            audit_only: false,
        }
    }

    #[test]
    fn round_trips_and_borrows_the_executables() {
        let elf = b"\x7fELF pretend executable";
        let bytes = encode(&image(elf));
        assert!(bytes.starts_with(MAGIC));
        let decoded = decode(&bytes).unwrap();
        assert_eq!(decoded, image(elf));
        // The ELF bytes are borrowed from the image, not copied.
        let inside = bytes.as_ptr_range();
        assert!(inside.contains(&decoded.entities[0].elf.as_ptr()));
    }

    #[test]
    fn refuses_other_files_and_truncations() {
        assert_eq!(decode(b"not an image"), Err(DecodeError::BadMagic));
        assert_eq!(decode(b""), Err(DecodeError::BadMagic));
        let bytes = encode(&image(b"elf"));
        for length in MAGIC.len()..bytes.len() {
            assert_eq!(
                decode(&bytes[..length]),
                Err(DecodeError::BadBody),
                "length {length}"
            );
        }
        let mut other_version = bytes.clone();
        other_version[6] = b'9';
        assert_eq!(decode(&other_version), Err(DecodeError::BadMagic));
    }
}
