//! Futexes: threads of one entity wait on a word of its memory until another wakes them.
//!
//! A futex is keyed by (entity, virtual address), so futexes are private to an entity; shared
//! memory between entities is not a futex domain. The kernel runs on one processor with
//! interrupts masked, so reading the word and blocking are one atomic step for user threads.

use crate::kernel::{EntityId, Kernel, State, ThreadId};
use crate::memory::user;
use septa_abi::Error;

fn check_address(address: u64) -> Result<(), Error> {
    if address & 3 != 0 || address >= septa_abi::startup::USER_END as u64 {
        return Err(Error::InvalidArgument);
    }
    Ok(())
}

/// `FUTEX_WAIT`: blocks the current thread while the word at `address` equals `expected`.
pub fn wait(kernel: &mut Kernel, address: u64, expected: u64, timeout: u64) -> Result<(), Error> {
    check_address(address)?;
    let entity = kernel.current_entity();
    let mut word = [0u8; 4];
    user::read(kernel.entities[entity as usize].root, address, &mut word)?;
    if u64::from(u32::from_le_bytes(word)) != expected & 0xffff_ffff {
        return Err(Error::WouldBlock);
    }
    let thread = kernel.current();
    kernel.threads[thread as usize].state = State::Futex { address };
    kernel.futex_waiters.push_back(thread);
    kernel.set_current_return(Ok(0), 0);
    kernel.block_current(timeout);
    Ok(())
}

/// Whether `thread` belongs to `entity` and waits at `address`.
fn waits_at(kernel: &Kernel, thread: ThreadId, entity: EntityId, address: u64) -> bool {
    let record = &kernel.threads[thread as usize];
    record.entity == entity
        && matches!(record.state, State::Futex { address: waiting } if waiting == address)
}

/// Wakes up to `count` of `entity`'s threads waiting at `address`, oldest first; returns how
/// many woke. Allocates nothing, and costs one look at an empty queue when nobody waits (the
/// common case of an unlock).
pub fn wake(kernel: &mut Kernel, entity: EntityId, address: u64, count: u64) -> usize {
    let mut woken = 0;
    while (woken as u64) < count {
        let Some(thread) = kernel
            .futex_waiters
            .iter()
            .copied()
            .find(|thread| waits_at(kernel, *thread, entity, address))
        else {
            break;
        };
        kernel.detach(thread);
        kernel.wake(thread, Ok(0), 0);
        woken += 1;
    }
    woken
}

/// `FUTEX_WAKE` from the current thread.
pub fn wake_call(kernel: &mut Kernel, address: u64, count: u64) -> Result<(), Error> {
    check_address(address)?;
    let entity = kernel.current_entity();
    let woken = wake(kernel, entity, address, count);
    kernel.set_current_return(Ok(woken), 0);
    Ok(())
}

/// `FUTEX_REQUEUE`: wakes up to `wake_count` waiters at `address` and moves up to
/// `move_count` of the others to wait at `target`.
pub fn requeue(
    kernel: &mut Kernel,
    address: u64,
    wake_count: u64,
    target: u64,
    move_count: u64,
) -> Result<(), Error> {
    check_address(address)?;
    check_address(target)?;
    let entity = kernel.current_entity();
    let woken = wake(kernel, entity, address, wake_count);
    let mut moved = 0u64;
    for index in 0..kernel.futex_waiters.len() {
        if moved >= move_count {
            break;
        }
        let thread = kernel.futex_waiters[index];
        if waits_at(kernel, thread, entity, address) {
            kernel.threads[thread as usize].state = State::Futex { address: target };
            moved += 1;
        }
    }
    kernel.set_current_return(Ok(woken), 0);
    Ok(())
}
