//! Entity creation: address space, ELF segments (W^X), stack and start-up block.

use crate::arch::{self, Context, paging::Access};
use crate::kernel::{Entity, EntityId, Kernel, Object};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use septa_abi::startup;
use septa_boot_image::EntityImage;
use septa_kernel_core::capability::CapabilityTable;

/// Creates `entity`'s address space from its ELF file and returns its first thread's context.
pub fn load(
    kernel: &mut Kernel,
    identity: EntityId,
    image: &EntityImage<'static>,
    capabilities: CapabilityTable<Object>,
) -> Result<Context, String> {
    let name = image.name.as_str();
    let root = arch::paging::create_root(&mut || kernel.frames.allocate())
        .ok_or_else(|| format!("entity '{name}': out of memory for its page tables"))?;
    kernel.entities.push(Entity {
        name: image.name.clone(),
        root,
        capabilities,
        owned_frames: alloc::collections::BTreeSet::new(),
        memory_used: 0,
        memory_limit: image.memory_limit,
        priority: image.priority.min(31),
        alive: true,
        thread_count: 0,
        map_cursor: startup::MAP_BASE as u64,
    });
    let user_space = startup::USER_LOWEST as u64..startup::USER_END as u64;
    let executable = septa_kernel_core::executable::parse(image.elf, arch::ELF_MACHINE, user_space)
        .map_err(|error| format!("entity '{name}': {error}"))?;
    for segment in &executable.segments {
        let contents = &image.elf[segment.file.clone()];
        let access = Access {
            writable: segment.writable,
            executable: segment.executable,
        };
        let mut page = segment.start & !0xfff;
        while page < segment.end {
            let frame = allocate_page(kernel, identity, page, access)
                .map_err(|error| format!("entity '{name}': {error}"))?;
            // Copy the part of the file that falls in this page.
            let page_end = page + 4096;
            let copy_start = segment.start.max(page);
            let copy_end = (segment.start + contents.len() as u64).min(page_end);
            if copy_start < copy_end {
                let source = &contents
                    [(copy_start - segment.start) as usize..(copy_end - segment.start) as usize];
                let destination = arch::paging::physical_to_virtual(frame) + (copy_start - page);
                // SAFETY: the frame was just allocated for this page and is in the direct map;
                // the copy stays inside the page.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        source.as_ptr(),
                        destination as *mut u8,
                        source.len(),
                    )
                };
                if access.executable {
                    arch::cpu::instructions_written(destination, source.len());
                }
            }
            page = page_end;
        }
    }
    // Stack, below an unmapped guard page.
    let stack_bottom = (startup::STACK_TOP - startup::STACK_SIZE) as u64;
    for page in (stack_bottom..startup::STACK_TOP as u64).step_by(4096) {
        allocate_page(
            kernel,
            identity,
            page,
            Access {
                writable: true,
                executable: false,
            },
        )
        .map_err(|error| format!("entity '{name}': {error}"))?;
    }
    // Start-up block, read-only.
    let block = startup_block(
        identity,
        image,
        &kernel.entities[identity as usize].capabilities,
    )
    .ok_or_else(|| format!("entity '{name}': arguments and handle names exceed 4 KiB"))?;
    let frame = allocate_page(
        kernel,
        identity,
        startup::STARTUP_ADDRESS as u64,
        Access {
            writable: false,
            executable: false,
        },
    )
    .map_err(|error| format!("entity '{name}': {error}"))?;
    // SAFETY: a fresh frame in the direct map; the block is at most one page.
    unsafe {
        core::ptr::copy_nonoverlapping(
            block.as_ptr(),
            arch::paging::physical_to_virtual(frame) as *mut u8,
            block.len(),
        )
    };
    Ok(arch::cpu::user_context(
        executable.entry,
        startup::STACK_TOP as u64,
        startup::STARTUP_ADDRESS as u64,
    ))
}

/// Allocates, accounts and maps one zeroed page for an entity.
pub fn allocate_page(
    kernel: &mut Kernel,
    entity: EntityId,
    page: u64,
    access: Access,
) -> Result<u64, &'static str> {
    let record = &kernel.entities[entity as usize];
    if record.memory_used + 4096 > record.memory_limit {
        return Err("memory limit reached");
    }
    let root = record.root;
    let frame = kernel.frames.allocate().ok_or("out of physical memory")?;
    let frames = &mut kernel.frames;
    let mut tables = Vec::new();
    let result = arch::paging::map(root, page, frame, access, &mut || {
        let table = frames.allocate();
        tables.extend(table);
        table
    });
    if let Err(error) = result {
        kernel.frames.free(frame);
        return Err(match error {
            arch::paging::MapError::AlreadyMapped => "page already mapped (overlapping segments?)",
            arch::paging::MapError::OutOfMemory => "out of physical memory",
            arch::paging::MapError::NotUserAddress => "address outside user space",
        });
    }
    let record = &mut kernel.entities[entity as usize];
    record.owned_frames.insert(frame);
    record.memory_used += 4096 * (1 + tables.len() as u64);
    Ok(frame)
}

/// Lays out the start-up block (see [`septa_abi::startup`]).
fn startup_block(
    identity: EntityId,
    image: &EntityImage<'_>,
    capabilities: &CapabilityTable<Object>,
) -> Option<Vec<u8>> {
    let mut block = Vec::new();
    block.extend(startup::STARTUP_MAGIC.to_le_bytes());
    block.extend(identity.to_le_bytes());
    block.extend((image.arguments.len() as u32).to_le_bytes());
    block.extend((image.capabilities.len() as u32).to_le_bytes());
    for argument in &image.arguments {
        block.extend(argument.bytes().filter(|byte| *byte != 0));
        block.push(0);
    }
    for ((handle, _), capability) in capabilities.iter().zip(&image.capabilities) {
        block.extend(handle.to_le_bytes());
        block.extend((capability.name.len() as u32).to_le_bytes());
        block.extend(capability.name.bytes());
    }
    (block.len() <= startup::STARTUP_MAX_SIZE).then_some(block)
}
