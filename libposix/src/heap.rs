//! libposix's own heap, for the File clients' message buffers and replies and the paths open
//! descriptions keep; never musl's `malloc`, which sits above libposix and calls into it.
//!
//! The heap reserves a window of addresses once (a `PROT_NONE` mapping costs the entity
//! nothing) and makes pages of it read-write as it grows, [`GROWTH`] bytes or more at a time:
//! an entity that opens no file pays nothing, one that does pays for what it uses. The
//! allocator proper is `linked_list_allocator`'s first-fit [`Heap`], behind libposix's
//! [`Lock`], which yields the processor rather than spinning. The lock is held only while
//! allocating, freeing or growing, never across a blocking kernel call. Freed memory is reused,
//! never given back to the kernel.

use core::alloc::Layout;
use core::ptr::NonNull;

use linked_list_allocator::Heap;

use crate::lock::Lock;
use crate::regions::PAGE_SIZE;

/// Addresses reserved for the heap: 64 MiB, which costs nothing until used.
pub const RESERVATION: usize = 64 << 20;
/// The heap grows by at least this much at a time (one File client takes two 16 KiB buffers).
pub const GROWTH: usize = 64 << 10;

/// Where the heap's pages come from.
pub trait Pages {
    /// Reserves `length` bytes of addresses, inaccessible for now; returns the first.
    fn reserve(&mut self, length: usize) -> Option<usize>;
    /// Makes `start..start + length`, inside the reservation, readable and writable.
    fn commit(&mut self, start: usize, length: usize) -> bool;
}

/// A heap that grows inside one reservation.
pub struct Growing<P: Pages> {
    heap: Heap,
    pages: P,
    reservation: usize,
    start: usize,
    committed: usize,
}

impl<P: Pages> Growing<P> {
    /// A heap with nothing reserved yet; it reserves `reservation` bytes on first use.
    pub const fn new(pages: P, reservation: usize) -> Growing<P> {
        Growing {
            heap: Heap::empty(),
            pages,
            reservation,
            start: 0,
            committed: 0,
        }
    }

    /// Memory for `layout`, or `None` when the reservation is used up or pages cannot be had.
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        loop {
            if self.committed != 0
                && let Ok(pointer) = self.heap.allocate_first_fit(layout)
            {
                return Some(pointer);
            }
            self.grow(layout)?;
        }
    }

    /// Gives back memory [`Growing::allocate`] returned.
    ///
    /// # Safety
    ///
    /// `pointer` must come from `allocate` on this heap with the same `layout`, and must not be
    /// used afterwards.
    pub unsafe fn deallocate(&mut self, pointer: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller guarantees the pointer and layout are an allocation of this heap.
        unsafe { self.heap.deallocate(pointer, layout) }
    }

    /// Bytes of the reservation made usable so far.
    pub fn committed(&self) -> usize {
        self.committed
    }

    /// Commits enough pages after the heap's end for `layout` (with room for alignment and the
    /// allocator's bookkeeping) and hands them to the allocator.
    fn grow(&mut self, layout: Layout) -> Option<()> {
        let bookkeeping = 4 * core::mem::size_of::<usize>();
        let needed = layout
            .size()
            .checked_add(layout.align())?
            .checked_add(bookkeeping)?
            .max(GROWTH);
        let length = needed.checked_next_multiple_of(PAGE_SIZE)?;
        if self.start == 0 {
            self.start = self.pages.reserve(self.reservation)?;
        }
        if self.committed.checked_add(length)? > self.reservation {
            return None;
        }
        let bottom = self.start + self.committed;
        if !self.pages.commit(bottom, length) {
            return None;
        }
        if self.committed == 0 {
            // SAFETY: `bottom..bottom + length` was just made readable and writable, belongs
            // to the heap's reservation for the entity's life, and nothing else uses it.
            unsafe { self.heap.init(bottom as *mut u8, length) };
        } else {
            // SAFETY: the new pages follow the heap's current top directly (the reservation is
            // committed in order), are usable, and nothing else uses them.
            unsafe { self.heap.extend(length) };
        }
        self.committed += length;
        Some(())
    }
}

/// Pages from libposix's own address-space table: a `PROT_NONE` reservation made read-write
/// as needed, as a program's `mmap` and `mprotect` would.
pub struct KernelPages;

