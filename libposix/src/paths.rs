//! Calls that name paths: each path is made absolute (against the working directory, or the
//! path of a directory descriptor), normalised, routed by the entity's mount table, and sent
//! whole to the file VFS that serves it.
//!
//! A path under no mount does not exist for the entity: `ENOENT`, whatever the call. The path
//! a server sees is the whole normalised path the program named (`/data/logs/x`, not `/logs/x`
//! below a mount at `/data`), so that the monitor's rules on the `path` field are written in
//! POSIX terms. Normalisation is lexical ([`crate::path`]), so a trailing slash, `.` or `..`
//! at the end of a path (which Linux takes to require a directory) is checked here: such a
//! path opens with `O_DIRECTORY`, and `stat`, `access`, `unlink` and `rename` check that it
//! names a directory. The File interface carries UTF-8 paths: any other is `EILSEQ`.
//!
//! `chmod`, `chown`, `mknod`, `link`, `statfs` and `chroot` have no File method: on a routed
//! path they are `ENOSYS` (counted).

use crate::descriptors::ACCESS_MODE;
use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::path::{PathBuffer, normalise};
use crate::status::{self, Status};
use crate::{files, identity, routes, startup, user, vfs};

static WORKING_DIRECTORY: Lock<PathBuffer> = Lock::new(PathBuffer::root());

/// Nanoseconds meaning "now" and "leave alone" in `utimensat`'s times.
const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// `openat2`'s `RESOLVE_*` flags (linux/openat2.h): all of them, and the one that always
/// holds on Septa, which has no magic links.
const RESOLVE_ALL: u64 = 0x3f;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;

/// Makes the program's `path` absolute and normalised into `result`: against the path of
/// the directory `directory` names, or the working directory for `AT_FDCWD`.
fn resolve(directory: i32, path: &[u8], result: &mut PathBuffer) -> Result<()> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path[0] == b'/' || directory == libc::AT_FDCWD {
        let working_directory = WORKING_DIRECTORY.lock();
        return normalise(&working_directory, path, result);
    }
    let mut base = PathBuffer::root();
    files::directory_path(directory, &mut base)?;
    normalise(&base, path, result)
}

/// The file VFS serving the normalised `path`: `ENOENT` under no mount.
fn route(path: &PathBuffer) -> Result<u32> {
    startup::block()
        .and_then(|block| routes::mount_for(&block, path.as_bytes()).map(|mount| mount.handle))
        .ok_or(Errno::ENOENT)
}

/// Resolves and routes the program's `path`; returns the server's endpoint.
fn locate(directory: i32, path: &[u8], result: &mut PathBuffer) -> Result<u32> {
    resolve(directory, path, result)?;
    route(result)
}

/// A path as the File interface carries it.
fn text(path: &PathBuffer) -> Result<&str> {
    core::str::from_utf8(path.as_bytes()).map_err(|_| Errno::EILSEQ)
}

/// The last component of the program's path, trailing slashes ignored.
fn last_name(path: &[u8]) -> &[u8] {
    let mut end = path.len();
    while end > 1 && path[end - 1] == b'/' {
        end -= 1;
    }
    let path = &path[..end];
    path.rsplit(|byte| *byte == b'/').next().unwrap_or(path)
}

/// Whether the program's path can only name a directory: it ends with `/`, `.` or `..`.
fn names_directory(path: &[u8]) -> bool {
    path.last() == Some(&b'/') || matches!(last_name(path), b"." | b"..")
}

/// The metadata of the normalised `path` on its server.
fn stat_path(endpoint: u32, path: &PathBuffer, nofollow: bool) -> Result<Status> {
    let text = text(path)?;
    let bytes = vfs::call(endpoint, |client| client.stat(text, u32::from(nofollow)))?;
    status::decode(&bytes)
}

/// `ENOTDIR` unless the normalised `path` is a directory (following links).
fn require_directory(endpoint: u32, path: &PathBuffer) -> Result<Status> {
    let status = stat_path(endpoint, path, false)?;
    if !status::is_directory(&status) {
        return Err(Errno::ENOTDIR);
    }
    Ok(status)
}

/// Checks `*at` flags against the ones a call accepts.
fn check_flags(flags: i32, allowed: i32) -> Result<()> {
    if flags & !allowed != 0 {
        Err(Errno::EINVAL)
    } else {
        Ok(())
    }
}

/// Whether the call names its descriptor itself (`AT_EMPTY_PATH` with an empty path).
fn empty_path(path: usize, flags: i32) -> Result<bool> {
    Ok(flags & libc::AT_EMPTY_PATH != 0 && user::path(path)?.is_empty())
}

