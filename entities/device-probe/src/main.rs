//! The device system test: reaches a virtio block device through `DEVICE_READ`, `DEVICE_WRITE`
//! and `DMA_MAP`, and checks that entities without a bound device capability cannot, printing
//! one `[check] PASS|FAIL` line per check (read by `cargo xtask test`).
//!
//! Run as `device-probe driver <sectors>` with a `virtio-blk` capability, it checks the
//! transport's registers and DMA memory (the disk has `<sectors>` 512-byte sectors), then waits
//! for the other two to report on the `finished` notification. As `device-probe
//! no-capability` it holds no device capability; as `device-probe absent` it holds a
//! `virtio-net` capability that no transport backs.
#![no_std]
#![no_main]

use septa_abi::{Error, device, syscall};
use septa_runtime::{println, startup, system};

septa_runtime::entry!(main);

/// Where the driver asks for DMA memory.
const DMA_ADDRESS: u64 = 0x0000_4000_0000_0000;
/// The bit each helper sets on `finished` when it is done.
const NO_CAPABILITY_BIT: u64 = 1 << 0;
const ABSENT_BIT: u64 = 1 << 1;
/// How long the driver waits for the helpers.
const HELPER_TIMEOUT: u64 = 30_000_000_000;
/// The virtio device id of a block device.
const BLOCK_DEVICE: usize = 2;
/// Device status bit: the driver has noticed the device (virtio specification, 2.1).
const STATUS_ACKNOWLEDGE: u64 = 1;

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

fn device_read(handle: u64, offset: u64, width: u64) -> Result<usize, Error> {
    system::call(syscall::DEVICE_READ, [handle, offset, width, 0, 0])
}

fn device_write(handle: u64, offset: u64, width: u64, value: u64) -> Result<usize, Error> {
    system::call(syscall::DEVICE_WRITE, [handle, offset, width, value, 0])
}

fn dma_map(handle: u64, address: u64, length: u64) -> Result<usize, Error> {
    system::call(syscall::DMA_MAP, [handle, address, length, 0, 0])
}

fn main() -> i32 {
    let arguments = startup::arguments();
    match arguments.get(1).copied() {
        Some("driver") => {
            let sectors = arguments.get(2).and_then(|text| text.parse::<u64>().ok());
            driver(sectors.unwrap_or(0))
        }
        Some("no-capability") => {
            no_capability();
            0
        }
        Some("absent") => {
            absent();
            0
        }
        other => {
            println!("[check] FAIL device-probe: unknown mode {other:?}");
            1
        }
    }
}

/// Checks the bound transport's registers and DMA memory, then waits for the helpers.
fn driver(sectors: u64) -> i32 {
    println!("[check] PLAN 22");
    let mut checks = Checks { failed: 0 };
    let Some(handle) = startup::handle("virtio-blk") else {
        println!("[check] FAIL setup: no capability named 'virtio-blk'");
        return 1;
    };
    let handle = u64::from(handle);
    registers(&mut checks, handle, sectors);
    refusals(&mut checks, handle);
    dma(&mut checks, handle);

    let Some(finished) = startup::handle("finished") else {
        println!("[check] FAIL setup: no capability named 'finished'");
        return 1;
    };
    let read = device_read(u64::from(finished), 0, 4);
    checks.check(
        "device: a notification handle is not a device",
        read == Err(Error::BadHandle),
        format_args!("{read:?}"),
    );
    let deadline = system::now().saturating_add(HELPER_TIMEOUT);
    let mut reported = 0;
    while reported != NO_CAPABILITY_BIT | ABSENT_BIT && system::now() < deadline {
        match system::wait(finished, deadline.saturating_sub(system::now())) {
            Ok(bits) => reported |= bits,
            Err(_) => break,
        }
    }
    checks.check(
        "device: both helpers reported",
        reported == NO_CAPABILITY_BIT | ABSENT_BIT,
        format_args!("bits {reported:#b}"),
    );
    checks.failed
}

