//! Threads within an entity.

use alloc::boxed::Box;
use septa_abi::{Error, protection, syscall};

/// Stack size of threads created with [`spawn`].
pub const STACK_SIZE: usize = 64 * 1024;

/// What a new thread starts with: its function and the stack to return when it ends.
struct Start {
    function: Box<dyn FnOnce() + Send>,
    stack: usize,
}

extern "C" fn trampoline(start: usize) -> ! {
    // SAFETY: `spawn` leaked exactly this box and passes its address once.
    let start = unsafe { Box::from_raw(start as *mut Start) };
    let stack = start.stack;
    (start.function)();
    // The kernel unmaps the stack after this thread has ended.
    let _ = crate::system::call(
        syscall::THREAD_EXIT,
        [stack as u64, STACK_SIZE as u64, 0, 0, 0],
    );
    unreachable!("the kernel does not return from thread exit")
}

/// Starts a thread running `function` at `priority` (capped at the entity's); returns its id.
pub fn spawn(function: impl FnOnce() + Send + 'static, priority: u8) -> Result<u32, Error> {
    let stack = crate::system::map_memory(0, STACK_SIZE, protection::READ | protection::WRITE)?;
    let start = Box::new(Start {
        function: Box::new(function),
        stack,
    });
    let argument = Box::into_raw(start) as u64;
    // The entry point sees a stack aligned as after a call (return address slot below).
    let top = (stack + STACK_SIZE) as u64;
    let created = crate::system::call(
        syscall::THREAD_CREATE,
        [
            trampoline as *const () as u64,
            top - 8,
            argument,
            priority as u64,
            0,
        ],
    );
    if created.is_err() {
        // SAFETY: the thread was not created, so the box is still ours, and so is the stack.
        drop(unsafe { Box::from_raw(argument as *mut Start) });
        let _ = crate::system::unmap_memory(stack, STACK_SIZE);
    }
    created.map(|identity| identity as u32)
}
