//! The demo's server: answers Echo and SystemTest requests on its endpoint.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use septa_interfaces::{echo, system_test};
use septa_runtime::println;

septa_runtime::entry!(main);

struct Echo;

/// Wrapping sum of `data` as little-endian 64-bit words, the last one zero-padded: the
/// `Echo.transfer` checksum.
fn word_checksum(data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(8);
    let sum = (&mut words).fold(0u64, |sum, word| {
        // `chunks_exact(8)` yields 8-byte slices; the fallback is never taken.
        sum.wrapping_add(u64::from_le_bytes(word.try_into().unwrap_or([0; 8])))
    });
    let mut tail = [0u8; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    sum.wrapping_add(u64::from_le_bytes(tail))
}

impl echo::EchoServer for Echo {
    fn ping(&mut self, _sender: u32, value: u64) -> Result<u64, u32> {
        Ok(value)
    }

    fn greet(&mut self, sender: u32, name: &str) -> Result<String, u32> {
        Ok(format!("hello, {name} (from entity {sender})"))
    }

    fn add(&mut self, _sender: u32, left: i64, right: i64) -> Result<i64, u32> {
        Ok(left.wrapping_add(right))
    }

    fn open(&mut self, _sender: u32, path: &str, flags: u32) -> Result<u64, u32> {
        // A stand-in resource: the token is a hash of the request, enough to show the call
        // arrived intact.
        Ok(path.bytes().fold(flags as u64, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(byte as u64)
        }))
    }

    fn transfer(&mut self, _sender: u32, data: &[u8]) -> Result<echo::TransferReply, u32> {
        let checksum = word_checksum(data);
        Ok(echo::TransferReply {
            length: data.len() as u64,
            checksum,
        })
    }
}

impl system_test::SystemTestServer for Echo {
    fn null(&mut self, _sender: u32) -> Result<(), u32> {
        Ok(())
    }

    fn sized(&mut self, _sender: u32, data: &[u8]) -> Result<Vec<u8>, u32> {
        Ok(data.to_vec())
    }
}

fn main() -> i32 {
    println!("[echo] serving Echo and SystemTest");
    let mut server = Echo;
    septa_runtime::ipc::serve("endpoint", |request, reply| {
        if septa_runtime::ipc::interface_of(request) == Some(system_test::INTERFACE_ID) {
            system_test::dispatch(&mut server, request, reply)
        } else {
            echo::dispatch(&mut server, request, reply)
        }
    })
}
