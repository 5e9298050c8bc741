//! Signals, synchronously: dispositions, the mask and pending set, and signals a thread sends
//! itself.
//!
//! Septa never interrupts a thread to deliver a signal. What remains of signals is what a
//! program does to itself: `raise` and `abort` (`kill`/`tkill`/`tgkill` to itself) run the
//! handler at once on the calling thread, or hold the signal pending while it is blocked and
//! run it when `rt_sigprocmask` unblocks it. A default action that terminates prints
//! `[libposix] killed by signal N` and ends the entity with status 128 + N; `SIGCHLD`,
//! `SIGURG`, `SIGWINCH`, `SIGCONT` and the stop signals are ignored by default.
//!
//! Each thread has its own mask (kept in the thread table, see [`crate::threads`]; a new thread
//! inherits its creator's). Simplifications: one pending set for the entity, delivered to
//! whichever thread's mask lets a signal through first; handlers run on the current stack (no
//! alternate stack switch) with a null `ucontext`; a signal to another thread of the entity is
//! `ENOSYS` (counted) unless it is 0; signals to other processes are `ESRCH`.

use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::{identity, kernel, threads, time, unsupported, user};

/// Highest signal number.
pub const SIGNAL_COUNT: usize = 64;
/// Bytes of a kernel signal set.
const SIGNAL_SET_SIZE: usize = 8;

/// The `rt_sigaction` structure as the kernel sees it (musl's `struct k_sigaction`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelSigaction {
    /// `SIG_DFL` (0), `SIG_IGN` (1) or the handler's address.
    pub handler: usize,
    /// `SA_*` flags.
    pub flags: u64,
    /// The restorer (musl's `__restore_rt`; never used: handlers return normally).
    pub restorer: usize,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

/// `siginfo_t` as libposix fills it for a signal a process sends itself.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SignalInformation {
    signal: i32,
    error: i32,
    code: i32,
    padding: i32,
    sender_process: i32,
    sender_user: u32,
    rest: [u64; 13],
}

const DEFAULT: KernelSigaction = KernelSigaction {
    handler: 0,
    flags: 0,
    restorer: 0,
    mask: 0,
};
const SIG_IGN: usize = 1;
/// `sigaltstack`'s flag to disarm the stack while a handler runs on it.
const SS_AUTODISARM: i32 = 1 << 31;
/// `SI_USER`: sent by `kill`.
const SI_USER: i32 = 0;
/// `SI_TKILL`: sent by `tkill` or `tgkill`.
const SI_TKILL: i32 = -6;

fn bit(signal: i32) -> u64 {
    1 << (signal - 1)
}

/// Signals that cannot be caught, blocked or ignored.
const UNBLOCKABLE: u64 = (1 << (libc::SIGKILL - 1)) | (1 << (libc::SIGSTOP - 1));

/// Whether a signal's default action is to do nothing (stop signals included: Septa cannot
/// stop an entity).
pub fn ignored_by_default(signal: i32) -> bool {
    matches!(
        signal,
        libc::SIGCHLD
            | libc::SIGURG
            | libc::SIGWINCH
            | libc::SIGCONT
            | libc::SIGSTOP
            | libc::SIGTSTP
            | libc::SIGTTIN
            | libc::SIGTTOU
    )
}

/// The entity's signal state (each thread's mask is in the thread table).
struct Signals {
    actions: [KernelSigaction; SIGNAL_COUNT],
    pending: u64,
    /// `sigaltstack`: (address, flags, size).
    alternate_stack: (usize, i32, usize),
}

impl Signals {
    fn discards(&self, signal: i32) -> bool {
        let action = self.actions[signal as usize - 1];
        action.handler == SIG_IGN || (action.handler == 0 && ignored_by_default(signal))
    }
}

static SIGNALS: Lock<Signals> = Lock::new(Signals {
    actions: [DEFAULT; SIGNAL_COUNT],
    pending: 0,
    alternate_stack: (0, libc::SS_DISABLE, 0),
});

