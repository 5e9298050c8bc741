//! Identity and limits: process ids, users, `uname`, processor affinity, resource limits and
//! the file-mode mask.
//!
//! The process id is the entity id plus one (never 0); an entity has no parent, so
//! `getppid` is 0, as for a process whose parent is outside its PID namespace. Every entity
//! runs as root (uid and gid 0). There is one processor. Resource limits can be read and set;
//! setting records the values without enforcing them (the fixed tables are the real limits:
//! `RLIMIT_NOFILE` reports the descriptor table's size).

use core::sync::atomic::{AtomicU32, Ordering};

use crate::descriptors::DESCRIPTOR_LIMIT;
use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::{arch, kernel, memory, startup, user};

/// The entity's process id.
pub fn pid() -> i32 {
    let entity = match startup::block() {
        Some(block) => block.entity_id() as usize,
        None => kernel::entity_id().unwrap_or(0),
    };
    (entity as i32).wrapping_add(1)
}

/// `getpid`, `getpgrp`.
pub fn getpid() -> Result<usize> {
    Ok(pid() as usize)
}

/// `getpgid`, `getsid`: the entity is its own group and session.
pub fn process_group(process: i32) -> Result<usize> {
    if process == 0 || process == pid() {
        getpid()
    } else {
        Err(Errno::ESRCH)
    }
}

/// `getppid`: no parent.
pub fn getppid() -> Result<usize> {
    Ok(0)
}

/// `getuid`, `geteuid`, `getgid`, `getegid`: root.
pub fn root() -> Result<usize> {
    Ok(0)
}

/// `getresuid`, `getresgid`.
pub fn real_effective_saved(real: usize, effective: usize, saved: usize) -> Result<usize> {
    for pointer in [real, effective, saved] {
        user::write(pointer as *mut u32, 0)?;
    }
    Ok(0)
}

/// `getgroups`: no supplementary groups.
pub fn getgroups(_size: i32, _list: usize) -> Result<usize> {
    Ok(0)
}

