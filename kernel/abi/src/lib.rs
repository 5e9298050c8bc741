//! The user/kernel ABI of Septa: system-call numbers, the IPC message layout, rights and errors.
//!
//! This crate is the single source of truth for everything that crosses the system-call boundary.
//! The kernel, the monitor, the entity runtime and the generated interface stubs all depend on it;
//! it depends on nothing.
//!
//! # System calls (x86_64)
//!
//! `syscall` with the number in `rax` and arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`.
//! The kernel returns a [`SyscallResult`] word in `rax` (non-negative value or negated
//! [`Error`]) and, for calls that return two values, the second in `rdx`.
//!
//! # Messages
//!
//! A message in user memory is a [`MessageHeader`] followed by `fixed_size` bytes of fixed part
//! and `arena_size` bytes of arena. Variable-size fields (strings, byte strings) live in the
//! arena; the fixed part holds an (offset, length) pair for each. The kernel copies at most
//! [`MESSAGE_MAX_SIZE`] bytes, directly from the sender's address space to the receiver's.
#![no_std]
#![forbid(unsafe_code)]

/// System-call numbers.
pub mod syscall {
    /// Write bytes to the console: `(pointer, length)`.
    pub const CONSOLE_WRITE: usize = 0;
    /// End the calling entity (every thread) with an exit code: `(code)`.
    pub const ENTITY_EXIT: usize = 1;
    /// Create a thread in the calling entity:
    /// `(entry, stack_top, argument, priority, thread_pointer, clear_address)` -> thread id.
    /// The new thread starts at `entry` with `argument` in the first argument register and
    /// its thread pointer (x86_64 FS base, aarch64 TPIDR_EL0) set to `thread_pointer`. When it
    /// ends, the kernel writes a zero `u32` at `clear_address` (if not 0) and wakes one futex
    /// waiter there, as Linux's `CLONE_CHILD_CLEARTID` does.
    pub const THREAD_CREATE: usize = 2;
    /// End the calling thread, then unmap `(stack address, stack length)` if not `(0, 0)`, so
    /// a runtime can return a thread's stack it cannot free while running on it. The entity
    /// ends with its last thread.
    pub const THREAD_EXIT: usize = 3;
    /// Give up the rest of the time slice.
    pub const YIELD: usize = 4;
    /// Send a request and wait for its reply:
    /// `(endpoint handle, request pointer, reply buffer pointer, reply buffer size, timeout ns)`.
    pub const CALL: usize = 5;
    /// Wait for a request on an endpoint:
    /// `(endpoint handle, buffer pointer, buffer size, timeout ns)` -> sender entity id.
    pub const RECEIVE: usize = 6;
    /// Reply to the request this thread last received: `(reply pointer)`.
    pub const REPLY: usize = 7;
    /// Reply, then wait for the next request, in one call:
    /// `(reply pointer, endpoint handle, buffer pointer, buffer size, timeout ns)` -> sender.
    pub const REPLY_RECEIVE: usize = 8;
    /// Set bits on a notification: `(notification handle, bits)`.
    pub const NOTIFY: usize = 9;
    /// Wait until a notification has bits set, take and clear them:
    /// `(notification handle, timeout ns)` -> bits.
    pub const WAIT: usize = 10;
    /// Map a shared-memory region held by capability: `(handle, address, length)` -> the
    /// region's size in bytes. `length` is the address space the caller set aside at
    /// `address`; the region must fit in it (`TooLarge` otherwise). A `length` of 0 maps
    /// nothing and only returns the size, so a caller can set aside the right amount first.
    pub const SHARED_MEMORY_MAP: usize = 11;
    /// Sleep for a number of nanoseconds: `(nanoseconds)`.
    pub const SLEEP: usize = 12;
    /// Nanoseconds since boot.
    pub const CLOCK: usize = 13;
    /// Map zeroed anonymous memory: `(address, length, protection)` -> address.
    pub const MEMORY_MAP: usize = 14;
    /// Return the calling entity's identity: -> entity id.
    pub const ENTITY_ID: usize = 15;
    /// Read the processor's free-running counter (for benchmarks): -> (ticks, ticks per second).
    pub const TIMESTAMP: usize = 16;
    /// Unmap `(address, length)` (page-aligned); memory the entity owns is freed and no longer
    /// counts against its limit. Pages not mapped are skipped.
    pub const MEMORY_UNMAP: usize = 17;
    /// Wait while the `u32` at `address` equals `expected`: `(address, expected, timeout ns)`.
    /// Fails with `WouldBlock` if the value differs, `TimedOut` when the timeout passes.
    /// Futexes are private to an entity: the key is (entity, virtual address).
    pub const FUTEX_WAIT: usize = 18;
    /// Wake up to `count` threads waiting at `address`: `(address, count)` -> threads woken.
    pub const FUTEX_WAKE: usize = 19;
    /// Wake up to `wake` waiters at `address` and move up to `move` of the rest to wait at
    /// `target`: `(address, wake, target, move)` -> threads woken.
    pub const FUTEX_REQUEUE: usize = 20;
    /// Set the calling thread's clear-on-exit address (see [`THREAD_CREATE`]; 0 for none):
    /// `(clear_address)` -> the calling thread's id.
    pub const THREAD_SELF: usize = 21;
    /// Set the calling thread's thread pointer (x86_64 FS base, aarch64 TPIDR_EL0):
    /// `(value)`. The value must be a user address.
    pub const THREAD_POINTER_SET: usize = 22;
    /// Change the protection of mapped pages: `(address, length, protection)`, page-aligned.
    /// Protection 0 makes the pages inaccessible while keeping their contents; writable and
    /// executable together is refused (W^X). Every page in the range must be mapped and owned
    /// by the entity, or nothing changes (`BadAddress`).
    pub const MEMORY_PROTECT: usize = 23;
    /// Read a register of the virtio-mmio transport held by a device capability:
    /// `(device handle, offset, width)` -> value. `width` is 1, 2 or 4 bytes, `offset` a
    /// multiple of it, and the access lies inside the transport's
    /// [`super::device::WINDOW_SIZE`]-byte window; anything else is `InvalidArgument`. A
    /// capability bound to no transport (none was present at boot) is `BadHandle`, as is a
    /// handle that names no device. Registers are reached through the kernel, not mapped,
    /// because transports share pages (see `docs/kernel.md`, "Devices").
    pub const DEVICE_READ: usize = 24;
    /// Write a register of a device capability's transport:
    /// `(device handle, offset, width, value)`. Checked as [`DEVICE_READ`]; `value` must also
    /// fit in `width` bytes.
    pub const DEVICE_WRITE: usize = 25;
    /// Map memory a device may reach by DMA: `(device handle, address, length)` -> physical
    /// address. Maps `length` bytes (a positive multiple of 4096, at most
    /// [`super::device::DMA_MAP_MAX`]) of fresh, zeroed, physically contiguous frames at
    /// `address` (page-aligned, unmapped user space) in the caller, writable and not
    /// executable, counted against its memory limit; returns the physical address of the first
    /// frame, which the driver gives the device. Needs a device capability bound to a
    /// transport (`BadHandle` otherwise). `MEMORY_UNMAP` returns the memory.
    pub const DMA_MAP: usize = 26;
    /// Ask the security monitor whether entity `source` may send the request at `request` to
    /// the calling entity: `(source, request pointer)` -> 0 when the policy grants it,
    /// `Denied` (with an audit line, as for a message) when it does not. A server uses it to
    /// check a request again with what it resolved, for example a path after its symbolic
    /// links were followed. It only ever asks about messages to the caller itself. An unknown
    /// `source` is `InvalidArgument`; a malformed message is checked like any other (denied).
    pub const MONITOR_CHECK: usize = 27;
    /// Ask to be told when a client of an endpoint ends: `(endpoint handle)`, which needs the
    /// RECEIVE right. From then on, when an entity holding a SEND capability to the endpoint
    /// ends, a `RECEIVE` on the endpoint yields a message from the kernel before any request:
    /// a header alone with interface [`super::kernel_message::INTERFACE`], method
    /// [`super::kernel_message::CLIENT_ENDED`] and `sender` the entity that ended. No reply is
    /// owed for it. A server uses it to release what it kept for that client.
    pub const ENDPOINT_WATCH: usize = 28;
    /// One past the highest system-call number.
    pub const COUNT: usize = 29;
}

