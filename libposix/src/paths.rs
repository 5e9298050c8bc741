//! Calls that name paths: each path is normalised against the working directory and routed by
//! the entity's mount table.
//!
//! A path under no mount does not exist for the entity: `ENOENT`, whatever the call. A path
//! under a mount belongs to a file VFS, whose protocol comes with the VFS server: until then
//! such calls return `ENOSYS` (and are counted, so the exit report shows what a program
//! needed). The working directory starts at `/` and may only move to a path under a mount.

use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::path::{PathBuffer, normalise};
use crate::{files, routes, startup, user};

static WORKING_DIRECTORY: Lock<PathBuffer> = Lock::new(PathBuffer::root());

/// Normalises the program's path `path` (relative to `directory` or the working directory).
fn resolve(directory: i32, path: &[u8], result: &mut PathBuffer) -> Result<()> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.first() != Some(&b'/') && directory != libc::AT_FDCWD {
        // No descriptor is a directory yet.
        files::description(directory)?;
        return Err(Errno::ENOTDIR);
    }
    let working_directory = WORKING_DIRECTORY.lock();
    normalise(&working_directory, path, result)
}

/// Whether the normalised `path` is under a mount.
fn routed(path: &PathBuffer) -> bool {
    startup::block().is_some_and(|block| routes::mount_for(&block, path.as_bytes()).is_some())
}

