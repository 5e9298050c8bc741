//! A regular file's contents in the ramfs: sparse 4 KiB pages, so that holes cost nothing and
//! `ftruncate` to a large size is cheap, as on tmpfs.

use super::budget::MemoryBudget;
use crate::errno::{Errno, Result};
use crate::file_system::MAXIMUM_FILE_SIZE;
use std::collections::BTreeMap;

/// Bytes in a page, the unit the budget is charged in.
pub const PAGE_SIZE: usize = 4096;

/// One page of data.
type Page = Box<[u8; PAGE_SIZE]>;

/// A file's bytes: its size, and the pages written so far (a page absent is zeros).
///
/// Invariant: every byte at or past `size` in an allocated page is zero, so that growing the
/// file (by `truncate` or by writing past the end) shows zeros without clearing anything.
#[derive(Debug, Default)]
pub struct Contents {
    size: u64,
    pages: BTreeMap<u64, Page>,
}

impl Contents {
    /// The file's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes of pages allocated (what the file costs the budget).
    pub fn allocated_bytes(&self) -> u64 {
        self.pages.len() as u64 * PAGE_SIZE as u64
    }

    /// Copies bytes from `offset` into `buffer`; returns how many (0 at or past the end).
    pub fn read_at(&self, offset: u64, buffer: &mut [u8]) -> usize {
        if offset >= self.size {
            return 0;
        }
        let count = buffer
            .len()
            .min(usize::try_from(self.size - offset).unwrap_or(usize::MAX));
        let mut done = 0;
        while done < count {
            let position = offset + done as u64;
            let within = (position % PAGE_SIZE as u64) as usize;
            let chunk = (PAGE_SIZE - within).min(count - done);
            let destination = &mut buffer[done..done + chunk];
            match self.pages.get(&(position / PAGE_SIZE as u64)) {
                Some(page) => destination.copy_from_slice(&page[within..within + chunk]),
                None => destination.fill(0),
            }
            done += chunk;
        }
        count
    }

