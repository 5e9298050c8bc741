//! Four-level radix page tables of 512 eight-byte entries over 4 KiB pages, for the lower
//! (user) half of an address space: the shape that x86_64's four-level paging and aarch64's
//! 4 KiB-granule, 48-bit translation share.
//!
//! The walks are written once here. Each architecture describes its descriptors with a
//! [`Format`]; the kernel reaches table frames through [`TableMemory`] (the direct map). Both
//! being traits, the walks run under `cargo test` against plain host memory.

/// Entries per table.
pub const ENTRIES: usize = 512;
/// Size of a page.
pub const PAGE_SIZE: u64 = 4096;
/// Bytes that one entry of each level spans: 512 GiB, 1 GiB, 2 MiB, 4 KiB.
const SPANS: [u64; 4] = [1 << 39, 1 << 30, 1 << 21, 1 << 12];
/// Root entries that belong to user space; the rest of the root is the kernel's.
pub const USER_ROOT_ENTRIES: usize = 256;
/// One past the highest user address.
pub const USER_END: u64 = (USER_ROOT_ENTRIES as u64) << 39;

/// How a user page is mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Writable by the entity.
    pub writable: bool,
    /// Executable by the entity.
    pub executable: bool,
}

/// Why a mapping failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The page is already mapped.
    AlreadyMapped,
    /// No frame was left for a page table.
    OutOfMemory,
    /// The address is not a lower-half user address.
    NotUserAddress,
}

/// A user page's translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the byte.
    pub physical: u64,
    /// Writable by the entity.
    pub writable: bool,
}

/// An architecture's descriptor format for user mappings.
pub trait Format {
    /// The bits of an entry that hold a physical address (and of a root value that hold the
    /// root table's address).
    const ADDRESS_MASK: u64;
    /// Whether an entry is in use at all (a slot that must not be overwritten).
    fn is_valid(entry: u64) -> bool;
    /// Whether an entry of levels 0 to 2 leads to a next-level table that user mappings use
    /// (not a large page, not a kernel-only table).
    fn is_table(entry: u64) -> bool;
    /// Whether a level-3 entry maps a page.
    fn is_page(entry: u64) -> bool;
    /// The entry for a new next-level table at `physical`.
    fn table(physical: u64) -> u64;
    /// The level-3 entry mapping `physical` for user mode with `access`.
    fn page(physical: u64, access: Access) -> u64;
    /// For a page entry: `Some(writable)` if user mode may reach the page, else `None`.
    fn user_access(entry: u64) -> Option<bool>;
}

/// Reads and writes table entries by the table's physical address.
pub trait TableMemory {
    /// Entry `index` of the table at `table`.
    fn read(&self, table: u64, index: usize) -> u64;
    /// Sets entry `index` of the table at `table`.
    fn write(&mut self, table: u64, index: usize, value: u64);
}

fn indices(virtual_address: u64) -> [usize; 4] {
    [
        ((virtual_address >> 39) & 511) as usize,
        ((virtual_address >> 30) & 511) as usize,
        ((virtual_address >> 21) & 511) as usize,
        ((virtual_address >> 12) & 511) as usize,
    ]
}

/// Whether `virtual_address` lies in the user half.
pub fn is_user_address(virtual_address: u64) -> bool {
    virtual_address < USER_END
}

/// Maps the page at `virtual_address` to `physical`, allocating (zeroed) tables on the way.
pub fn map<F: Format>(
    memory: &mut impl TableMemory,
    root: u64,
    virtual_address: u64,
    physical: u64,
    access: Access,
    allocate: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), MapError> {
    if !is_user_address(virtual_address) {
        return Err(MapError::NotUserAddress);
    }
    let path = indices(virtual_address);
    let mut table = root & F::ADDRESS_MASK;
    for &index in &path[..3] {
        let mut entry = memory.read(table, index);
        if !F::is_valid(entry) {
            let frame = allocate().ok_or(MapError::OutOfMemory)?;
            entry = F::table(frame);
            memory.write(table, index, entry);
        } else if !F::is_table(entry) {
            return Err(MapError::AlreadyMapped);
        }
        table = entry & F::ADDRESS_MASK;
    }
    if F::is_valid(memory.read(table, path[3])) {
        return Err(MapError::AlreadyMapped);
    }
    memory.write(table, path[3], F::page(physical & F::ADDRESS_MASK, access));
    Ok(())
}

