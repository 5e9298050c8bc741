//! Translation tables with a 4 KiB granule and 48-bit addresses: per-entity TTBR0 roots tagged
//! with ASIDs, and the kernel's TTBR1 half shared by all.
//!
//! TTBR1 holds the direct map of the first 4 GiB of physical memory at [`DIRECT_MAP_BASE`]
//! (never executable; the first gigabyte, where QEMU's `virt` puts its devices, as device
//! memory) and the kernel image at `0xffffffff80000000` with W^X 4 KiB pages. Its entries
//! grant EL0 nothing. TTBR0 is the entity's own: 4 KiB pages whose descriptors carry the EL0
//! access and execute-never bits, and are never executable by the kernel (PXN).
//!
//! A root is a TTBR0 value: the table's physical address with the entity's ASID in bits
//! 63:48, so switching address spaces needs no TLB flush. ASID 0 belongs to the kernel's own
//! empty root.

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

/// Where physical memory is mapped in the kernel's half.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
const KERNEL_VIRTUAL_BASE: u64 = 0xffff_ffff_8000_0000;

const VALID: u64 = 1 << 0;
/// At levels 0-2, a table (not a block); at level 3, a page.
const TABLE_OR_PAGE: u64 = 1 << 1;
const NORMAL_MEMORY: u64 = 1 << 2;
const EL0_ACCESS: u64 = 1 << 6;
const READ_ONLY: u64 = 1 << 7;
const INNER_SHAREABLE: u64 = 3 << 8;
const ACCESSED: u64 = 1 << 10;
const NOT_GLOBAL: u64 = 1 << 11;
const PRIVILEGED_EXECUTE_NEVER: u64 = 1 << 53;
const USER_EXECUTE_NEVER: u64 = 1 << 54;
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;
const ASID_SHIFT: u64 = 48;
const USER_ENTRIES: usize = 256;
const PAGE: u64 = VALID | TABLE_OR_PAGE | NORMAL_MEMORY | INNER_SHAREABLE | ACCESSED;

/// The image's physical load address, from the boot trampoline.
static IMAGE_PHYSICAL: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    static kernel_text_start: u8;
    static kernel_text_end: u8;
    static kernel_rodata_end: u8;
    static kernel_end: u8;
    static boot_l1_direct: [u64; 512];
}

/// Page tables for the kernel image's 4 KiB mappings (bounds the image to 32 MiB).
const KERNEL_TABLES: usize = 16;

#[repr(C, align(4096))]
struct KernelTables {
    root: [u64; 512],
    upper: [u64; 512],
    directory: [u64; 512],
    tables: [[u64; 512]; KERNEL_TABLES],
    /// The kernel's TTBR0 root: empty, so nothing below the kernel's half is mapped.
    empty_user_root: [u64; 512],
}

static mut KERNEL_TABLES_AREA: KernelTables = KernelTables {
    root: [0; 512],
    upper: [0; 512],
    directory: [0; 512],
    tables: [[0; 512]; KERNEL_TABLES],
    empty_user_root: [0; 512],
};

/// ASIDs in use: bit n for ASID n (8-bit ASIDs; 0 is the kernel's).
static mut ASIDS: [u64; 4] = [1, 0, 0, 0];

/// Records where the boot loader put the image.
pub fn set_image_physical(physical: u64) {
    IMAGE_PHYSICAL.store(physical, Ordering::Relaxed);
}

/// The virtual address of physical address `physical` in the direct map.
pub fn physical_to_virtual(physical: u64) -> u64 {
    physical + DIRECT_MAP_BASE
}

/// The physical address of a kernel-image virtual address.
fn image_to_physical(virtual_address: u64) -> u64 {
    virtual_address - KERNEL_VIRTUAL_BASE + IMAGE_PHYSICAL.load(Ordering::Relaxed)
}

/// Physical start and end of the kernel image (including the boot tables and bss).
pub fn kernel_physical_extent() -> (u64, u64) {
    (
        image_to_physical(KERNEL_VIRTUAL_BASE),
        image_to_physical(&raw const kernel_end as u64),
    )
}

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

/// Waits for page-table writes to be visible to the table walker, and drops every stale
/// translation of the current processor's TLB.
fn flush_all() {
    // SAFETY: barriers and TLB invalidation only drop cached translations.
    unsafe { asm!("dsb ishst", "tlbi vmalle1is", "dsb ish", "isb", options(nostack, preserves_flags)) };
}