    /// Writes `data` at `offset`, allocating pages from `budget`; returns the bytes written.
    /// Stops early at the first page the budget cannot hold (`ENOSPC` if that is the first);
    /// a write reaching past [`MAXIMUM_FILE_SIZE`] is cut there (`EFBIG` if nothing is left).
    pub fn write_at(&mut self, offset: u64, data: &[u8], budget: &MemoryBudget) -> Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        if offset >= MAXIMUM_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        let room = usize::try_from(MAXIMUM_FILE_SIZE - offset).unwrap_or(usize::MAX);
        let data = &data[..data.len().min(room)];
        let mut written = 0;
        while written < data.len() {
            let position = offset + written as u64;
            let within = (position % PAGE_SIZE as u64) as usize;
            let chunk = (PAGE_SIZE - within).min(data.len() - written);
            let index = position / PAGE_SIZE as u64;
            let page = match self.pages.entry(index) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => {
                    if budget.charge(PAGE_SIZE as u64).is_err() {
                        break;
                    }
                    entry.insert(Box::new([0; PAGE_SIZE]))
                }
            };
            page[within..within + chunk].copy_from_slice(&data[written..written + chunk]);
            written += chunk;
        }
        if written == 0 {
            return Err(Errno::ENOSPC);
        }
        self.size = self.size.max(offset + written as u64);
        Ok(written)
    }

    /// Sets the length: shrinking frees whole pages past the end (back to `budget`) and clears
    /// the tail of the last one; growing allocates nothing.
    pub fn truncate(&mut self, length: u64, budget: &MemoryBudget) -> Result<()> {
        if length > MAXIMUM_FILE_SIZE {
            return Err(Errno::EFBIG);
        }
        if length < self.size {
            let kept_pages = length.div_ceil(PAGE_SIZE as u64);
            let freed = self.pages.split_off(&kept_pages);
            budget.release(freed.len() as u64 * PAGE_SIZE as u64);
            let within = (length % PAGE_SIZE as u64) as usize;
            if within != 0
                && let Some(page) = self.pages.get_mut(&(length / PAGE_SIZE as u64))
            {
                page[within..].fill(0);
            }
        }
        self.size = length;
        Ok(())
    }

    /// Frees every page back to `budget` (the file is being destroyed).
    pub fn release_all(&mut self, budget: &MemoryBudget) {
        budget.release(self.allocated_bytes());
        self.pages.clear();
        self.size = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(contents: &Contents) -> Vec<u8> {
        let mut buffer = vec![0xAA; contents.size() as usize];
        assert_eq!(contents.read_at(0, &mut buffer), buffer.len());
        buffer
    }

    #[test]
    fn writes_and_reads_cross_pages() {
        let budget = MemoryBudget::new(1 << 20);
        let mut contents = Contents::default();
        let data: Vec<u8> = (0..10_000u32).map(|value| value as u8).collect();
        assert_eq!(contents.write_at(100, &data, &budget), Ok(10_000));
        assert_eq!(contents.size(), 10_100);
        assert_eq!(budget.used(), 3 * PAGE_SIZE as u64);
        let all = read_all(&contents);
        assert!(all[..100].iter().all(|byte| *byte == 0));
        assert_eq!(&all[100..], &data[..]);
        let mut tail = [0u8; 50];
        assert_eq!(contents.read_at(10_080, &mut tail), 20);
        assert_eq!(contents.read_at(10_100, &mut tail), 0);
        assert_eq!(contents.read_at(u64::MAX, &mut tail), 0);
    }

    #[test]
    fn holes_cost_nothing_and_read_as_zeros() {
        let budget = MemoryBudget::new(1 << 20);
        let mut contents = Contents::default();
        assert_eq!(contents.truncate(1 << 40, &budget), Ok(()));
        assert_eq!(budget.used(), 0);
        assert_eq!(contents.write_at(1 << 39, b"middle", &budget), Ok(6));
        assert_eq!(budget.used(), PAGE_SIZE as u64);
        let mut buffer = [0xFFu8; 16];
        assert_eq!(contents.read_at((1 << 39) - 5, &mut buffer), 16);
        assert_eq!(&buffer[..5], &[0; 5]);
        assert_eq!(&buffer[5..11], b"middle");
        assert_eq!(&buffer[11..], &[0; 5]);
    }

    #[test]
    fn shrinking_clears_the_tail_that_growing_shows_again() {
        let budget = MemoryBudget::new(1 << 20);
        let mut contents = Contents::default();
        contents.write_at(0, &[7u8; 9000], &budget).unwrap();
        contents.truncate(10, &budget).unwrap();
        assert_eq!(budget.used(), PAGE_SIZE as u64);
        contents.truncate(9000, &budget).unwrap();
        let all = read_all(&contents);
        assert!(all[..10].iter().all(|byte| *byte == 7));
        assert!(all[10..].iter().all(|byte| *byte == 0));
        contents.truncate(0, &budget).unwrap();
        assert_eq!(budget.used(), 0);
        assert_eq!(
            contents.truncate(MAXIMUM_FILE_SIZE + 1, &budget),
            Err(Errno::EFBIG)
        );
    }

    #[test]
    fn a_full_budget_gives_short_writes_then_enospc() {
        let budget = MemoryBudget::new(2 * PAGE_SIZE as u64);
        let mut contents = Contents::default();
        assert_eq!(
            contents.write_at(0, &[1u8; 3 * PAGE_SIZE], &budget),
            Ok(2 * PAGE_SIZE)
        );
        assert_eq!(contents.size(), 2 * PAGE_SIZE as u64);
        assert_eq!(
            contents.write_at(2 * PAGE_SIZE as u64, b"more", &budget),
            Err(Errno::ENOSPC)
        );
        // Overwriting allocated pages needs no room.
        assert_eq!(contents.write_at(5, b"fits", &budget), Ok(4));
        contents.release_all(&budget);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn writes_stop_at_the_largest_file_size() {
        let budget = MemoryBudget::new(1 << 20);
        let mut contents = Contents::default();
        assert_eq!(
            contents.write_at(MAXIMUM_FILE_SIZE, b"x", &budget),
            Err(Errno::EFBIG)
        );
        assert_eq!(
            contents.write_at(MAXIMUM_FILE_SIZE - 2, b"abcd", &budget),
            Ok(2)
        );
        assert_eq!(contents.size(), MAXIMUM_FILE_SIZE);
    }
}
