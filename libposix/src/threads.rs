//! Threads: `__septa_clone` on the kernel's `THREAD_CREATE`, thread and entity exit, and what
//! libposix keeps per thread: the thread id Linux programs see and the signal mask.
//!
//! A Linux thread id is the kernel thread id plus one, and the process id the entity id plus
//! one, so neither is ever 0. The kernel's `THREAD_SELF` both returns the id and sets the
//! clear-on-exit address, so it cannot answer `gettid` alone; and libposix has no thread-local
//! storage of its own. So it keeps a table keyed by thread pointer (which every thread has
//! once musl set up TLS, and which the processor gives back without a system call), filled as
//! threads start and emptied as they end. A thread not in the table (before TLS exists, or
//! beyond [`THREAD_LIMIT`]) shares one fallback record.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::{arch, kernel, memory, unsupported, user};

/// Priority asked for new threads; the kernel clamps it to the entity's.
const THREAD_PRIORITY: usize = 31;
/// Most threads the table records (the kernel allows 64 live threads per entity).
pub const THREAD_LIMIT: usize = 1024;

/// What libposix keeps for one thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadRecord {
    /// The thread pointer, the key.
    pub pointer: usize,
    /// The Linux thread id.
    pub tid: i32,
    /// The signals the thread blocks.
    pub signal_mask: u64,
    /// The thread's name (`prctl(PR_SET_NAME)`), NUL-padded.
    pub name: [u8; THREAD_NAME_SIZE],
}

/// Bytes of a thread name, its NUL included (Linux's `TASK_COMM_LEN`).
pub const THREAD_NAME_SIZE: usize = 16;

/// The per-thread records, keyed by thread pointer.
pub struct ThreadTable {
    records: [ThreadRecord; THREAD_LIMIT],
    count: usize,
}

const NO_RECORD: ThreadRecord = ThreadRecord {
    pointer: 0,
    tid: 0,
    signal_mask: 0,
    name: [0; THREAD_NAME_SIZE],
};

impl ThreadTable {
    /// An empty table.
    pub const fn new() -> ThreadTable {
        ThreadTable {
            records: [NO_RECORD; THREAD_LIMIT],
            count: 0,
        }
    }

    fn find(&self, pointer: usize) -> Option<usize> {
        self.records[..self.count]
            .iter()
            .position(|record| record.pointer == pointer)
    }

    /// Records a thread (replacing an older thread that had the same pointer). Returns false
    /// when the table is full.
    pub fn insert(&mut self, record: ThreadRecord) -> bool {
        if let Some(index) = self.find(record.pointer) {
            self.records[index] = record;
            return true;
        }
        if self.count == THREAD_LIMIT {
            return false;
        }
        self.records[self.count] = record;
        self.count += 1;
        true
    }

    /// Forgets the thread with thread pointer `pointer`; returns its record.
    pub fn remove(&mut self, pointer: usize) -> Option<ThreadRecord> {
        let index = self.find(pointer)?;
        let record = self.records[index];
        self.count -= 1;
        self.records[index] = self.records[self.count];
        Some(record)
    }

    /// The record of the thread with thread pointer `pointer`.
    pub fn get(&self, pointer: usize) -> Option<ThreadRecord> {
        self.find(pointer).map(|index| self.records[index])
    }

    /// Changes the record of the thread with thread pointer `pointer`; false if unknown.
    pub fn update(&mut self, pointer: usize, change: impl FnOnce(&mut ThreadRecord)) -> bool {
        match self.find(pointer) {
            Some(index) => {
                change(&mut self.records[index]);
                true
            }
            None => false,
        }
    }

    /// Whether a live thread has id `tid`.
    pub fn contains(&self, tid: i32) -> bool {
        self.records[..self.count]
            .iter()
            .any(|record| record.tid == tid)
    }
}

impl Default for ThreadTable {
    fn default() -> ThreadTable {
        ThreadTable::new()
    }
}

static THREADS: Lock<ThreadTable> = Lock::new(ThreadTable::new());

/// The signal mask of threads without a record (the main thread before TLS exists).
static FALLBACK_SIGNAL_MASK: AtomicU64 = AtomicU64::new(0);
/// The name of threads without a record.
static FALLBACK_NAME: Lock<[u8; THREAD_NAME_SIZE]> = Lock::new([0; THREAD_NAME_SIZE]);

/// Whether any clear-on-exit address was ever set: until then `THREAD_SELF(0)` is harmless.
static CLEAR_ADDRESS_SET: AtomicBool = AtomicBool::new(false);

