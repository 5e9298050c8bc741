//! A virtio-mmio transport whose registers are reached through the kernel (`DEVICE_READ`,
//! `DEVICE_WRITE`), for `virtio-drivers`.
//!
//! `virtio_drivers::transport::mmio::MmioTransport` dereferences a pointer to the mapped
//! register window. Septa maps no registers into a driver, because QEMU's transports sit 512
//! bytes apart, eight to a 4 KiB page, and a mapping would hand the driver its neighbours'
//! registers (docs/kernel.md, "Devices"). This transport makes one system call per register
//! access instead, with the layout of the virtio specification, 4.2.2 (version 2) and 4.2.4
//! (version 1, "legacy").

use core::sync::atomic::{AtomicBool, Ordering};
use septa_abi::device::{CONFIGURATION_OFFSET, MAGIC, WINDOW_SIZE};
use septa_abi::{Error as KernelError, syscall};
use septa_runtime::system;
use virtio_drivers::transport::{DeviceStatus, DeviceType, InterruptStatus, Transport};
use virtio_drivers::{Error, PAGE_SIZE, PhysAddr};
use zerocopy::{FromBytes, Immutable, IntoBytes};

/// Register offsets in the transport's window (virtio specification, 4.2.2 and 4.2.4).
mod register {
    pub const MAGIC: u64 = 0x000;
    pub const VERSION: u64 = 0x004;
    pub const DEVICE_ID: u64 = 0x008;
    pub const DEVICE_FEATURES: u64 = 0x010;
    pub const DEVICE_FEATURES_SELECT: u64 = 0x014;
    pub const DRIVER_FEATURES: u64 = 0x020;
    pub const DRIVER_FEATURES_SELECT: u64 = 0x024;
    /// Version 1 only.
    pub const LEGACY_GUEST_PAGE_SIZE: u64 = 0x028;
    pub const QUEUE_SELECT: u64 = 0x030;
    pub const QUEUE_SIZE_MAXIMUM: u64 = 0x034;
    pub const QUEUE_SIZE: u64 = 0x038;
    /// Version 1 only.
    pub const LEGACY_QUEUE_ALIGN: u64 = 0x03c;
    /// Version 1 only.
    pub const LEGACY_QUEUE_PAGE_NUMBER: u64 = 0x040;
    /// Version 2 only.
    pub const QUEUE_READY: u64 = 0x044;
    pub const QUEUE_NOTIFY: u64 = 0x050;
    pub const INTERRUPT_STATUS: u64 = 0x060;
    pub const INTERRUPT_ACKNOWLEDGE: u64 = 0x064;
    pub const STATUS: u64 = 0x070;
    /// Version 2 only, from here on.
    pub const QUEUE_DESCRIPTOR_LOW: u64 = 0x080;
    pub const QUEUE_DESCRIPTOR_HIGH: u64 = 0x084;
    pub const QUEUE_DRIVER_LOW: u64 = 0x090;
    pub const QUEUE_DRIVER_HIGH: u64 = 0x094;
    pub const QUEUE_DEVICE_LOW: u64 = 0x0a0;
    pub const QUEUE_DEVICE_HIGH: u64 = 0x0a4;
    pub const CONFIGURATION_GENERATION: u64 = 0x0fc;
}

/// Bytes of device-specific configuration space: from 0x100 to the end of the window.
const CONFIGURATION_SIZE: usize = (WINDOW_SIZE - CONFIGURATION_OFFSET) as usize;

/// The two register layouts a virtio-mmio transport may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// Version 1 ("legacy", 4.2.4): one guest page number per queue, in a fixed layout.
    Legacy,
    /// Version 2 (4.2.2): three 64-bit addresses per queue and a ready flag.
    Modern,
}

/// Why a transport cannot be driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbeError {
    /// The kernel refused the register access (no device is bound to the capability).
    Kernel(KernelError),
    /// The window does not start with "virt".
    BadMagic(u32),
    /// Neither version 1 nor version 2.
    UnsupportedVersion(u32),
    /// A device id `virtio-drivers` does not know (0 is an empty slot).
    UnknownDevice(u32),
}

