//! The entity's heap: a linked-list allocator over anonymous memory from the kernel.

use linked_list_allocator::LockedHeap;

/// Heap size mapped at start.
pub const HEAP_SIZE: usize = 1024 * 1024;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Maps the heap and hands it to the allocator.
pub fn initialise() {
    let protection = septa_abi::protection::READ | septa_abi::protection::WRITE;
    match crate::system::map_memory(0, HEAP_SIZE, protection) {
        // SAFETY: the kernel just mapped HEAP_SIZE zeroed, writable bytes at `address` for this
        // entity alone; nothing else uses them.
        Ok(address) => unsafe { HEAP.lock().init(address as *mut u8, HEAP_SIZE) },
        Err(error) => {
            crate::console::write_bytes(b"runtime: cannot map the heap: ");
            crate::console::write_bytes(error.description().as_bytes());
            crate::system::exit(102);
        }
    }
}