/// The Linux id of kernel thread `id`.
pub fn tid_of(id: usize) -> i32 {
    (id as i32).wrapping_add(1)
}

/// Records the calling thread's id under its thread pointer, keeping its signal mask.
fn remember(tid: i32) {
    let pointer = arch::thread_pointer();
    if pointer != 0 {
        let record = ThreadRecord {
            pointer,
            tid,
            signal_mask: signal_mask(),
            name: name(),
        };
        THREADS.lock().insert(record);
    }
}

/// Forgets the calling thread (it is ending).
fn forget_self() {
    let pointer = arch::thread_pointer();
    if pointer != 0 {
        THREADS.lock().remove(pointer);
    }
}

/// The calling thread's signal mask.
pub fn signal_mask() -> u64 {
    let pointer = arch::thread_pointer();
    if pointer != 0
        && let Some(record) = THREADS.lock().get(pointer)
    {
        return record.signal_mask;
    }
    FALLBACK_SIGNAL_MASK.load(Ordering::Relaxed)
}

/// Sets the calling thread's signal mask.
pub fn set_signal_mask(mask: u64) {
    let pointer = arch::thread_pointer();
    if pointer == 0
        || !THREADS
            .lock()
            .update(pointer, |record| record.signal_mask = mask)
    {
        FALLBACK_SIGNAL_MASK.store(mask, Ordering::Relaxed);
    }
}

/// The calling thread's name.
pub fn name() -> [u8; THREAD_NAME_SIZE] {
    let pointer = arch::thread_pointer();
    if pointer != 0
        && let Some(record) = THREADS.lock().get(pointer)
    {
        return record.name;
    }
    *FALLBACK_NAME.lock()
}

/// Names the calling thread: the first 15 bytes of `name`, NUL-terminated.
pub fn set_name(name: &[u8]) {
    let mut padded = [0u8; THREAD_NAME_SIZE];
    let length = name.len().min(THREAD_NAME_SIZE - 1);
    padded[..length].copy_from_slice(&name[..length]);
    let pointer = arch::thread_pointer();
    if pointer == 0
        || !THREADS
            .lock()
            .update(pointer, |record| record.name = padded)
    {
        *FALLBACK_NAME.lock() = padded;
    }
}

/// Whether a live thread of the entity has id `tid`.
pub fn is_thread(tid: i32) -> bool {
    THREADS.lock().contains(tid)
}

/// The calling thread's id, when libposix knows it: from the table, or from the kernel while
/// no thread has a clear-on-exit address that asking would reset.
pub fn current_tid() -> Option<i32> {
    let pointer = arch::thread_pointer();
    if pointer != 0
        && let Some(record) = THREADS.lock().get(pointer)
    {
        return Some(record.tid);
    }
    if !CLEAR_ADDRESS_SET.load(Ordering::Acquire) {
        // SAFETY: no thread has a clear-on-exit address yet, so setting none changes nothing.
        return unsafe { kernel::thread_self(0) }.ok().map(tid_of);
    }
    None
}

/// `gettid`; a thread libposix cannot identify (beyond [`THREAD_LIMIT`]) gets the process id.
pub fn gettid() -> Result<usize> {
    match current_tid() {
        Some(tid) => Ok(tid as usize),
        None => crate::identity::getpid(),
    }
}

/// `set_tid_address`: the kernel zeroes `*address` and wakes a futex waiter there when the
/// thread ends. Returns the thread's id.
pub fn set_tid_address(address: usize) -> Result<usize> {
    CLEAR_ADDRESS_SET.store(true, Ordering::Release);
    // SAFETY: the program hands over `address` for exactly this use, as on Linux.
    let tid = tid_of(unsafe { kernel::thread_self(address) }?);
    remember(tid);
    Ok(tid as usize)
}

/// `arch_prctl(ARCH_SET_FS)` and the like: sets the calling thread's thread pointer.
///
/// # Safety
///
/// Code reading thread-local storage must find the new value valid.
pub unsafe fn set_thread_pointer(value: usize) -> Result<usize> {
    let old = arch::thread_pointer();
    // SAFETY: the caller upholds the contract.
    let result = unsafe { arch::set_thread_pointer(value) }?;
    let mut threads = THREADS.lock();
    if let Some(record) = threads.remove(old) {
        threads.insert(ThreadRecord {
            pointer: value,
            ..record
        });
    }
    Ok(result)
}

