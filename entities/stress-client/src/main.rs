//! Makes many calls to the echo server, checking each answer, then signals the test driver.
//! Arguments: `<calls> <bit>`.
#![no_std]
#![no_main]

use septa_interfaces::echo::EchoClient;
use septa_runtime::ipc::Endpoint;
use septa_runtime::{println, startup, system};

septa_runtime::entry!(main);

fn main() -> i32 {
    let arguments = startup::arguments();
    let calls: u64 = arguments
        .get(1)
        .and_then(|text| text.parse().ok())
        .unwrap_or(100_000);
    let bit: u32 = arguments
        .get(2)
        .and_then(|text| text.parse().ok())
        .unwrap_or(0);
    let name = startup::name();
    let Some(endpoint) = Endpoint::named("echo") else {
        println!("[check] FAIL stress {name}: no capability named 'echo'");
        return 1;
    };
    let mut echo = EchoClient::new(endpoint);
    let start = system::now();
    let mut wrong = 0u64;
    let mut failed = 0u64;
    for call in 0..calls {
        let value = call ^ ((bit as u64) << 40);
        match echo.ping(value) {
            Ok(answer) if answer == value => {}
            Ok(_) => wrong += 1,
            Err(_) => failed += 1,
        }
    }
    let elapsed = system::now().saturating_sub(start);
    if wrong == 0 && failed == 0 {
        println!(
            "[check] PASS stress: client {bit} made {calls} calls, every answer right ({} ns/call)",
            elapsed / calls.max(1)
        );
    } else {
        println!(
            "[check] FAIL stress: client {bit}: {wrong} wrong answers, {failed} failed calls of {calls}"
        );
    }
    if let Some(done) = startup::handle("done") {
        let _ = system::notify(done, 1 << bit);
    }
    0
}
