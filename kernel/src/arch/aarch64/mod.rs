//! aarch64: the arm64 boot protocol, exception levels (kernel at EL1, entities at EL0),
//! exception vectors and `svc`, 4 KiB-granule translation tables with ASIDs, the generic
//! timer behind a GICv2, the PL011 console and QEMU's semihosting exit.

pub mod boot;
pub mod cpu;
pub mod extended;
pub mod paging;
pub mod serial;
pub mod timer;

pub use cpu::TrapFrame as Context;
pub use serial::power_off;

/// Name of this architecture, for messages.
pub const NAME: &str = "aarch64";

/// The ELF `e_machine` of entity executables (`EM_AARCH64`).
pub const ELF_MACHINE: u16 = 183;

/// A processor exception raised by user code, as the syndrome registers describe it.
#[derive(Clone, Copy, Debug)]
pub struct Fault {
    /// Exception syndrome (`ESR_EL1`).
    pub syndrome: u64,
    /// Address of the faulting instruction (`ELR_EL1`).
    pub instruction: u64,
    /// Faulting address (`FAR_EL1`, meaningful for aborts).
    pub address: u64,
}

/// Exception classes (`ESR_EL1.EC`) the kernel names.
const CLASS_UNKNOWN: u64 = 0x00;
const CLASS_FLOATING_POINT: u64 = 0x07;
const CLASS_INSTRUCTION_ABORT: u64 = 0x20;
const CLASS_PC_ALIGNMENT: u64 = 0x22;
const CLASS_DATA_ABORT: u64 = 0x24;
const CLASS_SP_ALIGNMENT: u64 = 0x26;
const CLASS_BREAKPOINT: u64 = 0x3c;

impl Fault {
    fn class(&self) -> u64 {
        self.syndrome >> 26 & 0x3f
    }
}

impl core::fmt::Display for Fault {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let class = self.class();
        let name = match class {
            CLASS_UNKNOWN => "undefined instruction",
            CLASS_FLOATING_POINT => "floating-point instruction (not enabled)",
            CLASS_INSTRUCTION_ABORT => "instruction abort",
            CLASS_PC_ALIGNMENT => "misaligned instruction address",
            CLASS_DATA_ABORT => "data abort",
            CLASS_SP_ALIGNMENT => "misaligned stack pointer",
            CLASS_BREAKPOINT => "breakpoint",
            _ => "exception",
        };
        write!(
            formatter,
            "{name} (class {class:#x}) at {:#x}",
            self.instruction
        )?;
        if class == CLASS_INSTRUCTION_ABORT || class == CLASS_DATA_ABORT {
            let access = if class == CLASS_INSTRUCTION_ABORT {
                "execute"
            } else if self.syndrome & (1 << 6) != 0 {
                "write"
            } else {
                "read"
            };
            // Fault status code, bits 5:2: 0b0001 translation, 0b0010 access flag,
            // 0b0011 permission.
            let cause = match self.syndrome >> 2 & 0xf {
                0b0001 => "not mapped",
                0b0011 => "protection",
                _ => "other",
            };
            write!(formatter, ": {access} of {:#x} ({cause})", self.address)?;
        }
        Ok(())
    }
}

impl Context {
    /// The system-call number (`x8`, as in the Linux arm64 convention).
    pub fn system_call_number(&self) -> usize {
        self.x[8] as usize
    }

    /// System-call argument `index` (0-based, at most 5): `x0`..`x5`.
    pub fn argument(&self, index: usize) -> u64 {
        self.x[index.min(5)]
    }

    /// Sets the system call's return words (`x0`, `x1`).
    pub fn set_return(&mut self, first: u64, second: u64) {
        self.x[0] = first;
        self.x[1] = second;
    }
}

/// One-time processor initialisation after the boot trampoline.
pub fn initialise_late() {
    paging::initialise();
    extended::initialise();
    timer::initialise();
}
