//! The Block interface served over a `VirtIOBlk`: requests checked, then one device request each.

use alloc::vec;
use alloc::vec::Vec;
use septa_abi::MESSAGE_ARENA_MAX;
use septa_abi::status::APPLICATION;
use septa_interfaces::block::{BlockServer, InformationReply};
use septa_runtime::system;
use virtio_drivers::device::blk::{BlkReq, BlkResp, SECTOR_SIZE, VirtIOBlk};

use crate::hal::{POOL_SIZE, SeptaHal};
use crate::transport::KernelTransport;

/// Linux errno values (the same on every architecture Septa runs on), sent as
/// `APPLICATION + errno`, as `interfaces/definitions/block.toml` says.
mod errno {
    /// Input/output error: the device failed the request.
    pub const EIO: u32 = 5;
    /// Invalid argument: a range outside the device, or not whole blocks.
    pub const EINVAL: u32 = 22;
    /// Read-only file system: a write to a read-only device.
    pub const EROFS: u32 = 30;
}

/// Bytes per block: virtio-blk addresses 512-byte sectors whatever the disk's own block size.
pub const BLOCK_SIZE: usize = SECTOR_SIZE;
/// Most blocks one `read` returns: the interface's limit, so that the reply fits a message.
pub const MAXIMUM_READ_BLOCKS: u32 = 24;
/// Most blocks one `write` takes: as many whole blocks as a message's arena holds.
pub const MAXIMUM_WRITE_BLOCKS: usize = MESSAGE_ARENA_MAX / BLOCK_SIZE;

/// Room for a request's header, status byte and indirect descriptor table, with alignment.
const REQUEST_OVERHEAD: usize = 1024;

// The largest transfer and its overhead fit the bounce pool (see `hal`) twice over.
const _: () = assert!(2 * (MAXIMUM_WRITE_BLOCKS * BLOCK_SIZE + REQUEST_OVERHEAD) <= POOL_SIZE);
const _: () = assert!(MAXIMUM_READ_BLOCKS as usize <= MAXIMUM_WRITE_BLOCKS);

/// An error reply: the application status for a Linux errno.
fn failure(errno: u32) -> u32 {
    APPLICATION + errno
}

/// The block device this entity drives.
pub struct BlockDevice {
    disk: VirtIOBlk<SeptaHal, KernelTransport>,
    capacity: u64,
    read_only: bool,
}

impl BlockDevice {
    /// Serves `disk`.
    pub fn new(disk: VirtIOBlk<SeptaHal, KernelTransport>) -> BlockDevice {
        BlockDevice {
            capacity: disk.capacity(),
            read_only: disk.readonly(),
            disk,
        }
    }

    /// Checks that `count` blocks from `block` lie on the device; `EINVAL` otherwise.
    fn check_range(&self, block: u64, count: u64) -> Result<usize, u32> {
        match block.checked_add(count) {
            Some(end) if count > 0 && end <= self.capacity => {
                usize::try_from(block).map_err(|_| failure(errno::EINVAL))
            }
            _ => Err(failure(errno::EINVAL)),
        }
    }

    /// Waits for the device to finish the one request in flight.
    ///
    /// There are no interrupts yet (docs/drivers.md), so the driver polls the used ring,
    /// yielding the processor between looks. A device that never answers stalls the driver.
    fn wait(&mut self) {
        while self.disk.peek_used().is_none() {
            system::yield_now();
        }
    }
}

impl BlockServer for BlockDevice {
    fn information(&mut self, _sender: u32) -> Result<InformationReply, u32> {
        Ok(InformationReply {
            block_size: BLOCK_SIZE as u32,
            block_count: self.capacity,
            read_only: u32::from(self.read_only),
        })
    }

    fn read(&mut self, _sender: u32, block: u64, count: u32) -> Result<Vec<u8>, u32> {
        if count > MAXIMUM_READ_BLOCKS {
            return Err(failure(errno::EINVAL));
        }
        let first = self.check_range(block, u64::from(count))?;
        let mut data = vec![0u8; count as usize * BLOCK_SIZE];
        let mut request = BlkReq::default();
        let mut response = BlkResp::default();
        // SAFETY: `request`, `data` and `response` stay borrowed by this function, untouched,
        // until `complete_read_blocks` has taken the request back from the queue. `data` is a
        // non-empty multiple of the sector size (checked above).
        let token = unsafe {
            self.disk
                .read_blocks_nb(first, &mut request, &mut data, &mut response)
        }
        .map_err(|_| failure(errno::EIO))?;
        self.wait();
        // SAFETY: the same buffers as were given to `read_blocks_nb` for `token`.
        unsafe {
            self.disk
                .complete_read_blocks(token, &request, &mut data, &mut response)
        }
        .map_err(|_| failure(errno::EIO))?;
        Ok(data)
    }

    fn write(&mut self, _sender: u32, block: u64, data: &[u8]) -> Result<(), u32> {
        let count = data.len() / BLOCK_SIZE;
        if data.is_empty() || !data.len().is_multiple_of(BLOCK_SIZE) || count > MAXIMUM_WRITE_BLOCKS
        {
            return Err(failure(errno::EINVAL));
        }
        if self.read_only {
            return Err(failure(errno::EROFS));
        }
        let first = self.check_range(block, count as u64)?;
        let mut request = BlkReq::default();
        let mut response = BlkResp::default();
        // SAFETY: `request`, `data` and `response` stay borrowed by this function, untouched,
        // until `complete_write_blocks` has taken the request back from the queue. `data` is a
        // non-empty multiple of the sector size (checked above).
        let token = unsafe {
            self.disk
                .write_blocks_nb(first, &mut request, data, &mut response)
        }
        .map_err(|_| failure(errno::EIO))?;
        self.wait();
        // SAFETY: the same buffers as were given to `write_blocks_nb` for `token`.
        unsafe {
            self.disk
                .complete_write_blocks(token, &request, data, &mut response)
        }
        .map_err(|_| failure(errno::EIO))
    }

    fn flush(&mut self, _sender: u32) -> Result<(), u32> {
        // `VirtIOBlk::flush` sends VIRTIO_BLK_T_FLUSH when the device offered VIRTIO_BLK_F_FLUSH
        // and succeeds at once otherwise (docs/drivers.md). It has no non-blocking form: it
        // spins on the used ring without yielding, which a flush, rare and short under QEMU,
        // can afford.
        self.disk.flush().map_err(|_| failure(errno::EIO))
    }
}
