//! The address-space table: which ranges libposix has handed out, with what protection, and
//! whether the kernel has pages behind them; and the bump allocator that picks new addresses.
//!
//! The table is a sorted array of [`REGION_LIMIT`] non-overlapping regions of uniform state
//! (adjacent regions with equal state merge), so it needs no heap: `malloc` itself depends on
//! it. A region is *reserved* (addresses only, as for `PROT_NONE`) or *mapped* (the kernel has
//! pages there). Addresses come from a bump allocator over a fixed window that never reuses a
//! range and leaves a guard page after each one; it skips ranges the program placed itself
//! with `MAP_FIXED`.

/// Bytes per page.
pub const PAGE_SIZE: usize = 4096;
/// Most regions the table holds; `mmap` and `mprotect` fail with `ENOMEM` beyond.
pub const REGION_LIMIT: usize = 4096;

/// The state of a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct State {
    /// Linux `PROT_*` bits.
    pub protection: i32,
    /// Whether the kernel has pages there (false: addresses reserved only).
    pub mapped: bool,
}

/// A region of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First address (page-aligned).
    pub start: usize,
    /// One past the last address (page-aligned).
    pub end: usize,
    /// Its state.
    pub state: State,
}

/// The part of a range that starts at a given address and has one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    /// First address.
    pub start: usize,
    /// One past the last address.
    pub end: usize,
    /// The state there, or `None` for addresses libposix did not hand out.
    pub state: Option<State>,
}

/// The table is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Full;

/// The address-space table and its allocator.
pub struct Regions {
    regions: [Region; REGION_LIMIT],
    count: usize,
    /// Where the allocator looks next.
    cursor: usize,
    /// One past the allocator's window.
    window_end: usize,
}

const EMPTY: Region = Region {
    start: 0,
    end: 0,
    state: State {
        protection: 0,
        mapped: false,
    },
};

/// `length` rounded up to whole pages, or `None` if that overflows.
pub fn page_round(length: usize) -> Option<usize> {
    length.checked_next_multiple_of(PAGE_SIZE)
}

/// Whether `address` is page-aligned.
pub fn page_aligned(address: usize) -> bool {
    address.is_multiple_of(PAGE_SIZE)
}

impl Regions {
    /// An empty table whose allocator hands out addresses in `window_start..window_end`.
    pub const fn new(window_start: usize, window_end: usize) -> Regions {
        Regions {
            regions: [EMPTY; REGION_LIMIT],
            count: 0,
            cursor: window_start,
            window_end,
        }
    }

