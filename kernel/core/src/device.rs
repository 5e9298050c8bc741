//! Virtio-mmio transports: which candidate addresses hold a device, which entity drives each,
//! and which register accesses a driver may make.
//!
//! The architecture's boot code lists candidate transports (from the device tree, or the
//! machine's fixed layout); the kernel reads each one's header through [`probe`] and keeps the
//! present ones in [`Devices`]. A device capability is bound at boot to the first present,
//! unbound transport of its device id, so a transport has at most one driver.

use alloc::vec::Vec;
use septa_abi::{Error, device};

/// A transport with a device behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// Physical address of its register window.
    pub base: u64,
    /// Transport version: 1 (legacy) or 2.
    pub version: u32,
    /// Virtio device id (never 0).
    pub device_id: u32,
}

/// What a candidate address holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A transport with a device.
    Present(Transport),
    /// A transport with nothing behind it (device id 0): an empty slot of the machine.
    Empty,
    /// No virtio-mmio transport: the first register is not the magic value.
    NotVirtio {
        /// What the first register held.
        magic: u32,
    },
    /// A virtio-mmio transport of a version this kernel does not know.
    UnknownVersion {
        /// The version register.
        version: u32,
    },
}

/// Reads the header of the candidate transport at physical address `base`; `read(offset)`
/// returns its 32-bit register at `offset`. Only the magic, version and device id are read,
/// in that order, and reading stops at the first that rules the candidate out.
pub fn probe(base: u64, read: impl Fn(u64) -> u32) -> Probe {
    let magic = read(device::MAGIC_OFFSET);
    if magic != device::MAGIC {
        return Probe::NotVirtio { magic };
    }
    let version = read(device::VERSION_OFFSET);
    if !(1..=2).contains(&version) {
        return Probe::UnknownVersion { version };
    }
    match read(device::DEVICE_ID_OFFSET) {
        0 => Probe::Empty,
        device_id => Probe::Present(Transport {
            base,
            version,
            device_id,
        }),
    }
}

/// Checks a register access of `width` bytes at `offset` in a transport's window: the width is
/// 1, 2 or 4, the offset a multiple of it, and the access ends inside the window.
pub fn check_access(offset: u64, width: u64) -> Result<(), Error> {
    let aligned = matches!(width, 1 | 2 | 4) && offset.is_multiple_of(width);
    if !aligned || offset >= device::WINDOW_SIZE || offset + width > device::WINDOW_SIZE {
        return Err(Error::InvalidArgument);
    }
    Ok(())
}

/// Checks that `value` fits in a register of `width` bytes (already checked by
/// [`check_access`]), so a write never carries bits the device would not see.
pub fn check_value(value: u64, width: u64) -> Result<(), Error> {
    if width < 8 && value >> (width * 8) != 0 {
        return Err(Error::InvalidArgument);
    }
    Ok(())
}

/// The present transports, in the order they were found, and which are bound to a driver.
#[derive(Clone, Debug, Default)]
pub struct Devices {
    transports: Vec<Transport>,
    bound: Vec<bool>,
}

impl Devices {
    /// No transports.
    pub const fn new() -> Self {
        Devices {
            transports: Vec::new(),
            bound: Vec::new(),
        }
    }

    /// Records a present transport.
    pub fn add(&mut self, transport: Transport) {
        self.transports.push(transport);
        self.bound.push(false);
    }

    /// Binds the first unbound transport with `device_id` and returns its index; `None` when
    /// every such transport is bound, or none is present.
    pub fn bind(&mut self, device_id: u32) -> Option<u32> {
        let index = self
            .transports
            .iter()
            .zip(&self.bound)
            .position(|(transport, bound)| transport.device_id == device_id && !bound)?;
        self.bound[index] = true;
        u32::try_from(index).ok()
    }

    /// The transport with this index.
    pub fn get(&self, index: u32) -> Option<Transport> {
        self.transports.get(index as usize).copied()
    }

