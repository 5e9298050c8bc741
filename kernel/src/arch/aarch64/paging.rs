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

use crate::memory::DirectMap;
use septa_kernel_core::page_table;
pub use septa_kernel_core::page_table::{Access, MapError, Translation};

/// Where physical memory is mapped in the kernel's half.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
/// The direct map's first gigabyte, where QEMU's `virt` puts its devices, is mapped as
/// Device-nGnRE memory (the boot trampoline's 1 GiB block, attribute index 0); the rest as
/// normal memory. Device registers are reached only below this address.
pub const DEVICE_MEMORY_END: u64 = 1 << 30;
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
static ASIDS: [AtomicU64; 4] = [
    AtomicU64::new(1),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

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
    // same virtual addresses, only with narrower permissions (every page already W^X, so WXN
    // takes nothing the kernel needs), when TTBR1 is reloaded.
    unsafe {
        let area = &raw mut KERNEL_TABLES_AREA;
        let table =
            |table: *const [u64; 512]| image_to_physical(table as u64) | VALID | TABLE_OR_PAGE;
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
        // From here on no page is both writable and executable, at any level: write implies
        // execute-never (SCTLR_EL1.WXN). The TLB may cache that bit, so it is set before the
        // one flush that also drops the boot tables' translations.
        asm!(
            "dsb ishst",
            "msr ttbr1_el1, {kernel}",
            "msr ttbr0_el1, {user}",
            "mrs {control}, sctlr_el1",
            "orr {control}, {control}, #(1 << 19)",
            "msr sctlr_el1, {control}",
            "isb",
            "tlbi vmalle1is",
            "dsb ish",
            "isb",
            kernel = in(reg) image_to_physical(&raw const (*area).root as u64),
            user = in(reg) kernel_root(),
            control = out(reg) _,
            options(nostack, preserves_flags),
        );
    }
}

fn asid(root: u64) -> u64 {
    root >> ASID_SHIFT
}

/// Creates a root for a new entity: an empty table and a free ASID (`None` when either is
/// exhausted).
pub fn create_root(allocate: &mut dyn FnMut() -> Option<u64>) -> Option<u64> {
    let in_use =
        |asid: u64| ASIDS[asid as usize / 64].load(Ordering::Relaxed) & (1 << (asid % 64)) != 0;
    let asid = (0..256u64).find(|&asid| !in_use(asid))?;
    let root = allocate()?;
    ASIDS[asid as usize / 64].fetch_or(1 << (asid % 64), Ordering::Relaxed);
    Some(root | asid << ASID_SHIFT)
}

/// The aarch64 format of user mappings: table descriptors, then page descriptors that are
/// non-global (tagged with the ASID), never executable by the kernel, and carry the EL0 access,
/// read-only and execute-never bits.
enum UserFormat {}

impl page_table::Format for UserFormat {
    const ADDRESS_MASK: u64 = ADDRESS_MASK;

    fn is_valid(entry: u64) -> bool {
        entry & VALID != 0
    }

    fn is_table(entry: u64) -> bool {
        entry & (VALID | TABLE_OR_PAGE) == VALID | TABLE_OR_PAGE
    }

    fn is_page(entry: u64) -> bool {
        Self::is_table(entry)
    }

    fn table(physical: u64) -> u64 {
        physical | VALID | TABLE_OR_PAGE
    }

    fn page(physical: u64, access: Access) -> u64 {
        let mut flags = PAGE | NOT_GLOBAL | EL0_ACCESS | PRIVILEGED_EXECUTE_NEVER;
        if !access.writable {
            flags |= READ_ONLY;
        }
        if !access.executable {
            flags |= USER_EXECUTE_NEVER;
        }
        physical | flags
    }

    fn user_access(entry: u64) -> Option<bool> {
        (entry & EL0_ACCESS != 0).then_some(entry & READ_ONLY == 0)
    }
}

/// Maps the 4 KiB page at `virtual_address` to `physical` for EL0.
pub fn map(
    root: u64,
    virtual_address: u64,
    physical: u64,
    access: Access,
    allocate: &mut dyn FnMut() -> Option<u64>,
) -> Result<(), MapError> {
    page_table::map::<UserFormat>(
        &mut DirectMap,
        root,
        virtual_address,
        physical,
        access,
        allocate,
    )?;
    // SAFETY: a barrier so the walker sees the new descriptor before the entity runs.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    Ok(())
}

/// Translates a user address, if it is mapped for EL0.
pub fn translate(root: u64, virtual_address: u64) -> Option<Translation> {
    page_table::translate::<UserFormat>(&DirectMap, root, virtual_address)
}

/// The first page at or after `start` and before `end` that is mapped in `root` (see
/// [`page_table::next_mapped`]).
pub fn next_mapped(root: u64, start: u64, end: u64) -> Option<u64> {
    page_table::next_mapped::<UserFormat>(&DirectMap, root, start, end)
}

/// Removes the user mapping of the page at `virtual_address`, returning the frame it mapped,
/// and drops any cached translation of it under the root's ASID.
pub fn unmap(root: u64, virtual_address: u64) -> Option<u64> {
    let frame = page_table::unmap::<UserFormat>(&mut DirectMap, root, virtual_address)?;
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
    page_table::destroy::<UserFormat>(&DirectMap, root, free);
    let asid = asid(root);
    // SAFETY: invalidating one ASID's translations.
    unsafe {
        asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) asid << ASID_SHIFT,
            options(nostack, preserves_flags));
    }
    ASIDS[asid as usize / 64].fetch_and(!(1 << (asid % 64)), Ordering::Relaxed);
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
