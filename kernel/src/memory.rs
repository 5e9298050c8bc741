//! Kernel memory: the heap, the physical frame allocator, and checked access to user memory.

use crate::arch::paging;
use crate::boot::BootInformation;
use linked_list_allocator::LockedHeap;
use septa_kernel_core::frames::{FRAME_SIZE, FrameBitmap};

const HEAP_SIZE: usize = 16 * 1024 * 1024;

#[repr(C, align(4096))]
struct HeapArea([u8; HEAP_SIZE]);

static mut HEAP_AREA: HeapArea = HeapArea([0; HEAP_SIZE]);

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Gives the heap its memory (a static area in the kernel's bss).
pub fn initialise_heap() {
    // SAFETY: called once at boot; the area is static and used for nothing else.
    unsafe { HEAP.lock().init((&raw mut HEAP_AREA) as *mut u8, HEAP_SIZE) };
}

/// Moves `value` to the heap, or gives `None` when the heap is exhausted (where `Box::new`
/// would stop the kernel). For state an entity's actions make the kernel allocate.
pub fn try_box<T>(value: T) -> Option<alloc::boxed::Box<T>> {
    let layout = core::alloc::Layout::new::<T>();
    assert!(layout.size() > 0, "try_box of a zero-sized type");
    // SAFETY: the layout is non-zero-sized; on success the memory is fresh, suitably aligned
    // for `T`, written with `value`, and handed to `Box` with the global allocator's layout.
    unsafe {
        let memory = alloc::alloc::alloc(layout) as *mut T;
        if memory.is_null() {
            return None;
        }
        memory.write(value);
        Some(alloc::boxed::Box::from_raw(memory))
    }
}

/// Physical frames, zeroed when handed out.
pub struct Frames {
    bitmap: FrameBitmap,
}

impl Frames {
    /// Takes a zeroed frame.
    pub fn allocate(&mut self) -> Option<u64> {
        let frame = self.bitmap.allocate()?;
        // SAFETY: the frame is free RAM inside the direct map, now owned by the caller.
        unsafe {
            core::ptr::write_bytes(
                paging::physical_to_virtual(frame) as *mut u8,
                0,
                FRAME_SIZE as usize,
            )
        };
        Some(frame)
    }

    /// Takes `count` zeroed, physically contiguous frames and returns the address of the
    /// first; each is returned on its own with [`Frames::free`].
    pub fn allocate_run(&mut self, count: u64) -> Option<u64> {
        let first = self.bitmap.allocate_run(count)?;
        // SAFETY: the run is free RAM inside the direct map (the allocator covers only RAM
        // below 4 GiB), now owned by the caller.
        unsafe {
            core::ptr::write_bytes(
                paging::physical_to_virtual(first) as *mut u8,
                0,
                (count * FRAME_SIZE) as usize,
            )
        };
        Some(first)
    }

    /// Returns a frame.
    pub fn free(&mut self, frame: u64) {
        self.bitmap.free_frame(frame);
    }

    /// Free frames.
    pub fn free_count(&self) -> u64 {
        self.bitmap.free_count()
    }
}

/// Builds the frame allocator from the boot memory map (RAM below 4 GiB, which the direct map
/// covers), minus the reserved ranges.
pub fn frame_allocator(boot: &BootInformation) -> Frames {
    const DIRECT_MAP_LIMIT: u64 = 4 << 30;
    let top = boot.memory[..boot.memory_count]
        .iter()
        .map(|&(_, end)| end.min(DIRECT_MAP_LIMIT))
        .max()
        .unwrap_or(0);
    let mut bitmap = FrameBitmap::new(top / FRAME_SIZE);
    for &(start, end) in &boot.memory[..boot.memory_count] {
        bitmap.release_range(start.max(0x10_0000), end.min(DIRECT_MAP_LIMIT));
    }
    for &(start, end) in &boot.reserved[..boot.reserved_count] {
        bitmap.reserve_range(start, end);
    }
    Frames { bitmap }
}

/// Page-table frames, reached through the direct map, for the shared walks of
/// [`septa_kernel_core::page_table`].
pub struct DirectMap;

impl septa_kernel_core::page_table::TableMemory for DirectMap {
    fn read(&self, table: u64, index: usize) -> u64 {
        let entries = paging::physical_to_virtual(table) as *const u64;
        assert!(index < septa_kernel_core::page_table::ENTRIES);
        // SAFETY: the walks pass only page-table frames (roots and tables reached from them),
        // which lie in the direct map; the index is inside the table.
        unsafe { entries.add(index).read() }
    }

    fn write(&mut self, table: u64, index: usize, value: u64) {
        let entries = paging::physical_to_virtual(table) as *mut u64;
        assert!(index < septa_kernel_core::page_table::ENTRIES);
        // SAFETY: as for `read`; the kernel runs on one processor, so no other walk is under
        // way.
        unsafe { entries.add(index).write(value) }
    }
}

/// Checked copies between the kernel and an entity's memory.
///
/// Every byte is reached by translating the user address through the entity's page tables and
/// reading or writing the physical frame in the direct map: an address that is not mapped for
/// user mode (including every kernel address) is refused, never dereferenced.
pub mod user {
    use crate::arch::paging;
    use septa_abi::Error;

    /// Copies `buffer.len()` bytes from `address` in the entity with page-table root `root`.
    pub fn read(root: u64, address: u64, buffer: &mut [u8]) -> Result<(), Error> {
        let mut done = 0usize;
        while done < buffer.len() {
            let current = address.checked_add(done as u64).ok_or(Error::BadAddress)?;
            let translation = paging::translate(root, current).ok_or(Error::BadAddress)?;
            let in_page = (4096 - (current & 0xfff)) as usize;
            let chunk = in_page.min(buffer.len() - done);
            // SAFETY: the translation proves the page is mapped for the entity; the chunk stays
            // within that 4 KiB frame, which the direct map covers.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    paging::physical_to_virtual(translation.physical) as *const u8,
                    buffer[done..].as_mut_ptr(),
                    chunk,
                )
            };
            done += chunk;
        }
        Ok(())
    }

    /// Most pages one write may touch: the kernel writes only messages, and a largest message
    /// that does not start on a page boundary spans one page more than its size in pages.
    const WRITE_PAGES_MAX: usize = septa_abi::MESSAGE_MAX_SIZE.div_ceil(4096) + 1;

    /// Copies `bytes` (at most a message) to `address` in the entity with root `root`. Every
    /// page is translated, and must be writable, before any byte is written, so a failed write
    /// changes nothing.
    pub fn write(root: u64, address: u64, bytes: &[u8]) -> Result<(), Error> {
        if bytes.is_empty() {
            return Ok(());
        }
        let end = address
            .checked_add(bytes.len() as u64)
            .ok_or(Error::BadAddress)?;
        let first_page = address & !0xfff;
        let page_count = ((end - 1 - first_page) / 4096 + 1) as usize;
        if page_count > WRITE_PAGES_MAX {
            return Err(Error::TooLarge);
        }
        let mut frames = [0u64; WRITE_PAGES_MAX];
        for (index, frame) in frames[..page_count].iter_mut().enumerate() {
            match paging::translate(root, first_page + index as u64 * 4096) {
                Some(translation) if translation.writable => *frame = translation.physical,
                _ => return Err(Error::BadAddress),
            }
        }
        let mut done = 0usize;
        for (index, frame) in frames[..page_count].iter().enumerate() {
            let page = first_page + index as u64 * 4096;
            let start = address.max(page);
            let chunk = ((page + 4096).min(end) - start) as usize;
            // SAFETY: the frame was translated above as a writable user page of this entity;
            // the chunk stays inside it and inside the direct map.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes[done..].as_ptr(),
                    (paging::physical_to_virtual(*frame) + (start - page)) as *mut u8,
                    chunk,
                )
            };
            done += chunk;
        }
        Ok(())
    }
}
