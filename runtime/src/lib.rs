//! The runtime for no_std Rust entities: entry point, system calls, IPC, heap and console.
//!
//! An entity is a static ELF built for the bare-metal target. It names its main function with
//! [`entry!`]; the runtime's `_start` receives the start-up block the kernel placed at
//! [`septa_abi::startup::STARTUP_ADDRESS`], sets up a heap from anonymous memory, and calls main;
//! main's return value is the entity's exit status. C programs use libposix instead; this
//! runtime is for Septa's own servers and tests until libposix exists.
#![no_std]

extern crate alloc;

mod arch;
pub mod console;
pub mod heap;
pub mod ipc;
pub mod startup;
pub mod system;
pub mod thread;

pub use septa_abi::Error;

/// Declares the entity's main function: `fn() -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(no_mangle)]
        extern "Rust" fn septa_entity_main() -> i32 {
            $main()
        }
    };
}

unsafe extern "Rust" {
    fn septa_entity_main() -> i32;
}

/// Called by `_start` with the start-up block's address.
extern "C" fn runtime_start(startup_address: usize) -> ! {
    startup::initialise(startup_address);
    heap::initialise();
    // SAFETY: the entity defines this symbol with `entry!`; a link error names it otherwise.
    let status = unsafe { septa_entity_main() };
    system::exit(status)
}

#[panic_handler]
fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    println!("[{}] panic: {}", startup::name(), information);
    system::exit(101)
}
