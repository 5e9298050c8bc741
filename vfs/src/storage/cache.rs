//! The write-back block cache between fatfs and the device, and [`CachedDisk`], the
//! `Read + Write + Seek` byte stream over it that fatfs mounts.
//!
//! fatfs reads and writes a few bytes at a time (a 4-byte FAT entry, a 32-byte directory
//! entry) and a cluster at most, at any offset. The cache keeps whole blocks, at most
//! [`DEFAULT_CACHE_SIZE`] bytes of them by default: a read that misses fetches the block and
//! the ones after it in one request (read-ahead); a write changes the cached block and marks
//! it dirty, reading it first when the write covers only part of it (read-modify-write).
//! Dirty blocks reach the device only when the cache must make room (then all of them go, in
//! block order, consecutive blocks in one request) or when [`BlockCache::sync`] is called,
//! which writes them all and then flushes the device: that is what makes `fsync` durable.
//!
//! fatfs calls `flush` on its stream every time a file object is dropped, which is after every
//! operation the backend does; [`CachedDisk`]'s `flush` therefore writes nothing, and the FAT
//! backend calls [`BlockCache::sync`] itself on `fsync`, `sync` and unmount.

use super::BlockStorage;
use super::block_device::MAXIMUM_TRANSFER_SIZE;
use crate::errno::{Errno, Result};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::rc::Rc;

/// The cache's default size: 256 KiB of blocks.
pub const DEFAULT_CACHE_SIZE: usize = 256 * 1024;

/// Fewest blocks a cache holds, whatever size it is given: room for one read-ahead and more.
const MINIMUM_CACHED_BLOCKS: usize = 64;

/// Counts of what the cache asked of the device (for tests and diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStatistics {
    /// `read_blocks` calls.
    pub device_reads: u64,
    /// `write_blocks` calls.
    pub device_writes: u64,
    /// Blocks written.
    pub blocks_written: u64,
    /// `flush` calls.
    pub device_flushes: u64,
}

struct CachedBlock {
    data: Box<[u8]>,
    dirty: bool,
    /// When it was last used: its key in [`BlockCache::recency`].
    last_use: u64,
}

/// A write-back cache of whole blocks of one device, least recently used evicted first.
pub struct BlockCache {
    storage: Box<dyn BlockStorage>,
    block_size: usize,
    /// Most blocks held.
    capacity: usize,
    blocks: HashMap<u64, CachedBlock>,
    /// Blocks by last use, oldest first.
    recency: BTreeMap<u64, u64>,
    uses: u64,
    statistics: CacheStatistics,
    /// While watched: where each 11-byte write began (see [`BlockCache::watch_short_names`]).
    watched: Option<Vec<u64>>,
}

impl BlockCache {
    /// A cache of at most `size` bytes (and at least 64 blocks) over `storage`.
    pub fn new(storage: Box<dyn BlockStorage>, size: usize) -> BlockCache {
        let block_size = storage.block_size().max(1) as usize;
        BlockCache {
            block_size,
            capacity: (size / block_size).max(MINIMUM_CACHED_BLOCKS),
            storage,
            blocks: HashMap::new(),
            recency: BTreeMap::new(),
            uses: 0,
            statistics: CacheStatistics::default(),
            watched: None,
        }
    }

    /// The device's size in bytes.
    pub fn device_size(&self) -> u64 {
        self.storage
            .block_count()
            .saturating_mul(self.block_size as u64)
    }

    /// Whether the device refuses writes.
    pub fn read_only(&self) -> bool {
        self.storage.read_only()
    }

    /// Blocks changed in the cache and not yet written to the device.
    pub fn dirty_blocks(&self) -> usize {
        self.blocks.values().filter(|block| block.dirty).count()
    }

    /// What the cache asked of the device so far.
    pub fn statistics(&self) -> CacheStatistics {
        self.statistics
    }

