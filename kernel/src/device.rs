//! Devices: the virtio-mmio transports found at boot, and the system calls through which a
//! driver entity reaches the one its capability is bound to.
//!
//! Registers are read and written by the kernel on the driver's behalf (`DEVICE_READ`,
//! `DEVICE_WRITE`) rather than mapped into the driver: transports are 512 bytes apart, eight
//! to a 4 KiB page, so mapping one driver's page would hand it its neighbours' registers too.
//! Memory for rings and buffers comes from `DMA_MAP`: physically contiguous, zeroed frames
//! whose physical address the driver gives the device. Without an IOMMU the device can then
//! reach any physical address the driver programs, so a driver is part of the trusted base.
//! When a driver ends, the kernel resets its devices before freeing its memory.

use crate::arch::{self, paging::Access};
use crate::console;
use crate::kernel::{EntityId, Kernel, Object};
use septa_abi::{Error, device};
use septa_kernel_core::device::{Devices, Probe, Transport, check_access, check_value, probe};

/// Reads the header of every candidate transport and keeps those with a device behind them.
pub fn discover(candidates: &[u64]) -> Devices {
    let mut devices = Devices::new();
    let mut empty = 0usize;
    for &base in candidates {
        // SAFETY: the architecture's boot code lists only transport windows inside the direct
        // map, mapped as device memory; the header's registers are aligned 32-bit words.
        let probed = probe(base, |offset| unsafe { read(base + offset, 4) } as u32);
        match probed {
            Probe::Present(transport) => {
                console::line(format_args!(
                    "[kernel] virtio-mmio at {base:#x}: {} (device id {}), version {}",
                    kind(transport.device_id),
                    transport.device_id,
                    transport.version
                ));
                devices.add(transport);
            }
            Probe::Empty => empty += 1,
            Probe::UnknownVersion { version } => console::line(format_args!(
                "[kernel] virtio-mmio at {base:#x}: version {version} is unknown; not used"
            )),
            Probe::NotVirtio { .. } => {}
        }
    }
    console::line(format_args!(
        "[kernel] virtio-mmio: {} candidates, {} devices, {empty} empty",
        candidates.len(),
        devices.iter().count()
    ));
    devices
}

/// The kind's name of a virtio device id, for messages.
pub fn kind(device_id: u32) -> &'static str {
    device::kind_name(device_id).unwrap_or("unknown virtio device")
}

/// Reads `width` (1, 2 or 4) bytes of device memory at physical address `address`.
///
/// # Safety
/// `address` lies in a transport window the boot code listed (inside the direct map, mapped as
/// device memory) and is a multiple of `width`.
unsafe fn read(address: u64, width: u64) -> u64 {
    let virtual_address = arch::paging::physical_to_virtual(address);
    // SAFETY: the caller guarantees a mapped, aligned device register; volatile, so the access
    // happens exactly once and with exactly this width.
    unsafe {
        match width {
            1 => u64::from(core::ptr::read_volatile(virtual_address as *const u8)),
            2 => u64::from(core::ptr::read_volatile(virtual_address as *const u16)),
            _ => u64::from(core::ptr::read_volatile(virtual_address as *const u32)),
        }
    }
}

/// Writes `value` as `width` (1, 2 or 4) bytes of device memory at physical address `address`.
///
/// # Safety
/// As for [`read`]; the write's effect on the device is the driver's to answer for.
unsafe fn write(address: u64, width: u64, value: u64) {
    let virtual_address = arch::paging::physical_to_virtual(address);
    // SAFETY: as in `read`; `value` was checked to fit the width, so the casts drop nothing.
    unsafe {
        match width {
            1 => core::ptr::write_volatile(virtual_address as *mut u8, value as u8),
            2 => core::ptr::write_volatile(virtual_address as *mut u16, value as u16),
            _ => core::ptr::write_volatile(virtual_address as *mut u32, value as u32),
        }
    }
}

/// The transport the current entity's capability `handle` is bound to: `BadHandle` when the
/// handle names no device capability, or one bound to no transport.
fn transport(kernel: &Kernel, handle: u64) -> Result<Transport, Error> {
    let capability = kernel.capability(handle, 0)?;
    let Object::Device(Some(index)) = capability.object else {
        return Err(Error::BadHandle);
    };
    kernel.devices.get(index).ok_or(Error::BadHandle)
}

