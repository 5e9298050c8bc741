//! Block storage under the FAT backend: the [`BlockStorage`] trait, its two devices (the Block
//! interface's client, [`BlockDevice`], and a host image file, [`ImageFile`]), and the
//! write-back [`BlockCache`] that fatfs reads and writes through.
//!
//! ```text
//!   fatfs ── Read/Write/Seek ──▶ CachedDisk ──▶ BlockCache (write-back, bounded, LRU)
//!                                                   └──▶ dyn BlockStorage
//!                                                          ├── BlockDevice<T: Transport>  (Block IPC)
//!                                                          └── ImageFile                  (host tests)
//! ```
//!
//! Errors are errno values: a device that fails is `EIO`, one that refuses writes `EROFS`.

mod block_device;
mod cache;
mod image_file;

pub use block_device::{BlockDevice, MAXIMUM_TRANSFER_SIZE};
pub use cache::{BlockCache, CacheStatistics, CachedDisk, DEFAULT_CACHE_SIZE, device_errno};
pub use image_file::{IMAGE_BLOCK_SIZE, ImageFile};

use crate::errno::Result;

/// A device of fixed-size blocks, read and written whole.
pub trait BlockStorage {
    /// Bytes per block: a power of two from 512 to 4096.
    fn block_size(&self) -> u32;

    /// Blocks on the device.
    fn block_count(&self) -> u64;

    /// Whether writes are refused (`EROFS`).
    fn read_only(&self) -> bool;

    /// Reads whole blocks from `first` on into `buffer`, whose length is a multiple of the
    /// block size. `EINVAL` for a range outside the device, `EIO` when the device fails.
    fn read_blocks(&mut self, first: u64, buffer: &mut [u8]) -> Result<()>;

    /// Writes whole blocks of `data` from `first` on; durable only after [`flush`].
    /// `EINVAL` for a range outside the device, `EROFS` on a read-only one, `EIO` on failure.
    ///
    /// [`flush`]: BlockStorage::flush
    fn write_blocks(&mut self, first: u64, data: &[u8]) -> Result<()>;

    /// Makes every completed write durable.
    fn flush(&mut self) -> Result<()>;
}

/// Checks a transfer of `length` bytes from block `first` against a device's geometry: whole
/// blocks, within the device (`EINVAL` otherwise).
pub(crate) fn check_range(storage: &dyn BlockStorage, first: u64, length: usize) -> Result<()> {
    let block_size = u64::from(storage.block_size());
    let length = length as u64;
    if block_size == 0 || !length.is_multiple_of(block_size) {
        return Err(crate::errno::Errno::EINVAL);
    }
    match first.checked_add(length / block_size) {
        Some(end) if end <= storage.block_count() => Ok(()),
        _ => Err(crate::errno::Errno::EINVAL),
    }
}