    /// Starts noting where each write of exactly 11 bytes begins: fatfs writes a short
    /// directory entry's name that way, so the FAT backend finds the entries an operation
    /// wrote (see `crate::fat`, "directory repair").
    pub fn watch_short_names(&mut self) {
        self.watched = Some(Vec::new());
    }

    /// Stops watching; the offsets noted since [`BlockCache::watch_short_names`].
    pub fn take_watched(&mut self) -> Vec<u64> {
        self.watched.take().unwrap_or_default()
    }

    /// Reads `buffer.len()` bytes at byte `offset` (`EINVAL` past the device's end).
    pub fn read(&mut self, offset: u64, buffer: &mut [u8]) -> Result<()> {
        self.check_bytes(offset, buffer.len())?;
        let mut done = 0;
        while done < buffer.len() {
            let position = offset + done as u64;
            let block = position / self.block_size as u64;
            let within = (position % self.block_size as u64) as usize;
            let length = (self.block_size - within).min(buffer.len() - done);
            let cached = self.load(block, false)?;
            buffer[done..done + length].copy_from_slice(&cached.data[within..within + length]);
            done += length;
        }
        Ok(())
    }

    /// Writes `data` at byte `offset` into the cache (`EINVAL` past the device's end, `EROFS`
    /// on a read-only device). A block the write covers only in part is read first.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<()> {
        self.check_bytes(offset, data.len())?;
        if self.storage.read_only() {
            return Err(Errno::EROFS);
        }
        if let Some(watched) = self.watched.as_mut()
            && data.len() == 11
        {
            watched.push(offset);
        }
        let mut done = 0;
        while done < data.len() {
            let position = offset + done as u64;
            let block = position / self.block_size as u64;
            let within = (position % self.block_size as u64) as usize;
            let length = (self.block_size - within).min(data.len() - done);
            let whole = length == self.block_size;
            let cached = self.load(block, whole)?;
            cached.data[within..within + length].copy_from_slice(&data[done..done + length]);
            cached.dirty = true;
            done += length;
        }
        Ok(())
    }

    /// Writes every dirty block to the device, in block order, runs of consecutive blocks in
    /// one call. A block whose write fails stays dirty (and the error is returned).
    pub fn write_back(&mut self) -> Result<()> {
        let mut dirty: Vec<u64> = self
            .blocks
            .iter()
            .filter(|(_, cached)| cached.dirty)
            .map(|(block, _)| *block)
            .collect();
        dirty.sort_unstable();
        let run_limit = (MAXIMUM_TRANSFER_SIZE / self.block_size).max(1);
        let mut run: Vec<u8> = Vec::with_capacity(run_limit * self.block_size);
        let mut index = 0;
        while index < dirty.len() {
            let first = dirty[index];
            let mut count = 0;
            run.clear();
            while index < dirty.len() && dirty[index] == first + count as u64 && count < run_limit {
                if let Some(cached) = self.blocks.get(&dirty[index]) {
                    run.extend_from_slice(&cached.data);
                }
                count += 1;
                index += 1;
            }
            self.statistics.device_writes += 1;
            self.storage.write_blocks(first, &run)?;
            self.statistics.blocks_written += count as u64;
            for block in first..first + count as u64 {
                if let Some(cached) = self.blocks.get_mut(&block) {
                    cached.dirty = false;
                }
            }
        }
        Ok(())
    }

    /// Makes everything written so far durable: every dirty block to the device, then the
    /// device's flush.
    pub fn sync(&mut self) -> Result<()> {
        self.write_back()?;
        if self.storage.read_only() {
            return Ok(());
        }
        self.statistics.device_flushes += 1;
        self.storage.flush()
    }

    /// Checks that `length` bytes at `offset` lie within the device.
    fn check_bytes(&self, offset: u64, length: usize) -> Result<()> {
        match offset.checked_add(length as u64) {
            Some(end) if end <= self.device_size() => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Marks `block` (cached) as just used.
    fn touch(&mut self, block: u64) {
        self.uses += 1;
        let now = self.uses;
        if let Some(cached) = self.blocks.get_mut(&block) {
            self.recency.remove(&cached.last_use);
            cached.last_use = now;
            self.recency.insert(now, block);
        }
    }

    /// Makes room for `count` more blocks: evicts the least recently used, writing every
    /// dirty block back first when one of them is to go.
    fn make_room(&mut self, count: usize) -> Result<()> {
        while self.blocks.len() + count > self.capacity {
            let Some((&last_use, &victim)) = self.recency.iter().next() else {
                break;
            };
            if self.blocks.get(&victim).is_some_and(|cached| cached.dirty) {
                self.write_back()?;
            }
            self.recency.remove(&last_use);
            self.blocks.remove(&victim);
        }
        Ok(())
    }

    fn insert(&mut self, block: u64, data: Box<[u8]>) {
        self.uses += 1;
        let last_use = self.uses;
        self.recency.insert(last_use, block);
        self.blocks.insert(
            block,
            CachedBlock {
                data,
                dirty: false,
                last_use,
            },
        );
    }

    /// The cached `block`, fetched from the device if it is not cached (with the blocks after
    /// it, up to one request's worth) unless `overwrite` says the caller replaces all of it.
    fn load(&mut self, block: u64, overwrite: bool) -> Result<&mut CachedBlock> {
        if self.blocks.contains_key(&block) {
            self.touch(block);
        } else if overwrite {
            self.make_room(1)?;
            self.insert(block, vec![0; self.block_size].into_boxed_slice());
        } else {
            let limit = (MAXIMUM_TRANSFER_SIZE / self.block_size)
                .clamp(1, self.capacity / 2)
                .min(usize::try_from(self.storage.block_count() - block).unwrap_or(usize::MAX));
            let mut count = 1;
            while count < limit && !self.blocks.contains_key(&(block + count as u64)) {
                count += 1;
            }
            self.make_room(count)?;
            let mut buffer = vec![0; count * self.block_size];
            self.statistics.device_reads += 1;
            self.storage.read_blocks(block, &mut buffer)?;
            // The first block last, so that it is the most recently used.
            for index in (0..count).rev() {
                let start = index * self.block_size;
                let data = buffer[start..start + self.block_size].into();
                self.insert(block + index as u64, data);
            }
        }
        self.blocks.get_mut(&block).ok_or(Errno::EIO)
    }
}

/// A device error carried through fatfs inside an `io::Error`.
#[derive(Debug)]
struct DeviceFailure(Errno);

impl fmt::Display for DeviceFailure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "block device error (errno {})", self.0.0)
    }
}

