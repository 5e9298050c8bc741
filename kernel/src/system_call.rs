//! System-call dispatch: decode the number and arguments, run the call, set the result.

use crate::arch::{self, paging::Access};
use crate::ipc;
use crate::kernel::{Kernel, Object, State};
use crate::memory::user;
use septa_abi::{Error, protection, rights, startup, syscall};

/// Largest console write in one call.
const CONSOLE_WRITE_MAX: usize = 4096;

/// Runs the current thread's system call. Calls that block or switch set their own results;
/// an `Err` here becomes the current thread's result.
pub fn dispatch(kernel: &mut Kernel) {
    let thread = kernel.current();
    let context = &kernel.threads[thread as usize].context;
    let number = context.system_call_number();
    let arguments: [u64; 6] = core::array::from_fn(|index| context.argument(index));
    let argument = |index: usize| arguments[index];
    let result: Result<(), Error> = match number {
        syscall::CONSOLE_WRITE => console_write(kernel, argument(0), argument(1)),
        syscall::ENTITY_EXIT => {
            let entity = kernel.current_entity();
            kernel.end_entity(
                entity,
                crate::kernel::Ending::Exited(argument(0) as i32 as i64),
            );
            Ok(())
        }
        syscall::THREAD_CREATE => thread_create(kernel, &arguments),
        syscall::THREAD_EXIT => {
            let entity = kernel.current_entity();
            let (stack, length) = (argument(0), argument(1));
            kernel.end_thread(thread, 0);
            // The stack is unmapped only now that no thread runs on it. A bad range is ignored:
            // the thread has ended either way.
            if length != 0 && kernel.entities[entity as usize].alive {
                let _ = kernel.unmap(entity, stack, length);
            }
            Ok(())
        }
        syscall::YIELD => {
            let priority = kernel.threads[thread as usize].priority;
            kernel.set_current_return(Ok(0), 0);
            kernel.ready.push(thread, priority);
            kernel.current = None;
            Ok(())
        }
        syscall::CALL => ipc::call(
            kernel,
            argument(0),
            argument(1),
            argument(2),
            argument(3),
            argument(4),
        ),
        syscall::RECEIVE => {
            ipc::receive(kernel, argument(0), argument(1), argument(2), argument(3))
        }
        syscall::REPLY => {
            ipc::reply(kernel, argument(0)).map(|caller| ipc::switch_to_caller(kernel, caller))
        }
        syscall::REPLY_RECEIVE => reply_receive(kernel, &arguments),
        syscall::NOTIFY => ipc::notify(kernel, argument(0), argument(1)),
        syscall::WAIT => ipc::wait(kernel, argument(0), argument(1)),
        syscall::MONITOR_CHECK => ipc::monitor_check(kernel, argument(0), argument(1)),
        syscall::ENDPOINT_WATCH => ipc::watch(kernel, argument(0)),
        syscall::SHARED_MEMORY_MAP => {
            shared_memory_map(kernel, argument(0), argument(1), argument(2))
        }
        syscall::SLEEP => {
            kernel.threads[thread as usize].state = State::Sleeping;
            kernel.set_current_return(Ok(0), 0);
            kernel.block_current(argument(0).min(u64::MAX - 1));
            Ok(())
        }
        syscall::CLOCK => {
            kernel.set_current_return(Ok(arch::timer::now_nanoseconds() as usize), 0);
            Ok(())
        }
        syscall::MEMORY_MAP => memory_map(kernel, argument(0), argument(1), argument(2)),
        syscall::MEMORY_UNMAP => {
            let entity = kernel.current_entity();
            let result = kernel.unmap(entity, argument(0), argument(1));
            if result.is_ok() {
                kernel.set_current_return(Ok(0), 0);
            }
            result
        }
        syscall::ENTITY_ID => {
            let entity = kernel.current_entity();
            kernel.set_current_return(Ok(entity as usize), 0);
            Ok(())
        }
        syscall::TIMESTAMP => {
            kernel.set_current_return(
                Ok(arch::cpu::timestamp() as usize),
                arch::timer::timestamp_rate(),
            );
            Ok(())
        }
        syscall::FUTEX_WAIT => crate::futex::wait(kernel, argument(0), argument(1), argument(2)),
        syscall::FUTEX_WAKE => crate::futex::wake_call(kernel, argument(0), argument(1)),
        syscall::FUTEX_REQUEUE => {
            crate::futex::requeue(kernel, argument(0), argument(1), argument(2), argument(3))
        }
        syscall::THREAD_SELF => {
            if argument(0) >= startup::USER_END as u64 {
                Err(Error::InvalidArgument)
            } else {
                kernel.threads[thread as usize].clear_address = argument(0);
                kernel.set_current_return(Ok(thread as usize), 0);
                Ok(())
            }
        }
        syscall::THREAD_POINTER_SET => {
            if argument(0) >= startup::USER_END as u64 {
                Err(Error::InvalidArgument)
            } else {
                let record = &mut kernel.threads[thread as usize];
                arch::extended::set_thread_pointer(
                    &mut record.context,
                    &mut record.extended.thread_pointer,
                    argument(0),
                    true,
                );
                kernel.set_current_return(Ok(0), 0);
                Ok(())
            }
        }
        syscall::MEMORY_PROTECT => {
            let entity = kernel.current_entity();
            let result = access_of(argument(2) as usize)
                .and_then(|access| kernel.protect(entity, argument(0), argument(1), access));
            if result.is_ok() {
                kernel.set_current_return(Ok(0), 0);
            }
            result
        }
        syscall::DEVICE_READ => {
            crate::device::read_register(kernel, argument(0), argument(1), argument(2))
        }
        syscall::DEVICE_WRITE => crate::device::write_register(
            kernel,
            argument(0),
            argument(1),
            argument(2),
            argument(3),
        ),
        syscall::DMA_MAP => crate::device::dma_map(kernel, argument(0), argument(1), argument(2)),
        _ => Err(Error::NoSuchCall),
    };
    if let Err(error) = result
        && kernel.current == Some(thread)
    {
        kernel.set_current_return(Err(error), 0);
    }
}

