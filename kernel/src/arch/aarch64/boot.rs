//! Boot: the arm64 image header, the trampoline that turns the MMU on, and the device tree.
//!
//! QEMU's `virt` board loads the image at a 2 MiB-aligned physical address and enters it at
//! EL1 (or EL2, which the trampoline leaves) with the MMU off and the device tree's physical
//! address in `x0` (the Linux arm64 boot protocol). The trampoline runs position-independent
//! at that physical address: it zeroes the bss, builds boot tables (a temporary identity map
//! of the first 4 GiB in TTBR0; in TTBR1 the direct map of the first 4 GiB and 2 MiB blocks
//! mapping the image at its link address), enables the MMU and jumps to the linked address.
//! [`super::paging::initialise`] later replaces these tables with W^X 4 KiB mappings.

use core::arch::global_asm;

use super::paging::{self, physical_to_virtual};

/// System-control value: MMU, caches, alignment checks of the stack pointer, EL0 may read the
/// cache type and zero cache lines and is not trapped on WFI/WFE; the bits that are RES1 in
/// ARMv8.0. Write-implies-execute-never comes on once the image has W^X pages
/// ([`super::paging::initialise`]); the boot blocks are both.
const SYSTEM_CONTROL: u64 = 0x30d5_d81d;
/// Translation control: 48-bit virtual addresses in both halves, 4 KiB granules, inner and
/// outer write-back cacheable, inner-shareable walks, 8-bit ASIDs taken from TTBR0. The
/// physical-address size is filled in from `ID_AA64MMFR0_EL1`.
const TRANSLATION_CONTROL: u64 = 0xb510_3510;
/// Memory attributes: index 0 Device-nGnRE (non-gathering, non-reordering, early write
/// acknowledgement: what device registers need, and what Linux's `ioremap` uses), index 1
/// normal write-back (ARM ARM, D8.5 "Memory region attributes").
const MEMORY_ATTRIBUTES: u64 = 0xff04;
/// Block descriptors used by the boot tables (valid block, access flag; normal memory is
/// inner-shareable attribute 1).
const BLOCK_NORMAL_EXECUTABLE: u64 = 0x0040_0000_0000_0705;
const BLOCK_NORMAL: u64 = 0x0060_0000_0000_0705;
const BLOCK_DEVICE: u64 = 0x0060_0000_0000_0401;
/// 2 MiB blocks mapping the image during boot (bounds it to 32 MiB, like the 4 KiB tables).
const BOOT_KERNEL_BLOCKS: u64 = 16;

