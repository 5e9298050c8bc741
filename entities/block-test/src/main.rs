//! The block system test: checks the virtio block driver through the Block interface, printing
//! one `[check] PASS|FAIL` line per check (read by `cargo xtask test`).
//!
//! Run as `block-test client <blocks>` with a capability `disk` to the driver and a grant of
//! `Block.*`, it checks the geometry (a disk of `<blocks>` 512-byte blocks), that a fresh disk
//! reads zeros, writes read back at the first, a middle and the last block, multi-block
//! transfers, the refusals, and flush; then waits for the intruder on the `finished`
//! notification. As `block-test intruder` it holds a capability to the driver but no grant, and
//! checks that the monitor denies its calls. The time of a 4 KiB read and write is printed as
//! an `INFO` line and never asserted (design.md, section 7).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use septa_abi::status::APPLICATION;
use septa_interfaces::CallError;
use septa_interfaces::block::BlockClient;
use septa_runtime::ipc::Endpoint;
use septa_runtime::{println, startup, system};

septa_runtime::entry!(main);

/// Bytes per block.
const BLOCK_SIZE: usize = 512;
/// Most blocks one `Block.read` returns.
const MAXIMUM_READ_BLOCKS: u32 = 24;
/// The status of a refused range or length: `APPLICATION + EINVAL`.
const INVALID: CallError = CallError::Status(APPLICATION + 22);
/// The bit the intruder sets on `finished` when it is done.
const INTRUDER_BIT: u64 = 1;
/// How long the client waits for the intruder.
const INTRUDER_TIMEOUT: u64 = 30_000_000_000;
/// Rounds of the 4 KiB timing.
const TIMING_ROUNDS: u64 = 32;
/// Checks the client prints.
const CLIENT_PLAN: usize = 16;
/// Checks the intruder prints.
const INTRUDER_PLAN: usize = 1;

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

/// `count` blocks of a pattern that differs from block to block and from `seed` to `seed`,
/// starting with the block's number so that a block read from the wrong place shows.
fn pattern(first: u64, count: usize, seed: u8) -> Vec<u8> {
    let mut data = vec![0u8; count * BLOCK_SIZE];
    for (index, block) in data.chunks_exact_mut(BLOCK_SIZE).enumerate() {
        let number = first + index as u64;
        for (offset, byte) in block.iter_mut().enumerate() {
            *byte = (number as usize * 31 + offset * 7) as u8 ^ seed;
        }
        block[..8].copy_from_slice(&number.to_le_bytes());
    }
    data
}

/// A short description of a read's result, for failure details.
fn describe(result: &Result<Vec<u8>, CallError>) -> alloc::string::String {
    match result {
        Ok(data) => alloc::format!(
            "{} bytes, first {:02x?}",
            data.len(),
            &data[..data.len().min(16)]
        ),
        Err(error) => alloc::format!("{error:?}"),
    }
}

fn main() -> i32 {
    let arguments = startup::arguments();
    match arguments.get(1).copied() {
        Some("client") => {
            let blocks = arguments.get(2).and_then(|text| text.parse::<u64>().ok());
            client(blocks.unwrap_or(0))
        }
        Some("intruder") => intruder(),
        other => {
            println!("[check] FAIL block-test: unknown mode {other:?}");
            1
        }
    }
}

/// The granted client: every check of the driver, then the intruder's report.
fn client(blocks: u64) -> i32 {
    println!("[check] PLAN {CLIENT_PLAN}");
    let mut checks = Checks { failed: 0 };
    let Some(endpoint) = Endpoint::named("disk") else {
        println!("[check] FAIL setup: no capability named 'disk'");
        return 1;
    };
    if blocks < 2 * u64::from(MAXIMUM_READ_BLOCKS) + 2000 + TIMING_ROUNDS * 8 {
        println!("[check] FAIL setup: a disk of {blocks} blocks is too small for these checks");
        return 1;
    }
    let mut disk = BlockClient::new(endpoint);

    let information = disk.information();
    checks.check(
        "block: information reports 512-byte blocks, the disk's size, writable",
        information.as_ref().is_ok_and(|information| {
            information.block_size == BLOCK_SIZE as u32
                && information.block_count == blocks
                && information.read_only == 0
        }),
        format_args!("{information:?}, expected {blocks} blocks"),
    );

    fresh_disk(&mut checks, &mut disk, blocks);
    single_blocks(&mut checks, &mut disk, blocks);
    multiple_blocks(&mut checks, &mut disk);
    refusals(&mut checks, &mut disk, blocks);

    let flush = disk.flush();
    checks.check(
        "block: flush succeeds",
        flush.is_ok(),
        format_args!("{flush:?}"),
    );
    let again = disk.read(0, 1);
    checks.check(
        "block: the driver still serves after refused requests",
        again.as_deref() == Ok(pattern(0, 1, 0x5a).as_slice()),
        format_args!("{}", describe(&again)),
    );
    timing(&mut disk);

    let reported = match startup::handle("finished") {
        Some(finished) => system::wait(finished, INTRUDER_TIMEOUT),
        None => Err(septa_abi::Error::BadHandle),
    };
    checks.check(
        "block: the intruder reported",
        reported.is_ok_and(|bits| bits & INTRUDER_BIT != 0),
        format_args!("{reported:?}"),
    );
    checks.failed
}

