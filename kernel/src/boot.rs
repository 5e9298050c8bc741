//! Boot: the memory map, boot module and device candidates from the loader, then the devices
//! present and the entities of the boot image.

use crate::console;
use crate::kernel::{Kernel, install};

/// Most memory regions the kernel records.
pub const BOOT_REGIONS_MAX: usize = 32;
/// Most candidate virtio-mmio transports the kernel probes (QEMU's `virt` has 32, `microvm`
/// 24).
pub const DEVICE_CANDIDATES_MAX: usize = 64;

/// What the architecture's boot code learned from the loader.
pub struct BootInformation {
    /// Usable RAM, as `[start, end)` physical ranges.
    pub memory: [(u64, u64); BOOT_REGIONS_MAX],
    /// Number of valid entries in `memory`.
    pub memory_count: usize,
    /// Ranges that must not be allocated (kernel image, boot structures).
    pub reserved: [(u64, u64); 8],
    /// Number of valid entries in `reserved`.
    pub reserved_count: usize,
    /// The boot image, as physical address and size.
    pub boot_module: Option<(u64, u64)>,
    /// Physical addresses of candidate virtio-mmio transports, each a
    /// [`septa_abi::device::WINDOW_SIZE`]-byte register window inside the direct map, mapped
    /// as device memory.
    pub device_candidates: [u64; DEVICE_CANDIDATES_MAX],
    /// Number of valid entries in `device_candidates`.
    pub device_candidate_count: usize,
}

impl BootInformation {
    /// Nothing known yet.
    pub const fn empty() -> Self {
        BootInformation {
            memory: [(0, 0); BOOT_REGIONS_MAX],
            memory_count: 0,
            reserved: [(0, 0); 8],
            reserved_count: 0,
            boot_module: None,
            device_candidates: [0; DEVICE_CANDIDATES_MAX],
            device_candidate_count: 0,
        }
    }

    /// Records a candidate virtio-mmio transport (see `device_candidates`).
    pub fn add_device_candidate(&mut self, base: u64) {
        if self.device_candidate_count < DEVICE_CANDIDATES_MAX {
            self.device_candidates[self.device_candidate_count] = base;
            self.device_candidate_count += 1;
        }
    }

    /// Records a RAM range.
    pub fn add_memory(&mut self, start: u64, end: u64) {
        if self.memory_count < BOOT_REGIONS_MAX {
            self.memory[self.memory_count] = (start, end);
            self.memory_count += 1;
        }
    }

    /// Records a range to keep out of the allocator.
    pub fn reserve(&mut self, start: u64, end: u64) {
        if self.reserved_count < self.reserved.len() {
            self.reserved[self.reserved_count] = (start, end);
            self.reserved_count += 1;
        }
    }
}

/// Sets up the frame allocator, decodes the boot image, creates every entity, and returns the
/// context of the first thread to run.
pub fn start(mut boot: BootInformation) -> crate::arch::Context {
    let Some((module_start, module_size)) = boot.boot_module else {
        fatal("no boot image: boot with -initrd <system>.img");
    };
    boot.reserve(module_start, module_start + module_size);
    let frames = crate::memory::frame_allocator(&boot);
    // The boot image stays where the loader put it, reserved, for the kernel's lifetime: the
    // entities' ELF files are borrowed from it.
    let image_bytes: &'static [u8] = unsafe {
        // SAFETY: the loader placed `module_size` bytes at `module_start`, inside the direct
        // map; the range is reserved from the allocator and never written.
        core::slice::from_raw_parts(
            crate::arch::paging::physical_to_virtual(module_start) as *const u8,
            module_size as usize,
        )
    };
    let image = match septa_boot_image::decode(image_bytes) {
        Ok(image) => image,
        Err(error) => fatal_format(format_args!("the boot image is not valid: {error:?}")),
    };
    console::line(format_args!(
        "[kernel] system '{}': {} entities, {} rules, {} frames free",
        image.name,
        image.entities.len(),
        image.policy.rules.len(),
        frames.free_count()
    ));
    // In address order, so capabilities bind the same way whatever order the loader listed.
    let candidates = &mut boot.device_candidates[..boot.device_candidate_count];
    candidates.sort_unstable();
    let devices = crate::device::discover(candidates);
    let kernel = match Kernel::new(image, frames, devices) {
        Ok(kernel) => kernel,
        Err(message) => fatal_format(format_args!("cannot start the system: {message}")),
    };
    install(kernel);
    crate::trap::first_context()
}

fn fatal(message: &str) -> ! {
    fatal_format(format_args!("{message}"))
}

fn fatal_format(arguments: core::fmt::Arguments<'_>) -> ! {
    console::line(format_args!("[kernel] fatal: {arguments}"));
    crate::arch::power_off(126)
}
