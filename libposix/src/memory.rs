//! Memory: `mmap`, `munmap`, `mprotect`, `madvise`, `mremap` and `brk` over the kernel's
//! explicit-address `MEMORY_MAP`, `MEMORY_UNMAP` and `MEMORY_PROTECT`.
//!
//! libposix chooses every address: anonymous mappings come from [`MAP_WINDOW`] through the
//! [`Regions`] table, the program break grows in [`BREAK_WINDOW`]. A `PROT_NONE` mapping only
//! reserves addresses (it costs the entity no memory); making it accessible later maps fresh
//! zero pages. Ranges libposix did not hand out (the program image, the initial stack) are
//! passed to the kernel as they are.
//!
//! Only anonymous memory can be mapped: the File interface has no way to map a file, so a
//! file mapping is `ENODEV`.
//! `MAP_SHARED` and `MAP_PRIVATE` behave alike, since no process shares memory with another.

use septa_abi::startup::{STACK_SIZE_MAX, STACK_TOP, USER_END, USER_LOWEST};

use crate::errno::{Errno, Result};
use crate::kernel::{self, protection_bits};
use crate::lock::Lock;
use crate::regions::{PAGE_SIZE, Regions, State, page_aligned, page_round};

/// Where `mmap` places memory.
pub const MAP_WINDOW: core::ops::Range<usize> = 0x0000_2000_0000_0000..0x0000_7000_0000_0000;
/// Where the program break lives: it starts at the bottom and may grow to the top.
pub const BREAK_WINDOW: core::ops::Range<usize> = 0x0000_0800_0000_0000..0x0000_0900_0000_0000;

static REGIONS: Lock<Regions> = Lock::new(Regions::new(MAP_WINDOW.start, MAP_WINDOW.end));

/// The current break and how far pages are mapped for it.
struct Break {
    current: usize,
    mapped_end: usize,
}

static BREAK: Lock<Break> = Lock::new(Break {
    current: BREAK_WINDOW.start,
    mapped_end: BREAK_WINDOW.start,
});

const ALL_PROTECTIONS: i32 = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;