/// A blank disk reads as zeros, at its start, in the middle and at its end.
fn fresh_disk(checks: &mut Checks, disk: &mut BlockClient<Endpoint>, blocks: u64) {
    let zeros = vec![0u8; MAXIMUM_READ_BLOCKS as usize * BLOCK_SIZE];
    let first = disk.read(0, MAXIMUM_READ_BLOCKS);
    let middle = disk.read(blocks / 2, MAXIMUM_READ_BLOCKS);
    let last = disk.read(blocks.saturating_sub(1), 1);
    checks.check(
        "block: a fresh disk reads zeros",
        first.as_deref() == Ok(zeros.as_slice())
            && middle.as_deref() == Ok(zeros.as_slice())
            && last.as_deref() == Ok(&zeros[..BLOCK_SIZE]),
        format_args!(
            "first: {}; middle: {}; last: {}",
            describe(&first),
            describe(&middle),
            describe(&last)
        ),
    );
}

/// One block written and read back at the first, a middle and the last block; neighbours keep
/// their zeros.
fn single_blocks(checks: &mut Checks, disk: &mut BlockClient<Endpoint>, blocks: u64) {
    let middle = blocks / 2;
    let last = blocks.saturating_sub(1);
    for (name, block) in [("first", 0), ("middle", middle), ("last", last)] {
        let data = pattern(block, 1, 0x5a);
        let written = disk.write(block, &data);
        let read = disk.read(block, 1);
        checks.check(
            &alloc::format!("block: a write to the {name} block reads back"),
            written.is_ok() && read.as_deref() == Ok(data.as_slice()),
            format_args!("write {written:?}, read {}", describe(&read)),
        );
    }
    let zero = vec![0u8; BLOCK_SIZE];
    let neighbours = [
        disk.read(1, 1),
        disk.read(middle - 1, 1),
        disk.read(middle + 1, 1),
        disk.read(last - 1, 1),
    ];
    checks.check(
        "block: single-block writes leave their neighbours alone",
        neighbours
            .iter()
            .all(|read| read.as_deref() == Ok(zero.as_slice())),
        format_args!("{:?}", neighbours.iter().map(describe).collect::<Vec<_>>()),
    );
}

/// 24 blocks in one write and one read; single reads of its blocks agree.
fn multiple_blocks(checks: &mut Checks, disk: &mut BlockClient<Endpoint>) {
    let first = 1000;
    let data = pattern(first, MAXIMUM_READ_BLOCKS as usize, 0xc3);
    let written = disk.write(first, &data);
    let read = disk.read(first, MAXIMUM_READ_BLOCKS);
    checks.check(
        "block: a 24-block write reads back in one 24-block read",
        written.is_ok() && read.as_deref() == Ok(data.as_slice()),
        format_args!("write {written:?}, read {}", describe(&read)),
    );
    let tenth = disk.read(first + 10, 1);
    checks.check(
        "block: a block of a multi-block write reads back alone",
        tenth.as_deref() == Ok(&data[10 * BLOCK_SIZE..11 * BLOCK_SIZE]),
        format_args!("{}", describe(&tenth)),
    );
    let overwrite = pattern(first + 4, 2, 0x77);
    let written = disk.write(first + 4, &overwrite);
    let read = disk.read(first + 3, 4);
    let mut expected = data[3 * BLOCK_SIZE..7 * BLOCK_SIZE].to_vec();
    expected[BLOCK_SIZE..3 * BLOCK_SIZE].copy_from_slice(&overwrite);
    checks.check(
        "block: an overwrite inside a written range changes only its blocks",
        written.is_ok() && read.as_deref() == Ok(expected.as_slice()),
        format_args!("write {written:?}, read {}", describe(&read)),
    );
}

