//! The Block interface's client as block storage: the disk a block driver entity (virtio-blk)
//! serves, reached by IPC (`interfaces/definitions/block.toml`).

use super::{BlockStorage, check_range};
use crate::errno::{Errno, Result};
use septa_interfaces::block::BlockClient;
use septa_interfaces::{CallError, Transport};

/// Most bytes one `read` or `write` request carries: 24 blocks of 512 bytes, which fits a
/// message's arena with room to spare (the Block interface's limit).
pub const MAXIMUM_TRANSFER_SIZE: usize = 24 * 512;

/// A block device served over IPC by a block driver entity.
pub struct BlockDevice<T: Transport> {
    client: BlockClient<T>,
    block_size: u32,
    block_count: u64,
    read_only: bool,
}

impl<T: Transport> BlockDevice<T> {
    /// Connects through `transport`: asks the driver for the device's geometry, which must
    /// have a block size that is a power of two from 512 to 4096 (`EINVAL` otherwise; `EIO`
    /// when the driver cannot be reached).
    pub fn connect(transport: T) -> Result<BlockDevice<T>> {
        let mut client = BlockClient::new(transport);
        let information = client.information().map_err(device_errno)?;
        let block_size = information.block_size;
        if !block_size.is_power_of_two() || !(512..=4096).contains(&block_size) {
            return Err(Errno::EINVAL);
        }
        Ok(BlockDevice {
            client,
            block_size,
            block_count: information.block_count,
            read_only: information.read_only != 0,
        })
    }

    /// Blocks one request may carry.
    fn blocks_per_transfer(&self) -> usize {
        (MAXIMUM_TRANSFER_SIZE / self.block_size as usize).max(1)
    }
}

/// The errno a failed Block call means for the file system: a read-only device is `EROFS`,
/// anything else (a device error, a driver that died, a denied or malformed call) `EIO`.
fn device_errno(error: CallError) -> Errno {
    match error {
        CallError::Status(status) if Errno::from_status(status) == Some(Errno::EROFS) => {
            Errno::EROFS
        }
        _ => Errno::EIO,
    }
}

impl<T: Transport> BlockStorage for BlockDevice<T> {
    fn block_size(&self) -> u32 {
        self.block_size
    }

    fn block_count(&self) -> u64 {
        self.block_count
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read_blocks(&mut self, first: u64, buffer: &mut [u8]) -> Result<()> {
        check_range(self, first, buffer.len())?;
        let block_size = self.block_size as usize;
        let chunk_size = self.blocks_per_transfer() * block_size;
        let mut block = first;
        for chunk in buffer.chunks_mut(chunk_size) {
            let count = (chunk.len() / block_size) as u32;
            let data = self.client.read(block, count).map_err(device_errno)?;
            // A driver that answers with another length is broken: never trust its bytes.
            if data.len() != chunk.len() {
                return Err(Errno::EIO);
            }
            chunk.copy_from_slice(&data);
            block += u64::from(count);
        }
        Ok(())
    }

    fn write_blocks(&mut self, first: u64, data: &[u8]) -> Result<()> {
        check_range(self, first, data.len())?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        let block_size = self.block_size as usize;
        let chunk_size = self.blocks_per_transfer() * block_size;
        let mut block = first;
        for chunk in data.chunks(chunk_size) {
            self.client.write(block, chunk).map_err(device_errno)?;
            block += (chunk.len() / block_size) as u64;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        self.client.flush().map_err(device_errno)
    }
}