/// The metadata of what a descriptor (or `AT_FDCWD`: the working directory) names.
fn descriptor_status(directory: i32) -> Result<Option<Status>> {
    if directory != libc::AT_FDCWD {
        return Ok(None);
    }
    let working_directory = WORKING_DIRECTORY.lock().clone();
    let endpoint = route(&working_directory)?;
    stat_path(endpoint, &working_directory, false).map(Some)
}

/// `openat`, `open`, `creat`.
pub fn open_at(directory: i32, path: usize, flags: i32, mode: u32) -> Result<usize> {
    let mut flags = flags;
    let path_only = flags & libc::O_PATH != 0;
    if !path_only && flags & ACCESS_MODE == ACCESS_MODE {
        return Err(Errno::EINVAL);
    }
    if flags & libc::O_TMPFILE == libc::O_TMPFILE {
        return Err(Errno::EOPNOTSUPP);
    }
    if !path_only && flags & libc::O_CREAT != 0 && flags & libc::O_DIRECTORY != 0 {
        return Err(Errno::EINVAL);
    }
    let raw = user::path(path)?;
    if names_directory(raw) {
        if !path_only && flags & libc::O_CREAT != 0 {
            return Err(Errno::EISDIR);
        }
        flags |= libc::O_DIRECTORY;
    }
    let mut target = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut target)?;
    files::open(endpoint, target.as_bytes(), flags, mode)
}

/// `openat2`: the `open_how` (flags, mode, resolve) as `openat` takes them. Of the `RESOLVE_*`
/// restrictions only `RESOLVE_NO_MAGICLINKS` is served (it always holds); the others are
/// `ENOSYS` rather than ignored.
pub fn open_at2(directory: i32, path: usize, how: usize, size: usize) -> Result<usize> {
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    if size > crate::regions::PAGE_SIZE {
        return Err(Errno::E2BIG);
    }
    let [flags, mode, restrictions] = user::read(how as *const [u64; 3])?;
    if user::bytes(how + 24, size - 24)?
        .iter()
        .any(|byte| *byte != 0)
    {
        return Err(Errno::E2BIG);
    }
    let flags = i32::try_from(flags).map_err(|_| Errno::EINVAL)?;
    if mode & !0o7777 != 0
        || (mode != 0 && flags & (libc::O_CREAT | libc::O_TMPFILE) == 0)
        || restrictions & !RESOLVE_ALL != 0
    {
        return Err(Errno::EINVAL);
    }
    if restrictions & !RESOLVE_NO_MAGICLINKS != 0 {
        return Err(Errno::ENOSYS);
    }
    open_at(directory, path, flags, mode as u32)
}

/// `newfstatat`, `stat`, `lstat`: an empty path with `AT_EMPTY_PATH` is `fstat`.
pub fn stat_at(directory: i32, path: usize, status: usize, flags: i32) -> Result<usize> {
    check_flags(
        flags,
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT,
    )?;
    let found = if empty_path(path, flags)? {
        match descriptor_status(directory)? {
            Some(found) => found,
            None => return files::fstat(directory, status),
        }
    } else {
        path_status(directory, path, flags)?
    };
    user::write(status as *mut libc::stat, status::stat(&found))?;
    Ok(0)
}

/// The metadata of a path, as `stat`, `lstat` and `statx` ask for it.
fn path_status(directory: i32, path: usize, flags: i32) -> Result<Status> {
    let raw = user::path(path)?;
    let mut target = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut target)?;
    // A path that must name a directory is followed to it, as Linux does.
    if names_directory(raw) {
        return require_directory(endpoint, &target);
    }
    stat_path(endpoint, &target, flags & libc::AT_SYMLINK_NOFOLLOW != 0)
}

/// `statx`: the basic statistics; an empty path with `AT_EMPTY_PATH` describes the descriptor.
pub fn statx(directory: i32, path: usize, flags: i32, _mask: u32, status: usize) -> Result<usize> {
    check_flags(
        flags,
        libc::AT_SYMLINK_NOFOLLOW
            | libc::AT_EMPTY_PATH
            | libc::AT_NO_AUTOMOUNT
            | libc::AT_STATX_SYNC_TYPE,
    )?;
    let found = if empty_path(path, flags)? {
        match descriptor_status(directory)? {
            Some(found) => found,
            None => return files::statx_descriptor(directory, status),
        }
    } else {
        path_status(directory, path, flags)?
    };
    user::write(status as *mut libc::statx, status::statx(&found))?;
    Ok(0)
}