/// The outcome of a call on one path until the file VFS protocol exists.
fn path_outcome(directory: i32, path: usize) -> Result<usize> {
    let path = user::path(path)?;
    let mut normalised = PathBuffer::root();
    resolve(directory, path, &mut normalised)?;
    if routed(&normalised) {
        Err(Errno::ENOSYS)
    } else {
        Err(Errno::ENOENT)
    }
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

/// `openat`, `open`, `creat`.
pub fn open_at(directory: i32, path: usize, _flags: i32, _mode: u32) -> Result<usize> {
    path_outcome(directory, path)
}

/// `openat2`: the `open_how` must be readable; then as `openat`.
pub fn open_at2(directory: i32, path: usize, how: usize, size: usize) -> Result<usize> {
    if size < 24 {
        return Err(Errno::EINVAL);
    }
    user::read(how as *const [u64; 3])?;
    path_outcome(directory, path)
}

/// `newfstatat`, `stat`, `lstat`: an empty path with `AT_EMPTY_PATH` is `fstat`.
pub fn stat_at(directory: i32, path: usize, status: usize, flags: i32) -> Result<usize> {
    check_flags(
        flags,
        libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH | libc::AT_NO_AUTOMOUNT,
    )?;
    if empty_path(path, flags)? {
        return files::fstat(directory, status);
    }
    path_outcome(directory, path)
}

/// `statx`: an empty path with `AT_EMPTY_PATH` describes the descriptor.
pub fn statx(directory: i32, path: usize, flags: i32, _mask: u32, status: usize) -> Result<usize> {
    check_flags(
        flags,
        libc::AT_SYMLINK_NOFOLLOW
            | libc::AT_EMPTY_PATH
            | libc::AT_NO_AUTOMOUNT
            | libc::AT_STATX_SYNC_TYPE,
    )?;
    if empty_path(path, flags)? {
        return files::statx_descriptor(directory, status);
    }
    path_outcome(directory, path)
}

/// `faccessat`, `faccessat2`, `access`.
pub fn access_at(directory: i32, path: usize, mode: i32, flags: i32) -> Result<usize> {
    if mode & !(libc::R_OK | libc::W_OK | libc::X_OK) != 0 {
        return Err(Errno::EINVAL);
    }
    check_flags(
        flags,
        libc::AT_EACCESS | libc::AT_SYMLINK_NOFOLLOW | libc::AT_EMPTY_PATH,
    )?;
    if empty_path(path, flags)? {
        files::description(directory)?;
        return Ok(0);
    }
    path_outcome(directory, path)
}

/// The other one-path calls (`mkdirat`, `unlinkat`, `readlinkat`, `fchmodat`, `fchownat`,
/// `utimensat`, `mknodat`, `truncate`, `statfs`, ...).
pub fn path_call(directory: i32, path: usize, flags: i32) -> Result<usize> {
    if flags & libc::AT_EMPTY_PATH != 0 && user::path(path)?.is_empty() {
        files::description(directory)?;
        return Err(Errno::ENOSYS);
    }
    path_outcome(directory, path)
}

/// `renameat`, `renameat2`, `linkat`, `rename`, `link`: both paths must be routed.
pub fn two_path_call(
    old_directory: i32,
    old: usize,
    new_directory: i32,
    new: usize,
) -> Result<usize> {
    let old_outcome = path_outcome(old_directory, old);
    let new_outcome = path_outcome(new_directory, new);
    match (old_outcome, new_outcome) {
        (Err(Errno::ENOSYS), Err(Errno::ENOSYS)) => Err(Errno::ENOSYS),
        (Err(Errno::ENOSYS), other) | (other, _) => other,
    }
}

/// `symlinkat`, `symlink`: the target is any string; the link's path is routed.
pub fn symlink_at(target: usize, directory: i32, path: usize) -> Result<usize> {
    if user::path(target)?.is_empty() {
        return Err(Errno::ENOENT);
    }
    path_outcome(directory, path)
}

/// `chdir`: the new directory must be under a mount. Until the file VFS protocol exists it is
/// not checked to be a directory.
pub fn chdir(path: usize) -> Result<usize> {
    let path = user::path(path)?;
    let mut normalised = PathBuffer::root();
    resolve(libc::AT_FDCWD, path, &mut normalised)?;
    if !routed(&normalised) {
        return Err(Errno::ENOENT);
    }
    *WORKING_DIRECTORY.lock() = normalised;
    Ok(0)
}

/// `fchdir`: no descriptor is a directory yet.
pub fn fchdir(descriptor: i32) -> Result<usize> {
    files::description(descriptor)?;
    Err(Errno::ENOTDIR)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::build;
    use septa_abi::startup::route;

    fn c(text: &str) -> std::ffi::CString {
        std::ffi::CString::new(text).unwrap()
    }

    fn with_data_mount() {
        build::install(build::block(
            1,
            &["test"],
            &[],
            &[(route::MOUNT, 4, "/data")],
        ));
    }

    #[test]
    fn paths_without_a_route_do_not_exist() {
        with_data_mount();
        let etc = c("/etc/passwd");
        assert_eq!(
            open_at(libc::AT_FDCWD, etc.as_ptr() as usize, 0, 0),
            Err(Errno::ENOENT)
        );
        let data = c("/data/file");
        assert_eq!(
            open_at(libc::AT_FDCWD, data.as_ptr() as usize, 0, 0),
            Err(Errno::ENOSYS)
        );
        assert_eq!(open_at(libc::AT_FDCWD, 0, 0, 0), Err(Errno::EFAULT));
        let empty = c("");
        assert_eq!(
            open_at(libc::AT_FDCWD, empty.as_ptr() as usize, 0, 0),
            Err(Errno::ENOENT)
        );
        let relative = c("file");
        assert_eq!(
            open_at(1, relative.as_ptr() as usize, 0, 0),
            Err(Errno::ENOTDIR)
        );
        assert_eq!(
            open_at(999, relative.as_ptr() as usize, 0, 0),
            Err(Errno::EBADF)
        );
        // Absolute paths ignore the directory descriptor.
        assert_eq!(
            open_at(999, data.as_ptr() as usize, 0, 0),
            Err(Errno::ENOSYS)
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
            symlink_at(
                etc.as_ptr() as usize,
                libc::AT_FDCWD,
                data.as_ptr() as usize
            ),
            Err(Errno::ENOSYS)
        );
    }

    #[test]
    fn stat_of_an_empty_path_is_fstat() {
        let empty = c("");
        // SAFETY: `stat` is plain integers.
        let mut status: libc::stat = unsafe { core::mem::zeroed() };
        let pointer = &mut status as *mut _ as usize;
        assert_eq!(
            stat_at(1, empty.as_ptr() as usize, pointer, libc::AT_EMPTY_PATH),
            Ok(0)
        );
        assert_eq!(status.st_mode & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(
            stat_at(1, empty.as_ptr() as usize, pointer, 0),
            Err(Errno::ENOENT)
        );
        assert_eq!(
            stat_at(1, empty.as_ptr() as usize, pointer, 0x4000_0000),
            Err(Errno::EINVAL)
        );
        // SAFETY: `statx` is plain integers.
        let mut extended: libc::statx = unsafe { core::mem::zeroed() };
        let pointer = &mut extended as *mut _ as usize;
        assert_eq!(
            statx(
                2,
                empty.as_ptr() as usize,
                libc::AT_EMPTY_PATH,
                0x7ff,
                pointer
            ),
            Ok(0)
        );
        assert_eq!(extended.stx_mode as u32 & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(
            access_at(0, empty.as_ptr() as usize, libc::R_OK, libc::AT_EMPTY_PATH),
            Ok(0)
        );
        assert_eq!(
            access_at(0, empty.as_ptr() as usize, 8, 0),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn the_working_directory_moves_only_under_mounts() {
        with_data_mount();
        let mut buffer = [0u8; 64];
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 64), Ok(2));
        assert_eq!(&buffer[..2], b"/\0");
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 1), Err(Errno::ERANGE));
        let etc = c("/etc");
        assert_eq!(chdir(etc.as_ptr() as usize), Err(Errno::ENOENT));
        let data = c("/data//cache/../logs/");
        assert_eq!(chdir(data.as_ptr() as usize), Ok(0));
        assert_eq!(getcwd(buffer.as_mut_ptr() as usize, 64), Ok(11));
        assert_eq!(&buffer[..11], b"/data/logs\0");
        // Relative paths now resolve under the mount.
        let relative = c("today.txt");
        assert_eq!(
            open_at(libc::AT_FDCWD, relative.as_ptr() as usize, 0, 0),
            Err(Errno::ENOSYS)
        );
        let up = c("../..");
        assert_eq!(chdir(up.as_ptr() as usize), Err(Errno::ENOENT));
        let root = c("/");
        assert_eq!(chdir(root.as_ptr() as usize), Err(Errno::ENOENT));
        assert_eq!(fchdir(1), Err(Errno::ENOTDIR));
        // Back to the start, for other tests.
        *WORKING_DIRECTORY.lock() = PathBuffer::root();
    }
}
