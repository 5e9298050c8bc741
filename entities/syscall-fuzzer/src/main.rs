//! Makes thousands of random system calls with hostile arguments: the kernel must answer each
//! with an error or a result, never crash, never hand over memory this entity does not own.
//! Arguments: `<calls> [seed]`; a seed makes the run reproducible.
//!
//! Arguments are drawn from values that sit on boundaries: null, kernel addresses, the
//! non-canonical hole, unmapped user addresses, this entity's own read-only code, a scratch
//! buffer it owns, lengths around page and message sizes, every handle it holds and some it
//! does not. Calls that would end the entity (exit) are left out, and every timeout is short so
//! that a blocking call returns. Memory the fuzzer would need afterwards (code, stack, heap) is
//! never passed to `MEMORY_UNMAP`. At the end it prints one `[check]` line: if the kernel had
//! stopped it, or stopped altogether, the line would be missing and the test runner would count
//! it as failed.
#![no_std]
#![no_main]

use septa_abi::{decode_result, syscall};
use septa_runtime::{println, startup, system};

septa_runtime::entry!(main);

/// A scratch area the fuzzer owns, where "valid" pointers point.
const SCRATCH_SIZE: usize = 64 * 1024;
/// Where `MEMORY_MAP` and `MEMORY_UNMAP` may be aimed: nothing the fuzzer needs lives there.
const PLAYGROUND: u64 = 0x0000_4000_0000_0000;

struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<T: Copy>(&mut self, choices: &[T]) -> T {
        choices[(self.next() % choices.len() as u64) as usize]
    }
}