/// `faccessat`, `faccessat2`, `access`. Every entity runs as root, so `AT_EACCESS` changes
/// nothing; with `AT_SYMLINK_NOFOLLOW` the link itself is checked, as root sees it.
pub fn access_at(directory: i32, path: usize, mode: i32, flags: i32) -> Result<usize> {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    check_flags(
        flags,
        libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH,
    )?;
    if empty_path(path, flags)? {
        if directory != libc::AT_FDCWD {
            files::description(directory)?;
        }
        return Ok(0);
    }
    let raw = user::path(path)?;
    let mut target = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut target)?;
    if names_directory(raw) {
        require_directory(endpoint, &target)?;
    }
    if flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
        let found = stat_path(endpoint, &target, true)?;
        let executable = found.file.mode & 0o111 != 0 || status::is_directory(&found);
        if mode & libc::X_OK != 0 && !executable {
            return Err(Errno::EACCES);
        }
        return Ok(0);
    }
    let text = text(&target)?;
    vfs::call(endpoint, |client| client.access(text, mode as u32))?;
    Ok(0)
}

/// `mkdirat`, `mkdir`: the mode is masked with the umask.
pub fn mkdir_at(directory: i32, path: usize, mode: u32) -> Result<usize> {
    let raw = user::path(path)?;
    let mut target = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut target)?;
    let text = text(&target)?;
    let mode = mode & 0o1777 & !identity::creation_mask();
    vfs::call(endpoint, |client| client.make_directory(text, mode))?;
    Ok(0)
}

/// `unlinkat`, `unlink`, `rmdir`: `AT_REMOVEDIR` removes a directory.
pub fn unlink_at(directory: i32, path: usize, flags: i32) -> Result<usize> {
    check_flags(flags, libc::AT_REMOVEDIR)?;
    let raw = user::path(path)?;
    let remove_directory = flags & libc::AT_REMOVEDIR != 0;
    if remove_directory {
        // Lexically `x/.` is `x`; Linux refuses to remove a directory by those names.
        match last_name(raw) {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
    }
    let mut target = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut target)?;
    if !remove_directory && names_directory(raw) {
        // `unlink` of a path that must be a directory: EISDIR if it is one, else ENOTDIR.
        require_directory(endpoint, &target)?;
        return Err(Errno::EISDIR);
    }
    let text = text(&target)?;
    vfs::call(endpoint, |client| {
        if remove_directory {
            client.remove_directory(text)
        } else {
            client.unlink(text)
        }
    })?;
    Ok(0)
}

/// `readlinkat`, `readlink`: the link's target, cut to the buffer, without a NUL.
pub fn readlink_at(directory: i32, path: usize, buffer: usize, size: usize) -> Result<usize> {
    if size == 0 || size > isize::MAX as usize {
        return Err(Errno::EINVAL);
    }
    let raw = user::path(path)?;
    let mut target = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut target)?;
    let text = text(&target)?;
    vfs::call(endpoint, |client| client.read_link(text)).and_then(|link| {
        let count = link.len().min(size);
        user::bytes_mut(buffer, count)?.copy_from_slice(&link.as_bytes()[..count]);
        Ok(count)
    })
}

/// `symlinkat`, `symlink`: the target is any non-empty string (UTF-8 here); the link's path
/// is routed.
pub fn symlink_at(target: usize, directory: i32, path: usize) -> Result<usize> {
    let link = user::path(target)?;
    if link.is_empty() {
        return Err(Errno::ENOENT);
    }
    let link = core::str::from_utf8(link).map_err(|_| Errno::EILSEQ)?;
    let raw = user::path(path)?;
    let mut location = PathBuffer::root();
    let endpoint = locate(directory, raw, &mut location)?;
    let text = text(&location)?;
    vfs::call(endpoint, |client| client.symlink(link, text))?;
    Ok(0)
}

/// `renameat`, `renameat2` (flags 0 only), `rename`: both paths must be on the same server
/// (`EXDEV` otherwise, as across file systems).
pub fn rename_at(
    old_directory: i32,
    old: usize,
    new_directory: i32,
    new: usize,
    flags: u32,
) -> Result<usize> {
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let old_raw = user::path(old)?;
    let new_raw = user::path(new)?;
    let mut source = PathBuffer::root();
    let mut target = PathBuffer::root();
    let from = locate(old_directory, old_raw, &mut source)?;
    let to = locate(new_directory, new_raw, &mut target)?;
    if from != to {
        return Err(Errno::EXDEV);
    }
    if names_directory(old_raw) || names_directory(new_raw) {
        require_directory(from, &source)?;
    }
    let (source, target) = (text(&source)?, text(&target)?);
    vfs::call(from, |client| client.rename(source, target))?;
    Ok(0)
}

