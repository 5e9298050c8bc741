//! Threads within an entity.

use alloc::boxed::Box;
use septa_abi::{Error, protection, syscall};

/// Stack size of threads created with [`spawn`].
pub const STACK_SIZE: usize = 64 * 1024;

extern "C" fn trampoline(closure: usize) -> ! {
    // SAFETY: `spawn` leaked exactly this box and passes its address once.
    let function = unsafe { Box::from_raw(closure as *mut Box<dyn FnOnce() + Send>) };
    function();
    let _ = crate::system::call(syscall::THREAD_EXIT, [0; 5]);
    unreachable!("the kernel does not return from thread exit")
}

/// Starts a thread running `function` at `priority` (capped at the entity's); returns its id.
pub fn spawn(function: impl FnOnce() + Send + 'static, priority: u8) -> Result<u32, Error> {
    let stack = crate::system::map_memory(0, STACK_SIZE, protection::READ | protection::WRITE)?;
    let closure: Box<Box<dyn FnOnce() + Send>> = Box::new(Box::new(function));
    let argument = Box::into_raw(closure) as u64;
    // The entry point sees a stack aligned as after a call (return address slot below).
    let top = (stack + STACK_SIZE) as u64;
    crate::system::call(
        syscall::THREAD_CREATE,
        [trampoline as *const () as u64, top - 8, argument, priority as u64, 0],
    )
    .map(|identity| identity as u32)
}
