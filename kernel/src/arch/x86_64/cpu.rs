//! Descriptor tables, trap and system-call entry, and the return to user mode.
//!
//! The kernel runs on one kernel stack (this version drives a single processor). Every entry
//! from user mode, whether by `syscall`, exception or interrupt, builds the same [`TrapFrame`]
//! at the top of that stack and calls [`trap_dispatch`]; the portable kernel may replace the
//! frame's contents with another thread's saved context, and the common exit restores whatever
//! the frame then holds with `iretq`. Blocked threads therefore need no kernel stack of their
//! own (the seL4 model), and a context switch is two frame copies.

use core::arch::{asm, global_asm};
use core::cell::UnsafeCell;

/// Selector of the kernel code segment.
pub const KERNEL_CODE: u16 = 0x08;
/// Selector of the kernel data segment.
pub const KERNEL_DATA: u16 = 0x10;
/// Selector of the user data segment (with requested privilege 3).
pub const USER_DATA: u16 = 0x18 | 3;
/// Selector of the user code segment (with requested privilege 3).
pub const USER_CODE: u16 = 0x20 | 3;
const TSS_SELECTOR: u16 = 0x28;

/// Vector number the system-call entry writes into its frame.
pub const SYSTEM_CALL_VECTOR: u64 = 0x100;
/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u64 = 32;
/// Vector of #NM: an x87/SSE instruction while `CR0.TS` is set (see `extended`).
const DEVICE_NOT_AVAILABLE_VECTOR: u64 = 7;
/// Vector of spurious local APIC interrupts.
pub const SPURIOUS_VECTOR: u64 = 0xff;

const KERNEL_STACK_SIZE: usize = 64 * 1024;

/// Registers saved on entry to the kernel, in the order the entry code pushes them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

#[repr(C, align(16))]
struct KernelStack([u8; KERNEL_STACK_SIZE]);

/// The one kernel stack. Only the entry code uses it, through its top address.
static mut KERNEL_STACK: KernelStack = KernelStack([0; KERNEL_STACK_SIZE]);

global_asm!(
    r#"
    .section .bss
    .p2align 4
boot_stack_bottom: .skip 16384
    .global boot_stack_top
boot_stack_top:
    .section .data
    .p2align 3
    .global kernel_stack_top
kernel_stack_top: .quad 0
user_stack_scratch: .quad 0
    .text
"#,
    options(att_syntax)
);

unsafe extern "C" {
    /// Top of the one kernel stack, read by the system-call entry.
    static mut kernel_stack_top: u64;
}

/// A 64-bit task-state segment: only `rsp0` matters here (the stack for ring-3 interrupts).
#[repr(C, packed)]
struct TaskStateSegment {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    interrupt_stacks: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    io_map_base: u16,
}