/// What a new thread needs, placed by `clone` just below its stack top.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ThreadStart {
    function: usize,
    argument: usize,
    /// Where to store the id (`CLONE_PARENT_SETTID`), or 0.
    parent_tid: usize,
    /// Where the child stores its id (`CLONE_CHILD_SETTID`), or 0.
    child_tid: usize,
    /// The clear-on-exit address the kernel was given (`CLONE_CHILD_CLEARTID`), or 0.
    clear_address: usize,
    thread_pointer: usize,
    /// The creating thread's signal mask, which the new thread inherits, as on Linux.
    signal_mask: u64,
}

const START_SIZE: usize = core::mem::size_of::<ThreadStart>().next_multiple_of(16);

/// The clone flags a thread (not a process) has.
const THREAD_FLAGS: i32 = libc::CLONE_VM | libc::CLONE_THREAD | libc::CLONE_SIGHAND;

/// musl's `__clone` for threads: `CLONE_VM | CLONE_THREAD` are required (there is no `fork`);
/// `CLONE_SETTLS`, `CLONE_PARENT_SETTID`, `CLONE_CHILD_SETTID` and `CLONE_CHILD_CLEARTID` are
/// honoured; without `CLONE_SETTLS` the child inherits the thread pointer. Returns the new
/// thread's id.
pub fn clone(
    function: usize,
    stack: usize,
    flags: i32,
    argument: usize,
    parent_tid: usize,
    thread_pointer: usize,
    child_tid: usize,
) -> Result<usize> {
    if flags & THREAD_FLAGS != THREAD_FLAGS {
        unsupported::count(libc::SYS_clone);
        return Err(Errno::ENOSYS);
    }
    if function == 0 || stack < START_SIZE {
        return Err(Errno::EINVAL);
    }
    let thread_pointer = if flags & libc::CLONE_SETTLS != 0 {
        thread_pointer
    } else {
        arch::thread_pointer()
    };
    let clear_address = if flags & libc::CLONE_CHILD_CLEARTID != 0 {
        CLEAR_ADDRESS_SET.store(true, Ordering::Release);
        child_tid
    } else {
        0
    };
    let start = ThreadStart {
        function,
        argument,
        parent_tid: if flags & libc::CLONE_PARENT_SETTID != 0 {
            parent_tid
        } else {
            0
        },
        child_tid: if flags & libc::CLONE_CHILD_SETTID != 0 {
            child_tid
        } else {
            0
        },
        clear_address,
        thread_pointer,
        signal_mask: signal_mask(),
    };
    // The record sits at the top of the child's stack, 16-byte aligned; the child starts with
    // its stack pointer there.
    let record = (stack & !15) - START_SIZE;
    user::write(record as *mut ThreadStart, start)?;
    arch::note_thread_pointer(thread_pointer);
    // SAFETY: the trampoline runs `thread_start` on the caller-provided stack with the record
    // just written; the clear address is the program's, handed over with CLONE_CHILD_CLEARTID.
    let id = unsafe {
        kernel::thread_create(
            thread_entry(),
            record,
            record,
            THREAD_PRIORITY,
            thread_pointer,
            clear_address,
        )
    }?;
    let tid = tid_of(id);
    if start.parent_tid != 0 {
        user::store_i32(start.parent_tid, tid)?;
    }
    Ok(tid as usize)
}

#[cfg(not(test))]
fn thread_entry() -> usize {
    arch::thread_entry()
}

#[cfg(test)]
fn thread_entry() -> usize {
    0x1000
}

/// The first Rust code of a new thread, called by the architecture's trampoline with the start
/// record. Stores the id where asked, runs the function, and ends the thread.
///
/// # Safety
///
/// `start` must point at the record `clone` wrote; only the trampoline calls this.
pub unsafe extern "C" fn thread_start(start: *const ThreadStart) -> ! {
    // SAFETY: the trampoline passes the record `clone` placed at this thread's stack top.
    let start = unsafe { start.read() };
    // SAFETY: re-setting the clear address the kernel was already given, to learn our id.
    let tid = match unsafe { kernel::thread_self(start.clear_address) } {
        Ok(id) => tid_of(id),
        Err(_) => 0,
    };
    if start.parent_tid != 0 {
        let _ = user::store_i32(start.parent_tid, tid);
    }
    if start.child_tid != 0 {
        let _ = user::store_i32(start.child_tid, tid);
    }
    if start.thread_pointer != 0 {
        THREADS.lock().insert(ThreadRecord {
            pointer: start.thread_pointer,
            tid,
            signal_mask: start.signal_mask,
            name: [0; THREAD_NAME_SIZE],
        });
    }
    // SAFETY: musl passed a function of this type to `__clone`.
    let function: extern "C" fn(usize) -> i32 = unsafe { core::mem::transmute(start.function) };
    let _status = function(start.argument);
    forget_self();
    // SAFETY: the stack belongs to the program, which frees it after the join; nothing of
    // this thread runs after the call.
    unsafe { kernel::thread_exit(0, 0) }
}

