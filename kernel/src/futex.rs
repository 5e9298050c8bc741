//! Futexes: threads of one entity wait on a word of its memory until another wakes them.
//!
//! A futex is keyed by (entity, virtual address), so futexes are private to an entity; shared
//! memory between entities is not a futex domain. The kernel runs on one processor with
//! interrupts masked, so reading the word and blocking are one atomic step for user threads.

use crate::kernel::{EntityId, Kernel, State, ThreadId};
use crate::memory::user;
use alloc::vec::Vec;
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

/// Up to `limit` of the threads of `entity` waiting at `address`, oldest first.
fn waiters(kernel: &Kernel, entity: EntityId, address: u64, limit: u64) -> Vec<ThreadId> {
    kernel
        .futex_waiters
        .iter()
        .copied()
        .filter(|thread| {
            let record = &kernel.threads[*thread as usize];
            record.entity == entity
                && matches!(record.state, State::Futex { address: waiting } if waiting == address)
        })
        .take(limit.min(u32::MAX as u64) as usize)
        .collect()
}

/// Wakes up to `count` of `entity`'s threads waiting at `address`; returns how many woke.
pub fn wake(kernel: &mut Kernel, entity: EntityId, address: u64, count: u64) -> usize {
    let mut woken = 0;
    for thread in waiters(kernel, entity, address, count) {
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
    for thread in waiters(kernel, entity, address, move_count) {
        kernel.threads[thread as usize].state = State::Futex { address: target };
    }
    kernel.set_current_return(Ok(woken), 0);
    Ok(())
}
