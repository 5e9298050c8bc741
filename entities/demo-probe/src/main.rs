//! Tries to reach memory the entity does not own. Its argument names the attempt; it makes it
//! when the first SystemTest request arrives, so the caller sees the outcome: the entity is
//! stopped by the kernel (the call fails with "server gone") or, if isolation were broken, it
//! replies.
//!
//! Attempts: `read-kernel` (the kernel image), `read-physical` (the kernel's direct map of
//! RAM), `read-other` (an address another entity has mapped), `write-code` (its own code),
//! `execute-data` (its own stack), `power-off` (the machine's exit device, which only the kernel
//! may use), `now` (at start, without waiting: the demo's faulty entity).
//!
//! With the argument `shared` it is instead the shared-memory reader: it maps the region named
//! `bulk` read-only at [`SHARED_ADDRESS`], answers `sized(data)` with the region's first
//! `data.len()` bytes, and answers `sized(b"write")` by trying to write the region (which must
//! stop it: its capability grants reading only).
#![no_std]
#![no_main]

extern crate alloc;

mod arch;

use alloc::vec::Vec;
use septa_interfaces::system_test;
use septa_runtime::{println, startup};

septa_runtime::entry!(main);

/// Where the shared-memory reader maps the region `bulk`.
pub const SHARED_ADDRESS: usize = 0x0000_3000_0000_0000;

/// Where the test driver maps memory holding a secret; never mapped here.
pub const OTHER_ENTITY_ADDRESS: usize = 0x0000_2000_0000_0000;

fn attempt(kind: &str) -> u64 {
    let name = "probe";
    println!("[{name}] attempting {kind}");
    // SAFETY: none of these accesses is sound: each is meant to fault, and the kernel stops
    // this entity. Reaching the line after one means isolation failed.
    unsafe {
        match kind {
            "read-kernel" => core::ptr::read_volatile(0xffff_ffff_8040_0000usize as *const u64),
            "read-physical" => core::ptr::read_volatile(0xffff_8000_0010_0000usize as *const u64),
            "read-other" => core::ptr::read_volatile(OTHER_ENTITY_ADDRESS as *const u64),
            "write-code" => {
                let code = attempt as *const () as *mut u64;
                core::ptr::write_volatile(code, 0xcc);
                1
            }
            "execute-data" => {
                // Through black_box, so the bytes really are on the stack, not a constant in
                // read-only data.
                let stack_code = core::hint::black_box(arch::RETURN_INSTRUCTION);
                let function: extern "C" fn() = core::mem::transmute(stack_code.as_ptr());
                function();
                1
            }
            "power-off" => {
                arch::power_off();
                1
            }
            _ => {
                println!("[{name}] unknown attempt '{kind}'");
                0
            }
        }
    }
}

struct Probe {
    kind: &'static str,
    shared_size: usize,
}

impl system_test::SystemTestServer for Probe {
    fn null(&mut self, _sender: u32) -> Result<(), u32> {
        let value = attempt(self.kind);
        println!(
            "[probe] {} succeeded (read {value:#x}): isolation is broken",
            self.kind
        );
        Ok(())
    }

    fn sized(&mut self, _sender: u32, data: &[u8]) -> Result<Vec<u8>, u32> {
        if self.shared_size == 0 {
            return Ok(data.to_vec());
        }
        if data == b"write" {
            // SAFETY: the region is mapped read-only; this write must fault and stop the entity.
            unsafe { core::ptr::write_volatile(SHARED_ADDRESS as *mut u8, 1) };
            println!("[probe] wrote to a read-only shared region: isolation is broken");
            return Ok(Vec::new());
        }
        let length = data.len().min(self.shared_size);
        // SAFETY: the kernel mapped `shared_size` readable bytes at SHARED_ADDRESS at start.
        let region = unsafe { core::slice::from_raw_parts(SHARED_ADDRESS as *const u8, length) };
        Ok(region.to_vec())
    }
}

fn main() -> i32 {
    let kind = startup::arguments()
        .get(1)
        .copied()
        .unwrap_or("read-kernel");
    if kind == "now" {
        attempt("read-kernel");
        println!("[probe] still running after touching kernel memory: isolation is broken");
        return 1;
    }
    let mut shared_size = 0;
    if kind == "shared" {
        let handle = startup::handle("bulk").unwrap_or(0);
        match septa_runtime::system::map_shared_memory(handle, SHARED_ADDRESS) {
            Ok(size) => shared_size = size,
            Err(error) => {
                println!(
                    "[probe] cannot map the shared region: {}",
                    error.description()
                );
                return 1;
            }
        }
    }
    let mut probe = Probe { kind, shared_size };
    septa_runtime::ipc::serve("endpoint", |request, reply| {
        system_test::dispatch(&mut probe, request, reply)
    })
}