fn main() -> i32 {
    let calls: u64 = startup::arguments()
        .get(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(5000);
    let scratch = match system::map_memory(
        0,
        SCRATCH_SIZE,
        septa_abi::protection::READ | septa_abi::protection::WRITE,
    ) {
        Ok(address) => address as u64,
        Err(error) => {
            println!(
                "[check] FAIL syscall fuzz: no scratch memory: {}",
                error.description()
            );
            return 1;
        }
    };
    let code = main as *const () as u64;
    let pointers = [
        0,
        8,
        0xfff,
        0x10_0000, // the start-up block: readable, not writable
        code,
        scratch,
        scratch + SCRATCH_SIZE as u64 - 32,
        scratch + SCRATCH_SIZE as u64 - 1,
        scratch + 4095,
        PLAYGROUND,
        0x0000_7fff_ffff_f000,
        0x0000_8000_0000_0000,
        0xffff_8000_0000_0000,
        0xffff_ffff_8020_0000,
        u64::MAX - 7,
    ];
    let lengths = [
        0,
        1,
        31,
        32,
        33,
        4095,
        4096,
        4097,
        16 * 1024,
        16 * 1024 + 32,
        1 << 20,
        u64::MAX,
    ];
    let handles = [0, 1, 2, 3, 4, 5, 6, 99, u32::MAX as u64, u64::MAX];
    let numbers = [
        syscall::CONSOLE_WRITE,
        syscall::THREAD_CREATE,
        syscall::YIELD,
        syscall::CALL,
        syscall::RECEIVE,
        syscall::REPLY,
        syscall::REPLY_RECEIVE,
        syscall::NOTIFY,
        syscall::WAIT,
        syscall::SHARED_MEMORY_MAP,
        syscall::MONITOR_CHECK,
        syscall::ENDPOINT_WATCH,
        syscall::SLEEP,
        syscall::CLOCK,
        syscall::MEMORY_MAP,
        syscall::MEMORY_UNMAP,
        syscall::ENTITY_ID,
        syscall::TIMESTAMP,
        syscall::COUNT,
        9999,
        usize::MAX,
    ];
    // The driver waits on `fuzz-done`: random notifications must not reach it early.
    let finished = startup::handle("fuzz-done");
    // A seed argument makes a run reproducible; without one, each boot explores new calls.
    let seed = startup::arguments()
        .get(2)
        .and_then(|text| text.parse().ok())
        .unwrap_or_else(|| system::now() | 1);
    let mut random = Random(seed);
    let mut refused = 0u64;
    let mut answered = 0u64;
    for _ in 0..calls {
        // Fill the scratch header with a plausible or hostile message header.
        let header = septa_abi::MessageHeader {
            interface: random.pick(&[1, 2, 0xdead]),
            method: random.pick(&[0, 1, 4, 77]),
            fixed_size: random.pick(&[0, 8, 16, 1024, 1025, u32::MAX]),
            arena_size: random.pick(&[0, 6, 4096, 15 * 1024, u32::MAX]),
            handle_count: random.pick(&[0, 0, 1]),
            ..Default::default()
        };
        // SAFETY: the scratch area is this entity's own writable memory.
        unsafe { core::ptr::write_unaligned(scratch as *mut [u8; 32], header.to_bytes()) };
        let number = random.pick(&numbers);
        let mut arguments = [0u64; 5];
        for argument in arguments.iter_mut() {
            *argument = match random.next() % 4 {
                0 => random.pick(&pointers),
                1 => random.pick(&lengths),
                2 => random.pick(&handles),
                _ => random.next(),
            };
        }
        match number {
            // Short timeouts, so blocking calls return.
            syscall::CALL => arguments[4] = random.pick(&[0, 1_000, 100_000]),
            syscall::RECEIVE => arguments[3] = random.pick(&[0, 1_000, 100_000]),
            syscall::REPLY_RECEIVE => arguments[4] = random.pick(&[0, 1_000, 100_000]),
            syscall::WAIT => arguments[1] = random.pick(&[0, 1_000, 100_000]),
            syscall::SLEEP => arguments[0] = random.pick(&[0, 1, 1_000]),
            // New threads start at a stub that ends them at once without touching their
            // (arbitrary) stack: a fault would stop the whole entity.
            syscall::THREAD_CREATE => arguments[0] = system::thread_exit_entry(),
            // Memory calls stay away from the code, stack and heap this loop runs on; the huge
            // lengths check that the kernel's cost follows what is mapped, not the range.
            syscall::MEMORY_MAP => {
                arguments[0] = random.pick(&[
                    0,
                    PLAYGROUND,
                    PLAYGROUND + 4096,
                    PLAYGROUND + 1,
                    0xffff_8000_0000_0000,
                ]);
                arguments[1] = random.pick(&[0, 1, 4096, 65536, 1 << 30, 1 << 46, u64::MAX]);
            }
            syscall::MEMORY_UNMAP => {
                arguments[0] = random.pick(&[
                    PLAYGROUND,
                    PLAYGROUND + 4096,
                    PLAYGROUND + 1,
                    0x0000_5000_0000_0000,
                    0xffff_8000_0000_0000,
                ]);
                arguments[1] = random.pick(&[
                    0,
                    1,
                    4096,
                    65536,
                    1 << 30,
                    1 << 44,
                    0x1000_0000_0000,
                    u64::MAX,
                ]);
            }
            // Shared memory only into the playground.
            syscall::SHARED_MEMORY_MAP => {
                let slot = random.next() % 64;
                arguments[1] =
                    random.pick(&[PLAYGROUND + slot * 0x10_0000, 0, 0xffff_8000_0000_0000]);
            }
            // Console writes from the scratch area only, to keep the console readable.
            syscall::CONSOLE_WRITE => {
                arguments[0] = random.pick(&[0, scratch, 0xffff_ffff_8020_0000, u64::MAX - 7]);
                arguments[1] = 0;
            }
            // Receive buffers only in the scratch area or in memory the kernel must refuse.
            _ => {}
        }
        if number == syscall::NOTIFY
            && finished.is_some_and(|handle| u64::from(handle) == arguments[0])
        {
            arguments[0] = 99;
        }
        if matches!(
            number,
            syscall::RECEIVE | syscall::REPLY_RECEIVE | syscall::CALL
        ) {
            let buffer_argument = if number == syscall::RECEIVE { 1 } else { 2 };
            arguments[buffer_argument] =
                random.pick(&[scratch + 4096, 0, code, 0xffff_8000_0000_0000]);
        }
        match decode_result(raw_call(number, arguments)) {
            Ok(_) => answered += 1,
            Err(_) => refused += 1,
        }
    }
    println!(
        "[check] PASS syscall fuzz: {calls} random system calls (seed {seed}), {refused} refused with an error, {answered} answered; the kernel is still up"
    );
    if let Some(handle) = finished {
        let _ = system::notify(handle, 1);
    }
    0
}

fn raw_call(number: usize, arguments: [u64; 5]) -> isize {
    septa_runtime::system::raw(number, arguments)
}
