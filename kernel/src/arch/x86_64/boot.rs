//! PVH entry: from QEMU's 32-bit protected-mode hand-off to 64-bit Rust in the top 2 GiB.
//!
//! QEMU (and qboot on `-M microvm`) jumps to the physical address in the Xen
//! `XEN_ELFNOTE_PHYS32_ENTRY` note with paging off and `ebx` pointing at an `hvm_start_info`
//! (Xen's `arch-x86/hvm/start_info.h`). The trampoline builds boot page tables that map:
//! the first GiB identically (executable, for the trampoline itself), the first 4 GiB at
//! [`super::paging::DIRECT_MAP_BASE`] (no-execute: the kernel's view of physical memory,
//! including the local APIC), and the first GiB again at `0xffffffff80000000` for the kernel
//! image. It then enables long mode and calls [`kernel_entry`].

use core::arch::global_asm;

global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .p2align 2
    .long 4
    .long 4
    .long 18
    .asciz "Xen"
    .p2align 2
    .long pvh_start

    .section .boot.bss, "aw", @nobits
    .p2align 12
boot_pml4: .skip 4096
boot_pdpt_identity: .skip 4096
boot_pdpt_direct: .skip 4096
boot_pdpt_kernel: .skip 4096
boot_pd_executable: .skip 4096
boot_pd_direct: .skip 4 * 4096

    .section .boot.data, "aw"
    .p2align 3
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff
    .quad 0x00cf92000000ffff
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .boot.text, "ax"
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    movl %ebx, %edi

    /* PML4: identity, direct map (index 256) and kernel image (index 511). */
    movl $boot_pdpt_identity + 3, boot_pml4
    movl $boot_pdpt_direct + 3, boot_pml4 + 256 * 8
    movl $boot_pdpt_kernel + 3, boot_pml4 + 511 * 8
    movl $boot_pd_executable + 3, boot_pdpt_identity
    movl $boot_pd_executable + 3, boot_pdpt_kernel + 510 * 8
    movl $boot_pd_direct + 3, boot_pdpt_direct
    movl $boot_pd_direct + 4096 + 3, boot_pdpt_direct + 8
    movl $boot_pd_direct + 2 * 4096 + 3, boot_pdpt_direct + 16
    movl $boot_pd_direct + 3 * 4096 + 3, boot_pdpt_direct + 24

    /* Executable first GiB, 2 MiB pages: present, writable, large. */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd_executable(, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jne 1b

    /* Direct map of 4 GiB, 2 MiB pages, no-execute (bit 63). */
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, boot_pd_direct(, %ecx, 8)
    movl $0x80000000, boot_pd_direct + 4(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 2b

    /* PAE, then long mode with no-execute, then paging with write protection. */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $((1 << 31) | (1 << 16) | 1), %eax
    movl %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $boot_long_mode

    .code64
boot_long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movl %edi, %edi
    movabsq $boot_stack_top, %rsp
    movabsq ${entry}, %rax
    callq *%rax
3:  hlt
    jmp 3b
"#,
    entry = sym kernel_entry,
    options(att_syntax)
);

/// Xen's `hvm_start_info`, version 1.
#[repr(C)]
#[derive(Clone, Copy)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    module_count: u32,
    module_list: u64,
    command_line: u64,
    rsdp: u64,
    memory_map: u64,
    memory_map_entries: u32,
    reserved: u32,
}

/// One `hvm_modlist_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
struct ModuleEntry {
    address: u64,
    size: u64,
    command_line: u64,
    reserved: u64,
}

/// One `hvm_memmap_table_entry`.
#[repr(C)]
#[derive(Clone, Copy)]
struct MemoryMapEntry {
    address: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

const START_INFO_MAGIC: u32 = 0x336e_c578;
const MEMORY_KIND_RAM: u32 = 1;

/// Where QEMU's `microvm` puts its virtio-mmio transports, [`septa_abi::device::WINDOW_SIZE`]
/// bytes apart (`VIRTIO_MMIO_BASE` in QEMU's `include/hw/i386/microvm.h`): 24 of them when its
/// second I/O APIC is on (the default with ACPI), 8 otherwise. `info mtree` in QEMU 7.2 shows
/// 24, at 0xfeb00000..0xfeb03000, and the first `-device virtio-*-device` on the last of them.
/// The machine has no device tree to list them, so the kernel probes all 24: an absent
/// transport reads as zeros, which is not the magic value. They lie in the direct map's
/// uncached [`super::paging::DEVICE_WINDOW`].
const MICROVM_VIRTIO_BASE: u64 = 0xfeb0_0000;
const MICROVM_VIRTIO_TRANSPORTS: u64 = 24;
const _: () = assert!(
    super::paging::DEVICE_WINDOW.start <= MICROVM_VIRTIO_BASE
        && MICROVM_VIRTIO_BASE + MICROVM_VIRTIO_TRANSPORTS * septa_abi::device::WINDOW_SIZE
            <= super::paging::DEVICE_WINDOW.end
);

/// Reads a `T` from physical memory through the direct map.
///
/// # Safety
/// `physical` must hold a valid, initialised `T` (here: firmware-provided boot structures).
unsafe fn read_physical<T: Copy>(physical: u64) -> T {
    // SAFETY: the caller guarantees a valid T there; the direct map covers the first 4 GiB,
    // where firmware places boot structures.
    unsafe { core::ptr::read_unaligned(super::paging::physical_to_virtual(physical) as *const T) }
}

/// The first 64-bit Rust code: reads the boot information and starts the portable kernel.
extern "C" fn kernel_entry(start_info_physical: u64) -> ! {
    super::serial::initialise();
    super::cpu::initialise();
    // SAFETY: QEMU's PVH loader passes the address of a start_info structure in ebx.
    let start: StartInfo = unsafe { read_physical(start_info_physical) };
    if start.magic != START_INFO_MAGIC {
        panic!("PVH start_info magic is {:#x}, not a PVH boot", start.magic);
    }
    let mut boot = crate::BootInformation::empty();
    if start.version >= 1 {
        for index in 0..start.memory_map_entries.min(crate::BOOT_REGIONS_MAX as u32) {
            // SAFETY: the memory map has `memory_map_entries` entries at `memory_map`.
            let entry: MemoryMapEntry = unsafe {
                read_physical(start.memory_map + index as u64 * size_of::<MemoryMapEntry>() as u64)
            };
            if entry.kind == MEMORY_KIND_RAM {
                boot.add_memory(entry.address, entry.address + entry.size);
            }
        }
    }
    if start.module_count > 0 {
        // SAFETY: the module list has `module_count` entries at `module_list`.
        let module: ModuleEntry = unsafe { read_physical(start.module_list) };
        boot.boot_module = Some((module.address, module.size));
    }
    for index in 0..MICROVM_VIRTIO_TRANSPORTS {
        boot.add_device_candidate(MICROVM_VIRTIO_BASE + index * septa_abi::device::WINDOW_SIZE);
    }
    boot.reserve(start_info_physical, start_info_physical + 4096);
    let (image_start, image_end) = super::paging::kernel_physical_extent();
    boot.reserve(0, 0x10_0000);
    boot.reserve(image_start, image_end);
    crate::kernel_main(boot)
}