/// Messages the kernel itself delivers on an endpoint (see [`syscall::ENDPOINT_WATCH`]).
pub mod kernel_message {
    /// The interface identifier of the kernel's messages: no interface definition uses it.
    pub const INTERFACE: u32 = u32::MAX;
    /// An entity that could call the endpoint ended; the header's `sender` names it.
    pub const CLIENT_ENDED: u32 = 1;
}

/// Errors returned by system calls, as positive codes; a system call returns `-(code)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Error {
    /// The system-call number does not exist.
    NoSuchCall = 1,
    /// A handle does not name a capability in the caller's table.
    BadHandle = 2,
    /// The capability lacks the right the operation needs.
    NoRight = 3,
    /// A pointer or length does not describe memory the caller owns with the needed access.
    BadAddress = 4,
    /// A message's header or layout is malformed (sizes, handle count, bounds).
    Malformed = 5,
    /// The security monitor denied the message.
    Denied = 6,
    /// A timeout expired before the operation could complete.
    TimedOut = 7,
    /// The peer ended (server died or client went away) before the operation completed.
    PeerGone = 8,
    /// The kernel has no memory left for the operation.
    OutOfMemory = 9,
    /// An argument is invalid (bad protection flags, bad priority, unaligned address).
    InvalidArgument = 10,
    /// The message does not fit the receiver's buffer.
    TooLarge = 11,
    /// There is no request to reply to.
    NoPendingReply = 12,
    /// The operation would block and no timeout was allowed.
    WouldBlock = 13,
}