    /// Every present transport, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = Transport> + '_ {
        self.transports.iter().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake register window: the header words at offsets 0, 4 and 8.
    fn window(magic: u32, version: u32, device_id: u32) -> impl Fn(u64) -> u32 {
        move |offset| match offset {
            0 => magic,
            4 => version,
            8 => device_id,
            _ => panic!("probe read offset {offset:#x}, beyond the header"),
        }
    }

    #[test]
    fn a_block_device_is_present() {
        let probed = probe(0xfeb0_2e00, window(0x7472_6976, 2, 2));
        assert_eq!(
            probed,
            Probe::Present(Transport {
                base: 0xfeb0_2e00,
                version: 2,
                device_id: 2
            })
        );
        let legacy = probe(0x0a00_3e00, window(0x7472_6976, 1, 1));
        assert!(matches!(
            legacy,
            Probe::Present(Transport {
                version: 1,
                device_id: 1,
                ..
            })
        ));
    }

    #[test]
    fn empty_slots_and_foreign_registers_are_not_devices() {
        assert_eq!(probe(0, window(0x7472_6976, 2, 0)), Probe::Empty);
        // Unassigned addresses read as zeros or ones on QEMU; the magic rules them out before
        // anything else is read (the window panics on any read beyond the header).
        assert_eq!(
            probe(0, window(0, 0xdead, 0xdead)),
            Probe::NotVirtio { magic: 0 }
        );
        assert_eq!(
            probe(0, window(u32::MAX, 2, 2)),
            Probe::NotVirtio { magic: u32::MAX }
        );
        // "virt" in the wrong byte order is not the magic.
        assert_eq!(
            probe(0, window(0x7669_7274, 2, 2)),
            Probe::NotVirtio { magic: 0x7669_7274 }
        );
        assert_eq!(
            probe(0, window(0x7472_6976, 3, 2)),
            Probe::UnknownVersion { version: 3 }
        );
        assert_eq!(
            probe(0, window(0x7472_6976, 0, 2)),
            Probe::UnknownVersion { version: 0 }
        );
    }

    #[test]
    fn accesses_stay_aligned_inside_the_window() {
        for (offset, width) in [
            (0, 4),
            (0x1fc, 4),
            (0x1fe, 2),
            (0x1ff, 1),
            (0x100, 1),
            (2, 2),
        ] {
            assert_eq!(check_access(offset, width), Ok(()), "{offset:#x}/{width}");
        }
        for (offset, width) in [
            (0x200, 4),
            (0x200, 1),
            (0x1fe, 4),
            (2, 4),
            (1, 2),
            (0, 3),
            (0, 8),
            (0, 0),
            (u64::MAX, 1),
            (u64::MAX - 3, 4),
            (0, u64::MAX),
        ] {
            assert_eq!(
                check_access(offset, width),
                Err(Error::InvalidArgument),
                "{offset:#x}/{width}"
            );
        }
    }

    #[test]
    fn written_values_fit_the_width() {
        assert_eq!(check_value(0xff, 1), Ok(()));
        assert_eq!(check_value(0x100, 1), Err(Error::InvalidArgument));
        assert_eq!(check_value(0xffff, 2), Ok(()));
        assert_eq!(check_value(0x1_0000, 2), Err(Error::InvalidArgument));
        assert_eq!(check_value(u64::from(u32::MAX), 4), Ok(()));
        assert_eq!(check_value(1 << 32, 4), Err(Error::InvalidArgument));
    }

    #[test]
    fn each_transport_binds_once_in_order() {
        let mut devices = Devices::new();
        for (base, device_id) in [(0x1000, 2), (0x1200, 1), (0x1400, 2)] {
            devices.add(Transport {
                base,
                version: 2,
                device_id,
            });
        }
        assert_eq!(devices.bind(2), Some(0));
        assert_eq!(devices.bind(2), Some(2));
        assert_eq!(devices.bind(2), None);
        assert_eq!(devices.bind(4), None);
        assert_eq!(devices.bind(1), Some(1));
        assert_eq!(devices.get(2).map(|transport| transport.base), Some(0x1400));
        assert_eq!(devices.get(3), None);
        assert_eq!(devices.iter().count(), 3);
    }
}
