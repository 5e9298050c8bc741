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
        parked: alloc::collections::BTreeMap::new(),
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
    let stack_size = image.stack_size;
    if stack_size == 0
        || !stack_size.is_multiple_of(4096)
        || stack_size > startup::STACK_SIZE_MAX as u64
    {
        return Err(format!(
            "entity '{name}': stack of {stack_size} bytes is not a page multiple up to {} MiB",
            startup::STACK_SIZE_MAX >> 20
        ));
    }
    let stack_bottom = startup::STACK_TOP as u64 - stack_size;
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
    .ok_or_else(|| {
        format!(
            "entity '{name}': arguments, handle names and routes exceed 4 KiB or name no capability"
        )
    })?;
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
    let root = kernel.entities[identity as usize].root;
    let stack_pointer = initial_stack(root, identity, image, &executable, stack_size)
        .map_err(|error| format!("entity '{name}': {error}"))?;
    Ok(arch::cpu::user_context(
        executable.entry,
        stack_pointer,
        startup::STARTUP_ADDRESS as u64,
    ))
}

/// Writes the Linux initial stack (argc, argv, envp, auxiliary vector, then the strings) below
/// [`startup::STACK_TOP`] and returns the stack pointer, which points at argc.
fn initial_stack(
    root: u64,
    identity: EntityId,
    image: &EntityImage<'_>,
    executable: &septa_kernel_core::executable::Executable,
    stack_size: u64,
) -> Result<u64, String> {
    use septa_abi::startup::aux;
    let top = startup::STACK_TOP as u64;
    // Strings (NUL bytes inside a string would split it; they are dropped), with the 16 bytes
    // behind AT_RANDOM first.
    let mut strings: Vec<u8> = Vec::new();
    let mut seed = arch::cpu::timestamp() ^ (u64::from(identity) << 32);
    for _ in 0..2 {
        strings.extend(split_mix(&mut seed).to_le_bytes());
    }
    let mut offsets = Vec::new();
    for text in image.arguments.iter().chain(&image.environment) {
        offsets.push(strings.len() as u64);
        strings.extend(text.bytes().filter(|byte| *byte != 0));
        strings.push(0);
    }
    if strings.len() > startup::STRINGS_MAX {
        return Err(format!(
            "arguments and environment take {} bytes; at most {} fit the initial stack",
            strings.len(),
            startup::STRINGS_MAX
        ));
    }
    let strings_start = (top - strings.len() as u64) & !15;
    let address_of = |offset: u64| strings_start + offset;
    let argument_count = image.arguments.len();
    let mut words: Vec<u64> = Vec::new();
    words.push(argument_count as u64);
    words.extend(
        offsets[..argument_count]
            .iter()
            .map(|offset| address_of(*offset)),
    );
    words.push(0);
    words.extend(
        offsets[argument_count..]
            .iter()
            .map(|offset| address_of(*offset)),
    );
    words.push(0);
    if let Some(headers) = executable.program_headers {
        words.extend([aux::PHDR, headers]);
    }
    words.extend([
        aux::PHENT,
        u64::from(executable.program_header_size),
        aux::PHNUM,
        u64::from(executable.program_header_count),
        aux::PAGESZ,
        4096,
        aux::ENTRY,
        executable.entry,
        aux::UID,
        0,
        aux::EUID,
        0,
        aux::GID,
        0,
        aux::EGID,
        0,
        aux::HWCAP,
        0,
        aux::CLKTCK,
        100,
        aux::SECURE,
        0,
        aux::RANDOM,
        strings_start,
        aux::NULL,
        0,
    ]);
    let stack_pointer = (strings_start - words.len() as u64 * 8) & !15;
    if top - stack_pointer > stack_size / 2 {
        return Err(format!(
            "arguments and environment need {} bytes, more than half the {stack_size}-byte stack",
            top - stack_pointer
        ));
    }
    let vector: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
    for (start, bytes) in [(stack_pointer, &vector), (strings_start, &strings)] {
        for (index, chunk) in bytes.chunks(4096).enumerate() {
            crate::memory::user::write(root, start + index as u64 * 4096, chunk)
                .map_err(|_| String::from("could not write the initial stack"))?;
        }
    }
    Ok(stack_pointer)
}

/// One step of SplitMix64: seeds for AT_RANDOM from the counter. They vary from boot to boot
/// under an emulator and on hardware, but are not cryptographic (see docs/posix.md).
fn split_mix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut value = *state;
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
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
    block.extend((image.routes.len() as u32).to_le_bytes());
    for argument in &image.arguments {
        block.extend(argument.bytes().filter(|byte| *byte != 0));
        block.push(0);
    }
    for ((handle, _), capability) in capabilities.iter().zip(&image.capabilities) {
        block.extend(handle.to_le_bytes());
        block.extend((capability.name.len() as u32).to_le_bytes());
        block.extend(capability.name.bytes());
    }
    let handles: Vec<u32> = capabilities.iter().map(|(handle, _)| handle).collect();
    for route in &image.routes {
        let handle = handles.get(route.capability as usize)?;
        let bulk = match route.bulk {
            Some(index) => *handles.get(index as usize)?,
            None => 0,
        };
        block.extend(route.kind.to_le_bytes());
        block.extend(handle.to_le_bytes());
        block.extend(bulk.to_le_bytes());
        block.extend((route.prefix.len() as u32).to_le_bytes());
        block.extend(route.prefix.bytes());
    }
    (block.len() <= startup::STARTUP_MAX_SIZE).then_some(block)
}