/// The times `utimensat` sets: `(seconds, nanoseconds)` of access and modification, now
/// for both when the pointer is null.
fn read_times(times: usize) -> Result<[(i64, i64); 2]> {
    if times == 0 {
        return Ok([(0, UTIME_NOW); 2]);
    }
    let [access, modify] = user::read(times as *const [libc::timespec; 2])?;
    let mut result = [(0, 0); 2];
    for (slot, time) in result.iter_mut().zip([access, modify]) {
        let nanoseconds = time.tv_nsec;
        if !(0..1_000_000_000).contains(&nanoseconds)
            && nanoseconds != UTIME_NOW
            && nanoseconds != UTIME_OMIT
        {
            return Err(Errno::EINVAL);
        }
        *slot = (time.tv_sec, nanoseconds);
    }
    Ok(result)
}

/// Sets the times of what `(directory, path)` names: a null path (or an empty one with
/// `AT_EMPTY_PATH`) means the descriptor itself, by the path it was opened by.
fn set_times(directory: i32, path: usize, flags: i32, times: [(i64, i64); 2]) -> Result<usize> {
    let mut target = PathBuffer::root();
    let endpoint = if path == 0 || empty_path(path, flags)? {
        if path == 0 && flags & libc::AT_SYMLINK_NOFOLLOW != 0 {
            return Err(Errno::EINVAL);
        }
        if directory == libc::AT_FDCWD {
            if path == 0 {
                return Err(Errno::EFAULT);
            }
            target = WORKING_DIRECTORY.lock().clone();
        } else if !files::description_path(directory, &mut target)? {
            // The console: there are no times to keep.
            return Ok(0);
        }
        route(&target)?
    } else {
        locate(directory, user::path(path)?, &mut target)?
    };
    let text = text(&target)?;
    let nofollow = u32::from(flags & libc::AT_SYMLINK_NOFOLLOW != 0);
    let [
        (access_seconds, access_nanoseconds),
        (modify_seconds, modify_nanoseconds),
    ] = times;
    vfs::call(endpoint, |client| {
        client.set_times(
            text,
            nofollow,
            access_seconds,
            access_nanoseconds,
            modify_seconds,
            modify_nanoseconds,
        )
    })?;
    Ok(0)
}

/// `utimensat` (and `futimens`, which is it with a null path).
pub fn utimens_at(directory: i32, path: usize, times: usize, flags: i32) -> Result<usize> {
    check_flags(flags, libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH)?;
    let times = read_times(times)?;
    set_times(directory, path, flags, times)
}

/// `futimesat` and `utimes` (x86_64): times as two `timeval`s, or now when null.
pub fn utimes_at(directory: i32, path: usize, times: usize) -> Result<usize> {
    let times = if times == 0 {
        [(0, UTIME_NOW); 2]
    } else {
        let values = user::read(times as *const [libc::timeval; 2])?;
        let mut result = [(0, 0); 2];
        for (slot, value) in result.iter_mut().zip(values) {
            let microseconds = value.tv_usec;
            if !(0..1_000_000).contains(&microseconds) {
                return Err(Errno::EINVAL);
            }
            *slot = (value.tv_sec, microseconds * 1000);
        }
        result
    };
    set_times(directory, path, 0, times)
}

/// `utime` (x86_64): whole seconds (`struct utimbuf`), or now when null.
pub fn utime(path: usize, times: usize) -> Result<usize> {
    let times = if times == 0 {
        [(0, UTIME_NOW); 2]
    } else {
        let [access, modify] = user::read(times as *const [i64; 2])?;
        [(access, 0), (modify, 0)]
    };
    set_times(libc::AT_FDCWD, path, 0, times)
}

/// `truncate`: opens the file for writing, truncates it and closes it, in one client's three
/// calls.
pub fn truncate(path: usize, length: i64) -> Result<usize> {
    if length < 0 {
        return Err(Errno::EINVAL);
    }
    let raw = user::path(path)?;
    let mut target = PathBuffer::root();
    let endpoint = locate(libc::AT_FDCWD, raw, &mut target)?;
    let text = text(&target)?;
    vfs::call(endpoint, |client| {
        let handle = client.open(text, libc::O_WRONLY as u32, 0, 0)?;
        let truncated = client.truncate(handle, length);
        let closed = client.close(handle);
        truncated.and(closed)
    })?;
    Ok(0)
}

/// The one-path calls the File interface has no method for (`fchmodat`, `fchownat`,
/// `mknodat`, `statfs`, `chroot`, ...): `ENOENT` without a route, `ENOSYS` with one.
pub fn path_call(directory: i32, path: usize, flags: i32) -> Result<usize> {
    if empty_path(path, flags)? {
        files::description(directory)?;
        return Err(Errno::ENOSYS);
    }
    let mut target = PathBuffer::root();
    locate(directory, user::path(path)?, &mut target)?;
    Err(Errno::ENOSYS)
}