/// The last-level table and index of the page entry mapping `virtual_address`, if the walk
/// reaches a page through user tables.
fn leaf<F: Format>(
    memory: &impl TableMemory,
    root: u64,
    virtual_address: u64,
) -> Option<(u64, usize)> {
    if !is_user_address(virtual_address) {
        return None;
    }
    let path = indices(virtual_address);
    let mut table = root & F::ADDRESS_MASK;
    for &index in &path[..3] {
        let entry = memory.read(table, index);
        if !F::is_table(entry) {
            return None;
        }
        table = entry & F::ADDRESS_MASK;
    }
    F::is_page(memory.read(table, path[3])).then_some((table, path[3]))
}

/// Translates a user address, if it is mapped for user mode.
pub fn translate<F: Format>(
    memory: &impl TableMemory,
    root: u64,
    virtual_address: u64,
) -> Option<Translation> {
    let (table, index) = leaf::<F>(memory, root, virtual_address)?;
    let entry = memory.read(table, index);
    let writable = F::user_access(entry)?;
    Some(Translation {
        physical: (entry & F::ADDRESS_MASK) | (virtual_address & (PAGE_SIZE - 1)),
        writable,
    })
}

/// The first mapped page at or after `start` and before `end`. Absent tables are skipped whole
/// (512 GiB, 1 GiB or 2 MiB at a time), so the cost follows what is mapped, not the size of
/// the range: an entity cannot keep the kernel busy by naming a huge range.
pub fn next_mapped<F: Format>(
    memory: &impl TableMemory,
    root: u64,
    start: u64,
    end: u64,
) -> Option<u64> {
    let end = end.min(USER_END);
    let mut address = start & !(PAGE_SIZE - 1);
    'search: while address < end {
        let path = indices(address);
        let mut table = root & F::ADDRESS_MASK;
        for (level, &index) in path.iter().enumerate() {
            let entry = memory.read(table, index);
            let usable = if level < 3 {
                F::is_table(entry)
            } else {
                F::is_page(entry)
            };
            if !usable {
                address = (address & !(SPANS[level] - 1)).checked_add(SPANS[level])?;
                continue 'search;
            }
            table = entry & F::ADDRESS_MASK;
        }
        return Some(address);
    }
    None
}

/// Clears the page entry for `virtual_address` and returns the frame it mapped. The caller
/// drops any cached translation.
pub fn unmap<F: Format>(
    memory: &mut impl TableMemory,
    root: u64,
    virtual_address: u64,
) -> Option<u64> {
    let (table, index) = leaf::<F>(memory, root, virtual_address)?;
    let frame = memory.read(table, index) & F::ADDRESS_MASK;
    memory.write(table, index, 0);
    Some(frame)
}