impl Error {
    /// Every error, for decoding.
    pub const ALL: [Error; 13] = [
        Error::NoSuchCall,
        Error::BadHandle,
        Error::NoRight,
        Error::BadAddress,
        Error::Malformed,
        Error::Denied,
        Error::TimedOut,
        Error::PeerGone,
        Error::OutOfMemory,
        Error::InvalidArgument,
        Error::TooLarge,
        Error::NoPendingReply,
        Error::WouldBlock,
    ];

    /// Decodes a positive error code.
    pub fn from_code(code: u32) -> Option<Error> {
        Error::ALL
            .iter()
            .copied()
            .find(|error| *error as u32 == code)
    }

    /// A short description, for consoles and audit lines.
    pub fn description(self) -> &'static str {
        match self {
            Error::NoSuchCall => "no such system call",
            Error::BadHandle => "bad handle",
            Error::NoRight => "capability lacks the right",
            Error::BadAddress => "bad address",
            Error::Malformed => "malformed message",
            Error::Denied => "denied by the security monitor",
            Error::TimedOut => "timed out",
            Error::PeerGone => "peer gone",
            Error::OutOfMemory => "out of memory",
            Error::InvalidArgument => "invalid argument",
            Error::TooLarge => "message too large for the buffer",
            Error::NoPendingReply => "no pending reply",
            Error::WouldBlock => "would block",
        }
    }
}

/// The raw word a system call returns: non-negative on success, `-(Error as isize)` on failure.
pub type SyscallResult = isize;

/// Encodes a result as the system-call return word.
pub fn encode_result(result: Result<usize, Error>) -> SyscallResult {
    match result {
        Ok(value) => value as isize,
        Err(error) => -(error as isize),
    }
}

/// Decodes the system-call return word.
pub fn decode_result(word: SyscallResult) -> Result<usize, Error> {
    if word >= 0 {
        Ok(word as usize)
    } else {
        Err(Error::from_code((-word) as u32).unwrap_or(Error::InvalidArgument))
    }
}

/// Timeout value meaning "wait forever".
pub const TIMEOUT_NEVER: u64 = u64::MAX;
/// Timeout value meaning "do not wait at all".
pub const TIMEOUT_NONE: u64 = 0;