global_asm!(
    r#"
    .section .head.text, "ax"
    .global image_header
image_header:
    b primary_entry
    .long 0
    .quad 0                     /* text_offset: load at a 2 MiB boundary */
    .quad kernel_image_size     /* effective size, bss included */
    .quad 0x2                   /* little-endian, 4 KiB pages, near the start of RAM */
    .quad 0, 0, 0
    .ascii "ARM\x64"
    .long 0

primary_entry:
    mov x19, x0
    msr daifset, #0xf
    mrs x1, CurrentEL
    cmp x1, #(2 << 2)
    b.ne 1f
    /* At EL2: run EL1 in AArch64 with the counters available, and drop to it. */
    mov x1, #(1 << 31)
    msr hcr_el2, x1
    mov x1, #3
    msr cnthctl_el2, x1
    msr cntvoff_el2, xzr
    mov x1, #0x3c5
    msr spsr_el2, x1
    adr x1, 1f
    msr elr_el2, x1
    eret
1:
    /* The boot blocks map the image 2 MiB at a time: stop here if it is not loaded on a 2 MiB
       boundary, as the boot protocol promises (nothing can be printed yet). */
    adr x20, image_header
    tst x20, #0x1fffff
    b.ne .
    adrp x1, kernel_bss_start
    add x1, x1, :lo12:kernel_bss_start
    adrp x2, kernel_end
    add x2, x2, :lo12:kernel_end
2:  cmp x1, x2
    b.hs 3f
    stp xzr, xzr, [x1], #16
    b 2b
3:
    /* Direct map: 1 GiB of devices, then 3 GiB of normal memory, never executable. */
    adrp x1, boot_l1_direct
    ldr x2, ={device}
    str x2, [x1]
    ldr x2, ={normal}
    mov x3, #1
4:  orr x4, x2, x3, lsl #30
    str x4, [x1, x3, lsl #3]
    add x3, x3, #1
    cmp x3, #4
    b.lo 4b
    /* Identity map of the first 4 GiB, only for the jump to the linked address. */
    adrp x1, boot_l1_identity
    ldr x2, ={normal_executable}
    mov x3, #0
5:  orr x4, x2, x3, lsl #30
    str x4, [x1, x3, lsl #3]
    add x3, x3, #1
    cmp x3, #4
    b.lo 5b
    /* The image at its link address. */
    adrp x1, boot_l2_kernel
    orr x2, x2, x20
    mov x3, #0
6:  add x4, x2, x3, lsl #21
    str x4, [x1, x3, lsl #3]
    add x3, x3, #1
    cmp x3, #{kernel_blocks}
    b.lo 6b
    adrp x1, boot_l1_kernel
    adrp x2, boot_l2_kernel
    orr x2, x2, #3
    str x2, [x1, #(510 * 8)]
    adrp x1, boot_l0_high
    adrp x2, boot_l1_direct
    orr x2, x2, #3
    str x2, [x1, #(256 * 8)]
    adrp x2, boot_l1_kernel
    orr x2, x2, #3
    str x2, [x1, #(511 * 8)]
    adrp x1, boot_l0_low
    adrp x2, boot_l1_identity
    orr x2, x2, #3
    str x2, [x1]

    ldr x1, ={attributes}
    msr mair_el1, x1
    ldr x1, ={control}
    mrs x2, id_aa64mmfr0_el1
    and x2, x2, #7
    cmp x2, #5
    mov x3, #5
    csel x2, x2, x3, ls
    orr x1, x1, x2, lsl #32
    msr tcr_el1, x1
    adrp x1, boot_l0_low
    msr ttbr0_el1, x1
    adrp x1, boot_l0_high
    msr ttbr1_el1, x1
    msr cpacr_el1, xzr
    isb
    tlbi vmalle1
    dsb nsh
    isb
    ldr x1, ={system}
    msr sctlr_el1, x1
    isb
    ldr x1, =high_entry
    br x1
    .ltorg

    .text
high_entry:
    adrp x1, boot_stack_top
    add x1, x1, :lo12:boot_stack_top
    mov sp, x1
    mov x0, x19
    mov x1, x20
    bl {entry}
    b .

    .section .bss.boot, "aw", %nobits
    .balign 4096
    .global boot_l1_direct
boot_l0_high: .skip 4096
boot_l0_low: .skip 4096
boot_l1_direct: .skip 4096
boot_l1_identity: .skip 4096
boot_l1_kernel: .skip 4096
boot_l2_kernel: .skip 4096
boot_stack_bottom: .skip 16384
boot_stack_top:
    .text
"#,
    device = const BLOCK_DEVICE,
    normal = const BLOCK_NORMAL,
    normal_executable = const BLOCK_NORMAL_EXECUTABLE,
    kernel_blocks = const BOOT_KERNEL_BLOCKS,
    attributes = const MEMORY_ATTRIBUTES,
    control = const TRANSLATION_CONTROL,
    system = const SYSTEM_CONTROL,
    entry = sym kernel_entry,
);

/// The largest device tree accepted.
const DEVICE_TREE_MAX: usize = 1 << 20;

/// The first Rust code, on the boot stack with the MMU on: reads the device tree, brings up the
/// console, the exception vectors and the interrupt controller, and starts the portable kernel.
extern "C" fn kernel_entry(device_tree_physical: u64, image_physical: u64) -> ! {
    paging::set_image_physical(image_physical);
    super::cpu::initialise();
    // SAFETY: the loader passes the device tree's physical address; its header is inside the
    // direct map, and `Fdt::new` checks the magic and the size before reading further.
    let tree = unsafe {
        let header = physical_to_virtual(device_tree_physical) as *const u8;
        let size = u32::from_be_bytes(*(header.add(4) as *const [u8; 4])) as usize;
        core::slice::from_raw_parts(header, size.min(DEVICE_TREE_MAX))
    };
    let Ok(tree) = fdt::Fdt::new(tree) else {
        super::power_off(126);
    };
    let Some(console) = first_register(&tree, &["arm,pl011"]) else {
        super::power_off(126);
    };
    super::serial::initialise(console);
    let mut interrupt_controller = tree
        .find_compatible(&["arm,cortex-a15-gic", "arm,gic-400"])
        .and_then(|node| node.reg())
        .expect("the device tree names no GICv2 interrupt controller");
    let distributor = interrupt_controller
        .next()
        .map(|region| region.starting_address as u64);
    let processor_interface = interrupt_controller
        .next()
        .map(|region| region.starting_address as u64);
    let (Some(distributor), Some(processor_interface)) = (distributor, processor_interface) else {
        panic!("the GICv2 node lacks its distributor or processor-interface registers");
    };
    super::timer::set_interrupt_controller(
        distributor,
        processor_interface,
        timer_interrupt(&tree),
    );

    let mut boot = crate::BootInformation::empty();
    for region in tree.memory().regions() {
        let start = region.starting_address as u64;
        boot.add_memory(start, start + region.size.unwrap_or(0) as u64);
    }
    for reservation in tree.memory_reservations() {
        let start = reservation.address() as u64;
        boot.reserve(start, start + reservation.size() as u64);
    }
    let chosen = tree.find_node("/chosen");
    let initrd = |name| chosen.as_ref()?.property(name)?.as_usize();
    if let (Some(start), Some(end)) = (initrd("linux,initrd-start"), initrd("linux,initrd-end"))
        && end > start
    {
        boot.boot_module = Some((start as u64, (end - start) as u64));
    }
    boot.reserve(
        device_tree_physical,
        device_tree_physical + tree.total_size() as u64,
    );
    let (image_start, image_end) = paging::kernel_physical_extent();
    boot.reserve(image_start, image_end);
    add_virtio_transports(&tree, &mut boot);
    crate::kernel_main(boot)
}

/// Lists the device tree's virtio-mmio transports (`compatible = "virtio,mmio"`; QEMU's `virt`
/// has 32, at 0x0a000000, 512 bytes apart) as candidates. The kernel reaches registers only
/// through the direct map's device memory ([`paging::DEVICE_MEMORY_END`]): a transport
/// elsewhere, or with a window smaller than the virtio one, is reported and left out.
fn add_virtio_transports(tree: &fdt::Fdt<'_>, boot: &mut crate::BootInformation) {
    use septa_abi::device::WINDOW_SIZE;
    for node in tree.all_nodes() {
        let is_virtio = node
            .compatible()
            .is_some_and(|compatible| compatible.all().any(|name| name == "virtio,mmio"));
        if !is_virtio {
            continue;
        }
        let Some(region) = node.reg().and_then(|mut regions| regions.next()) else {
            continue;
        };
        let base = region.starting_address as u64;
        let usable = base.is_multiple_of(4)
            && region.size.is_some_and(|size| size as u64 >= WINDOW_SIZE)
            && base
                .checked_add(WINDOW_SIZE)
                .is_some_and(|end| end <= paging::DEVICE_MEMORY_END);
        if usable {
            boot.add_device_candidate(base);
        } else {
            crate::console::line(format_args!(
                "[kernel] virtio-mmio at {base:#x}: outside the device memory the kernel maps, \
                 or too small; not used"
            ));
        }
    }
}

/// The physical address of the first register block of the first node compatible with one of
/// `compatible`.
fn first_register(tree: &fdt::Fdt<'_>, compatible: &[&str]) -> Option<u64> {
    let node = tree.find_compatible(compatible)?;
    Some(node.reg()?.next()?.starting_address as u64)
}

/// The interrupt number (GIC INTID) of the EL1 virtual timer: the third of the four PPIs the
/// `arm,armv8-timer` node lists, each as (type, number, flags).
fn timer_interrupt(tree: &fdt::Fdt<'_>) -> u32 {
    const PRIVATE_INTERRUPT_BASE: u32 = 16;
    let cells = tree
        .find_compatible(&["arm,armv8-timer"])
        .and_then(|node| node.property("interrupts"))
        .map(|property| property.value)
        .expect("the device tree names no arm,armv8-timer with interrupts");
    let number = cells
        .get(2 * 12 + 4..2 * 12 + 8)
        .expect("the timer lists fewer than three interrupts");
    PRIVATE_INTERRUPT_BASE + u32::from_be_bytes([number[0], number[1], number[2], number[3]])
}
