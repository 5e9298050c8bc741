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
}

impl Architecture {
    /// The name used on the command line and in `build/<arch>/`.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
        }
    }

    /// The Rust target that the kernel and the entities are built for.
    pub fn kernel_target(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64-unknown-none",
        }
    }

    /// The QEMU system emulator for this architecture.
    pub fn qemu_program(self) -> &'static str {
        match self {
            Architecture::X86_64 => "qemu-system-x86_64",
        }
    }

    /// The Debian package that provides [`Architecture::qemu_program`].
    pub fn qemu_package(self) -> &'static str {
        match self {
            Architecture::X86_64 => "qemu-system-x86",
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}
