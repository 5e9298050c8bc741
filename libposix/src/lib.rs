//! libposix: the system-call layer under musl, turning each Linux system call into Septa's.
//!
//! # Where it sits
//!
//! A POSIX entity on Septa is a static program linked with musl's C library. musl's
//! system-call layer is patched so that every Linux system call becomes one C call,
//! [`__septa_syscall`](dispatch::__septa_syscall)`(number, a, b, c, d, e, f)`, with the Linux
//! number of the target architecture and the raw result convention: a value, or `-errno`.
//! Rust `std` programs built for `<arch>-unknown-linux-musl` link the same `libc.a` and so come
//! through here too. Only `__septa_*` and `septa_*` symbols stay global in the final library.
//!
//! # How a call is served
//!
//! [`dispatch`] decodes the number and hands the arguments to one typed backend per family
//! (files, paths, sockets, memory, threads, futexes, time, signals, identity). Each backend
//! checks its arguments, does its work and returns `Result<usize, Errno>`; the result becomes
//! the return word in one place. A backend that needs the kernel uses [`kernel`], the only
//! module that traps (through [`arch`]), and kernel errors become errno values in one place
//! ([`errno`]). A backend that needs a file VFS ([`files`], [`paths`]) calls it through the
//! generated File client ([`vfs`]), whose errors also become errno values in one place. Numbers
//! without a backend return `-ENOSYS` and are counted ([`unsupported`]); the counts are printed
//! when the entity exits.
//!
//! # Principles
//!
//! - **No thread-local storage, and never musl's `malloc`.** musl calls libposix before its TLS
//!   exists and from inside `malloc`, so every table is a fixed-size static (descriptors,
//!   address-space regions, threads, signal dispositions), each behind a [`lock::Lock`]. The
//!   one heap is libposix's own ([`heap`]), over pages it maps itself, for what the generated
//!   IPC clients allocate (their message buffers and replies) and the paths open descriptions
//!   keep.
//! - **Locks never wait in the kernel.** A contended lock yields the processor (so that a
//!   preempted holder runs) and is never held across a blocking kernel call: an IPC call holds
//!   only a client taken from the [`vfs`] pool.
//! - **libposix chooses every address.** Memory comes from explicit-address kernel mappings in
//!   a region libposix owns ([`memory`]); nothing relies on the kernel's own placement.
//! - **Pure logic is host-tested.** The descriptor table, path normalisation, routing, the
//!   start-up block parser, the address-space table, futex decoding, time conversions, the
//!   errno mapping and the conversions of the File interface's records are plain Rust tested
//!   with `cargo test`; under test the kernel is a fake, whose IPC reaches an in-process file
//!   VFS, so that file calls run end to end.
//! - **One door to the program's memory:** `user` is the only module that
//!   dereferences the pointers a system call carries.
//! - **Architecture code only in [`arch`]:** the trap, the counter, hardware random numbers,
//!   the thread trampoline, the calls only one architecture has, and the ABI assertions.
//!
//! What is not supported, and why, is listed in `docs/posix.md`.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod abi;
pub mod arch;
pub mod console;
pub mod descriptors;
pub mod directory_entries;
pub mod dispatch;
pub mod errno;
pub mod files;
pub mod futex;
pub mod heap;
pub mod identity;
pub mod kernel;
pub mod lock;
pub mod memory;
pub mod path;
pub mod paths;
pub mod random;
pub mod regions;
pub mod routes;
pub mod septa_api;
pub mod signals;
pub mod sockets;
pub mod startup;
pub mod status;
#[cfg(test)]
mod test_file_server;
pub mod threads;
pub mod time;
pub mod unsupported;
mod user;
pub mod vfs;

/// The panic handler of the static library: say what happened on the console and end the
/// entity. libposix never unwinds (the workspace builds with `panic = "abort"`).
#[cfg(not(test))]
#[panic_handler]
fn panic(information: &core::panic::PanicInfo) -> ! {
    use core::fmt::Write;
    let mut console = console::Writer::new();
    let _ = writeln!(console, "[libposix] panic: {}", information.message());
    if let Some(location) = information.location() {
        let _ = writeln!(
            console,
            "[libposix]   at {}:{}",
            location.file(),
            location.line()
        );
    }
    console.flush();
    kernel::entity_exit(PANIC_EXIT_STATUS)
}

/// The unwinding personality the target's prebuilt `compiler_builtins` refers to from its
/// unwind tables. libposix never unwinds (it aborts on panic, and no unwinding crosses its C
/// entry points), so this is never called; it only resolves the reference. The sysroot build
/// makes it local to libposix, so a Rust program's own personality is unaffected.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// The unwinder's resume call, which the target's prebuilt `alloc` refers to from its cleanup
/// landing pads. As for the personality, nothing in libposix unwinds, so no landing pad is ever
/// entered and this is never called; if it were, ending the entity is the only safe answer.
/// The sysroot build makes it local to libposix.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    kernel::entity_exit(PANIC_EXIT_STATUS)
}

/// The exit status of an entity whose libposix panicked (Rust's own panic status).
pub const PANIC_EXIT_STATUS: i32 = 101;
