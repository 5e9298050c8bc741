//! Measures IPC round trips through the monitor: an empty message (SystemTest.null) and a
//! 4 KiB one (Echo.transfer). Prints `BENCH <name> <iterations> <total nanoseconds>`, the
//! format `cargo xtask bench` reads. Argument: iterations (default 20000).
#![no_std]
#![no_main]

extern crate alloc;

use septa_interfaces::echo::EchoClient;
use septa_interfaces::system_test::SystemTestClient;
use septa_runtime::ipc::Endpoint;
use septa_runtime::{println, startup, system};

septa_runtime::entry!(main);

fn main() -> i32 {
    let iterations: u64 = startup::arguments()
        .get(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(20_000);
    let Some(endpoint) = Endpoint::named("echo") else {
        println!("[bench] no capability named 'echo'");
        return 1;
    };
    let mut null = SystemTestClient::new(endpoint);
    let mut echo = EchoClient::new(endpoint);
    for _ in 0..iterations / 10 {
        let _ = null.null();
    }
    let start = system::now();
    for _ in 0..iterations {
        if null.null().is_err() {
            println!("[bench] ipc-null failed");
            return 1;
        }
    }
    let elapsed = system::now() - start;
    println!("BENCH ipc-null {iterations} {elapsed}");
    let data = alloc::vec![0x5au8; 4096];
    let start = system::now();
    for _ in 0..iterations {
        if echo.transfer(&data).is_err() {
            println!("[bench] ipc-4k failed");
            return 1;
        }
    }
    let elapsed = system::now() - start;
    println!("BENCH ipc-4k {iterations} {elapsed}");
    let start = system::now();
    for _ in 0..iterations {
        let _ = system::entity_id();
    }
    let elapsed = system::now() - start;
    println!("BENCH septa-null-syscall {iterations} {elapsed}");
    // Calibration, as in the Linux program: under `-icount shift=0` this must read 2 ns per
    // iteration, showing that nanoseconds here are guest instructions.
    let loops = iterations * 500;
    let start = system::now();
    system::instruction_loop(loops);
    let elapsed = system::now() - start;
    println!("BENCH loop-2insn {loops} {elapsed}");
    0
}