impl Pages for KernelPages {
    fn reserve(&mut self, length: usize) -> Option<usize> {
        crate::memory::map(
            0,
            length,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
        .ok()
    }

    fn commit(&mut self, start: usize, length: usize) -> bool {
        crate::memory::protect(start, length, libc::PROT_READ | libc::PROT_WRITE).is_ok()
    }
}

/// The heap of the entity.
static HEAP: Lock<Growing<KernelPages>> = Lock::new(Growing::new(KernelPages, RESERVATION));

/// The global allocator of libposix's Rust code (the static library only: host tests use
/// std's). Exhaustion makes an allocation fail, which ends the entity with libposix's panic
/// message.
pub struct Allocator;

// SAFETY: every allocation comes from the locked heap, which hands out disjoint blocks of
// committed memory with the requested layout; deallocation returns them to the same heap.
unsafe impl core::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.lock()
            .allocate(layout)
            .map_or(core::ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if let Some(pointer) = NonNull::new(pointer) {
            // SAFETY: `GlobalAlloc`'s contract: the pointer came from `alloc` with `layout`.
            unsafe { HEAP.lock().deallocate(pointer, layout) }
        }
    }
}

#[cfg(not(test))]
#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// Pages from a leaked host buffer; records what was committed.
    struct HostPages {
        commits: Vec<(usize, usize)>,
    }

    impl Pages for HostPages {
        fn reserve(&mut self, length: usize) -> Option<usize> {
            let layout = Layout::from_size_align(length, PAGE_SIZE).unwrap();
            // SAFETY: a non-zero size; the memory is leaked for the test's life.
            let pointer = unsafe { std::alloc::alloc(layout) };
            (!pointer.is_null()).then_some(pointer as usize)
        }

        fn commit(&mut self, start: usize, length: usize) -> bool {
            self.commits.push((start, length));
            true
        }
    }

    fn heap(reservation: usize) -> Growing<HostPages> {
        Growing::new(
            HostPages {
                commits: Vec::new(),
            },
            reservation,
        )
    }

    #[test]
    fn grows_in_order_as_allocations_need() {
        let mut heap = heap(1 << 20);
        assert_eq!(heap.committed(), 0);
        let small = Layout::from_size_align(100, 8).unwrap();
        let first = heap.allocate(small).unwrap();
        assert_eq!(heap.committed(), GROWTH);
        // Two client-sized buffers and more fit after growing.
        let buffer = Layout::from_size_align(16_416, 8).unwrap();
        let mut buffers = Vec::new();
        for _ in 0..6 {
            let pointer = heap.allocate(buffer).unwrap();
            // SAFETY: the block is the heap's and `buffer.size()` long.
            unsafe { pointer.as_ptr().write_bytes(0xa5, buffer.size()) };
            buffers.push(pointer);
        }
        assert!(heap.committed() > GROWTH);
        let commits = &heap.pages.commits;
        for pair in commits.windows(2) {
            assert_eq!(
                pair[0].0 + pair[0].1,
                pair[1].0,
                "commits follow each other"
            );
        }
        // A freed block is reused.
        // SAFETY: allocated above with this layout.
        unsafe { heap.deallocate(buffers.pop().unwrap(), buffer) };
        let committed = heap.committed();
        buffers.push(heap.allocate(buffer).unwrap());
        assert_eq!(heap.committed(), committed);
        // SAFETY: as above.
        unsafe { heap.deallocate(first, small) };
    }

    #[test]
    fn a_large_block_grows_the_heap_at_once() {
        let mut heap = heap(1 << 20);
        let large = Layout::from_size_align(200_000, 16).unwrap();
        let pointer = heap.allocate(large).unwrap();
        assert_eq!(pointer.as_ptr() as usize % 16, 0);
        assert!(heap.committed() >= 200_000);
        assert_eq!(heap.committed() % PAGE_SIZE, 0);
    }

    #[test]
    fn the_reservation_is_a_limit() {
        let mut heap = heap(2 * GROWTH);
        let block = Layout::from_size_align(GROWTH / 2, 8).unwrap();
        let mut count = 0;
        while heap.allocate(block).is_some() {
            count += 1;
            assert!(count < 10);
        }
        assert!(count >= 2);
        assert!(heap.committed() <= 2 * GROWTH);
        let huge = Layout::from_size_align(isize::MAX as usize / 2, 8).unwrap();
        assert!(heap.allocate(huge).is_none());
    }
}