/// The header, configuration space and status register, through `DEVICE_READ`/`DEVICE_WRITE`.
fn registers(checks: &mut Checks, handle: u64, sectors: u64) {
    let magic = device_read(handle, device::MAGIC_OFFSET, 4);
    checks.check(
        "device: magic value reads through DEVICE_READ",
        magic == Ok(device::MAGIC as usize),
        format_args!("{magic:x?}"),
    );
    let version = device_read(handle, device::VERSION_OFFSET, 4);
    checks.check(
        "device: transport version is 1 or 2",
        matches!(version, Ok(1 | 2)),
        format_args!("{version:?}"),
    );
    let identity = device_read(handle, device::DEVICE_ID_OFFSET, 4);
    checks.check(
        "device: device id is a block device",
        identity == Ok(BLOCK_DEVICE),
        format_args!("{identity:?}"),
    );
    // The block configuration starts with the capacity in 512-byte sectors, a 64-bit
    // little-endian field; the configuration space takes 1-, 2- and 4-byte accesses.
    let configuration = device::CONFIGURATION_OFFSET;
    let low = device_read(handle, configuration, 4);
    let high = device_read(handle, configuration + 4, 4);
    checks.check(
        "device: capacity matches the attached disk",
        low == Ok((sectors & 0xffff_ffff) as usize) && high == Ok((sectors >> 32) as usize),
        format_args!("{low:?} {high:?}, expected {sectors} sectors"),
    );
    let half = device_read(handle, configuration, 2);
    let byte = device_read(handle, configuration + 1, 1);
    checks.check(
        "device: 2- and 1-byte reads see parts of the capacity",
        half == Ok((sectors & 0xffff) as usize) && byte == Ok((sectors >> 8 & 0xff) as usize),
        format_args!("{half:?} {byte:?}"),
    );
    let reset = device_write(handle, device::STATUS_OFFSET, 4, 0);
    let status = device_read(handle, device::STATUS_OFFSET, 4);
    checks.check(
        "device: writing status 0 resets the device and reads back 0",
        reset == Ok(0) && status == Ok(0),
        format_args!("write {reset:?}, read {status:?}"),
    );
    let acknowledge = device_write(handle, device::STATUS_OFFSET, 4, STATUS_ACKNOWLEDGE);
    let status = device_read(handle, device::STATUS_OFFSET, 4);
    let reset = device_write(handle, device::STATUS_OFFSET, 4, 0);
    checks.check(
        "device: a status written reads back",
        acknowledge == Ok(0) && status == Ok(STATUS_ACKNOWLEDGE as usize) && reset == Ok(0),
        format_args!("write {acknowledge:?}, read {status:?}, reset {reset:?}"),
    );
}

/// Accesses outside the window, misaligned, of a bad width, or with too wide a value.
fn refusals(checks: &mut Checks, handle: u64) {
    let refused = |result: Result<usize, Error>| result == Err(Error::InvalidArgument);
    let outside = [
        device_read(handle, device::WINDOW_SIZE, 4),
        device_read(handle, device::WINDOW_SIZE - 2, 4),
        device_read(handle, device::WINDOW_SIZE, 1),
        device_read(handle, u64::MAX - 1, 2),
        device_read(handle, 0x1000, 4),
    ];
    checks.check(
        "device: reads outside the 512-byte window are refused",
        outside.into_iter().all(refused),
        format_args!("{outside:?}"),
    );
    let misaligned = [
        device_read(handle, 2, 4),
        device_read(handle, 1, 2),
        device_read(handle, 0x101, 4),
    ];
    checks.check(
        "device: misaligned reads are refused",
        misaligned.into_iter().all(refused),
        format_args!("{misaligned:?}"),
    );
    let widths = [
        device_read(handle, 0, 0),
        device_read(handle, 0, 3),
        device_read(handle, 0, 8),
        device_read(handle, 0, u64::MAX),
    ];
    checks.check(
        "device: widths other than 1, 2 and 4 are refused",
        widths.into_iter().all(refused),
        format_args!("{widths:?}"),
    );
    let writes = [
        device_write(handle, device::WINDOW_SIZE, 4, 0),
        device_write(handle, device::STATUS_OFFSET + 2, 4, 0),
        device_write(handle, device::STATUS_OFFSET, 8, 0),
        device_write(handle, device::STATUS_OFFSET, 4, 1 << 32),
        device_write(handle, device::CONFIGURATION_OFFSET, 1, 0x100),
    ];
    checks.check(
        "device: writes outside, misaligned, too wide or with too wide a value are refused",
        writes.into_iter().all(refused),
        format_args!("{writes:?}"),
    );
    // Every offset of the window and a little beyond, with every width: allowed exactly when
    // the width is 1, 2 or 4, the offset a multiple of it, and the access inside the window.
    // Reads of virtio-mmio registers have no side effects.
    let mut wrong = None;
    for offset in 0..device::WINDOW_SIZE + 16 {
        for width in [1, 2, 3, 4, 8] {
            let allowed = matches!(width, 1 | 2 | 4)
                && offset % width == 0
                && offset + width <= device::WINDOW_SIZE;
            let result = device_read(handle, offset, width);
            let expected = if allowed {
                result.is_ok()
            } else {
                result == Err(Error::InvalidArgument)
            };
            if !expected && wrong.is_none() {
                wrong = Some((offset, width, result));
            }
        }
    }
    checks.check(
        "device: a sweep of offsets and widths is allowed exactly inside the window",
        wrong.is_none(),
        format_args!("first wrong answer (offset, width, result): {wrong:x?}"),
    );
    let status = device_read(handle, device::STATUS_OFFSET, 4);
    checks.check(
        "device: refused writes changed nothing",
        status == Ok(0),
        format_args!("status {status:?}"),
    );
}