/// The fixed header at the start of every message.
///
/// `sender` is written by the kernel on delivery; whatever the sender put there is overwritten,
/// so no entity can forge another's identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct MessageHeader {
    /// Interface identifier, from the interface definition file.
    pub interface: u32,
    /// Method identifier within the interface.
    pub method: u32,
    /// Bytes of fixed part following the header.
    pub fixed_size: u32,
    /// Bytes of arena following the fixed part.
    pub arena_size: u32,
    /// Capabilities carried by the message (must be 0 in this version).
    pub handle_count: u32,
    /// In a reply: 0 for success, otherwise an application status code.
    pub status: u32,
    /// Sender entity identifier, stamped by the kernel.
    pub sender: u32,
    /// Reserved, must be zero.
    pub reserved: u32,
}

/// Size of [`MessageHeader`] in bytes.
pub const MESSAGE_HEADER_SIZE: usize = 32;
/// Largest fixed part, in bytes.
pub const MESSAGE_FIXED_MAX: usize = 1024;
/// Largest arena, in bytes.
pub const MESSAGE_ARENA_MAX: usize = 15 * 1024;
/// Largest whole message (header, fixed part and arena), in bytes.
pub const MESSAGE_MAX_SIZE: usize = MESSAGE_HEADER_SIZE + MESSAGE_FIXED_MAX + MESSAGE_ARENA_MAX;
/// Largest number of handles a message may carry.
pub const MESSAGE_HANDLES_MAX: u32 = 0;

const _: () = assert!(core::mem::size_of::<MessageHeader>() == MESSAGE_HEADER_SIZE);

impl MessageHeader {
    /// The header at the start of `message`, if it is long enough to hold one.
    pub fn of_message(message: &[u8]) -> Option<MessageHeader> {
        let bytes = message.get(..MESSAGE_HEADER_SIZE)?.try_into().ok()?;
        Some(MessageHeader::from_bytes(bytes))
    }

    /// Reads a header from the first [`MESSAGE_HEADER_SIZE`] bytes, little-endian.
    pub fn from_bytes(bytes: &[u8; MESSAGE_HEADER_SIZE]) -> MessageHeader {
        let word = |index: usize| {
            u32::from_le_bytes([
                bytes[index * 4],
                bytes[index * 4 + 1],
                bytes[index * 4 + 2],
                bytes[index * 4 + 3],
            ])
        };
        MessageHeader {
            interface: word(0),
            method: word(1),
            fixed_size: word(2),
            arena_size: word(3),
            handle_count: word(4),
            status: word(5),
            sender: word(6),
            reserved: word(7),
        }
    }

