//! A generated client and dispatcher allocate nothing per call once built (for integer-only
//! methods): the benchmark and stress paths stay free of the allocator.
//!
//! A counting global allocator is installed in this test binary only, which holds one test so
//! that no other thread allocates while it counts.

mod common;

use common::{Loopback, Served};
use septa_interfaces::echo::EchoClient;
use septa_interfaces::system_test::SystemTestClient;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so the
// `GlobalAlloc` contract holds exactly as it does for `System`.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, which `System` shares.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: `pointer` came from `alloc` above, that is from `System`, with `layout`.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn calls_allocate_nothing() {
    let mut test = SystemTestClient::new(Loopback::new(Served::SystemTest));
    let mut echo = EchoClient::new(Loopback::new(Served::Echo));
    let data = [7u8; 4096];
    // The first call may allocate lazily initialised test-harness state; count from the second.
    test.null().expect("null");
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..100_000 {
        test.null().expect("null");
    }
    for value in 0..1000 {
        assert_eq!(echo.ping(value), Ok(value));
        assert_eq!(echo.add(value as i64, 1), Ok(value as i64 + 1));
        assert_eq!(echo.transfer(&data).map(|reply| reply.length), Ok(4096));
    }
    assert_eq!(ALLOCATIONS.load(Ordering::Relaxed) - before, 0);
    assert_eq!(test.into_transport().server.null_calls, 100_001);
}
