//! The demo's client. As `client` it uses the echo server as granted; as `intruder` it also
//! tries a method the policy does not grant it, and reports the monitor's denial.
#![no_std]
#![no_main]

use septa_interfaces::echo::EchoClient;
use septa_runtime::ipc::Endpoint;
use septa_runtime::{println, startup};

septa_runtime::entry!(main);

fn main() -> i32 {
    let intruder = startup::arguments().get(1) == Some(&"intruder");
    let name = if intruder { "intruder" } else { "client" };
    let Some(endpoint) = Endpoint::named("echo") else {
        println!("[{name}] no capability named 'echo'");
        return 2;
    };
    let mut echo = EchoClient::new(endpoint);
    match echo.ping(42) {
        Ok(value) => println!("[{name}] Echo.ping(42) -> {value}: granted"),
        Err(error) => {
            println!("[{name}] Echo.ping(42) failed: {error}");
            return 1;
        }
    }
    if intruder {
        match echo.greet("intruder") {
            Err(error) if error.is_denied() => {
                println!(
                    "[{name}] Echo.greet -> {error}: the monitor denied it, as the policy says"
                );
                0
            }
            Ok(answer) => {
                println!(
                    "[{name}] Echo.greet -> '{answer}': granted, but the policy should deny it"
                );
                1
            }
            Err(error) => {
                println!("[{name}] Echo.greet failed unexpectedly: {error}");
                1
            }
        }
    } else {
        let mut failures = 0;
        match echo.greet("Septa") {
            Ok(answer) => println!("[{name}] Echo.greet(\"Septa\") -> \"{answer}\": granted"),
            Err(error) => {
                println!("[{name}] Echo.greet failed: {error}");
                failures += 1;
            }
        }
        match echo.add(40, 2) {
            Ok(sum) => println!("[{name}] Echo.add(40, 2) -> {sum}: granted"),
            Err(error) => {
                println!("[{name}] Echo.add failed: {error}");
                failures += 1;
            }
        }
        match echo.open("/etc/motd", 0) {
            Ok(token) => println!(
                "[{name}] Echo.open(\"/etc/motd\") -> token {token:#x}: granted (path under /etc/)"
            ),
            Err(error) => {
                println!("[{name}] Echo.open(\"/etc/motd\") failed: {error}");
                failures += 1;
            }
        }
        match echo.open("/secret/key", 0) {
            Err(error) if error.is_denied() => {
                println!(
                    "[{name}] Echo.open(\"/secret/key\") -> {error}: outside the granted prefix"
                )
            }
            other => {
                println!(
                    "[{name}] Echo.open(\"/secret/key\") -> {other:?}: should have been denied"
                );
                failures += 1;
            }
        }
        println!("[{name}] scenario over");
        failures
    }
}