/// `linkat`, `link`: no File method either; both paths must be routed (`ENOENT`), then
/// `ENOSYS`.
pub fn two_path_call(
    old_directory: i32,
    old: usize,
    new_directory: i32,
    new: usize,
) -> Result<usize> {
    path_call(old_directory, old, 0).or_else(|error| match error {
        Errno::ENOSYS => path_call(new_directory, new, 0),
        other => Err(other),
    })
}

/// `chdir`: the new directory must exist and be a directory.
pub fn chdir(path: usize) -> Result<usize> {
    let raw = user::path(path)?;
    let mut target = PathBuffer::root();
    let endpoint = locate(libc::AT_FDCWD, raw, &mut target)?;
    require_directory(endpoint, &target)?;
    *WORKING_DIRECTORY.lock() = target;
    Ok(0)
}

/// `fchdir`: to the path a directory's description was opened by.
pub fn fchdir(descriptor: i32) -> Result<usize> {
    let mut path = PathBuffer::root();
    files::directory_path(descriptor, &mut path)?;
    *WORKING_DIRECTORY.lock() = path;
    Ok(0)
}

/// `getcwd`: copies the working directory and its NUL; returns the length with the NUL.
pub fn getcwd(buffer: usize, size: usize) -> Result<usize> {
    let working_directory = WORKING_DIRECTORY.lock();
    let path = working_directory.as_bytes();
    if size < path.len() + 1 {
        return Err(Errno::ERANGE);
    }
    let destination = user::bytes_mut(buffer, path.len() + 1)?;
    destination[..path.len()].copy_from_slice(path);
    destination[path.len()] = 0;
    Ok(path.len() + 1)
}

/// Tests that change the working directory, or resolve relative to it, hold this.
#[cfg(test)]
pub static WORKING_DIRECTORY_USERS: std::sync::Mutex<()> = std::sync::Mutex::new(());