/// `DMA_MAP`: page-aligned physical addresses, zeroed writable memory, counted and returned.
fn dma(checks: &mut Checks, handle: u64) {
    let length = 2 * 4096u64;
    let physical = dma_map(handle, DMA_ADDRESS, length);
    checks.check(
        "dma: DMA_MAP returns a page-aligned physical address",
        physical.is_ok_and(|address| address != 0 && address % 4096 == 0),
        format_args!("{physical:x?}"),
    );
    if physical.is_ok() {
        // SAFETY: DMA_MAP just mapped `length` bytes here, readable and writable, and nothing
        // else in this entity uses them.
        let memory =
            unsafe { core::slice::from_raw_parts_mut(DMA_ADDRESS as *mut u8, length as usize) };
        let zero = memory.iter().all(|byte| *byte == 0);
        checks.check(
            "dma: the memory is zeroed",
            zero,
            format_args!("a non-zero byte"),
        );
        for (index, byte) in memory.iter_mut().enumerate() {
            *byte = index as u8 ^ 0x5a;
        }
        let kept = memory
            .iter()
            .enumerate()
            .all(|(index, byte)| *byte == index as u8 ^ 0x5a);
        checks.check(
            "dma: the memory is writable",
            kept,
            format_args!("a written byte did not read back"),
        );
    }
    let second_address = DMA_ADDRESS + 0x10_0000;
    let second = dma_map(handle, second_address, 4096);
    let apart = match (physical, second) {
        (Ok(first), Ok(second)) => second >= first + length as usize || second + 4096 <= first,
        _ => false,
    };
    checks.check(
        "dma: a second mapping gets other frames",
        apart,
        format_args!("{physical:x?} and {second:x?}"),
    );
    let overlapping = dma_map(handle, DMA_ADDRESS + 4096, 4096);
    let unaligned = dma_map(handle, DMA_ADDRESS + 0x20_0000 + 8, 4096);
    let lengths = [
        dma_map(handle, DMA_ADDRESS + 0x20_0000, 0),
        dma_map(handle, DMA_ADDRESS + 0x20_0000, 4097),
        dma_map(handle, DMA_ADDRESS + 0x20_0000, device::DMA_MAP_MAX + 4096),
        dma_map(handle, DMA_ADDRESS + 0x20_0000, !0xfff),
    ];
    let kernel = dma_map(handle, 0xffff_8000_0000_0000, 4096);
    checks.check(
        "dma: mapped, unaligned, kernel addresses and bad lengths are refused",
        overlapping == Err(Error::InvalidArgument)
            && unaligned == Err(Error::InvalidArgument)
            && kernel == Err(Error::InvalidArgument)
            && lengths
                .iter()
                .all(|result| *result == Err(Error::InvalidArgument)),
        format_args!("{overlapping:?} {unaligned:?} {kernel:?} {lengths:?}"),
    );
    // The entity's memory limit is 4 MiB and it already uses some: the largest DMA mapping
    // does not fit, and nothing of it stays.
    let too_much = dma_map(handle, DMA_ADDRESS + 0x100_0000, device::DMA_MAP_MAX);
    let after = dma_map(handle, DMA_ADDRESS + 0x100_0000, 4096);
    checks.check(
        "dma: memory beyond the entity's limit is refused, leaving the range free",
        too_much == Err(Error::OutOfMemory) && after.is_ok(),
        format_args!("{too_much:?}, then {after:?}"),
    );
    let unmapped = system::unmap_memory(DMA_ADDRESS as usize, length as usize);
    let again = dma_map(handle, DMA_ADDRESS, length);
    // SAFETY: when `again` succeeded, DMA_MAP mapped `length` readable bytes here anew.
    let zero = again.is_ok()
        && unsafe { core::slice::from_raw_parts(DMA_ADDRESS as *const u8, length as usize) }
            .iter()
            .all(|byte| *byte == 0);
    checks.check(
        "dma: MEMORY_UNMAP returns the memory, and the range maps again, zeroed",
        unmapped.is_ok() && zero,
        format_args!("{unmapped:?}, then {again:?}"),
    );
}

