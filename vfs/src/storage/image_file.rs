//! A host file as block storage: a disk image (`mkfs.fat` output) for tests and tools.

use super::{BlockStorage, check_range};
use crate::errno::{Errno, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Bytes per block of an image: the sector size virtio-blk has too.
pub const IMAGE_BLOCK_SIZE: u32 = 512;

/// A disk image on the host, in 512-byte blocks (a trailing partial block is not used).
#[derive(Debug)]
pub struct ImageFile {
    file: File,
    block_count: u64,
    read_only: bool,
}

impl ImageFile {
    /// Opens the image at `path` for reading and writing.
    pub fn open(path: &Path) -> std::io::Result<ImageFile> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        ImageFile::from_file(file, false)
    }

    /// Opens the image at `path` for reading only: writes are `EROFS`.
    pub fn open_read_only(path: &Path) -> std::io::Result<ImageFile> {
        ImageFile::from_file(File::open(path)?, true)
    }

    fn from_file(file: File, read_only: bool) -> std::io::Result<ImageFile> {
        let block_count = file.metadata()?.len() / u64::from(IMAGE_BLOCK_SIZE);
        Ok(ImageFile {
            file,
            block_count,
            read_only,
        })
    }

    fn seek_to(&mut self, first: u64) -> Result<()> {
        let offset = first
            .checked_mul(u64::from(IMAGE_BLOCK_SIZE))
            .ok_or(Errno::EINVAL)?;
        self.file
            .seek(SeekFrom::Start(offset))
            .map(|_| ())
            .map_err(|_| Errno::EIO)
    }
}

impl BlockStorage for ImageFile {
    fn block_size(&self) -> u32 {
        IMAGE_BLOCK_SIZE
    }

    fn block_count(&self) -> u64 {
        self.block_count
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn read_blocks(&mut self, first: u64, buffer: &mut [u8]) -> Result<()> {
        check_range(self, first, buffer.len())?;
        self.seek_to(first)?;
        self.file.read_exact(buffer).map_err(|_| Errno::EIO)
    }

    fn write_blocks(&mut self, first: u64, data: &[u8]) -> Result<()> {
        check_range(self, first, data.len())?;
        if self.read_only {
            return Err(Errno::EROFS);
        }
        self.seek_to(first)?;
        self.file.write_all(data).map_err(|_| Errno::EIO)
    }

    fn flush(&mut self) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        self.file.sync_all().map_err(|_| Errno::EIO)
    }
}