impl core::fmt::Display for ProbeError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProbeError::Kernel(error) => write!(formatter, "{}", error.description()),
            ProbeError::BadMagic(value) => write!(formatter, "bad magic value {value:#010x}"),
            ProbeError::UnsupportedVersion(version) => {
                write!(formatter, "unsupported transport version {version}")
            }
            ProbeError::UnknownDevice(identity) => {
                write!(formatter, "unknown device id {identity}")
            }
        }
    }
}

/// One virtio-mmio transport, reached through the device capability `handle`.
#[derive(Debug)]
pub struct KernelTransport {
    handle: u32,
    version: Version,
    device_type: DeviceType,
}

/// Set when `queue_set` was given a queue the legacy layout cannot describe; the device is then
/// marked failed and must not be used. A static, because the transport belongs to the
/// `VirtIOBlk` that set the queue up by then.
static QUEUE_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether a transport refused a queue during set-up (see `queue_set`).
pub fn queue_refused() -> bool {
    QUEUE_REFUSED.load(Ordering::Relaxed)
}

impl KernelTransport {
    /// Reads the header of the transport bound to `handle`: magic, version and device id.
    pub fn probe(handle: u32) -> Result<KernelTransport, ProbeError> {
        let read = |offset| {
            system::call(syscall::DEVICE_READ, [u64::from(handle), offset, 4, 0, 0])
                .map(|value| value as u32)
                .map_err(ProbeError::Kernel)
        };
        let magic = read(register::MAGIC)?;
        if magic != MAGIC {
            return Err(ProbeError::BadMagic(magic));
        }
        let version = match read(register::VERSION)? {
            1 => Version::Legacy,
            2 => Version::Modern,
            other => return Err(ProbeError::UnsupportedVersion(other)),
        };
        let identity = read(register::DEVICE_ID)?;
        let device_type =
            DeviceType::try_from(identity).map_err(|_| ProbeError::UnknownDevice(identity))?;
        Ok(KernelTransport {
            handle,
            version,
            device_type,
        })
    }

    /// The transport's register layout.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Reads the register at `offset`, `width` bytes wide.
    ///
    /// The kernel refuses only accesses outside the window, misaligned or of a width other than
    /// 1, 2 or 4, which this transport never makes, or any access once the capability has no
    /// device; such a read gives 0, as QEMU gives for a register a transport does not have.
    fn read(&self, offset: u64, width: u64) -> u32 {
        system::call(
            syscall::DEVICE_READ,
            [u64::from(self.handle), offset, width, 0, 0],
        )
        .map_or(0, |value| value as u32)
    }

    /// Writes `value` to the register at `offset`, `width` bytes wide; a refused write is
    /// dropped, as [`KernelTransport::read`] explains.
    fn write(&self, offset: u64, width: u64, value: u32) {
        let _ = system::call(
            syscall::DEVICE_WRITE,
            [u64::from(self.handle), offset, width, u64::from(value), 0],
        );
    }

    /// Writes a 64-bit address as its low and high halves.
    fn write_address(&self, low: u64, high: u64, address: PhysAddr) {
        self.write(low, 4, address as u32);
        self.write(high, 4, (address >> 32) as u32);
    }

    /// The width of each access to a configuration field of type `T`: the virtio specification
    /// (4.2.2.2) wants 8-bit accesses for 8-bit fields, 16-bit for 16-bit, and aligned 32-bit
    /// accesses for 32- and 64-bit fields. Checks that `offset..offset + size_of::<T>()` lies in
    /// the configuration space and is aligned for `T`.
    fn configuration_access<T>(offset: usize) -> Result<usize, Error> {
        let size = size_of::<T>();
        let width = align_of::<T>().min(4);
        if size == 0 || !offset.is_multiple_of(align_of::<T>()) || !size.is_multiple_of(width) {
            return Err(Error::InvalidParam);
        }
        match offset.checked_add(size) {
            Some(end) if end <= CONFIGURATION_SIZE => Ok(width),
            _ => Err(Error::ConfigSpaceTooSmall),
        }
    }