/// An entity holding no device capability: every device call is `BadHandle`.
fn no_capability() {
    println!("[check] PLAN 3");
    let mut checks = Checks { failed: 0 };
    let finished = startup::handle("finished");
    let held = u64::from(finished.unwrap_or(1));
    let reads = [
        device_read(0, 0, 4),
        device_read(held, 0, 4),
        device_read(held + 1, 0, 4),
        device_read(u64::from(u32::MAX), 0, 4),
        device_read(u64::MAX, 0, 4),
    ];
    checks.check(
        "device: without a device capability, DEVICE_READ is BadHandle",
        reads.iter().all(|result| *result == Err(Error::BadHandle)),
        format_args!("{reads:?}"),
    );
    let writes = [
        device_write(held, device::STATUS_OFFSET, 4, 0),
        device_write(held + 1, device::STATUS_OFFSET, 4, 0),
    ];
    checks.check(
        "device: without a device capability, DEVICE_WRITE is BadHandle",
        writes.iter().all(|result| *result == Err(Error::BadHandle)),
        format_args!("{writes:?}"),
    );
    let maps = [
        dma_map(held, DMA_ADDRESS, 4096),
        dma_map(held + 1, DMA_ADDRESS, 4096),
    ];
    checks.check(
        "dma: without a device capability, DMA_MAP is BadHandle",
        maps.iter().all(|result| *result == Err(Error::BadHandle)),
        format_args!("{maps:?}"),
    );
    report(finished, NO_CAPABILITY_BIT);
}

/// An entity whose `virtio-net` capability no transport backs: every use is `BadHandle`.
fn absent() {
    println!("[check] PLAN 2");
    let mut checks = Checks { failed: 0 };
    match startup::handle("virtio-net") {
        Some(handle) => {
            let handle = u64::from(handle);
            let uses = [
                device_read(handle, device::MAGIC_OFFSET, 4),
                device_write(handle, device::STATUS_OFFSET, 4, 0),
                dma_map(handle, DMA_ADDRESS, 4096),
            ];
            checks.check(
                "device: the capability exists",
                true,
                format_args!("handle {handle}"),
            );
            checks.check(
                "device: a capability with no device behind it is BadHandle for every call",
                uses.iter().all(|result| *result == Err(Error::BadHandle)),
                format_args!("{uses:?}"),
            );
        }
        None => checks.check(
            "device: the capability exists",
            false,
            format_args!("no capability named 'virtio-net'"),
        ),
    }
    report(startup::handle("finished"), ABSENT_BIT);
}

/// Tells the driver this helper is done.
fn report(finished: Option<u32>, bit: u64) {
    match finished.map(|handle| system::notify(handle, bit)) {
        Some(Ok(())) => {}
        other => println!("[check] FAIL report: could not notify 'finished': {other:?}"),
    }
}