    /// Writes the header as [`MESSAGE_HEADER_SIZE`] little-endian bytes.
    pub fn to_bytes(&self) -> [u8; MESSAGE_HEADER_SIZE] {
        let mut bytes = [0u8; MESSAGE_HEADER_SIZE];
        let words = [
            self.interface,
            self.method,
            self.fixed_size,
            self.arena_size,
            self.handle_count,
            self.status,
            self.sender,
            self.reserved,
        ];
        for (index, word) in words.iter().enumerate() {
            bytes[index * 4..index * 4 + 4].copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// Total size of the message this header describes, if its sizes are within bounds.
    pub fn total_size(&self) -> Option<usize> {
        let fixed = self.fixed_size as usize;
        let arena = self.arena_size as usize;
        if fixed > MESSAGE_FIXED_MAX || arena > MESSAGE_ARENA_MAX {
            return None;
        }
        Some(MESSAGE_HEADER_SIZE + fixed + arena)
    }
}

/// Capability rights, as a bit set.
pub mod rights {
    /// May send requests to an endpoint.
    pub const SEND: u32 = 1 << 0;
    /// May receive requests from an endpoint.
    pub const RECEIVE: u32 = 1 << 1;
    /// May set bits on a notification.
    pub const SIGNAL: u32 = 1 << 2;
    /// May wait on a notification.
    pub const WAIT: u32 = 1 << 3;
    /// May map a shared-memory region for reading.
    pub const MAP_READ: u32 = 1 << 4;
    /// May map a shared-memory region for writing.
    pub const MAP_WRITE: u32 = 1 << 5;
    /// Every right defined.
    pub const ALL: u32 = SEND | RECEIVE | SIGNAL | WAIT | MAP_READ | MAP_WRITE;
}

/// Devices an entity may drive: virtio-mmio transports, named in a system description by kind
/// (`devices = ["virtio-blk"]`), each given to at most one entity.
pub mod device {
    /// Bytes of one virtio-mmio transport's register window (the virtio specification, 4.2.2;
    /// QEMU places its transports this far apart).
    pub const WINDOW_SIZE: u64 = 0x200;
    /// The value of a transport's first register, "virt" in little-endian ASCII.
    pub const MAGIC: u32 = 0x7472_6976;
    /// Offset of the magic value.
    pub const MAGIC_OFFSET: u64 = 0x000;
    /// Offset of the transport version: 1 (legacy) or 2.
    pub const VERSION_OFFSET: u64 = 0x004;
    /// Offset of the virtio device id (0: no device behind the transport).
    pub const DEVICE_ID_OFFSET: u64 = 0x008;
    /// Offset of the device status register; writing 0 resets the device.
    pub const STATUS_OFFSET: u64 = 0x070;
    /// Offset of the device-specific configuration space.
    pub const CONFIGURATION_OFFSET: u64 = 0x100;
    /// Most bytes one [`super::syscall::DMA_MAP`] maps.
    pub const DMA_MAP_MAX: u64 = 4 << 20;

    /// The kinds of device a description may name, with their virtio device ids (the virtio
    /// specification, 5 "Device Types").
    pub const KINDS: [(&str, u32); 7] = [
        ("virtio-net", 1),
        ("virtio-blk", 2),
        ("virtio-console", 3),
        ("virtio-rng", 4),
        ("virtio-gpu", 16),
        ("virtio-input", 18),
        ("virtio-vsock", 19),
    ];

    /// The virtio device id of a kind, by its name.
    pub fn kind_id(name: &str) -> Option<u32> {
        KINDS
            .iter()
            .find(|(kind, _)| *kind == name)
            .map(|(_, id)| *id)
    }

    /// The name of a virtio device id, when it is one of [`KINDS`].
    pub fn kind_name(id: u32) -> Option<&'static str> {
        KINDS
            .iter()
            .find(|(_, kind)| *kind == id)
            .map(|(name, _)| *name)
    }
}

/// Memory protection flags for [`syscall::MEMORY_MAP`]. Writable and executable together is
/// refused (W^X).
pub mod protection {
    /// Readable.
    pub const READ: usize = 1;
    /// Writable.
    pub const WRITE: usize = 2;
    /// Executable.
    pub const EXECUTE: usize = 4;
}

/// Entity start-up block, placed by the kernel at [`STARTUP_ADDRESS`] in every entity, and the
/// initial stack.
///
/// Block layout (little-endian): `magic: u32`, `entity_id: u32`, `argument_count: u32`,
/// `handle_count: u32`, `route_count: u32`, then `argument_count` NUL-terminated strings, then
/// `handle_count` records of `handle: u32, name_length: u32, name bytes` (names not
/// NUL-terminated), then `route_count` records of `kind: u32` ([`route`]), `handle: u32`,
/// `bulk: u32`, `prefix_length: u32`, prefix bytes (mount routes only; empty otherwise).
/// `bulk` is the handle of the shared-memory region the entity shares with that server for
/// bulk data ([`startup::FILE_BULK_SIZE`] bytes for a file VFS), or 0 for none.
///
/// The first thread starts with the stack pointer at the Linux initial stack: `argc`, the
/// `argv` pointers and a null, the `envp` pointers and a null, the auxiliary vector ([`aux`])
/// ending with `AT_NULL`, then the strings. Its first argument register holds
/// [`STARTUP_ADDRESS`].
pub mod startup {
    /// Virtual address of the start-up block (read-only page in every entity).
    pub const STARTUP_ADDRESS: usize = 0x0000_0000_0010_0000;
    /// Largest start-up block.
    pub const STARTUP_MAX_SIZE: usize = 4096;
    /// Magic number at the start of the block ("SEPT").
    pub const STARTUP_MAGIC: u32 = 0x5445_5053;
    /// Top of the initial stack of an entity's first thread.
    pub const STACK_TOP: usize = 0x0000_7fff_ffff_0000;
    /// Bytes of initial stack unless the system description sets an entity's `stack`.
    pub const STACK_SIZE: usize = 64 * 1024;
    /// Largest initial stack an entity may ask for.
    pub const STACK_SIZE_MAX: usize = 64 * 1024 * 1024;
    /// Most bytes the arguments and environment strings may take on the initial stack.
    pub const STRINGS_MAX: usize = 32 * 1024;
    /// Bytes of the start-up block's fixed header.
    pub const HEADER_SIZE: usize = 20;
    /// Bytes of the shared-memory region the image tool makes for each pair of an entity and
    /// a file VFS it mounts: the server reads and writes file data there (`File.read_shared`,
    /// `File.write_shared`) instead of copying it through messages.
    pub const FILE_BULK_SIZE: usize = 512 * 1024;
    /// The name under which a server's start-up block holds the bulk region it shares with
    /// the client entity `N`: this prefix followed by `N` in decimal (`bulk.3`).
    pub const CLIENT_BULK_PREFIX: &str = "bulk.";

