//! x86_64: PVH boot, descriptor tables, traps and `syscall`, 4-level paging, local APIC timer,
//! 16550 console and QEMU's exit device.

pub mod boot;
pub mod cpu;
pub mod extended;
pub mod paging;
pub mod serial;
pub mod timer;

pub use cpu::TrapFrame as Context;
pub use serial::power_off;

/// Name of this architecture, for messages.
pub const NAME: &str = "x86_64";

/// The ELF `e_machine` of entity executables (`EM_X86_64`).
pub const ELF_MACHINE: u16 = 62;

/// A processor exception raised by user code.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// Exception vector.
    pub vector: u64,
    /// Error code pushed by the processor (0 when none).
    pub error_code: u64,
    /// Address of the faulting instruction.
    pub instruction: u64,
    /// Faulting data address (page faults only).
    pub address: u64,
}

impl core::fmt::Display for Fault {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let name = match self.vector {
            0 => "divide error",
            3 => "breakpoint",
            6 => "invalid opcode",
            13 => "general protection fault",
            14 => "page fault",
            _ => "exception",
        };
        write!(
            formatter,
            "{name} (vector {}) at {:#x}",
            self.vector, self.instruction
        )?;
        if self.vector == 14 {
            let access = match (self.error_code & 2 != 0, self.error_code & 16 != 0) {
                (_, true) => "execute",
                (true, false) => "write",
                (false, false) => "read",
            };
            let cause = if self.error_code & 1 != 0 {
                "protection"
            } else {
                "not mapped"
            };
            write!(formatter, ": {access} of {:#x} ({cause})", self.address)?;
        }
        Ok(())
    }
}

impl Context {
    /// The system-call number.
    pub fn system_call_number(&self) -> usize {
        self.rax as usize
    }

    /// System-call argument `index` (0-based, at most 5).
    pub fn argument(&self, index: usize) -> u64 {
        match index {
            0 => self.rdi,
            1 => self.rsi,
            2 => self.rdx,
            3 => self.r10,
            4 => self.r8,
            _ => self.r9,
        }
    }

    /// Sets the system call's return words.
    pub fn set_return(&mut self, first: u64, second: u64) {
        self.rax = first;
        self.rdx = second;
    }
}

/// One-time processor initialisation after the boot trampoline.
pub fn initialise_late() {
    paging::initialise();
    extended::initialise();
    timer::initialise();
}