fn console_write(kernel: &mut Kernel, address: u64, length: u64) -> Result<(), Error> {
    let length = (length as usize).min(CONSOLE_WRITE_MAX);
    let mut buffer = [0u8; CONSOLE_WRITE_MAX];
    let root = kernel.entities[kernel.current_entity() as usize].root;
    user::read(root, address, &mut buffer[..length])?;
    crate::console::bytes(&buffer[..length]);
    kernel.set_current_return(Ok(length), 0);
    Ok(())
}

fn thread_create(kernel: &mut Kernel, arguments: &[u64; 6]) -> Result<(), Error> {
    let [
        entry,
        stack,
        argument,
        priority,
        thread_pointer,
        clear_address,
    ] = *arguments;
    let entity = kernel.current_entity();
    let limit = startup::USER_END as u64;
    if entry >= limit
        || stack >= limit
        || stack & 0x7 != 0
        || thread_pointer >= limit
        || clear_address >= limit
    {
        return Err(Error::InvalidArgument);
    }
    let priority = (priority.min(31) as u8).min(kernel.entities[entity as usize].priority);
    let context = arch::cpu::user_context(entry, stack, argument);
    let identity = kernel.spawn_thread(entity, context, priority)?;
    let record = &mut kernel.threads[identity as usize];
    record.clear_address = clear_address;
    arch::extended::set_thread_pointer(
        &mut record.context,
        &mut record.extended.thread_pointer,
        thread_pointer,
        false,
    );
    kernel.set_current_return(Ok(identity as usize), 0);
    Ok(())
}

/// The page access a protection word asks for: `None` for no access; W^X enforced.
fn access_of(flags: usize) -> Result<Option<Access>, Error> {
    if flags & !(protection::READ | protection::WRITE | protection::EXECUTE) != 0 {
        return Err(Error::InvalidArgument);
    }
    if flags & protection::WRITE != 0 && flags & protection::EXECUTE != 0 {
        return Err(Error::InvalidArgument); // W^X
    }
    if flags == 0 {
        return Ok(None);
    }
    Ok(Some(Access {
        writable: flags & protection::WRITE != 0,
        executable: flags & protection::EXECUTE != 0,
    }))
}

