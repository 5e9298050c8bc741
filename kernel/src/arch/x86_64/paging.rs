//! Four-level x86_64 page tables: per-entity roots sharing the kernel's upper half.
//!
//! The upper half (PML4 entries 256..512) is the kernel's: the direct map of the first 4 GiB
//! of physical memory at [`DIRECT_MAP_BASE`] (its last 32 MiB, where the machine's devices
//! are, uncached: [`DEVICE_WINDOW`]) and the kernel image at `0xffffffff80000000`.
//! Every entity's root copies those entries, so the kernel is mapped everywhere but only
//! with supervisor pages: user mode cannot reach it. The lower half is the entity's own, built
//! from 4 KiB pages whose leaf entries carry the user, write and no-execute bits.

use core::arch::asm;

use crate::memory::DirectMap;
use septa_kernel_core::page_table;
pub use septa_kernel_core::page_table::{Access, MapError, Translation};

/// Where physical memory is mapped in every address space.
pub const DIRECT_MAP_BASE: u64 = 0xffff_8000_0000_0000;
const KERNEL_VIRTUAL_OFFSET: u64 = 0xffff_ffff_8000_0000;

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const LARGE: u64 = 1 << 7;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
const USER_ENTRIES: usize = page_table::USER_ROOT_ENTRIES;

/// Physical memory holding device registers: microvm's virtio-mmio transports (0xfeb00000),
/// its I/O APICs (0xfec00000) and the local APIC (0xfee00000) lie in the last 32 MiB below
/// 4 GiB, where a PC never has RAM. The direct map makes it uncached (PCD and PWT select PAT
/// entry 3, UC, whatever the MTRRs say): registers must be neither cached nor combined, and
/// reads must reach the device (Intel SDM vol. 3A, 12.3 "Methods of caching available").
pub const DEVICE_WINDOW: core::ops::Range<u64> = 0xfe00_0000..0x1_0000_0000;

static mut KERNEL_ROOT: u64 = 0;

unsafe extern "C" {
    static pvh_start: u8;
    static kernel_text_start: u8;
    static kernel_text_end: u8;
    static kernel_rodata_end: u8;
    static kernel_end: u8;
}

/// Page tables for the kernel image's 4 KiB mappings (bounds the image to 32 MiB).
const KERNEL_TABLES: usize = 16;

#[repr(C, align(4096))]
struct KernelTables {
    directory: [u64; 512],
    tables: [[u64; 512]; KERNEL_TABLES],
}

static mut KERNEL_TABLES_AREA: KernelTables = KernelTables {
    directory: [0; 512],
    tables: [[0; 512]; KERNEL_TABLES],
};

/// The virtual address of physical address `physical` in the direct map.
pub fn physical_to_virtual(physical: u64) -> u64 {
    physical + DIRECT_MAP_BASE
}

/// Physical start and end of the kernel image (including boot tables and bss).
pub fn kernel_physical_extent() -> (u64, u64) {
    (
        &raw const pvh_start as u64,
        &raw const kernel_end as u64 - KERNEL_VIRTUAL_OFFSET,
    )
}

/// Takes over the boot page tables: maps the kernel image with 4 KiB pages and W^X (text
/// read-execute, read-only data, everything else no-execute), makes the direct map of
/// [`DEVICE_WINDOW`] uncached, and drops the boot trampoline's identity map of low memory.
pub fn initialise() {
    let root: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) root, options(nomem, nostack, preserves_flags)) };
    let root = root & ADDRESS_MASK;
    let text_start = &raw const kernel_text_start as u64;
    let text_end = &raw const kernel_text_end as u64;
    let rodata_end = &raw const kernel_rodata_end as u64;
    let end = &raw const kernel_end as u64;
    let window = KERNEL_VIRTUAL_OFFSET;
    assert!(
        end - window <= (KERNEL_TABLES as u64) << 21,
        "kernel image larger than its page tables"
    );
    // SAFETY: single-threaded initialisation; the new tables are static, their physical
    // addresses follow from the image's fixed offset, and the image keeps running through the
    // same virtual addresses, only with narrower permissions, when CR3 is reloaded.
    unsafe {
        let area = &raw mut KERNEL_TABLES_AREA;
        let physical = |virtual_address: u64| virtual_address - KERNEL_VIRTUAL_OFFSET;
        for page in (text_start..end).step_by(4096) {
            let offset = page - window;
            let (directory_index, table_index) =
                ((offset >> 21) as usize, ((offset >> 12) & 511) as usize);
            let mut flags = PRESENT;
            if page >= text_end {
                flags |= NO_EXECUTE;
            }
            if page >= rodata_end {
                flags |= WRITABLE;
            }
            (*area).tables[directory_index][table_index] = physical(page) | flags;
            (*area).directory[directory_index] =
                physical(&raw const (*area).tables[directory_index] as u64) | PRESENT | WRITABLE;
        }
        let directory = physical(&raw const (*area).directory as u64);
        let pml4 = &mut *table(root);
        // The boot trampoline maps the direct map with 2 MiB pages; the CR3 write below drops
        // their cached, write-back translations.
        let direct = pml4[(DIRECT_MAP_BASE >> 39 & 511) as usize] & ADDRESS_MASK;
        for large_page in DEVICE_WINDOW.step_by(2 << 20) {
            let device_directory = (*table(direct))[(large_page >> 30) as usize] & ADDRESS_MASK;
            (*table(device_directory))[(large_page >> 21 & 511) as usize] |=
                CACHE_DISABLE | WRITE_THROUGH;
        }
        let kernel_pdpt = pml4[511] & ADDRESS_MASK;
        (*table(kernel_pdpt))[510] = directory | PRESENT | WRITABLE;
        pml4[0] = 0;
        asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags));
        KERNEL_ROOT = root;
    }
}

