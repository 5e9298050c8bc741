//! The architectures Septa builds for, and the host tools each one needs.

use std::fmt;

/// A target architecture, as named on the command line (`--arch x86_64`).
///
/// Everything that differs per architecture in the build tool is a method
/// here, so adding aarch64, i686 or armv7 means adding a variant and filling
/// in its answers; the commands themselves do not change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Architecture {
    #[value(name = "x86_64")]
    X86_64,
    #[value(name = "aarch64")]
    Aarch64,
}

/// How QEMU is handed the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelFormat {
    /// The linked ELF file itself (x86_64: QEMU's PVH loader reads its note).
    Elf,
    /// A flat image with the arm64 Linux boot header, made from the ELF file by
    /// `cargo xtask build`: QEMU's `virt` board passes a device tree and loads
    /// an initrd only for such images, never for ELF kernels.
    Arm64Image,
}

impl Architecture {
    /// Every architecture, in the order the test suite runs them.
    pub const ALL: [Architecture; 2] = [Architecture::X86_64, Architecture::Aarch64];

    /// The name used on the command line and in `build/<arch>/`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Aarch64 => "aarch64",
        }
    }

    /// The Rust target that the kernel and the entities are built for.
    pub fn kernel_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-none",
            // Soft-float: neither the kernel nor (yet) the entities use the
            // floating-point registers, whose state the kernel does not save.
            Architecture::Aarch64 => "aarch64-unknown-none-softfloat",
        }
    }

    /// The QEMU system emulator for this architecture.
    pub fn qemu_program(self) -> &'static str {
        match self {
            Architecture::X86_64 => "qemu-system-x86_64",
            Architecture::Aarch64 => "qemu-system-aarch64",
        }
    }

    /// The Debian package that provides [`Architecture::qemu_program`].
    pub fn qemu_package(self) -> &'static str {
        match self {
            Architecture::X86_64 => "qemu-system-x86",
            Architecture::Aarch64 => "qemu-system-arm",
        }
    }

    /// The form in which QEMU loads this architecture's kernel.
    pub fn kernel_format(self) -> KernelFormat {
        match self {
            Architecture::X86_64 => KernelFormat::Elf,
            Architecture::Aarch64 => KernelFormat::Arm64Image,
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}