fn reply_receive(kernel: &mut Kernel, arguments: &[u64; 6]) -> Result<(), Error> {
    let thread = kernel.current();
    // A failed reply (the caller timed out or went away) must not stop the server: it goes on
    // receiving, as in seL4's ReplyRecv.
    let replied = match kernel.threads[thread as usize].reply_to {
        Some(_) => ipc::reply(kernel, arguments[0]).ok(),
        None => None,
    };
    let received = ipc::receive(
        kernel,
        arguments[1],
        arguments[2],
        arguments[3],
        arguments[4],
    );
    // The caller runs next if the server now waits; otherwise it queues behind the server.
    if let Some(caller) = replied {
        if kernel.current.is_none() {
            kernel.switch_to(caller);
        } else {
            kernel.enqueue(caller);
        }
    }
    received
}

fn shared_memory_map(
    kernel: &mut Kernel,
    handle: u64,
    address: u64,
    length: u64,
) -> Result<(), Error> {
    let entity = kernel.current_entity();
    let capability = kernel.capability(handle, rights::MAP_READ)?;
    let Object::SharedMemory(index) = capability.object else {
        return Err(Error::BadHandle);
    };
    let size = kernel.shared_memory[index as usize].frames.len() as u64 * 4096;
    if length == 0 {
        kernel.set_current_return(Ok(size as usize), 0);
        return Ok(());
    }
    if size > length {
        return Err(Error::TooLarge);
    }
    check_free_range(kernel, address, size)?;
    let frames = kernel.shared_memory[index as usize].frames.clone();
    let access = Access {
        writable: capability.rights & rights::MAP_WRITE != 0,
        executable: false,
    };
    let root = kernel.entities[entity as usize].root;
    // The region's frames belong to the region; the page tables that map them are the
    // entity's and count against its limit, so repeated mappings cannot drain memory.
    for (page, frame) in frames.iter().enumerate() {
        let record = &kernel.entities[entity as usize];
        let room = record.memory_limit.saturating_sub(record.memory_used) / 4096;
        let allocator = &mut kernel.frames;
        let mut tables = 0u64;
        let result = arch::paging::map(
            root,
            address + page as u64 * 4096,
            *frame,
            access,
            &mut || {
                if tables >= room {
                    return None;
                }
                tables += 1;
                allocator.allocate()
            },
        );
        kernel.entities[entity as usize].memory_used += tables * 4096;
        result.map_err(|_| Error::OutOfMemory)?;
    }
    kernel.set_current_return(Ok(size as usize), 0);
    Ok(())
}

/// Checks that `[address, address + size)` is page-aligned user space with nothing mapped
/// (at a cost that follows what is mapped, not the size of the range).
pub fn check_free_range(kernel: &Kernel, address: u64, size: u64) -> Result<(), Error> {
    let end = address.checked_add(size).ok_or(Error::InvalidArgument)?;
    if address & 0xfff != 0
        || size == 0
        || address < startup::USER_LOWEST as u64
        || end > startup::USER_END as u64
    {
        return Err(Error::InvalidArgument);
    }
    let root = kernel.entities[kernel.current_entity() as usize].root;
    match arch::paging::next_mapped(root, address, end) {
        Some(_) => Err(Error::InvalidArgument),
        None => Ok(()),
    }
}

fn memory_map(kernel: &mut Kernel, address: u64, length: u64, flags: u64) -> Result<(), Error> {
    let access = access_of(flags as usize)?.unwrap_or(Access {
        writable: false,
        executable: false,
    });
    let size = length
        .checked_next_multiple_of(4096)
        .ok_or(Error::InvalidArgument)?;
    let entity = kernel.current_entity();
    let address = if address == 0 {
        kernel.entities[entity as usize].map_cursor
    } else {
        address
    };
    let record = &kernel.entities[entity as usize];
    if record.memory_used.saturating_add(size) > record.memory_limit {
        return Err(Error::OutOfMemory);
    }
    check_free_range(kernel, address, size)?;
    for page in (address..address + size).step_by(4096) {
        crate::loader::allocate_page(kernel, entity, page, access)
            .map_err(|_| Error::OutOfMemory)?;
    }
    let record = &mut kernel.entities[entity as usize];
    if address == record.map_cursor {
        record.map_cursor = address + size + 4096; // leave a guard page between mappings
    }
    kernel.set_current_return(Ok(address as usize), 0);
    Ok(())
}
