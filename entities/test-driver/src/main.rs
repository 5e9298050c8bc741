//! The system-test driver: checks IPC, the monitor, isolation and kernel limits from inside a
//! running system, printing one `[check] PASS|FAIL` line per check (read by `cargo xtask test`).
#![no_std]
#![no_main]

extern crate alloc;

use core::sync::atomic::{AtomicU64, Ordering};
use septa_abi::{Error, MessageHeader, TIMEOUT_NEVER, layout, protection};
use septa_interfaces::CallError;
use septa_interfaces::echo::{self, EchoClient};
use septa_interfaces::system_test::SystemTestClient;
use septa_runtime::ipc::{self, Endpoint};
use septa_runtime::{println, startup, system};

septa_runtime::entry!(main);

/// Where the driver maps the shared region `bulk`.
const SHARED_ADDRESS: usize = 0x0000_3000_0000_0000;
/// Where the driver keeps a secret that `demo-probe read-other` tries to read.
const SECRET_ADDRESS: usize = 0x0000_2000_0000_0000;
/// Probe entities and the attempt each makes.
const PROBES: [&str; 6] = [
    "read-kernel",
    "read-physical",
    "read-other",
    "write-code",
    "execute-data",
    "power-off",
];
/// Stress clients that report through the `done` notification.
const STRESS_CLIENTS: u64 = 2;
/// Checks this driver prints, plus one per stress client and one from the system-call fuzzer.
const PLAN: usize = 32 + PROBES.len() + STRESS_CLIENTS as usize + 1;

struct Checks {
    failed: i32,
}

impl Checks {
    fn check(&mut self, name: &str, passed: bool, detail: core::fmt::Arguments<'_>) {
        if passed {
            println!("[check] PASS {name}");
        } else {
            println!("[check] FAIL {name}: {detail}");
            self.failed += 1;
        }
    }
}

/// Builds a raw message: header, fixed part, arena.
fn raw_message(header: MessageHeader, fixed: &[u8], arena: &[u8]) -> alloc::vec::Vec<u8> {
    let mut message = alloc::vec::Vec::from(header.to_bytes());
    message.extend_from_slice(fixed);
    message.extend_from_slice(arena);
    message
}

fn greet_header(fixed_size: u32, arena_size: u32) -> MessageHeader {
    MessageHeader {
        interface: echo::INTERFACE_ID,
        method: echo::GREET_ID,
        fixed_size,
        arena_size,
        ..MessageHeader::default()
    }
}

fn raw_call(endpoint: Endpoint, message: &[u8]) -> Result<alloc::vec::Vec<u8>, Error> {
    let mut reply = alloc::vec![0u8; septa_abi::MESSAGE_MAX_SIZE];
    let length = ipc::call(endpoint.handle(), message, &mut reply, TIMEOUT_NEVER)?;
    reply.truncate(length);
    Ok(reply)
}

