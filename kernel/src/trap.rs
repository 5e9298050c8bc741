//! Entries from the architecture layer: system calls, timer ticks and user faults.

use crate::arch::{self, Context, Fault};
use crate::kernel::{self, Ending};

/// The context of the first thread to run after boot.
pub fn first_context() -> Context {
    resume(kernel::with(|kernel| kernel.schedule(false)))
}

/// Saves the interrupted thread's registers.
fn save(kernel: &mut kernel::Kernel, frame: &Context) {
    if let Some(thread) = kernel.current {
        kernel.threads[thread as usize].context = *frame;
    }
}

/// Waits (idle, interrupts enabled) until some thread can run, and returns its context.
fn resume(mut next: Option<Context>) -> Context {
    loop {
        if let Some(context) = next {
            return context;
        }
        arch::cpu::wait_for_interrupt();
        next = kernel::with(|kernel| {
            kernel.expire_deadlines();
            kernel.schedule(false)
        });
    }
}

/// A system call from user mode.
pub fn system_call(frame: &mut Context) {
    let next = kernel::with(|kernel| {
        save(kernel, frame);
        crate::system_call::dispatch(kernel);
        kernel.schedule(false)
    });
    *frame = resume(next);
}

/// A timer tick: wake threads whose time came, and rotate threads of equal priority.
pub fn timer_tick(frame: &mut Context, from_user: bool) {
    if !from_user {
        // The kernel was idle; the idle loop reschedules.
        return;
    }
    let next = kernel::with(|kernel| {
        save(kernel, frame);
        kernel.expire_deadlines();
        kernel.schedule(true)
    });
    *frame = resume(next);
}

/// An exception in user mode: the entity is stopped and reported; the rest goes on.
pub fn user_fault(frame: &mut Context, fault: Fault) {
    let next = kernel::with(|kernel| {
        save(kernel, frame);
        let entity = kernel.current_entity();
        kernel.end_entity(entity, Ending::Faulted(fault));
        kernel.schedule(false)
    });
    *frame = resume(next);
}