    /// Kinds of route record (see the module documentation).
    pub mod route {
        /// A path prefix served by a file VFS.
        pub const MOUNT: u32 = 1;
        /// `AF_UNIX` sockets, served by the internal net VFS.
        pub const UNIX: u32 = 2;
        /// `AF_INET` and `AF_INET6` sockets, served by the external net VFS.
        pub const INET: u32 = 3;
    }

    /// Auxiliary-vector keys the kernel provides (the Linux values).
    pub mod aux {
        /// End of the vector.
        pub const NULL: u64 = 0;
        /// Address of the program headers in memory.
        pub const PHDR: u64 = 3;
        /// Size of one program header.
        pub const PHENT: u64 = 4;
        /// Number of program headers.
        pub const PHNUM: u64 = 5;
        /// Page size.
        pub const PAGESZ: u64 = 6;
        /// The program's entry point.
        pub const ENTRY: u64 = 9;
        /// Real user id (always 0).
        pub const UID: u64 = 11;
        /// Effective user id (always 0).
        pub const EUID: u64 = 12;
        /// Real group id (always 0).
        pub const GID: u64 = 13;
        /// Effective group id (always 0).
        pub const EGID: u64 = 14;
        /// Processor capability bits (0: programs probe for themselves).
        pub const HWCAP: u64 = 16;
        /// Clock ticks per second for `times` (100).
        pub const CLKTCK: u64 = 17;
        /// Whether the program runs with elevated privileges (0).
        pub const SECURE: u64 = 23;
        /// Address of 16 random bytes.
        pub const RANDOM: u64 = 25;
    }
    /// Start of the region where [`super::syscall::MEMORY_MAP`] with address 0 places memory.
    pub const MAP_BASE: usize = 0x0000_1000_0000_0000;
    /// Lowest address user mappings may use (the first 1 MiB stays unmapped to catch null use).
    pub const USER_LOWEST: usize = 0x0000_0000_0010_0000;
    /// One past the highest user address.
    pub const USER_END: usize = 0x0000_8000_0000_0000;
}

/// Application status codes carried in a reply header's `status`, shared by every interface.
pub mod status {
    /// Success.
    pub const OK: u32 = 0;
    /// The server does not implement this method.
    pub const UNKNOWN_METHOD: u32 = 1;
    /// The request could not be decoded.
    pub const BAD_REQUEST: u32 = 2;
    /// Application statuses start here.
    pub const APPLICATION: u32 = 16;
}

/// How typed fields are laid out in a message's fixed part; shared by the interface code
/// generator (which encodes) and the security monitor (which decodes and checks).
///
/// Fields are placed in declaration order, each at the next offset aligned to its alignment.
/// Integers take their natural size and alignment. `Bytes` and `String` take 8 bytes aligned to
/// 4: a little-endian `u32` offset into the arena and a `u32` length. The fixed part's size is
/// the end of the last field rounded up to a multiple of 8.
pub mod layout {
    /// The type of one message field.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub enum FieldKind {
        /// Unsigned 32-bit integer.
        U32,
        /// Signed 32-bit integer.
        I32,
        /// Unsigned 64-bit integer.
        U64,
        /// Signed 64-bit integer.
        I64,
        /// Byte string in the arena.
        Bytes,
        /// UTF-8 string in the arena (no NUL bytes).
        String,
    }

