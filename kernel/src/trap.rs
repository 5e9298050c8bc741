//! Entries from the architecture layer: system calls, timer ticks and user faults.

use crate::arch::{self, Context, Fault};
use crate::kernel::{self, Ending};

/// The context of the first thread to run after boot.
pub fn first_context() -> Context {
    let mut context = Context::default();
    let loaded = kernel::with(|kernel| {
        let next = kernel.schedule(false);
        load(kernel, next, &mut context)
    });
    resume(loaded, &mut context);
    context
}

/// Writes the scheduled thread's registers into the frame the kernel returns through;
/// `false` when no thread is ready.
fn load(kernel: &mut kernel::Kernel, next: Option<kernel::ThreadId>, frame: &mut Context) -> bool {
    match next {
        Some(thread) => {
            *frame = kernel.threads[thread as usize].context;
            kernel.switch_extended(thread);
            true
        }
        None => false,
    }
}

/// Saves the interrupted thread's registers.
fn save(kernel: &mut kernel::Kernel, frame: &Context) {
    if let Some(thread) = kernel.current {
        kernel.threads[thread as usize].context = *frame;
    }
}

/// Unless a thread was loaded, waits (idle, interrupts enabled) until one can run and loads it.
fn resume(mut loaded: bool, frame: &mut Context) {
    while !loaded {
        arch::cpu::wait_for_interrupt();
        loaded = kernel::with(|kernel| {
            kernel.expire_deadlines();
            let next = kernel.schedule(false);
            load(kernel, next, frame)
        });
    }
}

/// A system call from user mode.
pub fn system_call(frame: &mut Context) {
    let loaded = kernel::with(|kernel| {
        save(kernel, frame);
        crate::system_call::dispatch(kernel);
        let next = kernel.schedule(false);
        load(kernel, next, frame)
    });
    resume(loaded, frame);
}

/// A timer tick: wake threads whose time came, and rotate threads of equal priority.
pub fn timer_tick(frame: &mut Context, from_user: bool) {
    if !from_user {
        // The kernel was idle; the idle loop reschedules.
        return;
    }
    let loaded = kernel::with(|kernel| {
        save(kernel, frame);
        kernel.expire_deadlines();
        let next = kernel.schedule(true);
        load(kernel, next, frame)
    });
    resume(loaded, frame);
}

/// An exception in user mode: the entity is stopped and reported; the rest goes on.
pub fn user_fault(frame: &mut Context, fault: Fault) {
    let loaded = kernel::with(|kernel| {
        save(kernel, frame);
        let entity = kernel.current_entity();
        kernel.end_entity(entity, Ending::Faulted(fault));
        let next = kernel.schedule(false);
        load(kernel, next, frame)
    });
    resume(loaded, frame);
}

/// The current thread's first floating-point or vector instruction: it gets its own register
/// area and retries the instruction. Without kernel memory for the area, its entity is stopped.
pub fn floating_point_first_use(frame: &mut Context) {
    let loaded = kernel::with(|kernel| {
        save(kernel, frame);
        let thread = kernel.current() as usize;
        if crate::extended::enable_floating_point(&mut kernel.threads[thread].extended).is_err() {
            let entity = kernel.current_entity();
            kernel.end_entity(entity, Ending::OutOfMemory);
        }
        let next = kernel.schedule(false);
        load(kernel, next, frame)
    });
    resume(loaded, frame);
}
