//! `check` runs on the kernel's IPC path and must not allocate; a counting allocator proves it.

mod common;

use common::*;
use septa_monitor::{DenyReason, Verdict};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Allocations made by this thread. Per thread, so other tests running in parallel do not
    /// count; `const` so reading it never allocates from inside the allocator.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting allocations per thread.
struct Counting;

// SAFETY: every call is forwarded unchanged to `System`, which upholds `GlobalAlloc`'s contract;
// counting touches only a thread-local `Cell` that needs no allocation.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|count| count.set(count.get() + 1));
        // SAFETY: the caller's guarantees for `layout` are passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from `System.alloc` with this `layout`, via `alloc` above.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn check_does_not_allocate() {
    let policy = policy();
    let messages = [
        request(
            SHELL,
            FILES,
            FILE_SYSTEM,
            OPEN,
            &[Field::String("/tmp/x"), Field::U32(0)],
        ),
        request(
            SHELL,
            FILES,
            FILE_SYSTEM,
            OPEN,
            &[Field::String("/etc/x"), Field::U32(0)],
        ),
        request(
            SHELL,
            FILES,
            FILE_SYSTEM,
            OPEN,
            &[Field::String("/home/\0"), Field::U32(0)],
        ),
        request(SHELL, FILES, WIDE, WIDEST_CALLABLE, &[Field::U32(1); 256]),
        reply(FILES, SHELL, FILE_SYSTEM, READ, 0, &[Field::Bytes(b"data")]),
    ];
    let before = ALLOCATIONS.with(Cell::get);
    let verdicts = messages
        .each_ref()
        .map(|message| policy.check(&message.view()).verdict);
    let after = ALLOCATIONS.with(Cell::get);
    assert_eq!(after - before, 0, "check allocated");
    assert_eq!(
        verdicts,
        [
            Verdict::Grant,
            Verdict::Deny(DenyReason::ConditionFailed { field: 0 }),
            Verdict::Deny(DenyReason::BadString { field: 0 }),
            Verdict::Grant,
            Verdict::Grant,
        ]
    );
}