/// Replaces the boot tables: the kernel image mapped with 4 KiB pages and W^X (text
/// read-execute, read-only data, everything else read-write and execute-never), the direct map
/// kept, and the boot trampoline's identity map dropped by loading the empty user root.
pub fn initialise() {
    let text_start = &raw const kernel_text_start as u64;
    let text_end = &raw const kernel_text_end as u64;
    let rodata_end = &raw const kernel_rodata_end as u64;
    let end = &raw const kernel_end as u64;
    assert!(
        end - KERNEL_VIRTUAL_BASE <= (KERNEL_TABLES as u64) << 21,
        "kernel image larger than its page tables"
    );
    // SAFETY: single-threaded initialisation; the new tables are static, their physical
    // addresses follow from the image's load address, and the image keeps running through the
    // same virtual addresses, only with narrower permissions, when TTBR1 is reloaded.
    unsafe {
        let area = &raw mut KERNEL_TABLES_AREA;
        let table = |table: *const [u64; 512]| image_to_physical(table as u64) | VALID | TABLE_OR_PAGE;
        for page in (text_start..end).step_by(4096) {
            let offset = page - KERNEL_VIRTUAL_BASE;
            let (directory_index, table_index) =
                ((offset >> 21) as usize, ((offset >> 12) & 511) as usize);
            let mut flags = PAGE | USER_EXECUTE_NEVER;
            if page >= text_end {
                flags |= PRIVILEGED_EXECUTE_NEVER;
            }
            if page < rodata_end {
                flags |= READ_ONLY;
            }
            (*area).tables[directory_index][table_index] = image_to_physical(page) | flags;
            (*area).directory[directory_index] = table(&raw const (*area).tables[directory_index]);
        }
        (*area).upper[510] = table(&raw const (*area).directory);
        (*area).root[256] = table(&raw const boot_l1_direct);
        (*area).root[511] = table(&raw const (*area).upper);
        asm!(
            "dsb ishst",
            "msr ttbr1_el1, {kernel}",
            "msr ttbr0_el1, {user}",
            "isb",
            kernel = in(reg) image_to_physical(&raw const (*area).root as u64),
            user = in(reg) kernel_root(),
            options(nostack, preserves_flags),
        );
    }
    flush_all();
    // From now on no page is both writable and executable, at any level: write implies
    // execute-never (SCTLR_EL1.WXN).
    // SAFETY: every kernel page is already W^X, so the running code stays executable.
    unsafe {
        asm!("mrs {value}, sctlr_el1", "orr {value}, {value}, #(1 << 19)", "msr sctlr_el1, {value}",
            "isb", "tlbi vmalle1is", "dsb ish", "isb", value = out(reg) _, options(nostack, preserves_flags));
    }
}

fn table(physical: u64) -> *mut [u64; 512] {
    physical_to_virtual(physical & ADDRESS_MASK) as *mut [u64; 512]
}

fn asid(root: u64) -> u64 {
    root >> ASID_SHIFT
}

/// Creates a root for a new entity: an empty table and a free ASID (`None` when either is
/// exhausted).
pub fn create_root(allocate: &mut dyn FnMut() -> Option<u64>) -> Option<u64> {
    // SAFETY: the ASID bitmap is touched only by the kernel on its one processor.
    let asids = unsafe { &mut *(&raw mut ASIDS) };
    let asid = (0..256u64).find(|&asid| asids[asid as usize / 64] & (1 << (asid % 64)) == 0)?;
    let root = allocate()?;
    asids[asid as usize / 64] |= 1 << (asid % 64);
    Some(root | asid << ASID_SHIFT)
}

fn indices(virtual_address: u64) -> [usize; 4] {
    [
        ((virtual_address >> 39) & 511) as usize,
        ((virtual_address >> 30) & 511) as usize,
        ((virtual_address >> 21) & 511) as usize,
        ((virtual_address >> 12) & 511) as usize,
    ]
}

fn is_user_address(virtual_address: u64) -> bool {
    virtual_address < (USER_ENTRIES as u64) << 39
}

fn is_table(entry: u64) -> bool {
    entry & (VALID | TABLE_OR_PAGE) == VALID | TABLE_OR_PAGE
}

/// Maps the 4 KiB page at `virtual_address` to `physical` for EL0.
pub fn map(
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
    let mut current = root;
    for &index in &path[..3] {
        // SAFETY: `current` is a table frame owned by this root (or the root itself).
        let entry = unsafe { &mut (*table(current))[index] };
        if *entry & VALID == 0 {
            let frame = allocate().ok_or(MapError::OutOfMemory)?;
            *entry = frame | VALID | TABLE_OR_PAGE;
        }
        current = *entry;
    }
    // SAFETY: as above, the last-level table.
    let leaf = unsafe { &mut (*table(current))[path[3]] };
    if *leaf & VALID != 0 {
        return Err(MapError::AlreadyMapped);
    }
    let mut flags = PAGE | NOT_GLOBAL | EL0_ACCESS | PRIVILEGED_EXECUTE_NEVER;
    if !access.writable {
        flags |= READ_ONLY;
    }
    if !access.executable {
        flags |= USER_EXECUTE_NEVER;
    }
    *leaf = (physical & ADDRESS_MASK) | flags;
    // SAFETY: a barrier so the walker sees the new descriptor before the entity runs.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    Ok(())
}

/// A user page's translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address of the byte.
    pub physical: u64,
    /// Writable by the entity.
    pub writable: bool,
}

