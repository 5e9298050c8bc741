//! The file VFS entity: parses its arguments, then serves the File interface on the endpoint
//! its start-up block names `endpoint`, one request at a time.
//!
//! It is a Rust std program built for `<arch>-unknown-linux-musl` against Septa's sysroot, so
//! the kernel is reached through libposix's C API (`include/septa/entity.h`, `ipc.h`): to
//! receive and reply on its endpoint, and to call the block driver of each `fat:DEVICE` mount
//! (the Block interface, on the capability named `DEVICE`). Built for any other target (the
//! host), it only says that it runs on Septa.

use septa_vfs::configuration::{Configuration, USAGE};
use std::process::ExitCode;

fn main() -> ExitCode {
    let configuration = match Configuration::from_arguments(std::env::args().skip(1)) {
        Ok(configuration) => configuration,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("[vfs] {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    serve(configuration)
}

#[cfg(not(all(target_os = "linux", target_env = "musl")))]
fn serve(_configuration: Configuration) -> ExitCode {
    eprintln!(
        "[vfs] the file VFS server runs only on Septa, as an entity (see docs/vfs.md); \
         its arguments are valid"
    );
    ExitCode::FAILURE
}

#[cfg(all(target_os = "linux", target_env = "musl"))]
fn serve(configuration: Configuration) -> ExitCode {
    entity::serve(configuration)
}

/// The receive, dispatch, reply loop over libposix's IPC functions.
#[cfg(all(target_os = "linux", target_env = "musl"))]
mod entity {
    use septa_abi::startup::CLIENT_BULK_PREFIX;
    use septa_abi::{Error, MESSAGE_MAX_SIZE, MessageHeader, TIMEOUT_NEVER, kernel_message};
    use septa_interfaces::{Transport, file};
    use septa_vfs::bulk::BulkRegions;
    use septa_vfs::monitor::Monitor;
    use septa_vfs::storage::{BlockDevice, BlockStorage};
    use septa_vfs::{Configuration, SystemClock, Vfs};
    use std::collections::HashMap;
    use std::ffi::{CStr, CString, c_char, c_long, c_void};
    use std::process::ExitCode;

    // SAFETY: these are libposix's C API, in the sysroot's libc.a, declared with the
    // signatures of include/septa/entity.h and include/septa/ipc.h (u32, size_t as usize,
    // uint64_t as u64, long as c_long). Each returns a non-negative value or a negated errno.
    unsafe extern "C" {
        fn septa_handle(name: *const c_char) -> c_long;
        fn septa_shared_memory_map(handle: u32, address: *mut *mut c_void) -> c_long;
        fn septa_monitor_check(source: u32, request: *const c_void) -> c_long;
        fn septa_endpoint_watch(endpoint: u32) -> c_long;
        fn septa_ipc_call(
            endpoint: u32,
            request: *const c_void,
            reply: *mut c_void,
            reply_capacity: usize,
            timeout: u64,
        ) -> c_long;
        fn septa_ipc_receive(
            endpoint: u32,
            buffer: *mut c_void,
            capacity: usize,
            timeout: u64,
            sender: *mut u32,
        ) -> c_long;
        fn septa_ipc_reply_receive(
            reply: *const c_void,
            endpoint: u32,
            buffer: *mut c_void,
            capacity: usize,
            timeout: u64,
            sender: *mut u32,
        ) -> c_long;
    }

    /// The capability named `endpoint` in the start-up block.
    const ENDPOINT_NAME: &CStr = c"endpoint";

    /// Waits for the next request into `request`; its length, or the negated errno.
    fn receive(endpoint: u32, request: &mut [u8]) -> c_long {
        let mut sender = 0u32;
        // SAFETY: `request` is a live, writable buffer of `request.len()` bytes for the whole
        // call, and `sender` a live u32; libposix writes only within them.
        unsafe {
            septa_ipc_receive(
                endpoint,
                request.as_mut_ptr().cast(),
                request.len(),
                TIMEOUT_NEVER,
                &mut sender,
            )
        }
    }

    /// Sends `reply` (one whole message) to the caller of the last request, then waits for
    /// the next one into `request`; its length, or the negated errno.
    fn reply_receive(reply: &[u8], endpoint: u32, request: &mut [u8]) -> c_long {
        let mut sender = 0u32;
        // SAFETY: `reply` holds a whole message (the dispatcher wrote its header with sizes
        // that fit the slice) and stays alive and unchanged during the call; `request` is a
        // distinct writable buffer of `request.len()` bytes; `sender` a live u32.
        unsafe {
            septa_ipc_reply_receive(
                reply.as_ptr().cast(),
                endpoint,
                request.as_mut_ptr().cast(),
                request.len(),
                TIMEOUT_NEVER,
                &mut sender,
            )
        }
    }

    /// The kernel's `call` through libposix: how the Block client reaches a block driver.
    struct KernelTransport {
        endpoint: u32,
    }

    impl Transport for KernelTransport {
        fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
            // SAFETY: `request` holds one whole message (the generated client wrote its header
            // with sizes that fit the slice) and stays unchanged during the call; `reply` is a
            // distinct writable buffer of `reply.len()` bytes, which libposix writes within.
            let result = unsafe {
                septa_ipc_call(
                    self.endpoint,
                    request.as_ptr().cast(),
                    reply.as_mut_ptr().cast(),
                    reply.len(),
                    TIMEOUT_NEVER,
                )
            };
            usize::try_from(result).map_err(|_| kernel_error(-result))
        }
    }

    /// The kernel error behind a negated errno from libposix (include/septa/ipc.h's table).
    fn kernel_error(errno: c_long) -> Error {
        match i32::try_from(errno).unwrap_or(libc::EINVAL) {
            libc::EBADF => Error::BadHandle,
            libc::EPERM => Error::NoRight,
            libc::EFAULT => Error::BadAddress,
            libc::EACCES => Error::Denied,
            libc::ETIMEDOUT => Error::TimedOut,
            libc::EIO => Error::PeerGone,
            libc::ENOMEM => Error::OutOfMemory,
            libc::EMSGSIZE => Error::TooLarge,
            libc::EAGAIN => Error::WouldBlock,
            _ => Error::Malformed,
        }
    }

    /// The block device of a `fat:DEVICE` mount: the Block client on the start-up capability
    /// named `DEVICE` (a connection to the block driver entity).
    fn open_device(name: &str) -> Result<Box<dyn BlockStorage>, String> {
        let c_name =
            CString::new(name).map_err(|_| format!("the capability name '{name}' holds a NUL"))?;
        // SAFETY: `c_name` is a NUL-terminated string that outlives the call.
        let handle = unsafe { septa_handle(c_name.as_ptr()) };
        let endpoint = u32::try_from(handle).map_err(|_| {
            format!(
                "no capability named '{name}': connect this entity to the block driver \
                 (a [[connection]] whose server or name is '{name}')"
            )
        })?;
        let device = BlockDevice::connect(KernelTransport { endpoint }).map_err(|errno| {
            format!(
                "the block device '{name}' does not answer Block.information (errno {})",
                errno.0
            )
        })?;
        Ok(Box::new(device))
    }

    /// The clients' bulk regions, each mapped the first time its client uses it: the
    /// capability named `bulk.<client>` that the image tool gives the server.
    #[derive(Default)]
    struct SharedRegions {
        /// `(address, size)` of each client's region; `None` when it has none or it would
        /// not map (not tried again).
        mapped: HashMap<u32, Option<(usize, usize)>>,
    }

    impl SharedRegions {
        fn map(client: u32) -> Option<(usize, usize)> {
            let name = CString::new(format!("{CLIENT_BULK_PREFIX}{client}")).ok()?;
            // SAFETY: `name` is a NUL-terminated string that outlives the call.
            let handle = u32::try_from(unsafe { septa_handle(name.as_ptr()) }).ok()?;
            let mut address: *mut c_void = std::ptr::null_mut();
            // SAFETY: `address` is a live, writable pointer that libposix fills in.
            let size = unsafe { septa_shared_memory_map(handle, &mut address) };
            let size = usize::try_from(size).ok()?;
            Some((address as usize, size))
        }
    }

    impl BulkRegions for SharedRegions {
        fn region(&mut self, client: u32) -> Option<&mut [u8]> {
            let (address, size) = (*self
                .mapped
                .entry(client)
                .or_insert_with(|| SharedRegions::map(client)))?;
            // SAFETY: libposix mapped `size` bytes at `address`, readable and writable, for
            // the rest of the server's life, and nothing else in the server refers to them;
            // the slice lives only while `&mut self` is borrowed. The client shares the
            // memory and may change it during a call: the server only copies file data into
            // it or out of it and decides nothing on its bytes (crate::bulk), so such a
            // client spoils only its own data.
            Some(unsafe { std::slice::from_raw_parts_mut(address as *mut u8, size) })
        }
    }

    /// The entity the kernel's message `message` says ended, if it is that message (only the
    /// kernel sends its interface: the monitor denies it to every entity).
    fn from_kernel(message: &[u8]) -> Option<u32> {
        let header = MessageHeader::of_message(message)?;
        (header.interface == kernel_message::INTERFACE
            && header.method == kernel_message::CLIENT_ENDED)
            .then_some(header.sender)
    }

    /// The security monitor, through the kernel's `MONITOR_CHECK`.
    struct KernelMonitor;

    impl Monitor for KernelMonitor {
        fn permits(&mut self, client: u32, request: &[u8]) -> bool {
            // A request the kernel could not read whole would be checked on bytes past it.
            let whole = MessageHeader::of_message(request).and_then(|header| header.total_size())
                == Some(request.len());
            // SAFETY: `request` is one whole message (its header's sizes match its length,
            // checked above), alive and unchanged during the call; the kernel only reads it.
            whole && unsafe { septa_monitor_check(client, request.as_ptr().cast()) } == 0
        }
    }

    pub fn serve(configuration: Configuration) -> ExitCode {
        // SAFETY: ENDPOINT_NAME is a NUL-terminated string that outlives the call.
        let handle = unsafe { septa_handle(ENDPOINT_NAME.as_ptr()) };
        let Ok(endpoint) = u32::try_from(handle) else {
            eprintln!("[vfs] no capability named 'endpoint' (does the entity serve File?)");
            return ExitCode::from(2);
        };
        let mut server =
            match Vfs::with_devices(&configuration, Box::new(SystemClock), &mut open_device) {
                Ok(server) => server,
                Err(message) => {
                    eprintln!("[vfs] {message}");
                    return ExitCode::from(2);
                }
            };
        server.set_bulk_regions(Box::<SharedRegions>::default());
        server.set_monitor(Box::new(KernelMonitor));
        let mounts: Vec<String> = server
            .namespace()
            .mounts()
            .iter()
            .map(|mount| format!("{}={}", mount.prefix, mount.file_system.kind()))
            .collect();
        println!(
            "[vfs] serving File: {}; ramfs limit {} bytes",
            mounts.join(" "),
            configuration.ramfs_limit
        );
        // The kernel tells the server of clients that end, so that their files are closed.
        // SAFETY: the call takes a handle and touches no memory.
        if unsafe { septa_endpoint_watch(endpoint) } != 0 {
            eprintln!("[vfs] clients that end will keep their files open: no ENDPOINT_WATCH");
        }
        let mut request = vec![0u8; MESSAGE_MAX_SIZE];
        let mut reply = vec![0u8; MESSAGE_MAX_SIZE];
        let mut received = receive(endpoint, &mut request);
        loop {
            match usize::try_from(received) {
                Ok(length) => {
                    let length = length.min(request.len());
                    if let Some(client) = from_kernel(&request[..length]) {
                        let released = server.release_client(client);
                        println!("[vfs] client {client} ended: {released} open files closed");
                        received = receive(endpoint, &mut request);
                        continue;
                    }
                    let reply_length = file::dispatch(&mut server, &request[..length], &mut reply);
                    received = reply_receive(&reply[..reply_length], endpoint, &mut request);
                }
                Err(_) if received == -c_long::from(libc::EBADF) => {
                    eprintln!("[vfs] the endpoint capability is not valid");
                    return ExitCode::from(2);
                }
                Err(_) => {
                    // A failed receive, or a reply the caller did not live to take: nothing is
                    // owed to anyone, so wait for the next request.
                    eprintln!("[vfs] receive failed: errno {}", -received);
                    received = receive(endpoint, &mut request);
                }
            }
        }
    }
}