/// Hands every table frame of the user half to `free`, the root last (not the mapped pages,
/// which the caller owns).
pub fn destroy<F: Format>(memory: &impl TableMemory, root: u64, free: &mut dyn FnMut(u64)) {
    fn walk<F: Format>(
        memory: &impl TableMemory,
        table: u64,
        level: usize,
        entries: usize,
        free: &mut dyn FnMut(u64),
    ) {
        if level < 3 {
            for index in 0..entries {
                let entry = memory.read(table, index);
                if F::is_table(entry) {
                    walk::<F>(memory, entry & F::ADDRESS_MASK, level + 1, ENTRIES, free);
                }
            }
        }
        free(table);
    }
    walk::<F>(memory, root & F::ADDRESS_MASK, 0, USER_ROOT_ENTRIES, free);
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    /// A made-up format: bit 0 valid, bit 1 table/page, bit 2 user, bit 3 writable.
    struct Test;
    impl Format for Test {
        const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;
        fn is_valid(entry: u64) -> bool {
            entry & 1 != 0
        }
        fn is_table(entry: u64) -> bool {
            entry & 7 == 7
        }
        fn is_page(entry: u64) -> bool {
            entry & 3 == 3
        }
        fn table(physical: u64) -> u64 {
            physical | 7
        }
        fn page(physical: u64, access: Access) -> u64 {
            physical | 7 | if access.writable { 8 } else { 0 }
        }
        fn user_access(entry: u64) -> Option<bool> {
            (entry & 4 != 0).then_some(entry & 8 != 0)
        }
    }

    /// Tables as a map from (table, index) to entry, with a frame counter.
    #[derive(Default)]
    struct Memory {
        entries: BTreeMap<(u64, usize), u64>,
        next_frame: u64,
    }
    impl TableMemory for Memory {
        fn read(&self, table: u64, index: usize) -> u64 {
            self.entries.get(&(table, index)).copied().unwrap_or(0)
        }
        fn write(&mut self, table: u64, index: usize, value: u64) {
            self.entries.insert((table, index), value);
        }
    }
    impl Memory {
        fn frame(&mut self) -> u64 {
            self.next_frame += PAGE_SIZE;
            0x100_0000 + self.next_frame
        }
    }

    const ROOT: u64 = 0x10_0000;
    const READ_WRITE: Access = Access {
        writable: true,
        executable: false,
    };

    fn map_page(
        memory: &mut Memory,
        address: u64,
        physical: u64,
        access: Access,
    ) -> Result<(), MapError> {
        let mut frames: Vec<u64> = (0..3).map(|_| memory.frame()).collect();
        map::<Test>(memory, ROOT, address, physical, access, &mut || {
            frames.pop()
        })
    }

    #[test]
    fn maps_translates_and_unmaps() {
        let mut memory = Memory::default();
        map_page(&mut memory, 0x40_1000, 0x7000, READ_WRITE).unwrap();
        let translation = translate::<Test>(&memory, ROOT, 0x40_1234).unwrap();
        assert_eq!(
            translation,
            Translation {
                physical: 0x7234,
                writable: true
            }
        );
        assert_eq!(translate::<Test>(&memory, ROOT, 0x40_2000), None);
        assert_eq!(
            map_page(&mut memory, 0x40_1000, 0x8000, READ_WRITE),
            Err(MapError::AlreadyMapped)
        );
        assert_eq!(unmap::<Test>(&mut memory, ROOT, 0x40_1000), Some(0x7000));
        assert_eq!(translate::<Test>(&memory, ROOT, 0x40_1000), None);
        assert_eq!(unmap::<Test>(&mut memory, ROOT, 0x40_1000), None);
    }

    #[test]
    fn refuses_kernel_addresses() {
        let mut memory = Memory::default();
        assert_eq!(
            map_page(&mut memory, USER_END, 0x7000, READ_WRITE),
            Err(MapError::NotUserAddress)
        );
        assert_eq!(
            translate::<Test>(&memory, ROOT, 0xffff_8000_0000_0000),
            None
        );
    }

    #[test]
    fn read_only_pages_translate_as_such() {
        let mut memory = Memory::default();
        let read_only = Access {
            writable: false,
            executable: true,
        };
        map_page(&mut memory, 0x1000, 0x9000, read_only).unwrap();
        assert!(!translate::<Test>(&memory, ROOT, 0x1000).unwrap().writable);
    }

    #[test]
    fn running_out_of_frames_is_reported() {
        let mut memory = Memory::default();
        let result = map::<Test>(&mut memory, ROOT, 0x1000, 0x9000, READ_WRITE, &mut || None);
        assert_eq!(result, Err(MapError::OutOfMemory));
    }

    #[test]
    fn next_mapped_skips_empty_spans() {
        let mut memory = Memory::default();
        map_page(&mut memory, 0x2000, 0xa000, READ_WRITE).unwrap();
        map_page(&mut memory, 0x7f00_0000_0000, 0xb000, READ_WRITE).unwrap();
        assert_eq!(
            next_mapped::<Test>(&memory, ROOT, 0, USER_END),
            Some(0x2000)
        );
        assert_eq!(
            next_mapped::<Test>(&memory, ROOT, 0x3000, USER_END),
            Some(0x7f00_0000_0000)
        );
        assert_eq!(
            next_mapped::<Test>(&memory, ROOT, 0x3000, 0x7f00_0000_0000),
            None
        );
        assert_eq!(
            next_mapped::<Test>(&memory, ROOT, 0x7f00_0000_1000, u64::MAX),
            None
        );
    }

    #[test]
    fn destroy_frees_every_table_once_and_the_root_last() {
        let mut memory = Memory::default();
        map_page(&mut memory, 0x2000, 0xa000, READ_WRITE).unwrap();
        map_page(&mut memory, 0x7f00_0000_0000, 0xb000, READ_WRITE).unwrap();
        let mut freed = Vec::new();
        destroy::<Test>(&memory, ROOT, &mut |frame| freed.push(frame));
        assert_eq!(freed.len(), 1 + 3 + 3);
        assert_eq!(freed.last(), Some(&ROOT));
        let mut unique = freed.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), freed.len());
        assert!(!freed.contains(&0xa000) && !freed.contains(&0xb000));
    }
}