/// One IDT gate.
#[repr(C)]
#[derive(Clone, Copy)]
struct Gate {
    offset_low: u16,
    selector: u16,
    options: u16,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

/// The descriptor tables, written once during [`initialise`] and read only by the processor.
struct Tables {
    gdt: [u64; 7],
    tss: TaskStateSegment,
    idt: [Gate; 256],
}

struct TablesCell(UnsafeCell<Tables>);
// SAFETY: written only during single-threaded initialisation, before interrupts are enabled.
unsafe impl Sync for TablesCell {}

static TABLES: TablesCell = TablesCell(UnsafeCell::new(Tables {
    gdt: [0; 7],
    tss: TaskStateSegment {
        reserved0: 0,
        rsp: [0; 3],
        reserved1: 0,
        interrupt_stacks: [0; 7],
        reserved2: 0,
        reserved3: 0,
        io_map_base: size_of::<TaskStateSegment>() as u16,
    },
    idt: [Gate {
        offset_low: 0,
        selector: 0,
        options: 0,
        offset_middle: 0,
        offset_high: 0,
        reserved: 0,
    }; 256],
}));

#[repr(C, packed)]
struct DescriptorPointer {
    limit: u16,
    base: u64,
}

// Trap stubs, one per vector, each 16 bytes so the IDT can point at `trap_stubs + 16 * vector`.
// Exceptions that push no error code get a zero so every frame has the same shape. The common
// path saves the general registers, calls the portable dispatcher with the frame, and restores
// whatever the frame then holds.
global_asm!(
    r#"
    .text
    .p2align 4
    .global trap_stubs
trap_stubs:
    vector = 0
    .rept 256
    .p2align 4
    .if (vector == 8) || ((vector >= 10) && (vector <= 14)) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
    .else
    pushq $0
    .endif
    pushq $vector
    jmp trap_common
    vector = vector + 1
    .endr

trap_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi
    cld
    call {dispatch}
    .global trap_return
trap_return:
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp
    iretq

    /* syscall: rcx = user rip, r11 = user rflags, interrupts masked by SFMASK. */
    .global system_call_entry
system_call_entry:
    movq %rsp, user_stack_scratch(%rip)
    movq kernel_stack_top(%rip), %rsp
    pushq ${user_data}
    pushq user_stack_scratch(%rip)
    pushq %r11
    pushq ${user_code}
    pushq %rcx
    pushq $0
    pushq ${system_call_vector}
    jmp trap_common
"#,
    dispatch = sym trap_dispatch,
    user_data = const USER_DATA as u64,
    user_code = const USER_CODE as u64,
    system_call_vector = const SYSTEM_CALL_VECTOR,
    options(att_syntax)
);

unsafe extern "C" {
    fn trap_stubs();
    fn system_call_entry();
    fn trap_return();
}

/// Called by the entry code with the frame it built; hands it to the portable kernel.
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let from_user = frame.cs & 3 == 3;
    match frame.vector {
        SYSTEM_CALL_VECTOR => crate::trap::system_call(frame),
        TIMER_VECTOR => {
            super::timer::end_of_interrupt();
            crate::trap::timer_tick(frame, from_user);
        }
        SPURIOUS_VECTOR => {}
        DEVICE_NOT_AVAILABLE_VECTOR if from_user => crate::trap::floating_point_first_use(frame),
        vector if vector < 32 => {
            let fault = super::Fault {
                vector,
                error_code: frame.error_code,
                instruction: frame.rip,
                address: if vector == 14 { read_cr2() } else { 0 },
            };
            if from_user {
                crate::trap::user_fault(frame, fault);
            } else {
                panic!("kernel fault: {fault}");
            }
        }
        _ => super::timer::end_of_interrupt(),
    }
}

fn read_cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes a model-specific register.
///
/// # Safety
/// The register and value must be valid and keep the kernel's invariants.
unsafe fn write_msr(register: u32, value: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        asm!("wrmsr", in("ecx") register, in("eax") value as u32, in("edx") (value >> 32) as u32,
            options(nostack, preserves_flags));
    }
}