    impl FieldKind {
        /// Size in the fixed part.
        pub const fn size(self) -> usize {
            match self {
                FieldKind::U32 | FieldKind::I32 => 4,
                FieldKind::U64 | FieldKind::I64 | FieldKind::Bytes | FieldKind::String => 8,
            }
        }

        /// Alignment in the fixed part.
        pub const fn alignment(self) -> usize {
            match self {
                FieldKind::U32 | FieldKind::I32 | FieldKind::Bytes | FieldKind::String => 4,
                FieldKind::U64 | FieldKind::I64 => 8,
            }
        }

        /// Whether the field is a variable-size arena slice.
        pub const fn is_slice(self) -> bool {
            matches!(self, FieldKind::Bytes | FieldKind::String)
        }
    }

    /// Each field's kind and offset, in order: the one definition of the layout. Takes any
    /// sequence of kinds, so callers holding richer descriptors need not copy the kinds out.
    pub fn placements<Kinds: IntoIterator<Item = FieldKind>>(
        kinds: Kinds,
    ) -> impl Iterator<Item = (FieldKind, usize)> {
        let mut next = 0usize;
        kinds.into_iter().map(move |kind| {
            let offset = next.next_multiple_of(kind.alignment());
            next = offset + kind.size();
            (kind, offset)
        })
    }

    /// Size of the fixed part holding `kinds`.
    pub fn fixed_size_of<Kinds: IntoIterator<Item = FieldKind>>(kinds: Kinds) -> usize {
        placements(kinds)
            .last()
            .map_or(0, |(kind, offset)| offset + kind.size())
            .next_multiple_of(8)
    }

    /// Offset of field `index` among `kinds`, or `None` when `index` is out of range.
    pub fn field_offset(kinds: &[FieldKind], index: usize) -> Option<usize> {
        placements(kinds.iter().copied())
            .nth(index)
            .map(|(_, offset)| offset)
    }

    /// Size of the fixed part holding `kinds`.
    pub fn fixed_size(kinds: &[FieldKind]) -> usize {
        fixed_size_of(kinds.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let header = MessageHeader {
            interface: 7,
            method: 2,
            fixed_size: 16,
            arena_size: 5,
            handle_count: 0,
            status: 0,
            sender: 3,
            reserved: 0,
        };
        assert_eq!(MessageHeader::from_bytes(&header.to_bytes()), header);
        assert_eq!(header.total_size(), Some(MESSAGE_HEADER_SIZE + 21));
    }

    #[test]
    fn oversized_header_has_no_size() {
        let header = MessageHeader {
            fixed_size: MESSAGE_FIXED_MAX as u32 + 1,
            ..Default::default()
        };
        assert_eq!(header.total_size(), None);
        let header = MessageHeader {
            arena_size: u32::MAX,
            ..Default::default()
        };
        assert_eq!(header.total_size(), None);
    }

    #[test]
    fn layout_aligns_fields() {
        use layout::{FieldKind::*, field_offset, fixed_size};
        let kinds = [U32, U64, String, I32];
        assert_eq!(field_offset(&kinds, 0), Some(0));
        assert_eq!(field_offset(&kinds, 1), Some(8));
        assert_eq!(field_offset(&kinds, 2), Some(16));
        assert_eq!(field_offset(&kinds, 3), Some(24));
        assert_eq!(field_offset(&kinds, 4), None);
        assert_eq!(fixed_size(&kinds), 32);
        assert_eq!(fixed_size(&[]), 0);
    }

    #[test]
    fn device_kinds_are_distinct_and_round_trip() {
        for (name, id) in device::KINDS {
            assert_eq!(device::kind_id(name), Some(id));
            assert_eq!(device::kind_name(id), Some(name));
        }
        assert_eq!(device::kind_id("virtio-blk"), Some(2));
        assert_eq!(device::kind_id("virtio-floppy"), None);
        assert_eq!(device::kind_name(0), None);
    }

    #[test]
    fn results_round_trip() {
        for error in Error::ALL {
            assert_eq!(decode_result(encode_result(Err(error))), Err(error));
        }
        assert_eq!(decode_result(encode_result(Ok(42))), Ok(42));
    }
}
