//! Exception vectors, the common trap path, and the return to EL0.
//!
//! As on every architecture, the kernel runs on one kernel stack (`SP_EL1`). Every exception,
//! whether `svc`, abort or interrupt, saves a [`TrapFrame`] on that stack and calls
//! [`trap_dispatch`]; the portable kernel may replace the frame's contents with another
//! thread's saved context, and the common exit restores whatever the frame then holds with
//! `eret`. Blocked threads need no kernel stack of their own.

use core::arch::{asm, global_asm};

/// Registers saved on entry to the kernel, in the order the entry code stores them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
    /// General registers `x0`..`x30`.
    pub x: [u64; 31],
    /// The EL0 stack pointer (`SP_EL0`).
    pub stack_pointer: u64,
    /// Where execution resumes (`ELR_EL1`).
    pub program_counter: u64,
    /// Saved processor state (`SPSR_EL1`).
    pub processor_state: u64,
    /// The EL0 thread pointer (`TPIDR_EL0`), the thread's own TLS base.
    pub thread_pointer: u64,
    /// Which vector was taken (one of the `KIND_` values); not restored.
    pub kind: u64,
}

const FRAME_SIZE: usize = size_of::<TrapFrame>();
const _: () = assert!(FRAME_SIZE == 36 * 8 && FRAME_SIZE.is_multiple_of(16));

/// Synchronous exception (system call, abort, undefined instruction).
const KIND_SYNCHRONOUS: u64 = 0;
/// Interrupt request.
const KIND_INTERRUPT: u64 = 1;
/// FIQ or SError: never expected.
const KIND_UNEXPECTED: u64 = 2;
/// Any exception taken from AArch32 state, which no entity can enter.
const KIND_AARCH32: u64 = 3;
/// An exception taken at EL1 while using `SP_EL0`: the kernel never runs that way.
const KIND_WRONG_STACK: u64 = 4;

/// `SPSR_EL1.M[3:0]` for EL0.
const MODE_MASK: u64 = 0xf;
/// Exception class of `svc` from AArch64.
const CLASS_SYSTEM_CALL: u64 = 0x15;
/// Exception class of an FP/SIMD access trapped by `CPACR_EL1` (see `extended`).
const CLASS_FLOATING_POINT: u64 = 0x07;

const KERNEL_STACK_SIZE: usize = 64 * 1024;

#[repr(C, align(16))]
struct KernelStack([u8; KERNEL_STACK_SIZE]);

/// The one kernel stack. Only the entry code uses it, through its top address.
static mut KERNEL_STACK: KernelStack = KernelStack([0; KERNEL_STACK_SIZE]);