/// Sets up the GDT, TSS, IDT and the `syscall` instruction.
pub fn initialise() {
    // SAFETY: single-threaded initialisation before interrupts are enabled; the tables are
    // static and stay valid for the kernel's lifetime.
    unsafe {
        let stack_top = (&raw const KERNEL_STACK) as u64 + KERNEL_STACK_SIZE as u64;
        kernel_stack_top = stack_top;
        let tables = &mut *TABLES.0.get();
        tables.tss.rsp[0] = stack_top;
        tables.gdt[1] = 0x00af_9a00_0000_ffff; // kernel code, long mode
        tables.gdt[2] = 0x00cf_9200_0000_ffff; // kernel data
        tables.gdt[3] = 0x00cf_f200_0000_ffff; // user data, DPL 3
        tables.gdt[4] = 0x00af_fa00_0000_ffff; // user code, long mode, DPL 3
        let tss_address = &raw const tables.tss as u64;
        let tss_limit = (size_of::<TaskStateSegment>() - 1) as u64;
        tables.gdt[5] = tss_limit
            | (tss_address & 0xff_ffff) << 16
            | 0x89 << 40
            | ((tss_address >> 24) & 0xff) << 56;
        tables.gdt[6] = tss_address >> 32;

        for vector in 0..256 {
            let handler = trap_stubs as *const () as u64 + 16 * vector as u64;
            // Present interrupt gate; DPL 0 so user code cannot raise vectors with `int`.
            tables.idt[vector] = Gate {
                offset_low: handler as u16,
                selector: KERNEL_CODE,
                options: 0x8e00,
                offset_middle: (handler >> 16) as u16,
                offset_high: (handler >> 32) as u32,
                reserved: 0,
            };
        }

        let gdt_pointer = DescriptorPointer {
            limit: (size_of::<[u64; 7]>() - 1) as u16,
            base: &raw const tables.gdt as u64,
        };
        let idt_pointer = DescriptorPointer {
            limit: (size_of::<[Gate; 256]>() - 1) as u16,
            base: &raw const tables.idt as u64,
        };
        asm!(
            "lgdt [{gdt}]",
            "push {code}",
            "lea {scratch}, [rip + 2f]",
            "push {scratch}",
            "retfq",
            "2:",
            "mov ds, {data:x}",
            "mov es, {data:x}",
            "mov ss, {data:x}",
            "ltr {tss:x}",
            "lidt [{idt}]",
            gdt = in(reg) &gdt_pointer,
            idt = in(reg) &idt_pointer,
            code = in(reg) KERNEL_CODE as u64,
            data = in(reg) KERNEL_DATA as u64,
            tss = in(reg) TSS_SELECTOR as u64,
            scratch = out(reg) _,
        );

        // syscall: STAR holds the kernel and user selector bases, LSTAR the entry point, and
        // SFMASK clears IF, DF, TF and AC on entry. EFER.SCE enables the instruction.
        const EFER: u32 = 0xC000_0080;
        const STAR: u32 = 0xC000_0081;
        const LSTAR: u32 = 0xC000_0082;
        const SFMASK: u32 = 0xC000_0084;
        write_msr(
            STAR,
            (KERNEL_CODE as u64) << 32 | ((USER_DATA as u64 - 3 - 8) | 3) << 48,
        );
        write_msr(LSTAR, system_call_entry as *const () as u64);
        write_msr(SFMASK, 0x4_0700);
        let (low, high): (u32, u32);
        asm!("rdmsr", in("ecx") EFER, out("eax") low, out("edx") high, options(nostack));
        write_msr(EFER, ((high as u64) << 32 | low as u64) | 1);
    }
}

/// A fresh user-mode context entering at `entry` with stack `stack` and `argument` in `rdi`.
pub fn user_context(entry: u64, stack: u64, argument: u64) -> TrapFrame {
    TrapFrame {
        rip: entry,
        rsp: stack,
        rdi: argument,
        cs: USER_CODE as u64,
        ss: USER_DATA as u64,
        rflags: 0x202, // interrupts enabled, reserved bit 1
        ..TrapFrame::default()
    }
}

/// Leaves the kernel for the first time (or after idling) by restoring `frame` at the top of
/// the kernel stack and returning through the common exit.
pub fn enter_user(frame: &TrapFrame) -> ! {
    // SAFETY: the frame is copied to the top of the kernel stack, where the common exit expects
    // it; every frame the kernel builds has user-mode selectors, so `iretq` drops to ring 3.
    unsafe {
        let top = kernel_stack_top;
        let slot = (top as usize - size_of::<TrapFrame>()) as *mut TrapFrame;
        slot.write(*frame);
        asm!("mov rsp, {}", "jmp {}", in(reg) slot, sym trap_return, options(noreturn));
    }
}

/// Waits for an interrupt with interrupts enabled, then masks them again.
pub fn wait_for_interrupt() {
    // SAFETY: `sti; hlt` atomically enables interrupts and halts until one arrives; the
    // handler runs on the current stack and returns here.
    unsafe { asm!("sti", "hlt", "cli", options(nomem, nostack)) };
}

/// Makes instructions just written through the direct map visible to instruction fetch.
/// Nothing to do: x86 keeps instruction fetch coherent with data writes.
pub fn instructions_written(_address: u64, _length: usize) {}

/// Reads the time-stamp counter.
pub fn timestamp() -> u64 {
    // SAFETY: rdtsc has no side effects.
    unsafe { core::arch::x86_64::_rdtsc() }
}