/// `setuid`, `setgid` and friends: staying root is allowed, anything else is `EPERM`.
pub fn set_identity(ids: &[usize]) -> Result<usize> {
    if ids
        .iter()
        .all(|id| *id as u32 == 0 || *id as u32 == u32::MAX)
    {
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

fn field(text: &[u8]) -> [libc::c_char; 65] {
    let mut field = [0 as libc::c_char; 65];
    for (target, byte) in field.iter_mut().zip(text.iter().take(64)) {
        *target = *byte as libc::c_char;
    }
    field
}

/// `uname`.
pub fn uname(pointer: usize) -> Result<usize> {
    // SAFETY: `utsname` is arrays of characters, for which all zeroes is valid.
    let mut name: libc::utsname = unsafe { core::mem::zeroed() };
    name.sysname = field(b"Septa");
    name.nodename = field(b"septa");
    name.release = field(env!("CARGO_PKG_VERSION").as_bytes());
    name.version = field(b"Septa libposix");
    name.machine = field(arch::MACHINE);
    name.domainname = field(b"(none)");
    user::write(pointer as *mut libc::utsname, name)?;
    Ok(0)
}

fn check_process(process: i32) -> Result<()> {
    if process == 0 || process == pid() {
        Ok(())
    } else {
        Err(Errno::ESRCH)
    }
}

/// `sched_getaffinity`: processor 0 only. Returns the bytes written, as the system call does.
pub fn get_affinity(process: i32, size: usize, mask: usize) -> Result<usize> {
    check_process(process)?;
    let word = core::mem::size_of::<usize>();
    if size < word || !size.is_multiple_of(word) {
        return Err(Errno::EINVAL);
    }
    user::write(mask as *mut usize, 1)?;
    Ok(word)
}

/// `sched_setaffinity`: any set including processor 0.
pub fn set_affinity(process: i32, size: usize, mask: usize) -> Result<usize> {
    check_process(process)?;
    if size == 0 {
        return Err(Errno::EINVAL);
    }
    if user::read(mask as *const u8)? & 1 == 0 {
        return Err(Errno::EINVAL);
    }
    Ok(0)
}

/// `getcpu`: processor 0, node 0.
pub fn getcpu(processor: usize, node: usize) -> Result<usize> {
    user::write_optional(processor as *mut u32, 0)?;
    user::write_optional(node as *mut u32, 0)?;
    Ok(0)
}

/// Number of resource limits Linux defines.
const LIMIT_COUNT: usize = 16;
const INFINITY: u64 = u64::MAX;

/// Limits set by the program; `None` until set (then the defaults apply).
static LIMITS: Lock<[Option<(u64, u64)>; LIMIT_COUNT]> = Lock::new([None; LIMIT_COUNT]);

/// The limit for `resource` before the program sets it.
fn default_limit(resource: usize) -> (u64, u64) {
    // The `RLIMIT_*` constants are `int` in musl and `unsigned` in glibc.
    if resource == libc::RLIMIT_STACK as usize {
        let size = memory::initial_stack_size() as u64;
        (size, size)
    } else if resource == libc::RLIMIT_NOFILE as usize {
        (DESCRIPTOR_LIMIT as u64, DESCRIPTOR_LIMIT as u64)
    } else if resource == libc::RLIMIT_CORE as usize {
        (0, INFINITY)
    } else {
        (INFINITY, INFINITY)
    }
}

/// `prlimit64`, and `getrlimit`/`setrlimit` through it.
pub fn prlimit(process: i32, resource: u32, new: usize, old: usize) -> Result<usize> {
    check_process(process)?;
    let resource = resource as usize;
    if resource >= LIMIT_COUNT {
        return Err(Errno::EINVAL);
    }
    let new = if new == 0 {
        None
    } else {
        let limit = user::read(new as *const libc::rlimit)?;
        if limit.rlim_cur > limit.rlim_max {
            return Err(Errno::EINVAL);
        }
        Some((limit.rlim_cur, limit.rlim_max))
    };
    let previous = {
        let mut limits = LIMITS.lock();
        let previous = limits[resource];
        if new.is_some() {
            limits[resource] = new;
        }
        previous
    };
    let (current, maximum) = previous.unwrap_or_else(|| default_limit(resource));
    user::write_optional(
        old as *mut libc::rlimit,
        libc::rlimit {
            rlim_cur: current,
            rlim_max: maximum,
        },
    )?;
    Ok(0)
}

/// `prctl` options (linux/prctl.h).
const PR_SET_PDEATHSIG: i32 = 1;
const PR_GET_PDEATHSIG: i32 = 2;
const PR_GET_DUMPABLE: i32 = 3;
const PR_SET_DUMPABLE: i32 = 4;
const PR_SET_NAME: i32 = 15;
const PR_GET_NAME: i32 = 16;
const PR_SET_NO_NEW_PRIVS: i32 = 38;
const PR_GET_NO_NEW_PRIVS: i32 = 39;

/// `prctl`: thread names; the parent-death signal (there is no parent), dumpability (there
/// are no core dumps) and no-new-privileges (there is no `execve`, so it always holds) are
/// accepted and reported; other options are `EINVAL`, as Linux answers unknown ones.
pub fn prctl(option: i32, argument: usize, _rest: &[usize]) -> Result<usize> {
    match option {
        PR_SET_NAME => {
            let name = user::string(argument)?;
            crate::threads::set_name(&name[..name.len().min(crate::threads::THREAD_NAME_SIZE)]);
            Ok(0)
        }
        PR_GET_NAME => {
            user::write(
                argument as *mut [u8; crate::threads::THREAD_NAME_SIZE],
                crate::threads::name(),
            )?;
            Ok(0)
        }
        PR_SET_PDEATHSIG if argument <= 64 => Ok(0),
        PR_GET_PDEATHSIG => user::write(argument as *mut i32, 0).map(|()| 0),
        PR_SET_DUMPABLE if argument <= 1 => Ok(0),
        PR_GET_DUMPABLE => Ok(0),
        PR_SET_NO_NEW_PRIVS if argument == 1 => Ok(0),
        PR_GET_NO_NEW_PRIVS => Ok(1),
        _ => Err(Errno::EINVAL),
    }
}

/// The file-mode creation mask.
static UMASK: AtomicU32 = AtomicU32::new(0o022);

/// `umask`.
pub fn umask(mask: u32) -> Result<usize> {
    Ok(UMASK.swap(mask & 0o777, Ordering::Relaxed) as usize)
}

/// The file-mode creation mask, which `open`, `mkdir` and the like apply.
pub fn creation_mask() -> u32 {
    UMASK.load(Ordering::Relaxed)
}

/// Tests that set or depend on the mask hold this, as the mask is the entity's.
#[cfg(test)]
static UMASK_USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Sets the mask for a test, which keeps it while it holds the guard.
#[cfg(test)]
pub fn set_creation_mask_for_test(mask: u32) -> std::sync::MutexGuard<'static, ()> {
    let guard = UMASK_USERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    UMASK.store(mask, Ordering::Relaxed);
    guard
}

// The constants' types differ between glibc (the host) and musl, so the casts stay.
#[allow(clippy::unnecessary_cast)]
#[cfg(test)]
mod tests {
    use super::*;

    fn text(field: &[libc::c_char]) -> std::string::String {
        field
            .iter()
            .take_while(|byte| **byte != 0)
            .map(|byte| *byte as u8 as char)
            .collect()
    }

    #[test]
    fn uname_names_septa() {
        // SAFETY: `utsname` is plain characters.
        let mut name: libc::utsname = unsafe { core::mem::zeroed() };
        assert_eq!(uname(&mut name as *mut _ as usize), Ok(0));
        assert_eq!(text(&name.sysname), "Septa");
        assert_eq!(text(&name.nodename), "septa");
        assert_eq!(text(&name.release), env!("CARGO_PKG_VERSION"));
        assert_eq!(text(&name.version), "Septa libposix");
        assert_eq!(text(&name.machine).as_bytes(), arch::MACHINE);
        assert_eq!(uname(0), Err(Errno::EFAULT));
    }

    #[test]
    fn ids_are_never_zero_and_everyone_is_root() {
        // The fake kernel's entity is 6.
        assert_eq!(getpid(), Ok(7));
        assert_eq!(getppid(), Ok(0));
        assert_eq!(root(), Ok(0));
        assert_eq!(process_group(0), Ok(7));
        assert_eq!(process_group(3), Err(Errno::ESRCH));
        assert_eq!(set_identity(&[0]), Ok(0));
        assert_eq!(set_identity(&[u32::MAX as usize, 0]), Ok(0));
        assert_eq!(set_identity(&[1000]), Err(Errno::EPERM));
        let mut ids = [9u32; 3];
        let pointers = ids.as_mut_ptr() as usize;
        assert_eq!(
            real_effective_saved(pointers, pointers + 4, pointers + 8),
            Ok(0)
        );
        assert_eq!(ids, [0, 0, 0]);
    }

    #[test]
    fn one_processor() {
        let mut mask = [0xffusize; 4];
        let pointer = mask.as_mut_ptr() as usize;
        assert_eq!(get_affinity(0, 32, pointer), Ok(8));
        assert_eq!(mask[0], 1);
        assert_eq!(get_affinity(0, 3, pointer), Err(Errno::EINVAL));
        assert_eq!(get_affinity(12345, 8, pointer), Err(Errno::ESRCH));
        assert_eq!(set_affinity(0, 8, pointer), Ok(0));
        mask[0] = 2;
        assert_eq!(
            set_affinity(0, 8, mask.as_ptr() as usize),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn limits_have_defaults_and_remember_settings() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        let pointer = &mut limit as *mut _ as usize;
        assert_eq!(prlimit(0, libc::RLIMIT_NOFILE as u32, 0, pointer), Ok(0));
        assert_eq!((limit.rlim_cur, limit.rlim_max), (1024, 1024));
        assert_eq!(prlimit(0, libc::RLIMIT_AS as u32, 0, pointer), Ok(0));
        assert_eq!(limit.rlim_cur, libc::RLIM_INFINITY);
        let new = libc::rlimit {
            rlim_cur: 100,
            rlim_max: 200,
        };
        assert_eq!(
            prlimit(
                0,
                libc::RLIMIT_MSGQUEUE as u32,
                &new as *const _ as usize,
                0
            ),
            Ok(0)
        );
        assert_eq!(prlimit(0, libc::RLIMIT_MSGQUEUE as u32, 0, pointer), Ok(0));
        assert_eq!((limit.rlim_cur, limit.rlim_max), (100, 200));
        let bad = libc::rlimit {
            rlim_cur: 300,
            rlim_max: 200,
        };
        assert_eq!(
            prlimit(
                0,
                libc::RLIMIT_MSGQUEUE as u32,
                &bad as *const _ as usize,
                0
            ),
            Err(Errno::EINVAL)
        );
        assert_eq!(prlimit(0, 99, 0, pointer), Err(Errno::EINVAL));
    }

    #[test]
    fn prctl_names_threads() {
        let name = c"a-rather-long-thread-name";
        assert_eq!(prctl(PR_SET_NAME, name.as_ptr() as usize, &[]), Ok(0));
        let mut back = [0xffu8; 16];
        assert_eq!(prctl(PR_GET_NAME, back.as_mut_ptr() as usize, &[]), Ok(0));
        assert_eq!(&back, b"a-rather-long-t\0");
        assert_eq!(prctl(PR_GET_NO_NEW_PRIVS, 0, &[]), Ok(1));
        assert_eq!(prctl(12345, 0, &[]), Err(Errno::EINVAL));
    }

    #[test]
    fn umask_swaps() {
        let _users = set_creation_mask_for_test(0o022);
        let first = umask(0o077).unwrap();
        assert_eq!(umask(first as u32), Ok(0o077));
    }
}