impl std::error::Error for DeviceFailure {}

fn device_error(errno: Errno) -> io::Error {
    io::Error::other(DeviceFailure(errno))
}

/// The errno of a device failure that came back through fatfs, if `error` is one.
pub fn device_errno(error: &io::Error) -> Option<Errno> {
    error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<DeviceFailure>())
        .map(|failure| failure.0)
}

/// The device as one seekable byte stream over a shared [`BlockCache`]: what fatfs mounts.
pub struct CachedDisk {
    cache: Rc<RefCell<BlockCache>>,
    position: u64,
}

impl CachedDisk {
    /// A stream at offset 0 over `cache`.
    pub fn new(cache: Rc<RefCell<BlockCache>>) -> CachedDisk {
        CachedDisk { cache, position: 0 }
    }
}

impl Read for CachedDisk {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let mut cache = self.cache.borrow_mut();
        let left = cache.device_size().saturating_sub(self.position);
        let length = buffer
            .len()
            .min(usize::try_from(left).unwrap_or(usize::MAX));
        cache
            .read(self.position, &mut buffer[..length])
            .map_err(device_error)?;
        self.position += length as u64;
        Ok(length)
    }
}

impl Write for CachedDisk {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut cache = self.cache.borrow_mut();
        let left = cache.device_size().saturating_sub(self.position);
        let length = data.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if length == 0 && !data.is_empty() {
            // fatfs never writes past its volume; a device smaller than the volume says it is.
            return Err(device_error(Errno::EIO));
        }
        cache
            .write(self.position, &data[..length])
            .map_err(device_error)?;
        self.position += length as u64;
        Ok(length)
    }

    /// Writes nothing: fatfs flushes after every operation (see the module's documentation);
    /// durability is [`BlockCache::sync`]'s.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for CachedDisk {
    fn seek(&mut self, position: SeekFrom) -> io::Result<u64> {
        let size = self.cache.borrow().device_size();
        let target = match position {
            SeekFrom::Start(offset) => Some(offset),
            SeekFrom::Current(delta) => self.position.checked_add_signed(delta),
            SeekFrom::End(delta) => size.checked_add_signed(delta),
        };
        let target = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the device's start",
            )
        })?;
        self.position = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device in memory that counts its calls.
    struct MemoryDevice {
        blocks: Rc<RefCell<Vec<u8>>>,
        flushed: Rc<RefCell<Vec<u8>>>,
        fail: Rc<std::cell::Cell<bool>>,
    }

    impl BlockStorage for MemoryDevice {
        fn block_size(&self) -> u32 {
            512
        }
        fn block_count(&self) -> u64 {
            self.blocks.borrow().len() as u64 / 512
        }
        fn read_only(&self) -> bool {
            false
        }
        fn read_blocks(&mut self, first: u64, buffer: &mut [u8]) -> Result<()> {
            super::super::check_range(self, first, buffer.len())?;
            if self.fail.get() {
                return Err(Errno::EIO);
            }
            let start = first as usize * 512;
            buffer.copy_from_slice(&self.blocks.borrow()[start..start + buffer.len()]);
            Ok(())
        }
        fn write_blocks(&mut self, first: u64, data: &[u8]) -> Result<()> {
            super::super::check_range(self, first, data.len())?;
            if self.fail.get() {
                return Err(Errno::EIO);
            }
            let start = first as usize * 512;
            self.blocks.borrow_mut()[start..start + data.len()].copy_from_slice(data);
            Ok(())
        }
        fn flush(&mut self) -> Result<()> {
            *self.flushed.borrow_mut() = self.blocks.borrow().clone();
            Ok(())
        }
    }

    struct Fixture {
        blocks: Rc<RefCell<Vec<u8>>>,
        flushed: Rc<RefCell<Vec<u8>>>,
        fail: Rc<std::cell::Cell<bool>>,
    }

    fn cache(blocks: usize, size: usize) -> (BlockCache, Fixture) {
        let contents: Vec<u8> = (0..blocks * 512).map(|index| (index / 512) as u8).collect();
        let fixture = Fixture {
            blocks: Rc::new(RefCell::new(contents)),
            flushed: Rc::new(RefCell::new(Vec::new())),
            fail: Rc::new(std::cell::Cell::new(false)),
        };
        let device = MemoryDevice {
            blocks: fixture.blocks.clone(),
            flushed: fixture.flushed.clone(),
            fail: fixture.fail.clone(),
        };
        (BlockCache::new(Box::new(device), size), fixture)
    }

    #[test]
    fn reads_come_from_the_device_once_with_read_ahead() {
        let (mut cache, _fixture) = cache(100, 64 * 512);
        let mut buffer = [0u8; 4];
        cache.read(512 * 3 + 10, &mut buffer).unwrap();
        assert_eq!(buffer, [3; 4]);
        cache.read(512 * 10, &mut buffer).unwrap();
        assert_eq!(buffer, [10; 4]);
        assert_eq!(
            cache.statistics().device_reads,
            1,
            "block 10 was read ahead"
        );
        let mut across = [0u8; 2];
        cache.read(512 * 5 - 1, &mut across).unwrap();
        assert_eq!(across, [4, 5]);
        assert_eq!(cache.read(512 * 100, &mut buffer), Err(Errno::EINVAL));
    }

    #[test]
    fn writes_stay_in_the_cache_until_sync() {
        let (mut cache, fixture) = cache(100, 64 * 512);
        for index in 0..200u64 {
            cache.write(512 * 7 + index, &[0xAA]).unwrap();
        }
        cache.write(512 * 8, &[0xBB; 512]).unwrap();
        assert_eq!(fixture.blocks.borrow()[512 * 7], 7, "not written yet");
        assert_eq!(cache.dirty_blocks(), 2);
        cache.sync().unwrap();
        assert_eq!(cache.dirty_blocks(), 0);
        let flushed = fixture.flushed.borrow();
        assert_eq!(&flushed[512 * 7..512 * 7 + 200], &[0xAA; 200][..]);
        assert_eq!(flushed[512 * 7 + 200], 7, "the rest of the block was kept");
        assert_eq!(&flushed[512 * 8..512 * 9], &[0xBB; 512][..]);
        let statistics = cache.statistics();
        assert_eq!(
            statistics.device_writes, 1,
            "consecutive blocks in one write"
        );
        assert_eq!(statistics.blocks_written, 2);
        assert_eq!(statistics.device_flushes, 1);
    }

    #[test]
    fn a_full_cache_writes_back_before_evicting() {
        let (mut cache, fixture) = cache(1000, 0);
        for block in 0..500u64 {
            cache.write(block * 512, &[0xCC; 512]).unwrap();
        }
        assert!(cache.blocks.len() <= MINIMUM_CACHED_BLOCKS);
        cache.write_back().unwrap();
        let blocks = fixture.blocks.borrow();
        assert!(blocks[..500 * 512].iter().all(|byte| *byte == 0xCC));
        assert_eq!(blocks[500 * 512], 244, "block 500 untouched (500 mod 256)");
    }

    #[test]
    fn device_errors_reach_the_caller_and_keep_dirty_blocks() {
        let (mut cache, fixture) = cache(100, 64 * 512);
        cache.write(0, &[1; 10]).unwrap();
        fixture.fail.set(true);
        assert_eq!(cache.sync(), Err(Errno::EIO));
        assert_eq!(cache.dirty_blocks(), 1);
        let mut buffer = [0u8; 1];
        assert_eq!(cache.read(512 * 50, &mut buffer), Err(Errno::EIO));
        fixture.fail.set(false);
        cache.sync().unwrap();
        assert_eq!(fixture.flushed.borrow()[..10], [1; 10]);
    }

    #[test]
    fn the_disk_stream_seeks_reads_and_writes() {
        let (cache, fixture) = cache(4, 0);
        let cache = Rc::new(RefCell::new(cache));
        let mut disk = CachedDisk::new(cache.clone());
        disk.seek(SeekFrom::Start(510)).unwrap();
        disk.write_all(&[9, 9, 9, 9]).unwrap();
        disk.seek(SeekFrom::Current(-4)).unwrap();
        let mut buffer = [0u8; 4];
        disk.read_exact(&mut buffer).unwrap();
        assert_eq!(buffer, [9; 4]);
        assert_eq!(disk.seek(SeekFrom::End(0)).unwrap(), 2048);
        assert_eq!(disk.read(&mut buffer).unwrap(), 0);
        let error = disk.write(&[1]).unwrap_err();
        assert_eq!(device_errno(&error), Some(Errno::EIO));
        assert!(disk.seek(SeekFrom::Current(-4096)).is_err());
        disk.flush().unwrap();
        assert_eq!(
            fixture.blocks.borrow()[510],
            0,
            "flush of the stream writes nothing"
        );
        cache.borrow_mut().sync().unwrap();
        assert_eq!(fixture.blocks.borrow()[510], 9);
    }
}