// The vector table: 16 entries of 128 bytes. Each entry makes room for a frame, saves x0 and
// x1, and goes to the common path with its kind in x0.
global_asm!(
    r#"
    .macro vector_entry kind
    .balign 0x80
    sub sp, sp, #{frame_size}
    stp x0, x1, [sp, #0]
    mov x0, #\kind
    b trap_common
    .endm

    .text
    .balign 2048
    .global exception_vectors
exception_vectors:
    vector_entry {wrong_stack}
    vector_entry {wrong_stack}
    vector_entry {wrong_stack}
    vector_entry {wrong_stack}
    vector_entry {synchronous}
    vector_entry {interrupt}
    vector_entry {unexpected}
    vector_entry {unexpected}
    vector_entry {synchronous}
    vector_entry {interrupt}
    vector_entry {unexpected}
    vector_entry {unexpected}
    vector_entry {aarch32}
    vector_entry {aarch32}
    vector_entry {aarch32}
    vector_entry {aarch32}

trap_common:
    stp x2, x3, [sp, #16]
    stp x4, x5, [sp, #32]
    stp x6, x7, [sp, #48]
    stp x8, x9, [sp, #64]
    stp x10, x11, [sp, #80]
    stp x12, x13, [sp, #96]
    stp x14, x15, [sp, #112]
    stp x16, x17, [sp, #128]
    stp x18, x19, [sp, #144]
    stp x20, x21, [sp, #160]
    stp x22, x23, [sp, #176]
    stp x24, x25, [sp, #192]
    stp x26, x27, [sp, #208]
    stp x28, x29, [sp, #224]
    mrs x2, sp_el0
    stp x30, x2, [sp, #240]
    mrs x2, elr_el1
    mrs x3, spsr_el1
    stp x2, x3, [sp, #256]
    mrs x2, tpidr_el0
    stp x2, x0, [sp, #272]
    mov x0, sp
    bl {dispatch}
    .global trap_return
trap_return:
    ldp x2, x3, [sp, #256]
    msr elr_el1, x2
    msr spsr_el1, x3
    ldp x30, x2, [sp, #240]
    msr sp_el0, x2
    ldr x2, [sp, #272]
    msr tpidr_el0, x2
    ldp x2, x3, [sp, #16]
    ldp x4, x5, [sp, #32]
    ldp x6, x7, [sp, #48]
    ldp x8, x9, [sp, #64]
    ldp x10, x11, [sp, #80]
    ldp x12, x13, [sp, #96]
    ldp x14, x15, [sp, #112]
    ldp x16, x17, [sp, #128]
    ldp x18, x19, [sp, #144]
    ldp x20, x21, [sp, #160]
    ldp x22, x23, [sp, #176]
    ldp x24, x25, [sp, #192]
    ldp x26, x27, [sp, #208]
    ldp x28, x29, [sp, #224]
    ldp x0, x1, [sp, #0]
    add sp, sp, #{frame_size}
    eret
"#,
    frame_size = const FRAME_SIZE,
    synchronous = const KIND_SYNCHRONOUS,
    interrupt = const KIND_INTERRUPT,
    unexpected = const KIND_UNEXPECTED,
    aarch32 = const KIND_AARCH32,
    wrong_stack = const KIND_WRONG_STACK,
    dispatch = sym trap_dispatch,
);

unsafe extern "C" {
    static exception_vectors: u8;
    fn trap_return();
}

/// Reads a system register.
macro_rules! read_register {
    ($name:literal) => {{
        let value: u64;
        // SAFETY: reading this system register has no side effects.
        unsafe { asm!(concat!("mrs {}, ", $name), out(reg) value, options(nomem, nostack, preserves_flags)) };
        value
    }};
}
pub(super) use read_register;

/// Called by the entry code with the frame it built; hands it to the portable kernel.
extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    let from_user = frame.processor_state & MODE_MASK == 0;
    match frame.kind {
        KIND_SYNCHRONOUS => {
            let syndrome = read_register!("esr_el1");
            if from_user && syndrome >> 26 & 0x3f == CLASS_SYSTEM_CALL {
                crate::trap::system_call(frame);
                return;
            }
            if from_user && syndrome >> 26 & 0x3f == CLASS_FLOATING_POINT {
                crate::trap::floating_point_first_use(frame);
                return;
            }
            let fault = super::Fault {
                syndrome,
                instruction: frame.program_counter,
                address: read_register!("far_el1"),
            };
            if from_user {
                crate::trap::user_fault(frame, fault);
            } else {
                panic!("kernel fault: {fault}");
            }
        }
        KIND_INTERRUPT => {
            if super::timer::acknowledge() {
                crate::trap::timer_tick(frame, from_user);
            }
        }
        kind => {
            let fault = super::Fault {
                syndrome: read_register!("esr_el1"),
                instruction: frame.program_counter,
                address: 0,
            };
            if from_user && kind != KIND_WRONG_STACK {
                crate::trap::user_fault(frame, fault);
            } else {
                panic!("unexpected exception (kind {kind}): {fault}");
            }
        }
    }
}

/// Installs the exception vectors and lets EL0 read the virtual counter (and nothing else of
/// the timer).
pub fn initialise() {
    const EL0_VIRTUAL_COUNTER: u64 = 1 << 1;
    // SAFETY: the vector table is 2 KiB aligned code in the kernel image; the counter-access
    // setting only grants EL0 a read of the free-running counter.
    unsafe {
        asm!(
            "msr vbar_el1, {vectors}",
            "msr cntkctl_el1, {access}",
            "isb",
            vectors = in(reg) &raw const exception_vectors as u64,
            access = in(reg) EL0_VIRTUAL_COUNTER,
            options(nostack),
        );
    }
}

/// A fresh EL0 context entering at `entry` with stack `stack` and `argument` in `x0`.
pub fn user_context(entry: u64, stack: u64, argument: u64) -> TrapFrame {
    let mut x = [0; 31];
    x[0] = argument;
    TrapFrame {
        x,
        stack_pointer: stack,
        program_counter: entry,
        // EL0t, AArch64, interrupts unmasked.
        processor_state: 0,
        ..TrapFrame::default()
    }
}

/// Leaves the kernel for the first time by restoring `frame` at the top of the kernel stack and
/// returning through the common exit.
pub fn enter_user(frame: &TrapFrame) -> ! {
    // SAFETY: the frame is copied to the top of the kernel stack (the caller runs on the boot
    // stack), where the common exit expects it; every frame the kernel builds has EL0 in its
    // saved processor state, so `eret` drops to EL0.
    unsafe {
        let top = (&raw const KERNEL_STACK) as usize + KERNEL_STACK_SIZE;
        let slot = (top - FRAME_SIZE) as *mut TrapFrame;
        slot.write(*frame);
        asm!("mov sp, {}", "b {}", in(reg) slot, sym trap_return, options(noreturn));
    }
}

/// Waits for an interrupt, takes it, then masks interrupts again.
pub fn wait_for_interrupt() {
    // SAFETY: `wfi` with IRQs masked still wakes on a pending interrupt, so none is lost between
    // deciding to idle and waiting; unmasking then takes it. The handler runs on the current
    // stack (the frame it saves lies below this function's) and returns here.
    unsafe {
        asm!(
            "wfi",
            "msr daifclr, #2",
            "isb",
            "msr daifset, #2",
            options(nomem, nostack)
        )
    };
}

/// Makes instructions just written through the direct map at `address` visible to instruction
/// fetch: clean the data cache to the point of unification, then invalidate the instruction
/// cache.
pub fn instructions_written(address: u64, length: usize) {
    let line = 4u64 << (read_register!("ctr_el0") >> 16 & 0xf);
    let mut current = address & !(line - 1);
    while current < address + length as u64 {
        // SAFETY: cleaning a cache line of mapped kernel memory has no visible effect on data.
        unsafe { asm!("dc cvau, {}", in(reg) current, options(nostack, preserves_flags)) };
        current += line;
    }
    // SAFETY: barriers and invalidating the instruction cache have no effect on data.
    unsafe {
        asm!(
            "dsb ish",
            "ic ialluis",
            "dsb ish",
            "isb",
            options(nostack, preserves_flags)
        )
    };
}

/// Reads the virtual counter.
pub fn timestamp() -> u64 {
    // SAFETY: `isb` orders the read after earlier instructions; reading has no side effects.
    unsafe {
        let value: u64;
        asm!("isb", "mrs {}, cntvct_el0", out(reg) value, options(nomem, nostack, preserves_flags));
        value
    }
}