    /// Reads `bytes.len()` bytes of configuration space from `offset`, `width` bytes at a time.
    fn read_configuration_bytes(&self, offset: usize, width: usize, bytes: &mut [u8]) {
        for (index, chunk) in bytes.chunks_exact_mut(width).enumerate() {
            let address = CONFIGURATION_OFFSET + (offset + index * width) as u64;
            let value = self.read(address, width as u64).to_le_bytes();
            chunk.copy_from_slice(&value[..width]);
        }
    }
}

impl Transport for KernelTransport {
    fn device_type(&self) -> DeviceType {
        self.device_type
    }

    fn read_device_features(&mut self) -> u64 {
        // Version 1 devices have 32 feature bits; their second word reads as 0.
        self.write(register::DEVICE_FEATURES_SELECT, 4, 0);
        let low = self.read(register::DEVICE_FEATURES, 4);
        self.write(register::DEVICE_FEATURES_SELECT, 4, 1);
        let high = self.read(register::DEVICE_FEATURES, 4);
        u64::from(low) | u64::from(high) << 32
    }

    fn write_driver_features(&mut self, driver_features: u64) {
        self.write(register::DRIVER_FEATURES_SELECT, 4, 0);
        self.write(register::DRIVER_FEATURES, 4, driver_features as u32);
        self.write(register::DRIVER_FEATURES_SELECT, 4, 1);
        self.write(register::DRIVER_FEATURES, 4, (driver_features >> 32) as u32);
    }

    fn max_queue_size(&mut self, queue: u16) -> u32 {
        self.write(register::QUEUE_SELECT, 4, u32::from(queue));
        self.read(register::QUEUE_SIZE_MAXIMUM, 4)
    }

    fn notify(&mut self, queue: u16) {
        self.write(register::QUEUE_NOTIFY, 4, u32::from(queue));
    }

    fn get_status(&self) -> DeviceStatus {
        DeviceStatus::from_bits_retain(self.read(register::STATUS, 4))
    }

    fn set_status(&mut self, status: DeviceStatus) {
        self.write(register::STATUS, 4, status.bits());
    }

    fn set_guest_page_size(&mut self, guest_page_size: u32) {
        // Only version 1 computes queue addresses from page numbers (4.2.4).
        if self.version == Version::Legacy {
            self.write(register::LEGACY_GUEST_PAGE_SIZE, 4, guest_page_size);
        }
    }

    fn requires_legacy_layout(&self) -> bool {
        self.version == Version::Legacy
    }

    fn queue_set(
        &mut self,
        queue: u16,
        size: u32,
        descriptors: PhysAddr,
        driver_area: PhysAddr,
        device_area: PhysAddr,
    ) {
        match self.version {
            Version::Legacy => {
                // Version 1 takes only the descriptor table's page number: the available ring
                // must follow the table, and the used ring start at the next page boundary
                // (2.6.2, "Legacy Interfaces: A Note on Virtqueue Layout"). `virtio-drivers`
                // lays legacy queues out so; anything else is refused rather than given to a
                // device that would look for the rings elsewhere.
                let page = PAGE_SIZE as u64;
                let table = 16 * u64::from(size);
                let available_end = table + 2 * (u64::from(size) + 3);
                let used_offset = available_end.next_multiple_of(page);
                let page_number = u32::try_from(descriptors / page);
                let laid_out = descriptors.is_multiple_of(page)
                    && driver_area.checked_sub(descriptors) == Some(table)
                    && device_area.checked_sub(descriptors) == Some(used_offset);
                let (true, Ok(page_number)) = (laid_out, page_number) else {
                    QUEUE_REFUSED.store(true, Ordering::Relaxed);
                    self.set_status(DeviceStatus::FAILED);
                    return;
                };
                // The queue alignment is one page: the used ring's offset checked above.
                self.write(register::QUEUE_SELECT, 4, u32::from(queue));
                self.write(register::QUEUE_SIZE, 4, size);
                self.write(register::LEGACY_QUEUE_ALIGN, 4, PAGE_SIZE as u32);
                self.write(register::LEGACY_QUEUE_PAGE_NUMBER, 4, page_number);
            }
            Version::Modern => {
                self.write(register::QUEUE_SELECT, 4, u32::from(queue));
                self.write(register::QUEUE_SIZE, 4, size);
                self.write_address(
                    register::QUEUE_DESCRIPTOR_LOW,
                    register::QUEUE_DESCRIPTOR_HIGH,
                    descriptors,
                );
                self.write_address(
                    register::QUEUE_DRIVER_LOW,
                    register::QUEUE_DRIVER_HIGH,
                    driver_area,
                );
                self.write_address(
                    register::QUEUE_DEVICE_LOW,
                    register::QUEUE_DEVICE_HIGH,
                    device_area,
                );
                self.write(register::QUEUE_READY, 4, 1);
            }
        }
    }