/// `exit`: ends the calling thread; the kernel clears its clear-on-exit address.
pub fn exit_thread() -> ! {
    forget_self();
    // SAFETY: no range is unmapped; the thread simply ends.
    unsafe { kernel::thread_exit(0, 0) }
}

/// `exit_group`: reports unsupported calls, closes every descriptor (so file VFSes free what
/// the entity held open), then ends the entity with the low 8 bits of `status`, as a Linux
/// parent would see them.
pub fn exit_group(status: i32) -> ! {
    unsupported::print_report();
    crate::files::close_all();
    kernel::entity_exit(status & 0xff)
}

/// musl's `__unmapself`: ends the calling thread and has the kernel unmap its stack once it no
/// longer runs there.
///
/// # Safety
///
/// Nothing may use `base..base + size` afterwards; the caller runs on that stack.
pub unsafe fn unmap_self(base: usize, size: usize) -> ! {
    forget_self();
    memory::forget(base, size);
    // SAFETY: the caller hands the range over; the kernel unmaps it only after the thread ends.
    unsafe { kernel::thread_exit(base, size) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_keeps_a_record_per_thread_pointer() {
        let record = |pointer, tid| ThreadRecord {
            pointer,
            tid,
            signal_mask: 0,
            name: [0; THREAD_NAME_SIZE],
        };
        let mut table = std::boxed::Box::new(ThreadTable::new());
        assert!(table.insert(record(0x1000, 5)));
        assert!(table.insert(record(0x2000, 6)));
        assert_eq!(table.get(0x1000).map(|found| found.tid), Some(5));
        assert!(table.contains(6));
        assert!(table.update(0x2000, |found| found.signal_mask = 0b100));
        assert!(!table.update(0x3000, |found| found.signal_mask = 0b100));
        assert_eq!(
            table.get(0x2000).map(|found| found.signal_mask),
            Some(0b100)
        );
        // A new thread reusing a freed thread's memory replaces it.
        assert!(table.insert(record(0x1000, 9)));
        assert_eq!(table.get(0x1000).map(|found| found.tid), Some(9));
        assert!(!table.contains(5));
        assert_eq!(table.remove(0x1000).map(|found| found.tid), Some(9));
        assert_eq!(table.get(0x1000), None);
        assert_eq!(table.get(0x2000).map(|found| found.tid), Some(6));
        assert_eq!(table.remove(0x3000), None);
        for index in 1..THREAD_LIMIT {
            assert!(table.insert(record(0x10_0000 + index * 0x1000, index as i32 + 100)));
        }
        assert!(!table.insert(record(0x9999_0000, 1)));
    }

    #[test]
    fn ids_are_never_zero() {
        assert_eq!(tid_of(0), 1);
        assert_eq!(tid_of(41), 42);
    }

    #[test]
    fn clone_needs_a_thread_and_writes_the_start_record() {
        let before = unsupported::counted(libc::SYS_clone);
        assert_eq!(
            clone(1, 0x1000, libc::SIGCHLD, 0, 0, 0, 0),
            Err(Errno::ENOSYS)
        );
        assert_eq!(unsupported::counted(libc::SYS_clone), before + 1);
        let flags = THREAD_FLAGS | libc::CLONE_SETTLS | libc::CLONE_PARENT_SETTID;
        assert_eq!(clone(0, 0x1000, flags, 0, 0, 0, 0), Err(Errno::EINVAL));
        // The fake kernel creates no thread and answers THREAD_CREATE with ENOSYS; the record
        // is written all the same, at the aligned top.
        let mut stack = [0u64; 64];
        let top = stack.as_mut_ptr() as usize + core::mem::size_of_val(&stack) - 8;
        assert_eq!(
            clone(0x1234, top, flags, 7, 0, 0x5000, 0),
            Err(Errno::ENOSYS)
        );
        let record = ((top & !15) - START_SIZE) as *const ThreadStart;
        // SAFETY: the record lies inside `stack`, written by `clone` above.
        let record = unsafe { record.read() };
        assert_eq!((record.function, record.argument), (0x1234, 7));
        assert_eq!(record.thread_pointer, 0x5000);
        assert_eq!(record.clear_address, 0);
    }
}