/// Checks `PROT_*` bits: unknown bits are `EINVAL`; writable and executable together is
/// `EACCES` (Septa enforces W^X, as a hardened Linux policy would).
fn check_protection(protection: i32) -> Result<()> {
    if protection & !(ALL_PROTECTIONS | libc::PROT_GROWSDOWN | libc::PROT_GROWSUP) != 0 {
        return Err(Errno::EINVAL);
    }
    if protection & libc::PROT_WRITE != 0 && protection & libc::PROT_EXEC != 0 {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// A page-aligned range `address..address + length` (length rounded up) inside user space.
fn user_range(address: usize, length: usize) -> Result<(usize, usize)> {
    if !page_aligned(address) || length == 0 {
        return Err(Errno::EINVAL);
    }
    let length = page_round(length).ok_or(Errno::ENOMEM)?;
    let end = address.checked_add(length).ok_or(Errno::ENOMEM)?;
    if address < USER_LOWEST || end > USER_END {
        return Err(Errno::ENOMEM);
    }
    Ok((address, end))
}

fn accessible(protection: i32) -> bool {
    protection & ALL_PROTECTIONS != 0
}

/// Gives `start..end` (free in the table) the state for `protection`: kernel pages if
/// accessible, a reservation otherwise.
fn establish(regions: &mut Regions, start: usize, end: usize, protection: i32) -> Result<()> {
    let mapped = accessible(protection);
    if mapped {
        kernel::memory_map(start, end - start, protection_bits(protection))?;
    }
    if regions
        .set(start, end, Some(State { protection, mapped }))
        .is_err()
    {
        if mapped {
            // SAFETY: the pages were mapped just above and nothing uses them yet.
            let _ = unsafe { kernel::memory_unmap(start, end - start) };
        }
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// `mmap`.
pub fn map(
    address: usize,
    length: usize,
    protection: i32,
    flags: i32,
    descriptor: i32,
    offset: i64,
) -> Result<usize> {
    check_protection(protection)?;
    if length == 0 {
        return Err(Errno::EINVAL);
    }
    match flags & libc::MAP_SHARED_VALIDATE {
        libc::MAP_SHARED | libc::MAP_PRIVATE | libc::MAP_SHARED_VALIDATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if flags & libc::MAP_ANONYMOUS == 0 {
        crate::files::description(descriptor)?;
        if offset % PAGE_SIZE as i64 != 0 {
            return Err(Errno::EINVAL);
        }
        // The File interface cannot map a file; the console cannot be mapped either.
        return Err(Errno::ENODEV);
    }
    let length = page_round(length).ok_or(Errno::ENOMEM)?;
    let mut regions = REGIONS.lock();
    if flags & (libc::MAP_FIXED | libc::MAP_FIXED_NOREPLACE) != 0 {
        let (start, end) = user_range(address, length)?;
        if flags & libc::MAP_FIXED_NOREPLACE != 0 && regions.overlaps(start, end) {
            return Err(Errno::EEXIST);
        }
        if flags & libc::MAP_FIXED != 0 && flags & libc::MAP_FIXED_NOREPLACE == 0 {
            // MAP_FIXED replaces whatever was there, libposix's or not.
            // SAFETY: the program asked for this range to be replaced.
            unsafe { kernel::memory_unmap(start, end - start) }?;
            let _ = regions.set(start, end, None);
        }
        regions.claim(start, end);
        return match establish(&mut regions, start, end, protection) {
            // The kernel refuses a range that is already mapped: that is NOREPLACE's EEXIST.
            Err(Errno::EINVAL) if flags & libc::MAP_FIXED_NOREPLACE != 0 => Err(Errno::EEXIST),
            result => result.map(|()| start),
        };
    }
    // The address is only a hint on Linux; libposix always picks its own.
    let start = regions.allocate(length).ok_or(Errno::ENOMEM)?;
    establish(&mut regions, start, start + length, protection)?;
    Ok(start)
}

/// Maps the shared-memory region `handle` names at an address libposix picks, readable, and
/// writable if the capability allows; returns `(address, size)`.
pub fn map_shared(handle: u32) -> Result<(usize, usize)> {
    let size = kernel::shared_memory_size(handle)?;
    let length = page_round(size).ok_or(Errno::ENOMEM)?;
    let mut regions = REGIONS.lock();
    let start = regions.allocate(length).ok_or(Errno::ENOMEM)?;
    // SAFETY: `allocate` handed out a range nothing uses, that no one else will be given.
    unsafe { kernel::shared_memory_map(handle, start, length) }?;
    let state = State {
        protection: libc::PROT_READ | libc::PROT_WRITE,
        mapped: true,
    };
    if regions.set(start, start + length, Some(state)).is_err() {
        // SAFETY: the region was mapped just above and nothing uses it yet.
        let _ = unsafe { kernel::memory_unmap(start, length) };
        return Err(Errno::ENOMEM);
    }
    Ok((start, size))
}

/// `munmap`: unmapping what is not mapped succeeds, as on Linux.
pub fn unmap(address: usize, length: usize) -> Result<usize> {
    let (start, end) = user_range(address, length).map_err(|_| Errno::EINVAL)?;
    let mut regions = REGIONS.lock();
    // SAFETY: the program gives the range up.
    unsafe { kernel::memory_unmap(start, end - start) }?;
    regions.set(start, end, None).map_err(|_| Errno::ENOMEM)?;
    Ok(0)
}

/// Forgets a range the kernel will unmap itself (a thread's stack at its end).
pub fn forget(address: usize, length: usize) {
    if let Ok((start, end)) = user_range(address, length) {
        let _ = REGIONS.lock().set(start, end, None);
    }
}

/// `mprotect`: mapped pages change protection (0 keeps their contents); reserved pages get
/// fresh zero pages when they become accessible.
pub fn protect(address: usize, length: usize, protection: i32) -> Result<usize> {
    check_protection(protection)?;
    if !page_aligned(address) {
        return Err(Errno::EINVAL);
    }
    if length == 0 {
        return Ok(0);
    }
    let (start, end) = user_range(address, length)?;
    let mut regions = REGIONS.lock();
    let mut address = start;
    while address < end {
        let piece = regions.piece(address, end);
        let length = piece.end - piece.start;
        let state = match piece.state {
            None => {
                // Not libposix's: the program image or the initial stack.
                // SAFETY: the program asks for this protection on its own memory.
                unsafe { kernel::memory_protect(piece.start, length, protection_bits(protection)) }
                    .map_err(|_| Errno::ENOMEM)?;
                None
            }
            Some(State { mapped: true, .. }) => {
                // SAFETY: as above.
                unsafe {
                    kernel::memory_protect(piece.start, length, protection_bits(protection))
                }?;
                Some(State {
                    protection,
                    mapped: true,
                })
            }
            Some(State { mapped: false, .. }) => {
                if accessible(protection) {
                    kernel::memory_map(piece.start, length, protection_bits(protection))?;
                }
                Some(State {
                    protection,
                    mapped: accessible(protection),
                })
            }
        };
        if let Some(state) = state {
            regions
                .set(piece.start, piece.end, Some(state))
                .map_err(|_| Errno::ENOMEM)?;
        }
        address = piece.end;
    }
    Ok(0)
}

/// `madvise`: `MADV_DONTNEED` gives libposix's mapped pages back and maps fresh zero pages
/// (reserved ones simply become unmapped); every other known advice is a hint that Septa,
/// with no paging, has no use for.
pub fn advise(address: usize, length: usize, advice: i32) -> Result<usize> {
    if !page_aligned(address) {
        return Err(Errno::EINVAL);
    }
    match advice {
        libc::MADV_DONTNEED => {}
        libc::MADV_NORMAL
        | libc::MADV_RANDOM
        | libc::MADV_SEQUENTIAL
        | libc::MADV_WILLNEED
        | libc::MADV_FREE
        | libc::MADV_DONTFORK
        | libc::MADV_DOFORK
        | libc::MADV_MERGEABLE
        | libc::MADV_UNMERGEABLE
        | libc::MADV_HUGEPAGE
        | libc::MADV_NOHUGEPAGE
        | libc::MADV_DONTDUMP
        | libc::MADV_DODUMP
        | libc::MADV_WIPEONFORK
        | libc::MADV_KEEPONFORK
        | libc::MADV_COLD
        | libc::MADV_PAGEOUT
        | libc::MADV_POPULATE_READ
        | libc::MADV_POPULATE_WRITE => return Ok(0),
        _ => return Err(Errno::EINVAL),
    }
    if length == 0 {
        return Ok(0);
    }
    let (start, end) = user_range(address, length)?;
    let mut regions = REGIONS.lock();
    let mut address = start;
    while address < end {
        let piece = regions.piece(address, end);
        let length = piece.end - piece.start;
        if let Some(State {
            protection,
            mapped: true,
        }) = piece.state
        {
            // SAFETY: MADV_DONTNEED tells the kernel the contents are not needed any more.
            unsafe { kernel::memory_unmap(piece.start, length) }?;
            if accessible(protection) {
                kernel::memory_map(piece.start, length, protection_bits(protection))?;
            } else {
                let reserved = State {
                    protection,
                    mapped: false,
                };
                regions
                    .set(piece.start, piece.end, Some(reserved))
                    .map_err(|_| Errno::ENOMEM)?;
            }
        }
        address = piece.end;
    }
    Ok(0)
}

/// The lowest address of the initial stack, found once by asking the kernel to protect
/// ever longer ranges below `STACK_TOP` as read-write (what the stack already is): the
/// longest range it accepts is the stack.
fn initial_stack_bottom() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static BOTTOM: AtomicUsize = AtomicUsize::new(0);
    let known = BOTTOM.load(Ordering::Relaxed);
    if known != 0 {
        return known;
    }
    let (mut mapped, mut unmapped) = (0usize, STACK_SIZE_MAX / PAGE_SIZE + 1);
    while unmapped - mapped > 1 {
        let pages = (mapped + unmapped) / 2;
        let length = pages * PAGE_SIZE;
        // SAFETY: the stack is read-write already; a range that is not all mapped is refused
        // whole, changing nothing.
        let readable = unsafe {
            kernel::memory_protect(
                STACK_TOP - length,
                length,
                protection_bits(libc::PROT_READ | libc::PROT_WRITE),
            )
        };
        if readable.is_ok() {
            mapped = pages;
        } else {
            unmapped = pages;
        }
    }
    let bottom = STACK_TOP - mapped * PAGE_SIZE;
    BOTTOM.store(bottom, Ordering::Relaxed);
    bottom
}

/// Bytes of the initial stack (for `RLIMIT_STACK`).
pub fn initial_stack_size() -> usize {
    STACK_TOP - initial_stack_bottom()
}

/// `mremap`: shrinks in place, grows in place when the addresses after are free, or moves
/// (with `MREMAP_MAYMOVE`) by mapping anew and copying. On the initial stack it fails with
/// `ENOMEM` for mapped pages and `EFAULT` below, which is what musl's `pthread_getattr_np`
/// probes to find the stack's size. `MREMAP_FIXED` and `MREMAP_DONTUNMAP` are `EINVAL`.
pub fn remap(
    old: usize,
    old_length: usize,
    new_length: usize,
    flags: i32,
    _new_address: usize,
) -> Result<usize> {
    if flags & !libc::MREMAP_MAYMOVE != 0
        || !page_aligned(old)
        || new_length == 0
        || old_length == 0
    {
        return Err(Errno::EINVAL);
    }
    let old_length = page_round(old_length).ok_or(Errno::EINVAL)?;
    let new_length = page_round(new_length).ok_or(Errno::ENOMEM)?;
    let (start, old_end) = user_range(old, old_length).map_err(|_| Errno::EFAULT)?;
    let mut regions = REGIONS.lock();
    if !regions.covers(start, old_end) {
        drop(regions);
        let stack_window = STACK_TOP - STACK_SIZE_MAX..STACK_TOP;
        if stack_window.contains(&start) && old_end <= STACK_TOP && start >= initial_stack_bottom()
        {
            return Err(Errno::ENOMEM);
        }
        return Err(Errno::EFAULT);
    }
    if new_length <= old_length {
        // SAFETY: the program gives the tail up.
        unsafe { kernel::memory_unmap(start + new_length, old_length - new_length) }?;
        regions
            .set(start + new_length, old_end, None)
            .map_err(|_| Errno::ENOMEM)?;
        return Ok(start);
    }
    let last = regions
        .piece(old_end - PAGE_SIZE, old_end)
        .state
        .ok_or(Errno::EFAULT)?;
    let new_end = start.checked_add(new_length).ok_or(Errno::ENOMEM)?;
    if new_end <= MAP_WINDOW.end && !regions.overlaps(old_end, new_end + PAGE_SIZE) {
        let grown = establish(&mut regions, old_end, new_end, last.protection);
        if grown.is_ok() {
            regions.claim(old_end, new_end);
            return Ok(start);
        }
    }
    if flags & libc::MREMAP_MAYMOVE == 0 {
        return Err(Errno::ENOMEM);
    }
    // Moving copies: the old range must be one region, readable or never mapped.
    let first = regions.piece(start, old_end);
    let state = first.state.ok_or(Errno::EFAULT)?;
    if first.end != old_end {
        return Err(Errno::EFAULT);
    }
    if state.mapped && state.protection & libc::PROT_READ == 0 {
        return Err(Errno::ENOMEM);
    }
    let target = regions.allocate(new_length).ok_or(Errno::ENOMEM)?;
    if state.mapped {
        let writable = libc::PROT_READ | libc::PROT_WRITE;
        establish(&mut regions, target, target + new_length, writable)?;
        // SAFETY: both ranges are mapped and readable (the new one writable), and distinct:
        // the allocator never hands out a range twice.
        unsafe {
            core::ptr::copy_nonoverlapping(start as *const u8, target as *mut u8, old_length)
        };
        if state.protection != writable {
            // SAFETY: the new range is the program's, with the protection it had before.
            unsafe {
                kernel::memory_protect(target, new_length, protection_bits(state.protection))
            }?;
            let _ = regions.set(target, target + new_length, Some(state));
        }
    } else {
        establish(&mut regions, target, target + new_length, state.protection)?;
    }
    // SAFETY: the contents moved; the program gave the old range up with MREMAP_MAYMOVE.
    unsafe { kernel::memory_unmap(start, old_length) }?;
    let _ = regions.set(start, old_end, None);
    Ok(target)
}

/// `brk`: moves the break within [`BREAK_WINDOW`] and returns the new break, or the old one
/// when it cannot move (which is how Linux reports failure).
pub fn set_break(requested: usize) -> Result<usize> {
    let mut state = BREAK.lock();
    if !(BREAK_WINDOW.start..=BREAK_WINDOW.end).contains(&requested) {
        return Ok(state.current);
    }
    let Some(needed_end) = page_round(requested) else {
        return Ok(state.current);
    };
    if needed_end > state.mapped_end {
        let length = needed_end - state.mapped_end;
        let readable_writable = protection_bits(libc::PROT_READ | libc::PROT_WRITE);
        if kernel::memory_map(state.mapped_end, length, readable_writable).is_err() {
            return Ok(state.current);
        }
    } else if needed_end < state.mapped_end {
        // SAFETY: the program moved its break down: the pages above are given up.
        let _ = unsafe { kernel::memory_unmap(needed_end, state.mapped_end - needed_end) };
    }
    state.mapped_end = needed_end;
    state.current = requested;
    Ok(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    // These tests use the global tables with the fake kernel, which maps nothing: they check
    // the bookkeeping, never touching the addresses.

    #[test]
    fn protections_are_checked() {
        assert_eq!(check_protection(libc::PROT_READ | libc::PROT_WRITE), Ok(()));
        assert_eq!(check_protection(libc::PROT_NONE), Ok(()));
        assert_eq!(
            check_protection(libc::PROT_WRITE | libc::PROT_EXEC),
            Err(Errno::EACCES)
        );
        assert_eq!(check_protection(0x100), Err(Errno::EINVAL));
    }

    #[test]
    fn anonymous_mappings_come_from_the_window() {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let read_write = libc::PROT_READ | libc::PROT_WRITE;
        let first = map(0, 5000, read_write, flags, -1, 0).unwrap();
        assert!(MAP_WINDOW.contains(&first));
        assert!(page_aligned(first));
        let second = map(first, 4096, libc::PROT_NONE, flags, -1, 0).unwrap();
        assert!(
            second >= first + 3 * PAGE_SIZE,
            "a guard page separates mappings"
        );
        assert_eq!(map(0, 0, read_write, flags, -1, 0), Err(Errno::EINVAL));
        assert_eq!(
            map(0, 4096, read_write, libc::MAP_ANONYMOUS, -1, 0),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            map(0, 4096, read_write, libc::MAP_PRIVATE, 1, 0),
            Err(Errno::ENODEV)
        );
        assert_eq!(
            map(0, 4096, read_write, libc::MAP_PRIVATE, 99, 0),
            Err(Errno::EBADF)
        );
        // NOREPLACE over an existing mapping.
        let noreplace = flags | libc::MAP_FIXED_NOREPLACE;
        assert_eq!(
            map(first, 4096, read_write, noreplace, -1, 0),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            map(first + 1, 4096, read_write, flags | libc::MAP_FIXED, -1, 0),
            Err(Errno::EINVAL)
        );
        // Reserved pages become mapped when made accessible; unmapping forgets them.
        assert_eq!(protect(second, 4096, read_write), Ok(0));
        assert_eq!(protect(second + 1, 4096, read_write), Err(Errno::EINVAL));
        assert_eq!(advise(second, 4096, libc::MADV_DONTNEED), Ok(0));
        assert_eq!(advise(second, 4096, 12345), Err(Errno::EINVAL));
        assert_eq!(unmap(first, 5000), Ok(0));
        assert_eq!(unmap(first + 1, 10), Err(Errno::EINVAL));
        assert_eq!(unmap(second, 4096), Ok(0));
    }

    #[test]
    fn remap_grows_shrinks_and_refuses_foreign_ranges() {
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let region = map(0, 2 * PAGE_SIZE, libc::PROT_NONE, flags, -1, 0).unwrap();
        assert_eq!(remap(region, 2 * PAGE_SIZE, PAGE_SIZE, 0, 0), Ok(region));
        // Addresses libposix never handed out: EFAULT (the stack probe needs the kernel).
        assert_eq!(
            remap(MAP_WINDOW.end - PAGE_SIZE, PAGE_SIZE, 2 * PAGE_SIZE, 0, 0),
            Err(Errno::EFAULT)
        );
        assert_eq!(
            remap(region, PAGE_SIZE, PAGE_SIZE, libc::MREMAP_FIXED, 0),
            Err(Errno::EINVAL)
        );
        // A reservation moves without copying when it cannot grow where it is.
        let blocker = map(0, PAGE_SIZE, libc::PROT_NONE, flags, -1, 0).unwrap();
        let grown = remap(blocker, PAGE_SIZE, 4 * PAGE_SIZE, libc::MREMAP_MAYMOVE, 0).unwrap();
        assert!(grown >= blocker);
        assert_eq!(unmap(region, PAGE_SIZE), Ok(0));
        assert_eq!(unmap(grown, 4 * PAGE_SIZE), Ok(0));
    }

    #[test]
    fn the_break_moves_within_its_window() {
        let start = set_break(0).unwrap();
        assert!(BREAK_WINDOW.contains(&start));
        assert_eq!(set_break(start + 10), Ok(start + 10));
        assert_eq!(set_break(BREAK_WINDOW.end + 1), Ok(start + 10));
        assert_eq!(set_break(start), Ok(start));
    }
}