    fn queue_unset(&mut self, queue: u16) {
        self.write(register::QUEUE_SELECT, 4, u32::from(queue));
        match self.version {
            Version::Legacy => {
                self.write(register::QUEUE_SIZE, 4, 0);
                self.write(register::LEGACY_QUEUE_ALIGN, 4, 0);
                self.write(register::LEGACY_QUEUE_PAGE_NUMBER, 4, 0);
            }
            Version::Modern => {
                self.write(register::QUEUE_READY, 4, 0);
                // The queue is disabled once QueueReady reads back 0 (4.2.2.2).
                while self.read(register::QUEUE_READY, 4) != 0 {
                    system::yield_now();
                }
                self.write(register::QUEUE_SIZE, 4, 0);
                self.write_address(
                    register::QUEUE_DESCRIPTOR_LOW,
                    register::QUEUE_DESCRIPTOR_HIGH,
                    0,
                );
                self.write_address(register::QUEUE_DRIVER_LOW, register::QUEUE_DRIVER_HIGH, 0);
                self.write_address(register::QUEUE_DEVICE_LOW, register::QUEUE_DEVICE_HIGH, 0);
            }
        }
    }

    fn queue_used(&mut self, queue: u16) -> bool {
        self.write(register::QUEUE_SELECT, 4, u32::from(queue));
        let register = match self.version {
            Version::Legacy => register::LEGACY_QUEUE_PAGE_NUMBER,
            Version::Modern => register::QUEUE_READY,
        };
        self.read(register, 4) != 0
    }

    fn ack_interrupt(&mut self) -> InterruptStatus {
        let pending = self.read(register::INTERRUPT_STATUS, 4);
        if pending != 0 {
            self.write(register::INTERRUPT_ACKNOWLEDGE, 4, pending);
        }
        InterruptStatus::from_bits_truncate(pending)
    }

    fn read_config_generation(&self) -> u32 {
        // Version 1 has no generation register (QEMU logs a guest error for a read of it);
        // a constant generation makes `read_consistent` read once.
        match self.version {
            Version::Legacy => 0,
            Version::Modern => self.read(register::CONFIGURATION_GENERATION, 4),
        }
    }

    fn read_config_space<T: FromBytes + IntoBytes>(&self, offset: usize) -> Result<T, Error> {
        let width = Self::configuration_access::<T>(offset)?;
        let mut value = T::new_zeroed();
        if size_of::<T>() == width || self.version == Version::Legacy {
            self.read_configuration_bytes(offset, width, value.as_mut_bytes());
            return Ok(value);
        }
        // A field wider than one access (a 64-bit capacity) may change between its parts: read
        // until the generation is the same before and after (4.2.2.2).
        loop {
            let before = self.read_config_generation();
            self.read_configuration_bytes(offset, width, value.as_mut_bytes());
            if self.read_config_generation() == before {
                return Ok(value);
            }
        }
    }

    fn write_config_space<T: IntoBytes + Immutable>(
        &mut self,
        offset: usize,
        value: T,
    ) -> Result<(), Error> {
        let width = Self::configuration_access::<T>(offset)?;
        for (index, chunk) in value.as_bytes().chunks_exact(width).enumerate() {
            let mut word = [0u8; 4];
            word[..width].copy_from_slice(chunk);
            let address = CONFIGURATION_OFFSET + (offset + index * width) as u64;
            self.write(address, width as u64, u32::from_le_bytes(word));
        }
        Ok(())
    }
}

impl Drop for KernelTransport {
    fn drop(&mut self) {
        // As `MmioTransport` does: a transport no longer driven is reset, so the device stops
        // using memory that is about to be freed.
        self.set_status(DeviceStatus::empty());
    }
}
