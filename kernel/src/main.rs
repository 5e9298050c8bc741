//! The Septa microkernel.
//!
//! Septa's kernel provides threads, address spaces, capabilities, synchronous IPC,
//! notifications, shared memory, timers, and nothing else: file systems, networks and drivers
//! are user-mode entities, to which the kernel lends only register access and DMA memory
//! ([`device`]). Its principles:
//!
//! - **Isolation is the MMU's.** Every entity has its own address space; the kernel's half is
//!   mapped supervisor-only in all of them; user pages are never both writable and executable.
//!   User memory is reached only by walking the entity's page tables ([`memory::user`]), never
//!   by dereferencing a pointer an entity passed.
//! - **Complete mediation.** Every request and every reply is shown to the security monitor
//!   ([`septa_monitor`]) before delivery, with the sender's identity stamped by the kernel.
//!   The monitor sees a kernel-held snapshot of the message, and that snapshot is what gets
//!   delivered, so a sender cannot change a message after it was checked.
//! - **Nothing an entity sends can stop the kernel.** System-call arguments, message headers
//!   and the boot image are validated; a faulting entity is ended and reported, and every other
//!   entity goes on.
//! - **Small and single-stack.** One kernel stack; blocked threads keep only their saved user
//!   registers (the seL4 model), so there are no kernel continuations to get wrong. This version
//!   drives one processor.
//!
//! Architecture code lives only in `arch/`; everything else is portable.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot;
mod console;
mod device;
mod extended;
mod futex;
mod ipc;
mod kernel;
mod loader;
mod memory;
mod system_call;
mod trap;

pub use boot::{BOOT_REGIONS_MAX, BootInformation};

/// The portable start: memory, the boot image, the entities, then the first entity runs.
pub fn kernel_main(boot: BootInformation) -> ! {
    memory::initialise_heap();
    arch::initialise_late();
    console::line(format_args!("[kernel] Septa on {}, booting", arch::NAME));
    let context = boot::start(boot);
    arch::cpu::enter_user(&context)
}

#[panic_handler]
fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    console::line(format_args!("[kernel] panic: {information}"));
    arch::power_off(126)
}