fn table(physical: u64) -> *mut [u64; 512] {
    physical_to_virtual(physical) as *mut [u64; 512]
}

/// Creates a root for a new entity: empty lower half, the kernel's upper half.
pub fn create_root(allocate: &mut dyn FnMut() -> Option<u64>) -> Option<u64> {
    let root = allocate()?;
    // SAFETY: `allocate` returns a fresh, zeroed frame in the direct map; the kernel root is a
    // valid table that is never freed.
    unsafe {
        let kernel = &*table(KERNEL_ROOT);
        let new = &mut *table(root);
        new[..USER_ENTRIES].fill(0);
        new[USER_ENTRIES..].copy_from_slice(&kernel[USER_ENTRIES..]);
    }
    Some(root)
}

/// The x86_64 format of user mappings: every level carries the user bit; leaves add write and
/// no-execute.
enum UserFormat {}

impl page_table::Format for UserFormat {
    const ADDRESS_MASK: u64 = ADDRESS_MASK;

    fn is_valid(entry: u64) -> bool {
        entry & PRESENT != 0
    }

    fn is_table(entry: u64) -> bool {
        entry & (PRESENT | USER | LARGE) == PRESENT | USER
    }

    fn is_page(entry: u64) -> bool {
        entry & PRESENT != 0
    }

    fn table(physical: u64) -> u64 {
        physical | PRESENT | WRITABLE | USER
    }

    fn page(physical: u64, access: Access) -> u64 {
        let mut flags = PRESENT | USER;
        if access.writable {
            flags |= WRITABLE;
        }
        if !access.executable {
            flags |= NO_EXECUTE;
        }
        physical | flags
    }

    fn user_access(entry: u64) -> Option<bool> {
        (entry & USER != 0).then_some(entry & WRITABLE != 0)
    }
}

/// Maps the 4 KiB page at `virtual_address` to `physical` for user mode.
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
    )
}

/// Translates a user address, if it is mapped for user mode.
pub fn translate(root: u64, virtual_address: u64) -> Option<Translation> {
    page_table::translate::<UserFormat>(&DirectMap, root, virtual_address)
}

/// The first page at or after `start` and before `end` that is mapped in `root`'s lower half
/// (see [`page_table::next_mapped`]).
pub fn next_mapped(root: u64, start: u64, end: u64) -> Option<u64> {
    page_table::next_mapped::<UserFormat>(&DirectMap, root, start, end)
}

/// Removes the user mapping of the page at `virtual_address`, returning the frame it mapped,
/// and drops any stale translation of it if `root` is the active root.
pub fn unmap(root: u64, virtual_address: u64) -> Option<u64> {
    let frame = page_table::unmap::<UserFormat>(&mut DirectMap, root, virtual_address)?;
    let active: u64;
    // SAFETY: reading CR3 has no side effects; `invlpg` only drops a cached translation.
    unsafe {
        asm!("mov {}, cr3", out(reg) active, options(nomem, nostack, preserves_flags));
        if active & ADDRESS_MASK == root {
            asm!("invlpg [{}]", in(reg) virtual_address, options(nostack, preserves_flags));
        }
    }
    Some(frame)
}

/// Frees the page-table frames of a root's lower half and the root itself (not the mapped
/// pages, which the caller owns and frees).
pub fn destroy(root: u64, free: &mut dyn FnMut(u64)) {
    page_table::destroy::<UserFormat>(&DirectMap, root, free);
}

/// Switches to `root`.
pub fn activate(root: u64) {
    // SAFETY: every root shares the kernel's upper half, so the kernel keeps running.
    unsafe { asm!("mov cr3, {}", in(reg) root, options(nostack, preserves_flags)) };
}

/// The kernel's own root (used while no entity runs).
pub fn kernel_root() -> u64 {
    // SAFETY: read-only after initialisation.
    unsafe { KERNEL_ROOT }
}