    /// The regions, in address order.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.count]
    }

    /// Index of the first region ending after `address`.
    fn first_ending_after(&self, address: usize) -> usize {
        self.regions()
            .partition_point(|region| region.end <= address)
    }

    /// Picks an unused range of `length` bytes (page-rounded) in the window, without recording
    /// it: the caller records it with [`Regions::set`] once the kernel agreed.
    pub fn allocate(&mut self, length: usize) -> Option<usize> {
        let length = page_round(length)?;
        let mut start = self.cursor;
        loop {
            let end = start.checked_add(length)?;
            if end > self.window_end {
                return None;
            }
            let index = self.first_ending_after(start);
            match self.regions().get(index) {
                Some(region) if region.start < end => start = region.end + PAGE_SIZE,
                _ => {
                    // One guard page between consecutive allocations.
                    self.cursor = end + PAGE_SIZE;
                    return Some(start);
                }
            }
        }
    }

    /// Keeps the allocator from handing out `start..end` (a range placed or grown by the
    /// program itself).
    pub fn claim(&mut self, start: usize, end: usize) {
        if start <= self.cursor && self.cursor < end + PAGE_SIZE {
            self.cursor = end + PAGE_SIZE;
        }
    }

    /// The piece of `address..end` that starts at `address` and has one state.
    pub fn piece(&self, address: usize, end: usize) -> Piece {
        let index = self.first_ending_after(address);
        match self.regions().get(index) {
            Some(region) if region.start <= address => Piece {
                start: address,
                end: region.end.min(end),
                state: Some(region.state),
            },
            Some(region) => Piece {
                start: address,
                end: region.start.min(end),
                state: None,
            },
            None => Piece {
                start: address,
                end,
                state: None,
            },
        }
    }

    /// Whether every address of `start..end` is in some region.
    pub fn covers(&self, start: usize, end: usize) -> bool {
        let mut address = start;
        while address < end {
            let piece = self.piece(address, end);
            if piece.state.is_none() {
                return false;
            }
            address = piece.end;
        }
        true
    }

    /// Whether any address of `start..end` is in some region.
    pub fn overlaps(&self, start: usize, end: usize) -> bool {
        let index = self.first_ending_after(start);
        self.regions()
            .get(index)
            .is_some_and(|region| region.start < end)
    }

    /// Gives `start..end` the state `state`, or forgets it (`None`). Fails, changing nothing,
    /// when the table could not hold the result.
    pub fn set(&mut self, start: usize, end: usize, state: Option<State>) -> Result<(), Full> {
        if start >= end {
            return Ok(());
        }
        if self.count_after(start, end, state.is_some()) > REGION_LIMIT {
            return Err(Full);
        }
        self.remove(start, end);
        if let Some(state) = state {
            let index = self.first_ending_after(start);
            self.insert(index, Region { start, end, state });
            self.merge_around(index);
        }
        Ok(())
    }

    /// How many regions setting `start..end` leaves, before merging.
    fn count_after(&self, start: usize, end: usize, inserting: bool) -> usize {
        let mut count = self.count + usize::from(inserting);
        let first = self.first_ending_after(start);
        for region in self.regions()[first..]
            .iter()
            .take_while(|region| region.start < end)
        {
            if region.start < start && region.end > end {
                count += 1;
            } else if region.start >= start && region.end <= end {
                count -= 1;
            }
        }
        count
    }

    fn insert(&mut self, index: usize, region: Region) {
        self.regions.copy_within(index..self.count, index + 1);
        self.regions[index] = region;
        self.count += 1;
    }

    fn delete(&mut self, index: usize) {
        self.regions.copy_within(index + 1..self.count, index);
        self.count -= 1;
    }

    fn remove(&mut self, start: usize, end: usize) {
        let mut index = self.first_ending_after(start);
        while index < self.count && self.regions[index].start < end {
            let region = self.regions[index];
            if region.start < start && region.end > end {
                self.regions[index].end = start;
                self.insert(
                    index + 1,
                    Region {
                        start: end,
                        ..region
                    },
                );
                return;
            }
            if region.start < start {
                self.regions[index].end = start;
                index += 1;
            } else if region.end > end {
                self.regions[index].start = end;
                return;
            } else {
                self.delete(index);
            }
        }
    }

    fn merge_around(&mut self, index: usize) {
        if index + 1 < self.count {
            let (this, next) = (self.regions[index], self.regions[index + 1]);
            if this.end == next.start && this.state == next.state {
                self.regions[index].end = next.end;
                self.delete(index + 1);
            }
        }
        if index > 0 {
            let (previous, this) = (self.regions[index - 1], self.regions[index]);
            if previous.end == this.start && previous.state == this.state {
                self.regions[index - 1].end = this.end;
                self.delete(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::boxed::Box;
    use std::vec::Vec;

    const BASE: usize = 0x1000_0000;
    const READ_WRITE: State = State {
        protection: libc::PROT_READ | libc::PROT_WRITE,
        mapped: true,
    };
    const RESERVED: State = State {
        protection: libc::PROT_NONE,
        mapped: false,
    };

    fn table() -> Box<Regions> {
        Box::new(Regions::new(BASE, BASE + 0x100_0000))
    }

    fn spans(regions: &Regions) -> Vec<(usize, usize, State)> {
        regions
            .regions()
            .iter()
            .map(|region| (region.start - BASE, region.end - BASE, region.state))
            .collect()
    }

    #[test]
    fn allocations_never_overlap_and_leave_a_guard_page() {
        let mut regions = table();
        let first = regions.allocate(1).unwrap();
        assert_eq!(first, BASE);
        regions
            .set(first, first + PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        let second = regions.allocate(3 * PAGE_SIZE).unwrap();
        assert_eq!(second, BASE + 2 * PAGE_SIZE);
        regions
            .set(second, second + 3 * PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        // Freed ranges are not reused.
        regions.set(first, first + PAGE_SIZE, None).unwrap();
        assert_eq!(regions.allocate(PAGE_SIZE), Some(BASE + 6 * PAGE_SIZE));
    }

    #[test]
    fn allocation_skips_fixed_ranges_and_respects_the_window() {
        let mut regions = table();
        regions
            .set(BASE, BASE + 4 * PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        assert_eq!(regions.allocate(PAGE_SIZE), Some(BASE + 5 * PAGE_SIZE));
        assert_eq!(regions.allocate(0x100_0000), None);
        assert_eq!(regions.allocate(usize::MAX), None);
        regions.claim(BASE + 6 * PAGE_SIZE, BASE + 10 * PAGE_SIZE);
        assert_eq!(regions.allocate(PAGE_SIZE), Some(BASE + 11 * PAGE_SIZE));
    }

    #[test]
    fn setting_a_middle_part_splits_and_merging_restores() {
        let mut regions = table();
        regions
            .set(BASE, BASE + 8 * PAGE_SIZE, Some(RESERVED))
            .unwrap();
        regions
            .set(BASE + 2 * PAGE_SIZE, BASE + 3 * PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        assert_eq!(
            spans(&regions),
            [
                (0, 2 * PAGE_SIZE, RESERVED),
                (2 * PAGE_SIZE, 3 * PAGE_SIZE, READ_WRITE),
                (3 * PAGE_SIZE, 8 * PAGE_SIZE, RESERVED),
            ]
        );
        // Page by page, as mallocng unprotects its meta areas: neighbours merge.
        regions
            .set(BASE + 3 * PAGE_SIZE, BASE + 4 * PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        assert_eq!(regions.regions().len(), 3);
        assert_eq!(regions.regions()[1].end, BASE + 4 * PAGE_SIZE);
        regions
            .set(BASE + 2 * PAGE_SIZE, BASE + 4 * PAGE_SIZE, Some(RESERVED))
            .unwrap();
        assert_eq!(spans(&regions), [(0, 8 * PAGE_SIZE, RESERVED)]);
    }

    #[test]
    fn forgetting_trims_and_splits() {
        let mut regions = table();
        regions
            .set(BASE, BASE + 4 * PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        regions
            .set(BASE + 6 * PAGE_SIZE, BASE + 8 * PAGE_SIZE, Some(RESERVED))
            .unwrap();
        regions
            .set(BASE + PAGE_SIZE, BASE + 7 * PAGE_SIZE, None)
            .unwrap();
        assert_eq!(
            spans(&regions),
            [
                (0, PAGE_SIZE, READ_WRITE),
                (7 * PAGE_SIZE, 8 * PAGE_SIZE, RESERVED)
            ]
        );
        regions.set(BASE, BASE + 16 * PAGE_SIZE, None).unwrap();
        assert!(regions.regions().is_empty());
    }

    #[test]
    fn pieces_walk_regions_and_gaps() {
        let mut regions = table();
        regions
            .set(BASE + PAGE_SIZE, BASE + 3 * PAGE_SIZE, Some(READ_WRITE))
            .unwrap();
        regions
            .set(BASE + 3 * PAGE_SIZE, BASE + 4 * PAGE_SIZE, Some(RESERVED))
            .unwrap();
        let end = BASE + 6 * PAGE_SIZE;
        let mut address = BASE;
        let mut pieces = Vec::new();
        while address < end {
            let piece = regions.piece(address, end);
            pieces.push((piece.start - BASE, piece.end - BASE, piece.state));
            address = piece.end;
        }
        assert_eq!(
            pieces,
            [
                (0, PAGE_SIZE, None),
                (PAGE_SIZE, 3 * PAGE_SIZE, Some(READ_WRITE)),
                (3 * PAGE_SIZE, 4 * PAGE_SIZE, Some(RESERVED)),
                (4 * PAGE_SIZE, 6 * PAGE_SIZE, None),
            ]
        );
        assert!(regions.covers(BASE + PAGE_SIZE, BASE + 4 * PAGE_SIZE));
        assert!(!regions.covers(BASE, BASE + 2 * PAGE_SIZE));
        assert!(regions.overlaps(BASE, BASE + 2 * PAGE_SIZE));
        assert!(!regions.overlaps(BASE + 4 * PAGE_SIZE, BASE + 9 * PAGE_SIZE));
        assert!(!regions.overlaps(BASE, BASE + PAGE_SIZE));
    }

    #[test]
    fn a_full_table_refuses_and_changes_nothing() {
        let mut regions = table();
        // Regions of three pages in alternating states, so that nothing merges.
        let page = |index: usize| BASE + index * PAGE_SIZE;
        let mut index = 0;
        while regions
            .set(
                page(3 * index),
                page(3 * index + 3),
                Some(if index % 2 == 0 { READ_WRITE } else { RESERVED }),
            )
            .is_ok()
        {
            index += 1;
        }
        assert_eq!(regions.regions().len(), REGION_LIMIT);
        // Splitting a region needs an entry: refused, and nothing changes.
        assert_eq!(regions.set(page(1), page(2), None), Err(Full));
        assert_eq!(regions.set(page(1), page(2), Some(RESERVED)), Err(Full));
        assert_eq!(regions.regions()[0].end, page(3));
        // Replacing or forgetting whole regions still works on a full table.
        regions.set(page(0), page(3), Some(RESERVED)).unwrap();
        assert_eq!(regions.regions().len(), REGION_LIMIT - 1);
        regions.set(page(6), page(9), None).unwrap();
        assert_eq!(regions.regions().len(), REGION_LIMIT - 2);
    }

    #[test]
    fn page_helpers() {
        assert_eq!(page_round(1), Some(PAGE_SIZE));
        assert_eq!(page_round(PAGE_SIZE), Some(PAGE_SIZE));
        assert_eq!(page_round(0), Some(0));
        assert_eq!(page_round(usize::MAX), None);
        assert!(page_aligned(3 * PAGE_SIZE));
        assert!(!page_aligned(3 * PAGE_SIZE + 8));
    }
}