fn main() -> i32 {
    println!("[check] PLAN {PLAN}");
    let mut checks = Checks { failed: 0 };
    let me = system::entity_id();
    let Some(endpoint) = Endpoint::named("echo") else {
        println!("[check] FAIL setup: no capability named 'echo'");
        return 1;
    };
    let mut echo = EchoClient::new(endpoint);

    // Grants, and the identity the kernel stamps.
    let ping = echo.ping(7);
    checks.check(
        "ipc: granted call returns the answer",
        ping == Ok(7),
        format_args!("{ping:?}"),
    );
    checks.check(
        "identity: startup block and kernel agree",
        startup::entity_id() == me,
        format_args!("{} vs {me}", startup::entity_id()),
    );
    let greeting = echo.greet("driver");
    let expected = alloc::format!("hello, driver (from entity {me})");
    checks.check(
        "identity: server sees the kernel-stamped sender",
        greeting.as_deref() == Ok(expected.as_str()),
        format_args!("{greeting:?}"),
    );
    let sum = echo.add(-5, 3);
    checks.check(
        "ipc: signed fields round-trip",
        sum == Ok(-2),
        format_args!("{sum:?}"),
    );

    // The monitor: method and field rules.
    let transfer = echo.transfer(b"not granted");
    checks.check(
        "monitor: ungranted method is denied",
        transfer.as_ref().is_err_and(CallError::is_denied),
        format_args!("{transfer:?}"),
    );
    let open = echo.open("/public/readme", 1);
    checks.check(
        "monitor: path under granted prefix is granted",
        open.is_ok(),
        format_args!("{open:?}"),
    );
    let open = echo.open("/private/key", 1);
    checks.check(
        "monitor: path outside granted prefix is denied",
        open.is_err_and(|error| error.is_denied()),
        format_args!("{open:?}"),
    );
    let open = echo.open("/public/readme", 9);
    checks.check(
        "monitor: integer outside granted range is denied",
        open.is_err_and(|error| error.is_denied()),
        format_args!("{open:?}"),
    );

    // Forged and malformed messages.
    let mut forged = greet_header(8, 6);
    forged.sender = me + 1000;
    let mut fixed = [0u8; 8];
    fixed[4..].copy_from_slice(&6u32.to_le_bytes());
    let reply = raw_call(endpoint, &raw_message(forged, &fixed, b"forger"));
    let says_me = reply.as_ref().is_ok_and(|bytes| {
        let text = alloc::string::String::from_utf8_lossy(&bytes[septa_abi::MESSAGE_HEADER_SIZE..]);
        text.contains(&alloc::format!("(from entity {me})"))
    });
    checks.check(
        "forgery: a forged sender is overwritten by the kernel",
        says_me,
        format_args!("{reply:?}"),
    );
    let oversized = raw_call(
        endpoint,
        &raw_message(
            greet_header(septa_abi::MESSAGE_FIXED_MAX as u32 + 8, 0),
            &[],
            &[],
        ),
    );
    checks.check(
        "forgery: oversized fixed part is refused",
        oversized == Err(Error::Malformed),
        format_args!("{oversized:?}"),
    );
    let oversized = raw_call(
        endpoint,
        &raw_message(greet_header(8, u32::MAX), &fixed, &[]),
    );
    checks.check(
        "forgery: oversized arena is refused",
        oversized == Err(Error::Malformed),
        format_args!("{oversized:?}"),
    );
    let mut outside = [0u8; 8];
    outside[..4].copy_from_slice(&4u32.to_le_bytes());
    outside[4..].copy_from_slice(&100u32.to_le_bytes());
    let result = raw_call(
        endpoint,
        &raw_message(greet_header(8, 6), &outside, b"forger"),
    );
    checks.check(
        "forgery: slice outside the arena is denied",
        result == Err(Error::Denied),
        format_args!("{result:?}"),
    );
    let mut with_handles = greet_header(8, 6);
    with_handles.handle_count = 3;
    let result = raw_call(endpoint, &raw_message(with_handles, &fixed, b"forger"));
    checks.check(
        "forgery: claimed handles are denied",
        result == Err(Error::Denied),
        format_args!("{result:?}"),
    );
    let unknown = MessageHeader {
        interface: 0xdead,
        ..MessageHeader::default()
    };
    let result = raw_call(endpoint, &raw_message(unknown, &[], &[]));
    checks.check(
        "forgery: unknown interface is denied",
        result == Err(Error::Denied),
        format_args!("{result:?}"),
    );
    let mut reply = [0u8; 64];
    let result = ipc::call(
        endpoint.handle(),
        unsafe_kernel_slice(),
        &mut reply,
        TIMEOUT_NEVER,
    );
    checks.check(
        "forgery: a kernel address as message is refused",
        result == Err(Error::BadAddress),
        format_args!("{result:?}"),
    );
    let result = ipc::call(
        999,
        &raw_message(greet_header(8, 6), &fixed, b"forger"),
        &mut reply,
        TIMEOUT_NEVER,
    );
    checks.check(
        "capabilities: unknown handle is refused",
        result == Err(Error::BadHandle),
        format_args!("{result:?}"),
    );
    let quiet = startup::handle("quiet").unwrap_or(0);
    let result = system::notify(quiet, 1);
    checks.check(
        "capabilities: a right not held is refused",
        result == Err(Error::NoRight),
        format_args!("{result:?}"),
    );

    // Time, threads and memory.
    let before = system::now();
    let result = system::wait(quiet, 20_000_000);
    let waited = system::now().saturating_sub(before);
    checks.check(
        "timeouts: wait on a silent notification times out",
        result == Err(Error::TimedOut) && waited >= 20_000_000,
        format_args!("{result:?} after {waited} ns"),
    );
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let spawned = septa_runtime::thread::spawn(
        || {
            for _ in 0..1000 {
                COUNTER.fetch_add(1, Ordering::Relaxed);
            }
        },
        10,
    );
    let deadline = system::now() + 2_000_000_000;
    while COUNTER.load(Ordering::Relaxed) < 1000 && system::now() < deadline {
        system::yield_now();
    }
    checks.check(
        "threads: a second thread runs to completion",
        spawned.is_ok() && COUNTER.load(Ordering::Relaxed) == 1000,
        format_args!("{spawned:?}, counter {}", COUNTER.load(Ordering::Relaxed)),
    );
    // Preemption: a thread at this thread's priority that spins without ever entering the
    // kernel. Only the timer can give the processor back; the spinner stops when told.
    static SPINS: AtomicU64 = AtomicU64::new(0);
    static STOP: AtomicU64 = AtomicU64::new(0);
    let spinner = septa_runtime::thread::spawn(
        || {
            while STOP.load(Ordering::Relaxed) == 0 {
                SPINS.fetch_add(1, Ordering::Relaxed);
            }
        },
        10,
    );
    system::yield_now();
    let spins = SPINS.load(Ordering::Relaxed);
    STOP.store(1, Ordering::Relaxed);
    checks.check(
        "scheduler: a thread that never enters the kernel is preempted by the timer",
        spinner.is_ok() && spins > 0,
        format_args!("{spinner:?}, {spins} spins before this thread ran again"),
    );
    let result = system::map_memory(
        0,
        4096,
        protection::READ | protection::WRITE | protection::EXECUTE,
    );
    checks.check(
        "W^X: writable and executable memory is refused",
        result == Err(Error::InvalidArgument),
        format_args!("{result:?}"),
    );
    let result = system::map_memory(0, 1 << 40, protection::READ | protection::WRITE);
    checks.check(
        "limits: memory beyond the entity's limit is refused",
        result == Err(Error::OutOfMemory),
        format_args!("{result:?}"),
    );
    let mut remapped = 0;
    for _ in 0..40 {
        let Ok(address) = system::map_memory(0, 1 << 20, protection::READ | protection::WRITE)
        else {
            break;
        };
        // SAFETY: the kernel just mapped this megabyte writable for this entity.
        unsafe { core::ptr::write_volatile(address as *mut u64, 1) };
        if system::unmap_memory(address, 1 << 20).is_err() {
            break;
        }
        remapped += 1;
    }
    checks.check(
        "memory: unmapped memory returns to the entity's budget",
        remapped == 40,
        format_args!("{remapped} of 40 map/unmap rounds of 1 MiB"),
    );
    let result = system::unmap_memory(0x1001, 4096);
    checks.check(
        "memory: unaligned unmap is refused",
        result == Err(Error::InvalidArgument),
        format_args!("{result:?}"),
    );
    let result = system::map_memory(0xffff_8000_0000_0000, 4096, protection::READ);
    checks.check(
        "isolation: mapping at a kernel address is refused",
        result == Err(Error::InvalidArgument),
        format_args!("{result:?}"),
    );

    // Isolation: each probe tries to reach memory it does not own, and must be stopped.
    let secret = system::map_memory(SECRET_ADDRESS, 4096, protection::READ | protection::WRITE);
    if let Ok(address) = secret {
        // SAFETY: the kernel just mapped this page writable for this entity.
        unsafe { core::ptr::write_volatile(address as *mut u64, 0x005e_c2e7) };
    }
    for probe in PROBES {
        let name = alloc::format!("probe-{probe}");
        let result = match Endpoint::named(&name) {
            Some(endpoint) => SystemTestClient::new(endpoint).null(),
            None => Err(CallError::Kernel(Error::BadHandle)),
        };
        let check = alloc::format!("isolation: {probe} stops the probe, not the system");
        checks.check(
            &check,
            result == Err(CallError::ServerGone),
            format_args!("{result:?}"),
        );
    }
    // Shared memory: written here, read by another entity through its read-only mapping.
    let text = b"septa shared memory";
    let mapped = system::map_shared_memory(startup::handle("bulk").unwrap_or(0), SHARED_ADDRESS);
    checks.check(
        "shared memory: the region maps with its size",
        mapped == Ok(4096),
        format_args!("{mapped:?}"),
    );
    if mapped.is_ok() {
        // SAFETY: the kernel just mapped 4096 writable bytes at SHARED_ADDRESS for this entity.
        unsafe {
            core::ptr::copy_nonoverlapping(text.as_ptr(), SHARED_ADDRESS as *mut u8, text.len())
        };
    }
    let mut reader = Endpoint::named("reader").map(SystemTestClient::new);
    let seen = reader.as_mut().map(|reader| reader.sized(&[0; 19]));
    checks.check(
        "shared memory: another entity reads what was written",
        matches!(&seen, Some(Ok(bytes)) if bytes == text),
        format_args!("{seen:?}"),
    );
    let wrote = reader.as_mut().map(|reader| reader.sized(b"write"));
    checks.check(
        "shared memory: a read-only mapping cannot be written",
        wrote == Some(Err(CallError::ServerGone)),
        format_args!("{wrote:?}"),
    );

    let ping = echo.ping(8);
    checks.check(
        "containment: the server still answers after the faults",
        ping == Ok(8),
        format_args!("{ping:?}"),
    );

    // Thread slots: ended threads' slots are reused, and live threads are limited.
    static FINISHED: AtomicU64 = AtomicU64::new(0);
    let mut highest = 0u32;
    let mut created = 0;
    for round in 0..200u64 {
        match septa_runtime::thread::spawn(
            || {
                FINISHED.fetch_add(1, Ordering::Relaxed);
            },
            10,
        ) {
            Ok(identity) => {
                highest = highest.max(identity);
                created += 1;
            }
            Err(_) => break,
        }
        // Same priority as this thread (an entity's threads are capped at its priority):
        // yield until the new thread has run and ended.
        let mut yields = 0;
        while FINISHED.load(Ordering::Relaxed) != round + 1 && yields < 1000 {
            system::yield_now();
            yields += 1;
        }
        if FINISHED.load(Ordering::Relaxed) != round + 1 {
            break;
        }
    }
    checks.check(
        "threads: 200 short-lived threads reuse ended threads' slots",
        created == 200 && highest < 64,
        format_args!("{created} created, highest id {highest}"),
    );
    let mut live = 0u32;
    let limit = loop {
        let result = septa_runtime::thread::spawn(
            move || {
                let _ = system::wait(quiet, TIMEOUT_NEVER);
            },
            5,
        );
        match result {
            Ok(_) => live += 1,
            Err(error) => break Some(error),
        }
        if live > 100 {
            break None;
        }
    };
    checks.check(
        "threads: live threads beyond the limit are refused",
        limit == Some(Error::OutOfMemory) && live == 63,
        format_args!("{live} created, then {limit:?}"),
    );

    // Stress: both clients report through the `done` notification.
    let done = startup::handle("done").unwrap_or(0);
    let mut bits = 0u64;
    let deadline = system::now() + 600_000_000_000;
    while bits != (1 << STRESS_CLIENTS) - 1 && system::now() < deadline {
        match system::wait(done, 1_000_000_000) {
            Ok(more) => bits |= more,
            Err(Error::TimedOut) => {}
            Err(error) => {
                println!(
                    "[driver] waiting for stress clients: {}",
                    error.description()
                );
                break;
            }
        }
    }
    checks.check(
        "stress: every client finished",
        bits == (1 << STRESS_CLIENTS) - 1,
        format_args!("bits {bits:#b}"),
    );
    // The system-call fuzzer prints its own check; wait for it so the run does not end first.
    if let Some(fuzz_done) = startup::handle("fuzz-done") {
        let _ = system::wait(fuzz_done, 600_000_000_000);
    }
    let _ = layout::fixed_size(&[]);
    println!("[driver] {} check(s) failed", checks.failed);
    checks.failed
}

/// A "message" in kernel memory: the kernel must refuse to read it.
fn unsafe_kernel_slice() -> &'static [u8] {
    // SAFETY: this slice is never read by this entity; only its address and length are passed
    // to the kernel, which must refuse them.
    unsafe { core::slice::from_raw_parts(0xffff_ffff_8020_0000usize as *const u8, 64) }
}