/// `DEVICE_READ(handle, offset, width)`.
pub fn read_register(
    kernel: &mut Kernel,
    handle: u64,
    offset: u64,
    width: u64,
) -> Result<(), Error> {
    let transport = transport(kernel, handle)?;
    check_access(offset, width)?;
    // SAFETY: `check_access` keeps the access aligned and inside the bound transport's window,
    // which the boot code listed.
    let value = unsafe { read(transport.base + offset, width) };
    kernel.set_current_return(Ok(value as usize), 0);
    Ok(())
}

/// `DEVICE_WRITE(handle, offset, width, value)`.
pub fn write_register(
    kernel: &mut Kernel,
    handle: u64,
    offset: u64,
    width: u64,
    value: u64,
) -> Result<(), Error> {
    let transport = transport(kernel, handle)?;
    check_access(offset, width)?;
    check_value(value, width)?;
    // SAFETY: as in `read_register`.
    unsafe { write(transport.base + offset, width, value) };
    kernel.set_current_return(Ok(0), 0);
    Ok(())
}

/// How many times the kernel reads a status register back after a reset before it gives up
/// waiting (QEMU completes a reset within the write).
const RESET_READS_MAX: usize = 1000;

/// Resets every device `entity` drives, as it ends: a reset device stops using its queues
/// (the virtio specification, 2.4 "Device Reset"), so it writes into none of the entity's
/// frames once they are freed and given to others.
pub fn reset_all(kernel: &Kernel, entity: EntityId) {
    for (_, capability) in kernel.entities[entity as usize].capabilities.iter() {
        let Object::Device(Some(index)) = capability.object else {
            continue;
        };
        let Some(transport) = kernel.devices.get(index) else {
            continue;
        };
        let status = transport.base + device::STATUS_OFFSET;
        // SAFETY: the status register of a transport the boot code listed: aligned, 32 bits.
        let reset = unsafe {
            write(status, 4, 0);
            // A version 2 device has finished resetting when its status reads 0 (4.2.2.1).
            (0..RESET_READS_MAX).any(|_| read(status, 4) == 0)
        };
        console::line(format_args!(
            "[kernel] the {} at {:#x} {}",
            kind(transport.device_id),
            transport.base,
            if reset {
                "is reset: its driver ended"
            } else {
                "did not finish resetting after its driver ended"
            }
        ));
    }
}

/// `DMA_MAP(handle, address, length)`: maps fresh, zeroed, physically contiguous frames at
/// `address` and returns the physical address of the first. On any failure nothing stays
/// mapped and no frame stays taken (page tables made on the way stay, counted, as with every
/// mapping).
pub fn dma_map(kernel: &mut Kernel, handle: u64, address: u64, length: u64) -> Result<(), Error> {
    transport(kernel, handle)?;
    if length == 0 || !length.is_multiple_of(4096) || length > device::DMA_MAP_MAX {
        return Err(Error::InvalidArgument);
    }
    crate::system_call::check_free_range(kernel, address, length)?;
    let entity = kernel.current_entity();
    let record = &kernel.entities[entity as usize];
    if record.memory_used.saturating_add(length) > record.memory_limit {
        return Err(Error::OutOfMemory);
    }
    let root = record.root;
    let count = length / 4096;
    let first = kernel
        .frames
        .allocate_run(count)
        .ok_or(Error::OutOfMemory)?;
    let access = Access {
        writable: true,
        executable: false,
    };
    for page in 0..count {
        let frame = first + page * 4096;
        let record = &kernel.entities[entity as usize];
        // Page tables may use what the pages still to map leave of the limit.
        let room = record
            .memory_limit
            .saturating_sub(record.memory_used + (count - page) * 4096)
            / 4096;
        let allocator = &mut kernel.frames;
        let mut tables = 0u64;
        let result = arch::paging::map(root, address + page * 4096, frame, access, &mut || {
            if tables >= room {
                return None;
            }
            tables += 1;
            allocator.allocate()
        });
        let record = &mut kernel.entities[entity as usize];
        record.memory_used += tables * 4096;
        if result.is_err() {
            // The pages mapped so far are owned: unmapping frees them. The rest were never
            // mapped.
            let _ = kernel.unmap(entity, address, page * 4096);
            for unmapped in page..count {
                kernel.frames.free(first + unmapped * 4096);
            }
            return Err(Error::OutOfMemory);
        }
        record.owned_frames.insert(frame);
        record.memory_used += 4096;
    }
    kernel.set_current_return(Ok(first as usize), 0);
    Ok(())
}