// The constants' types differ between glibc (the host) and musl, so the casts stay.
#[allow(clippy::unnecessary_cast)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::build;
    use crate::test_file_server;
    use septa_abi::startup::route;
    use std::ffi::CString;
    use std::string::{String, ToString};

    fn c(text: &str) -> CString {
        CString::new(text).unwrap()
    }

    fn cwd_users() -> std::sync::MutexGuard<'static, ()> {
        WORKING_DIRECTORY_USERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn open(directory: i32, path: &str, flags: i32) -> Result<usize> {
        open_at(directory, c(path).as_ptr() as usize, flags, 0o644)
    }

    fn mkdir(path: &str) -> Result<usize> {
        mkdir_at(libc::AT_FDCWD, c(path).as_ptr() as usize, 0o755)
    }

    fn stat(path: &str, flags: i32) -> Result<libc::stat> {
        // SAFETY: `stat` is plain integers.
        let mut status: libc::stat = unsafe { core::mem::zeroed() };
        let pointer = &mut status as *mut libc::stat as usize;
        stat_at(libc::AT_FDCWD, c(path).as_ptr() as usize, pointer, flags)?;
        Ok(status)
    }

    fn close(descriptor: usize) {
        assert_eq!(files::close(descriptor as i32), Ok(0));
    }

    #[test]
    fn paths_without_a_route_do_not_exist() {
        build::install(build::block(
            1,
            &["test"],
            &[],
            &[(route::MOUNT, 4, "/data")],
        ));
        assert_eq!(open(libc::AT_FDCWD, "/etc/passwd", 0), Err(Errno::ENOENT));
        assert_eq!(open_at(libc::AT_FDCWD, 0, 0, 0), Err(Errno::EFAULT));
        assert_eq!(open(libc::AT_FDCWD, "", 0), Err(Errno::ENOENT));
        assert_eq!(open(999, "file", 0), Err(Errno::EBADF));
        assert_eq!(open(1, "file", 0), Err(Errno::ENOTDIR));
        assert_eq!(mkdir("/database"), Err(Errno::ENOENT));
        assert_eq!(stat("/", 0).err(), Some(Errno::ENOENT));
        let (data, etc) = (c("/data/file"), c("/etc/file"));
        assert_eq!(
            rename_at(
                libc::AT_FDCWD,
                data.as_ptr() as usize,
                libc::AT_FDCWD,
                etc.as_ptr() as usize,
                0
            ),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            two_path_call(
                libc::AT_FDCWD,
                data.as_ptr() as usize,
                libc::AT_FDCWD,
                etc.as_ptr() as usize
            ),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            two_path_call(
                libc::AT_FDCWD,
                data.as_ptr() as usize,
                libc::AT_FDCWD,
                data.as_ptr() as usize
            ),
            Err(Errno::ENOSYS)
        );
        assert_eq!(
            path_call(libc::AT_FDCWD, data.as_ptr() as usize, 0),
            Err(Errno::ENOSYS)
        );
        // Too long before it reaches any server.
        let long = "/data/".to_string() + &"x".repeat(300);
        assert_eq!(open(libc::AT_FDCWD, &long, 0), Err(Errno::ENAMETOOLONG));
    }

    #[test]
    fn paths_resolve_against_directory_descriptors() {
        let servers = test_file_server::install();
        let root = servers.root;
        assert_eq!(mkdir("/p"), Ok(0));
        assert_eq!(mkdir("/p/q"), Ok(0));
        let directory = open(libc::AT_FDCWD, "/p", libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        let directory = directory as i32;
        let file = open(directory, "q/../x", libc::O_CREAT | libc::O_WRONLY).unwrap();
        assert_eq!(root.borrow().paths.last().unwrap(), "/p/x");
        let up = open(directory, "../y", libc::O_CREAT | libc::O_WRONLY).unwrap();
        assert_eq!(root.borrow().paths.last().unwrap(), "/y");
        // Absolute paths ignore the descriptor; escapes above the root stop at it.
        assert_eq!(
            open(directory, "/p/../../../etc", libc::O_RDONLY),
            Err(Errno::ENOENT)
        );
        assert_eq!(root.borrow().paths.last().unwrap(), "/etc");
        // A descriptor that is no directory cannot be a base (here: learnt from the server).
        let plain = open(libc::AT_FDCWD, "/p/x", libc::O_RDONLY).unwrap();
        assert_eq!(open(plain as i32, "z", libc::O_RDONLY), Err(Errno::ENOTDIR));
        assert_eq!(open(file as i32, "z", libc::O_RDONLY), Err(Errno::ENOTDIR));
        // A directory opened without O_DIRECTORY is asked once.
        let unknown = open(libc::AT_FDCWD, "/p/q", libc::O_RDONLY).unwrap() as i32;
        assert_eq!(mkdir_at(unknown, c("m").as_ptr() as usize, 0o700), Ok(0));
        assert_eq!(root.borrow().paths.last().unwrap(), "/p/q/m");
        assert_eq!(
            unlink_at(unknown, c("m").as_ptr() as usize, libc::AT_REMOVEDIR),
            Ok(0)
        );
        // The mode of mkdir is masked.
        let _umask = identity::set_creation_mask_for_test(0o027);
        assert_eq!(
            mkdir_at(directory, c("masked").as_ptr() as usize, 0o777),
            Ok(0)
        );
        assert_eq!(root.borrow().mode("/p/masked"), Some(0o750));
        for descriptor in [directory as usize, file, up, plain, unknown as usize] {
            close(descriptor);
        }
    }

    #[test]
    fn whole_paths_go_to_the_server_of_the_longest_mount() {
        let servers = test_file_server::install();
        let file = open(
            libc::AT_FDCWD,
            "/other/file",
            libc::O_CREAT | libc::O_WRONLY,
        )
        .unwrap();
        assert_eq!(servers.other.borrow().paths.last().unwrap(), "/other/file");
        assert!(servers.root.borrow().paths.is_empty());
        close(file);
        let (inside, outside) = (c("/other/file"), c("/file"));
        assert_eq!(
            rename_at(
                libc::AT_FDCWD,
                inside.as_ptr() as usize,
                libc::AT_FDCWD,
                outside.as_ptr() as usize,
                0
            ),
            Err(Errno::EXDEV)
        );
        let renamed = c("/other/renamed");
        assert_eq!(
            rename_at(
                libc::AT_FDCWD,
                inside.as_ptr() as usize,
                libc::AT_FDCWD,
                renamed.as_ptr() as usize,
                libc::RENAME_NOREPLACE as u32
            ),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            rename_at(
                libc::AT_FDCWD,
                inside.as_ptr() as usize,
                libc::AT_FDCWD,
                renamed.as_ptr() as usize,
                0
            ),
            Ok(0)
        );
        assert!(servers.other.borrow().contents("/other/renamed").is_some());
        // Non-UTF-8 names cannot travel in the interface's strings.
        let strange = CString::new(&b"/bad\xff"[..]).unwrap();
        assert_eq!(
            open_at(libc::AT_FDCWD, strange.as_ptr() as usize, 0, 0),
            Err(Errno::EILSEQ)
        );
        assert_eq!(stat("/denied/x", 0).err(), Some(Errno::EACCES));
    }

    #[test]
    fn the_working_directory_moves_to_directories_only() {
        let _users = cwd_users();
        let servers = test_file_server::install();
        let mut buffer = [0u8; 64];
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 64), Ok(2));
        assert_eq!(&buffer[..2], b"/\0");
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 1), Err(Errno::ERANGE));
        assert_eq!(mkdir("/home"), Ok(0));
        assert_eq!(mkdir("/home/logs"), Ok(0));
        let home = c("/home//cache/../logs/");
        assert_eq!(chdir(home.as_ptr() as usize), Ok(0));
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 64), Ok(11));
        assert_eq!(&buffer[..11], b"/home/logs\0");
        // Relative paths now resolve there.
        let file = open(libc::AT_FDCWD, "today.txt", libc::O_CREAT | libc::O_WRONLY).unwrap();
        assert_eq!(
            servers.root.borrow().paths.last().unwrap(),
            "/home/logs/today.txt"
        );
        let not_directory = c("today.txt");
        assert_eq!(chdir(not_directory.as_ptr() as usize), Err(Errno::ENOTDIR));
        let missing = c("missing");
        assert_eq!(chdir(missing.as_ptr() as usize), Err(Errno::ENOENT));
        assert_eq!(fchdir(file as i32), Err(Errno::ENOTDIR));
        assert_eq!(fchdir(1), Err(Errno::ENOTDIR));
        let up = c("..");
        assert_eq!(chdir(up.as_ptr() as usize), Ok(0));
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 64), Ok(6));
        let logs = open(libc::AT_FDCWD, "logs", libc::O_RDONLY | libc::O_DIRECTORY).unwrap();
        assert_eq!(fchdir(logs as i32), Ok(0));
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 64), Ok(11));
        // stat of an empty path with AT_EMPTY_PATH and AT_FDCWD is the working directory's.
        let status = stat("", libc::AT_EMPTY_PATH).unwrap();
        assert_eq!(
            status.st_mode as u32 & libc::S_IFMT as u32,
            libc::S_IFDIR as u32
        );
        close(file);
        close(logs);
        *WORKING_DIRECTORY.lock() = PathBuffer::root();
    }

    #[test]
    fn names_that_must_be_directories_are_checked() {
        let servers = test_file_server::install();
        let root = servers.root;
        assert_eq!(mkdir("/d"), Ok(0));
        let file = open(libc::AT_FDCWD, "/d/f", libc::O_CREAT | libc::O_WRONLY).unwrap();
        close(file);
        assert_eq!(
            open(libc::AT_FDCWD, "/d/f/", libc::O_RDONLY),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            open(libc::AT_FDCWD, "/d/new/", libc::O_CREAT | libc::O_WRONLY),
            Err(Errno::EISDIR)
        );
        assert_eq!(stat("/d/f/", 0).err(), Some(Errno::ENOTDIR));
        assert_eq!(stat("/d/f/.", 0).err(), Some(Errno::ENOTDIR));
        assert!(stat("/d/", 0).is_ok());
        let unlink =
            |path: &str, flags: i32| unlink_at(libc::AT_FDCWD, c(path).as_ptr() as usize, flags);
        assert_eq!(unlink("/d/f/", 0), Err(Errno::ENOTDIR));
        assert_eq!(unlink("/d/", 0), Err(Errno::EISDIR));
        assert_eq!(unlink("/d", 0), Err(Errno::EISDIR));
        assert_eq!(unlink("/d/.", libc::AT_REMOVEDIR), Err(Errno::EINVAL));
        assert_eq!(unlink("/d/..", libc::AT_REMOVEDIR), Err(Errno::ENOTEMPTY));
        assert_eq!(unlink("/d", libc::AT_REMOVEDIR), Err(Errno::ENOTEMPTY));
        assert_eq!(unlink("/d", 0x1000), Err(Errno::EINVAL));
        assert_eq!(unlink("/d/f", libc::AT_REMOVEDIR), Err(Errno::ENOTDIR));
        assert_eq!(unlink("/d/f", 0), Ok(0));
        assert_eq!(unlink("/d/", libc::AT_REMOVEDIR), Ok(0));
        assert!(
            root.borrow()
                .paths
                .iter()
                .all(|path| !path.ends_with('/') || path == "/")
        );
        let access = |path: &str, mode: i32, flags: i32| {
            access_at(libc::AT_FDCWD, c(path).as_ptr() as usize, mode, flags)
        };
        let file = open(libc::AT_FDCWD, "/e", libc::O_CREAT | libc::O_WRONLY).unwrap();
        close(file);
        assert_eq!(access("/e", libc::R_OK | libc::W_OK, 0), Ok(0));
        assert_eq!(access("/e", libc::X_OK, 0), Err(Errno::EACCES));
        assert_eq!(access("/e/", libc::F_OK, 0), Err(Errno::ENOTDIR));
        assert_eq!(access("/missing", libc::F_OK, 0), Err(Errno::ENOENT));
        assert_eq!(access("/", libc::X_OK, libc::AT_SYMLINK_NOFOLLOW), Ok(0));
        assert_eq!(access("/e", 8, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn links_times_and_truncation_reach_the_server() {
        let servers = test_file_server::install();
        let root = servers.root;
        let (target, link) = (c("target-text"), c("/link"));
        assert_eq!(
            symlink_at(
                target.as_ptr() as usize,
                libc::AT_FDCWD,
                link.as_ptr() as usize
            ),
            Ok(0)
        );
        let mut buffer = [0u8; 64];
        let read = |size: usize, buffer: &mut [u8]| {
            readlink_at(
                libc::AT_FDCWD,
                link.as_ptr() as usize,
                buffer.as_mut_ptr() as usize,
                size,
            )
        };
        assert_eq!(read(64, &mut buffer), Ok(11));
        assert_eq!(&buffer[..11], b"target-text");
        assert_eq!(read(4, &mut buffer), Ok(4));
        assert_eq!(read(0, &mut buffer), Err(Errno::EINVAL));
        let status = stat("/link", libc::AT_SYMLINK_NOFOLLOW).unwrap();
        assert_eq!(
            status.st_mode as u32 & libc::S_IFMT as u32,
            libc::S_IFLNK as u32
        );
        let empty = c("");
        assert_eq!(
            symlink_at(
                empty.as_ptr() as usize,
                libc::AT_FDCWD,
                link.as_ptr() as usize
            ),
            Err(Errno::ENOENT)
        );
        let file = open(libc::AT_FDCWD, "/timed", libc::O_CREAT | libc::O_WRONLY).unwrap();
        let times = [
            libc::timespec {
                tv_sec: 10,
                tv_nsec: 20,
            },
            libc::timespec {
                tv_sec: 30,
                tv_nsec: UTIME_OMIT as _,
            },
        ];
        let timed = c("/timed");
        assert_eq!(
            utimens_at(
                libc::AT_FDCWD,
                timed.as_ptr() as usize,
                times.as_ptr() as usize,
                0
            ),
            Ok(0)
        );
        assert_eq!(
            root.borrow().times("/timed"),
            Some([(10, 20), (30, UTIME_OMIT)])
        );
        // futimens: a null path names the descriptor, by its path.
        assert_eq!(utimens_at(file as i32, 0, 0, 0), Ok(0));
        assert_eq!(
            root.borrow().times("/timed"),
            Some([(0, UTIME_NOW), (0, UTIME_NOW)])
        );
        assert_eq!(utimens_at(libc::AT_FDCWD, 0, 0, 0), Err(Errno::EFAULT));
        assert_eq!(utimens_at(1, 0, 0, 0), Ok(0));
        let bad = [
            libc::timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            },
            times[0],
        ];
        assert_eq!(
            utimens_at(file as i32, 0, bad.as_ptr() as usize, 0),
            Err(Errno::EINVAL)
        );
        let written = b"0123456789";
        assert_eq!(
            files::write(file as i32, written.as_ptr() as usize, 10),
            Ok(10)
        );
        assert_eq!(truncate(timed.as_ptr() as usize, 4), Ok(0));
        assert_eq!(root.borrow().contents("/timed").unwrap(), b"0123");
        assert_eq!(truncate(timed.as_ptr() as usize, -4), Err(Errno::EINVAL));
        assert_eq!(root.borrow().open_handles(), 1);
        close(file);
        let how = [libc::O_RDONLY as u64, 0, 0];
        let opened = open_at2(
            libc::AT_FDCWD,
            timed.as_ptr() as usize,
            how.as_ptr() as usize,
            24,
        );
        close(opened.unwrap());
        let restricted = [libc::O_RDONLY as u64, 0, 0x08];
        assert_eq!(
            open_at2(
                libc::AT_FDCWD,
                timed.as_ptr() as usize,
                restricted.as_ptr() as usize,
                24
            ),
            Err(Errno::ENOSYS)
        );
        let moded = [libc::O_RDONLY as u64, 0o644, 0];
        assert_eq!(
            open_at2(
                libc::AT_FDCWD,
                timed.as_ptr() as usize,
                moded.as_ptr() as usize,
                24
            ),
            Err(Errno::EINVAL)
        );
        let _ = String::new();
    }

    #[test]
    fn last_names_and_directory_names() {
        assert_eq!(last_name(b"/a/b"), b"b");
        assert_eq!(last_name(b"/a/b//"), b"b");
        assert_eq!(last_name(b"."), b".");
        assert_eq!(last_name(b"/"), b"");
        assert!(names_directory(b"a/"));
        assert!(names_directory(b"a/.."));
        assert!(names_directory(b"."));
        assert!(!names_directory(b"a/b"));
        assert!(!names_directory(b"a/.b"));
    }
}