fn check_signal(signal: i32) -> Result<()> {
    if (1..=SIGNAL_COUNT as i32).contains(&signal) {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

fn check_set_size(size: usize) -> Result<()> {
    if size == SIGNAL_SET_SIZE {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// `rt_sigaction`.
pub fn action(signal: i32, new: usize, old: usize, size: usize) -> Result<usize> {
    check_set_size(size)?;
    check_signal(signal)?;
    if new != 0 && bit(signal) & UNBLOCKABLE != 0 {
        return Err(Errno::EINVAL);
    }
    let new = if new == 0 {
        None
    } else {
        Some(user::read(new as *const KernelSigaction)?)
    };
    let previous = {
        let mut signals = SIGNALS.lock();
        let previous = signals.actions[signal as usize - 1];
        if let Some(mut action) = new {
            action.mask &= !UNBLOCKABLE;
            signals.actions[signal as usize - 1] = action;
            // A signal pending when its disposition becomes "ignore" is discarded.
            if signals.discards(signal) {
                signals.pending &= !bit(signal);
            }
        }
        previous
    };
    user::write_optional(old as *mut KernelSigaction, previous)?;
    Ok(0)
}

/// `rt_sigprocmask`; runs the handlers of pending signals it unblocks.
pub fn mask(how: i32, set: usize, old: usize, size: usize) -> Result<usize> {
    check_set_size(size)?;
    let new = if set == 0 {
        None
    } else {
        Some(user::read(set as *const u64)?)
    };
    // Only the thread itself changes its mask, so reading and writing it need no lock.
    let previous = threads::signal_mask();
    if let Some(new) = new {
        let mask = match how {
            libc::SIG_BLOCK => previous | new,
            libc::SIG_UNBLOCK => previous & !new,
            libc::SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        threads::set_signal_mask(mask & !UNBLOCKABLE);
    }
    user::write_optional(old as *mut u64, previous)?;
    deliver_pending();
    Ok(0)
}

/// `rt_sigpending`.
pub fn pending(set: usize, size: usize) -> Result<usize> {
    if size > SIGNAL_SET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending = SIGNALS.lock().pending;
    user::write(set as *mut u64, pending)?;
    Ok(0)
}

/// `rt_sigsuspend`: with a pending signal the new mask lets through, runs it and returns
/// `EINTR`; otherwise waits forever, since no signal can arrive asynchronously.
pub fn suspend(set: usize, size: usize) -> Result<usize> {
    check_set_size(size)?;
    let temporary = user::read(set as *const u64)? & !UNBLOCKABLE;
    if SIGNALS.lock().pending & !temporary == 0 {
        loop {
            time::sleep(u64::MAX);
        }
    }
    let saved = threads::signal_mask();
    threads::set_signal_mask(temporary);
    deliver_pending();
    threads::set_signal_mask(saved);
    deliver_pending();
    Err(Errno::EINTR)
}

/// `rt_sigtimedwait`: takes a pending signal of the set, or waits out the timeout (`EAGAIN`).
pub fn timed_wait(set: usize, information: usize, timeout: usize, size: usize) -> Result<usize> {
    check_set_size(size)?;
    let wanted = user::read(set as *const u64)?;
    let timeout = time::timespec_timeout(timeout)?;
    let taken = {
        let mut signals = SIGNALS.lock();
        let ready = signals.pending & wanted;
        (ready != 0).then(|| {
            let signal = ready.trailing_zeros() as i32 + 1;
            signals.pending &= !bit(signal);
            signal
        })
    };
    match (taken, timeout) {
        (Some(signal), _) => {
            user::write_optional(
                information as *mut SignalInformation,
                information_for(signal, SI_TKILL),
            )?;
            Ok(signal as usize)
        }
        (None, Some(timeout)) => {
            time::sleep(timeout);
            Err(Errno::EAGAIN)
        }
        (None, None) => loop {
            time::sleep(u64::MAX);
        },
    }
}

/// `sigaltstack`: the stack is recorded and reported; handlers do not switch to it.
pub fn alternate_stack(new: usize, old: usize) -> Result<usize> {
    let new = if new == 0 {
        None
    } else {
        let stack = user::read(new as *const libc::stack_t)?;
        if stack.ss_flags & !(libc::SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(Errno::EINVAL);
        }
        if stack.ss_flags & libc::SS_DISABLE == 0 && stack.ss_size < libc::MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        Some((stack.ss_sp as usize, stack.ss_flags, stack.ss_size))
    };
    let previous = {
        let mut signals = SIGNALS.lock();
        let previous = signals.alternate_stack;
        if let Some(new) = new {
            signals.alternate_stack = new;
        }
        previous
    };
    user::write_optional(
        old as *mut libc::stack_t,
        libc::stack_t {
            ss_sp: previous.0 as *mut core::ffi::c_void,
            ss_flags: previous.1,
            ss_size: previous.2,
        },
    )?;
    Ok(0)
}

fn information_for(signal: i32, code: i32) -> SignalInformation {
    SignalInformation {
        signal,
        error: 0,
        code,
        padding: 0,
        sender_process: identity::pid(),
        sender_user: 0,
        rest: [0; 13],
    }
}

/// Sends `signal` to the calling thread: runs it now, or holds it while blocked.
fn raise(signal: i32, code: i32) -> Result<usize> {
    if signal == 0 {
        return Ok(0);
    }
    let mask = threads::signal_mask();
    {
        let mut signals = SIGNALS.lock();
        if signals.discards(signal) {
            return Ok(0);
        }
        if mask & bit(signal) != 0 {
            signals.pending |= bit(signal);
            return Ok(0);
        }
    }
    deliver(signal, code);
    Ok(0)
}

/// Runs the pending signals the mask lets through, lowest first.
fn deliver_pending() {
    loop {
        let mask = threads::signal_mask();
        let signal = {
            let mut signals = SIGNALS.lock();
            let ready = signals.pending & !mask;
            if ready == 0 {
                return;
            }
            let signal = ready.trailing_zeros() as i32 + 1;
            signals.pending &= !bit(signal);
            signal
        };
        deliver(signal, SI_TKILL);
    }
}

/// Takes `signal`'s action on the calling thread.
fn deliver(signal: i32, code: i32) {
    let saved_mask = threads::signal_mask();
    let action = {
        let mut signals = SIGNALS.lock();
        let action = signals.actions[signal as usize - 1];
        if action.handler > SIG_IGN && action.flags & libc::SA_RESETHAND as u64 != 0 {
            signals.actions[signal as usize - 1] = DEFAULT;
        }
        action
    };
    if action.handler > SIG_IGN {
        let mut blocked = saved_mask | action.mask;
        if action.flags & libc::SA_NODEFER as u64 == 0 {
            blocked |= bit(signal);
        }
        threads::set_signal_mask(blocked & !UNBLOCKABLE);
    }
    match action.handler {
        0 if ignored_by_default(signal) => {}
        0 => terminate(signal),
        SIG_IGN => {}
        handler => {
            if action.flags & libc::SA_SIGINFO as u64 != 0 {
                let mut information = information_for(signal, code);
                // SAFETY: the program installed this SA_SIGINFO handler with rt_sigaction.
                let handler: extern "C" fn(i32, *mut SignalInformation, *mut core::ffi::c_void) =
                    unsafe { core::mem::transmute(handler) };
                handler(signal, &mut information, core::ptr::null_mut());
            } else {
                // SAFETY: the program installed this handler with rt_sigaction.
                let handler: extern "C" fn(i32) = unsafe { core::mem::transmute(handler) };
                handler(signal);
            }
            threads::set_signal_mask(saved_mask);
            deliver_pending();
        }
    }
}

/// A signal's default action that ends the entity.
fn terminate(signal: i32) -> ! {
    use core::fmt::Write;
    let mut console = crate::console::Writer::new();
    let _ = writeln!(console, "[libposix] killed by signal {signal}");
    console.flush();
    unsupported::print_report();
    crate::files::close_all();
    kernel::entity_exit(128 + signal)
}

/// `kill`: the entity itself (its pid, its process group, 0 or -1) or `ESRCH`.
pub fn kill(process: i32, signal: i32) -> Result<usize> {
    if !(0..=SIGNAL_COUNT as i32).contains(&signal) {
        return Err(Errno::EINVAL);
    }
    let own = identity::pid();
    if process == own || process == 0 || process == -1 || process == -own {
        raise(signal, SI_USER)
    } else {
        Err(Errno::ESRCH)
    }
}

/// `tkill`: the calling thread runs the signal; another thread of the entity cannot be
/// interrupted (`ENOSYS`, except for signal 0); an unknown thread is `ESRCH`.
pub fn thread_kill(thread: i32, signal: i32) -> Result<usize> {
    if thread <= 0 || !(0..=SIGNAL_COUNT as i32).contains(&signal) {
        return Err(Errno::EINVAL);
    }
    let caller = threads::current_tid();
    if caller == Some(thread) {
        return raise(signal, SI_TKILL);
    }
    if threads::is_thread(thread) {
        return if signal == 0 {
            Ok(0)
        } else {
            Err(Errno::ENOSYS)
        };
    }
    match caller {
        // The caller is known and the target is not a thread of the entity.
        Some(_) => Err(Errno::ESRCH),
        // The caller's own id is not known (too many threads): take it to be the caller.
        None => raise(signal, SI_TKILL),
    }
}

/// `tgkill`: `tkill` within the entity's own thread group.
pub fn group_thread_kill(group: i32, thread: i32, signal: i32) -> Result<usize> {
    if group <= 0 {
        return Err(Errno::EINVAL);
    }
    if group != identity::pid() {
        return Err(Errno::ESRCH);
    }
    thread_kill(thread, signal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI32, Ordering};

    // Signal state is global, and under test every thread shares the fallback mask: each
    // test uses signals no other test touches, and takes this lock.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn serial() -> std::sync::MutexGuard<'static, ()> {
        SERIAL
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    static HANDLED: AtomicI32 = AtomicI32::new(0);

    extern "C" fn handler(signal: i32) {
        HANDLED.fetch_add(signal, Ordering::SeqCst);
    }

    fn install(signal: i32, handler: usize, flags: u64) -> KernelSigaction {
        let action = KernelSigaction {
            handler,
            flags,
            restorer: 0,
            mask: 0,
        };
        let mut old = DEFAULT;
        assert_eq!(
            super::action(
                signal,
                &action as *const _ as usize,
                &mut old as *mut _ as usize,
                8
            ),
            Ok(0)
        );
        old
    }

    #[test]
    fn handlers_run_at_once_or_when_unblocked() {
        let _serial = serial();
        let handler_address = handler as *const () as usize;
        assert_eq!(install(libc::SIGUSR1, handler_address, 0), DEFAULT);
        let before = HANDLED.load(Ordering::SeqCst);
        assert_eq!(kill(identity::pid(), libc::SIGUSR1), Ok(0));
        assert_eq!(HANDLED.load(Ordering::SeqCst), before + libc::SIGUSR1);
        // Blocked: pending until unblocked.
        let set = bit(libc::SIGUSR1);
        let mut old = 0u64;
        assert_eq!(
            mask(
                libc::SIG_BLOCK,
                &set as *const _ as usize,
                &mut old as *mut _ as usize,
                8
            ),
            Ok(0)
        );
        assert_eq!(kill(0, libc::SIGUSR1), Ok(0));
        assert_eq!(HANDLED.load(Ordering::SeqCst), before + libc::SIGUSR1);
        let mut pending_set = 0u64;
        assert_eq!(pending(&mut pending_set as *mut _ as usize, 8), Ok(0));
        assert_ne!(pending_set & set, 0);
        assert_eq!(
            mask(libc::SIG_UNBLOCK, &set as *const _ as usize, 0, 8),
            Ok(0)
        );
        assert_eq!(HANDLED.load(Ordering::SeqCst), before + 2 * libc::SIGUSR1);
        // The old action comes back.
        assert_eq!(install(libc::SIGUSR1, 0, 0).handler, handler_address);
    }

    #[test]
    fn ignored_signals_do_nothing() {
        let _serial = serial();
        install(libc::SIGUSR2, SIG_IGN, 0);
        assert_eq!(kill(-1, libc::SIGUSR2), Ok(0));
        assert_eq!(kill(identity::pid(), libc::SIGCHLD), Ok(0));
        assert_eq!(kill(identity::pid(), 0), Ok(0));
        assert_eq!(kill(identity::pid() + 1, libc::SIGUSR2), Err(Errno::ESRCH));
        assert_eq!(kill(identity::pid(), 65), Err(Errno::EINVAL));
    }

    #[test]
    fn actions_are_checked() {
        let _serial = serial();
        let action = DEFAULT;
        let pointer = &action as *const _ as usize;
        assert_eq!(
            super::action(libc::SIGKILL, pointer, 0, 8),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            super::action(libc::SIGSTOP, pointer, 0, 8),
            Err(Errno::EINVAL)
        );
        assert_eq!(super::action(libc::SIGKILL, 0, 0, 8), Ok(0));
        assert_eq!(super::action(0, pointer, 0, 8), Err(Errno::EINVAL));
        assert_eq!(super::action(65, pointer, 0, 8), Err(Errno::EINVAL));
        assert_eq!(
            super::action(libc::SIGHUP, pointer, 0, 4),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            mask(99, &0u64 as *const _ as usize, 0, 8),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn sigtimedwait_takes_a_pending_signal() {
        let _serial = serial();
        let signal = 40;
        install(signal, handler as *const () as usize, 0);
        let set = bit(signal);
        assert_eq!(
            mask(libc::SIG_BLOCK, &set as *const _ as usize, 0, 8),
            Ok(0)
        );
        assert_eq!(kill(0, signal), Ok(0));
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let timeout = &zero as *const _ as usize;
        assert_eq!(
            timed_wait(&set as *const _ as usize, 0, timeout, 8),
            Ok(signal as usize)
        );
        assert_eq!(
            timed_wait(&set as *const _ as usize, 0, timeout, 8),
            Err(Errno::EAGAIN)
        );
        assert_eq!(
            mask(libc::SIG_UNBLOCK, &set as *const _ as usize, 0, 8),
            Ok(0)
        );
    }

    #[test]
    fn the_alternate_stack_is_recorded() {
        let mut old: libc::stack_t = libc::stack_t {
            ss_sp: core::ptr::null_mut(),
            ss_flags: 0,
            ss_size: 0,
        };
        let new = libc::stack_t {
            ss_sp: 0x5000 as *mut _,
            ss_flags: 0,
            ss_size: 64 * 1024,
        };
        assert_eq!(
            alternate_stack(&new as *const _ as usize, &mut old as *mut _ as usize),
            Ok(0)
        );
        assert_eq!(alternate_stack(0, &mut old as *mut _ as usize), Ok(0));
        assert_eq!((old.ss_sp as usize, old.ss_size), (0x5000, 64 * 1024));
        let small = libc::stack_t { ss_size: 16, ..new };
        assert_eq!(
            alternate_stack(&small as *const _ as usize, 0),
            Err(Errno::ENOMEM)
        );
    }
}