/// Ranges past the end, counts of 0 and too many blocks, and lengths that are not whole blocks
/// are `EINVAL`.
fn refusals(checks: &mut Checks, disk: &mut BlockClient<Endpoint>, blocks: u64) {
    let past_end = [
        disk.read(blocks, 1).map(drop),
        disk.read(blocks - 1, 2).map(drop),
        disk.read(blocks - 23, MAXIMUM_READ_BLOCKS).map(drop),
        disk.read(u64::MAX, 1).map(drop),
        disk.read(u64::MAX - 1, MAXIMUM_READ_BLOCKS).map(drop),
    ];
    checks.check(
        "block: reads past the end are EINVAL",
        past_end.iter().all(|result| *result == Err(INVALID)),
        format_args!("{past_end:?}"),
    );
    let counts = [
        disk.read(0, 0).map(drop),
        disk.read(0, MAXIMUM_READ_BLOCKS + 1).map(drop),
        disk.read(0, u32::MAX).map(drop),
    ];
    checks.check(
        "block: reads of 0 blocks or more than 24 are EINVAL",
        counts.iter().all(|result| *result == Err(INVALID)),
        format_args!("{counts:?}"),
    );
    let partial = [
        disk.write(2, &[0xee; 100]),
        disk.write(2, &[0xee; BLOCK_SIZE + 1]),
        disk.write(2, &[0xee; BLOCK_SIZE - 1]),
        disk.write(2, &[]),
    ];
    checks.check(
        "block: writes of partial or no blocks are EINVAL",
        partial.iter().all(|result| *result == Err(INVALID)),
        format_args!("{partial:?}"),
    );
    let block = vec![0xee; 2 * BLOCK_SIZE];
    let outside = [
        disk.write(blocks - 1, &block),
        disk.write(blocks, &block[..BLOCK_SIZE]),
        disk.write(u64::MAX, &block[..BLOCK_SIZE]),
    ];
    let untouched = disk.read(blocks - 1, 1);
    let kept = pattern(blocks - 1, 1, 0x5a);
    let two = disk.read(2, 1);
    checks.check(
        "block: writes past the end are EINVAL and change nothing",
        outside.iter().all(|result| *result == Err(INVALID))
            && untouched.as_deref() == Ok(kept.as_slice())
            && two.as_deref() == Ok(&[0u8; BLOCK_SIZE][..]),
        format_args!(
            "{outside:?}; last block: {}; block 2: {}",
            describe(&untouched),
            describe(&two)
        ),
    );
}

/// Prints the mean time of a 4 KiB write and read as the client sees it: information only.
fn timing(disk: &mut BlockClient<Endpoint>) {
    let blocks = 4096 / BLOCK_SIZE;
    let data = pattern(2000, blocks, 0x11);
    let start = system::now();
    let mut failures = 0;
    for round in 0..TIMING_ROUNDS {
        failures += usize::from(disk.write(2000 + round * blocks as u64, &data).is_err());
    }
    let written = system::now();
    for round in 0..TIMING_ROUNDS {
        failures += usize::from(
            disk.read(2000 + round * blocks as u64, blocks as u32)
                .is_err(),
        );
    }
    let read = system::now();
    println!(
        "[block-test] INFO 4 KiB through the driver, mean of {TIMING_ROUNDS}: write {} us, read {} us ({failures} failed; under TCG, not asserted)",
        (written - start) / TIMING_ROUNDS / 1000,
        (read - written) / TIMING_ROUNDS / 1000,
    );
}

/// An entity connected to the driver without any grant: the monitor denies every call.
fn intruder() -> i32 {
    println!("[check] PLAN {INTRUDER_PLAN}");
    let mut checks = Checks { failed: 0 };
    match Endpoint::named("disk") {
        Some(endpoint) => {
            let mut disk = BlockClient::new(endpoint);
            let information = disk.information().map(drop);
            let read = disk.read(0, 1).map(drop);
            let write = disk.write(0, &[0xff; BLOCK_SIZE]);
            let flush = disk.flush();
            checks.check(
                "block: an entity without a grant is denied by the monitor",
                [&information, &read, &write, &flush]
                    .iter()
                    .all(|result| result.as_ref().is_err_and(CallError::is_denied)),
                format_args!("{information:?} {read:?} {write:?} {flush:?}"),
            );
        }
        None => checks.check(
            "block: an entity without a grant is denied by the monitor",
            false,
            format_args!("no capability named 'disk'"),
        ),
    }
    match startup::handle("finished").map(|handle| system::notify(handle, INTRUDER_BIT)) {
        Some(Ok(())) => {}
        other => println!("[check] FAIL report: could not notify 'finished': {other:?}"),
    }
    checks.failed
}