/// The valid page descriptor mapping `virtual_address` in `root`, if the walk reaches one
/// through tables.
fn leaf_entry(root: u64, virtual_address: u64) -> Option<*mut u64> {
    if !is_user_address(virtual_address) {
        return None;
    }
    let path = indices(virtual_address);
    let mut current = root;
    for &index in &path[..3] {
        // SAFETY: `current` is a table frame reachable from the root.
        let entry = unsafe { (*table(current))[index] };
        if !is_table(entry) {
            return None;
        }
        current = entry;
    }
    // SAFETY: as above, the last-level table; the pointer stays inside it.
    let leaf = unsafe { &raw mut (*table(current))[path[3]] };
    // SAFETY: `leaf` points into a live table.
    is_table(unsafe { *leaf }).then_some(leaf)
}

/// Translates a user address, if it is mapped for EL0.
pub fn translate(root: u64, virtual_address: u64) -> Option<Translation> {
    // SAFETY: `leaf_entry` returns a pointer into a live table of this root.
    let leaf = unsafe { *leaf_entry(root, virtual_address)? };
    if leaf & EL0_ACCESS == 0 {
        return None;
    }
    Some(Translation {
        physical: (leaf & ADDRESS_MASK) | (virtual_address & 0xfff),
        writable: leaf & READ_ONLY == 0,
    })
}

/// The first page at or after `start` and before `end` that is mapped in `root`. Absent tables
/// are skipped whole (512 GiB, 1 GiB or 2 MiB at a time), so the cost follows what is mapped,
/// not the size of the range.
pub fn next_mapped(root: u64, start: u64, end: u64) -> Option<u64> {
    const SPANS: [u64; 4] = [1 << 39, 1 << 30, 1 << 21, 1 << 12];
    let end = end.min((USER_ENTRIES as u64) << 39);
    let mut address = start & !0xfff;
    'search: while address < end {
        let path = indices(address);
        let mut current = root;
        for level in 0..4 {
            // SAFETY: `current` is a table frame reachable from the root.
            let entry = unsafe { (*table(current))[path[level]] };
            if !is_table(entry) {
                address = (address & !(SPANS[level] - 1)).checked_add(SPANS[level])?;
                continue 'search;
            }
            current = entry;
        }
        return Some(address);
    }
    None
}

/// Removes the user mapping of the page at `virtual_address`, returning the frame it mapped,
/// and drops any cached translation of it under the root's ASID.
pub fn unmap(root: u64, virtual_address: u64) -> Option<u64> {
    let leaf = leaf_entry(root, virtual_address)?;
    // SAFETY: `leaf_entry` returns a pointer into a live table owned by this root; the kernel
    // runs on one processor, so nothing else walks it meanwhile.
    let frame = unsafe {
        let frame = *leaf & ADDRESS_MASK;
        *leaf = 0;
        frame
    };
    let operand = asid(root) << ASID_SHIFT | (virtual_address >> 12 & 0xfff_ffff_ffff);
    // SAFETY: invalidating one page's translation for one ASID.
    unsafe {
        asm!("dsb ishst", "tlbi vae1is, {}", "dsb ish", "isb", in(reg) operand,
            options(nostack, preserves_flags));
    }
    Some(frame)
}

/// Frees the table frames of a root and the root itself (not the mapped pages, which the
/// caller owns and frees), drops the ASID's cached translations and frees the ASID.
pub fn destroy(root: u64, free: &mut dyn FnMut(u64)) {
    fn walk(table_physical: u64, level: usize, entries: usize, free: &mut dyn FnMut(u64)) {
        if level < 3 {
            for index in 0..entries {
                // SAFETY: the table is owned by the root being destroyed.
                let entry = unsafe { (*table(table_physical))[index] };
                if is_table(entry) {
                    walk(entry & ADDRESS_MASK, level + 1, 512, free);
                }
            }
        }
        free(table_physical & ADDRESS_MASK);
    }
    walk(root & ADDRESS_MASK, 0, USER_ENTRIES, free);
    let asid = asid(root);
    // SAFETY: invalidating one ASID's translations; the ASID bitmap is the kernel's alone.
    unsafe {
        asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) asid << ASID_SHIFT,
            options(nostack, preserves_flags));
        (*(&raw mut ASIDS))[asid as usize / 64] &= !(1 << (asid % 64));
    }
}

/// Switches to `root`.
pub fn activate(root: u64) {
    // SAFETY: the kernel lives in TTBR1, which does not change; the ASID tags keep other
    // entities' cached translations apart.
    unsafe { asm!("msr ttbr0_el1, {}", "isb", in(reg) root, options(nostack, preserves_flags)) };
}

/// The kernel's own root (used while no entity runs): empty, ASID 0.
pub fn kernel_root() -> u64 {
    // SAFETY: only the address of the static is taken.
    image_to_physical(unsafe { &raw const KERNEL_TABLES_AREA.empty_user_root } as u64)
}
