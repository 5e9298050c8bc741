//! Calls on file descriptors: reading and writing, seeking, metadata, directory listings,
//! duplication, `fcntl`, `ioctl`, `poll` and `select`, served by the descriptor table, the
//! console, and the file VFS each file was opened on.
//!
//! Descriptors 0, 1 and 2 start on the console, one description opened for reading and
//! writing. Writing goes to the kernel console. Reading gives end of file at once: the kernel
//! has no console input (when it has, reads will block for it). The console is a terminal to
//! programs: `TIOCGWINSZ` answers 80x24 (so `isatty` is true and musl line-buffers standard
//! output), `TCGETS` a cooked terminal, and `lseek` is `ESPIPE`.
//!
//! A file's description names a handle on its file VFS, which keeps the offset and the status
//! flags; libposix keeps a copy of the flags (for `F_GETFL`), the path, whether it is a
//! directory and the directory listing's cookie ([`crate::descriptors`]). Data moves through the
//! bulk region shared with the server, a window of it per call, or, without one, in messages
//! of at most [`CHUNK`] bytes ([`crate::vfs`]): a longer read or write is several calls, and
//! stops at the first short one. The table's lock is never held across a call to a server.

use septa_interfaces::CallError;
use septa_interfaces::file_records::DirectoryEntry;

use crate::descriptors::{
    ACCESS_MODE, DESCRIPTOR_LIMIT, Description, Descriptors, Details, Kind, OpenFile,
};
use crate::directory_entries::{self, Format};
use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::path::PathBuffer;
use crate::status::{self, Status};
use crate::{console, identity, time, user, vfs};

static DESCRIPTORS: Lock<Descriptors> = Lock::new(Descriptors::with_console());

/// Most `iovec`s one call takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// Data bytes one message carries: the arena holds 15 KiB, and 12 KiB leaves room for the
/// rest of a request or reply.
pub const CHUNK: usize = 12 * 1024;

/// The open flags the file VFS is told (the interface's `flags`).
const SERVER_OPEN_FLAGS: i32 = libc::O_CREAT
    | libc::O_EXCL
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_DIRECTORY
    | libc::O_NOFOLLOW
    | libc::O_NONBLOCK;

/// The status flags the file VFS keeps for a description (`set_flags`).
const SERVER_STATUS_FLAGS: i32 = libc::O_APPEND | libc::O_NONBLOCK;

/// The open flags that only act at open, which the description does not keep (as Linux).
const OPEN_ONLY_FLAGS: i32 =
    libc::O_CREAT | libc::O_EXCL | libc::O_NOCTTY | libc::O_TRUNC | libc::O_CLOEXEC;

/// The least a directory listing asks the server for: one record of the longest name.
const LISTING_MINIMUM: usize =
    septa_interfaces::file_records::DIRECTORY_ENTRY_HEADER + crate::path::NAME_MAX;

/// `pwritev2` and `preadv2` flags (linux/fs.h).
const RWF_HIPRI: u32 = 0x1;
const RWF_DSYNC: u32 = 0x2;
const RWF_SYNC: u32 = 0x4;

/// The description descriptor `descriptor` names.
pub fn description(descriptor: i32) -> Result<Description> {
    DESCRIPTORS.lock().get(descriptor)
}

/// Where a transfer happens: at the description's offset, or at an explicit one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Position {
    Current,
    At(i64),
}

impl Position {
    /// The offset to send: -1 for the description's own.
    fn offset(self, done: usize) -> Result<i64> {
        match self {
            Position::Current => Ok(-1),
            Position::At(offset) => i64::try_from(done)
                .ok()
                .and_then(|done| offset.checked_add(done))
                .ok_or(Errno::EINVAL),
        }
    }
}

/// Checks that a description may be read: not write-only, not `O_PATH`.
fn check_readable(description: &Description) -> Result<()> {
    if description.flags & ACCESS_MODE == libc::O_WRONLY || description.flags & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// Checks that a description may be written: not read-only, not `O_PATH`.
fn check_writable(description: &Description) -> Result<()> {
    if description.flags & ACCESS_MODE == libc::O_RDONLY || description.flags & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// Checks that a description is not `O_PATH` (which only names a file).
fn check_usable(description: &Description) -> Result<()> {
    if description.flags & libc::O_PATH != 0 {
        return Err(Errno::EBADF);
    }
    Ok(())
}

/// Opens the normalised `path` on the file VFS at `endpoint` and gives it the lowest free
/// descriptor. `flags` are Linux's; `mode` is masked with the umask when creating.
pub fn open(endpoint: u32, path: &[u8], flags: i32, mode: u32) -> Result<usize> {
    let text = core::str::from_utf8(path).map_err(|_| Errno::EILSEQ)?;
    let path_only = flags & libc::O_PATH != 0;
    let (access, server_flags) = if path_only {
        (
            libc::O_RDONLY,
            flags & (libc::O_DIRECTORY | libc::O_NOFOLLOW),
        )
    } else {
        (flags & ACCESS_MODE, flags & SERVER_OPEN_FLAGS)
    };
    let mode = if server_flags & libc::O_CREAT != 0 {
        mode & 0o7777 & !identity::creation_mask()
    } else {
        0
    };
    let generation = vfs::generation(endpoint);
    let handle = vfs::call(endpoint, |client| {
        client.open(text, access as u32, server_flags as u32, mode)
    })?;
    let file = OpenFile {
        endpoint,
        handle,
        generation,
    };
    // Opening for writing, or creating, succeeds only on a file that is not a directory.
    let directory = if server_flags & libc::O_DIRECTORY != 0 {
        Some(true)
    } else if access != libc::O_RDONLY || server_flags & libc::O_CREAT != 0 {
        Some(false)
    } else {
        None
    };
    let description = Description {
        kind: Kind::File(file),
        flags: flags & !OPEN_ONLY_FLAGS,
    };
    let installed = Details::with_path(path, directory).and_then(|details| {
        DESCRIPTORS
            .lock()
            .open_with(description, details, flags & libc::O_CLOEXEC != 0)
    });
    match installed {
        Ok(descriptor) => Ok(descriptor as usize),
        Err(error) => {
            let _ = vfs::call_on(file, |client, handle| client.close(handle));
            Err(error)
        }
    }
}

/// Tells the server a description is closed, once its last descriptor is (a description lost
/// with its server is only forgotten).
fn release(description: Option<Description>) -> Result<()> {
    match description.map(|description| description.kind) {
        Some(Kind::File(file)) if !vfs::lost(file) => {
            vfs::call_on(file, |client, handle| client.close(handle))
        }
        _ => Ok(()),
    }
}

/// Reads from a file into `buffer`, a chunk per call (a bulk window's worth, or [`CHUNK`]
/// bytes in a message), until it is full or a call comes back short; an error after some
/// bytes ends the read with them.
fn read_file(file: OpenFile, buffer: &mut [u8], position: Position) -> Result<usize> {
    let mut done = 0;
    while done < buffer.len() {
        let offset = position.offset(done)?;
        let rest = &mut buffer[done..];
        let result = vfs::call_on_bulk(file, |client, handle, window| match window {
            Some(window) => {
                let wanted = rest.len().min(window.length());
                let count = client.read_shared(handle, offset, wanted as u32, window.offset())?;
                let count = usize::try_from(count)
                    .ok()
                    .filter(|count| *count <= wanted)
                    .ok_or(CallError::BadReply)?;
                window.copy_out(&mut rest[..count]);
                Ok((count, wanted))
            }
            None => {
                let wanted = rest.len().min(CHUNK);
                let data = client.read(handle, offset, wanted as u32)?;
                let target = rest.get_mut(..data.len()).ok_or(CallError::BadReply)?;
                target.copy_from_slice(&data);
                Ok((data.len(), wanted))
            }
        });
        match result {
            Ok((count, wanted)) => {
                done += count;
                if count < wanted {
                    break;
                }
            }
            Err(error) if done == 0 => return Err(error),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// Writes `bytes` to a file, a chunk per call (as [`read_file`]), until all are written or a
/// call writes less; an error after some bytes ends the write with them.
fn write_file(file: OpenFile, bytes: &[u8], position: Position) -> Result<usize> {
    let mut done = 0;
    while done < bytes.len() {
        let offset = position.offset(done)?;
        let rest = &bytes[done..];
        let result = vfs::call_on_bulk(file, |client, handle, window| {
            let (written, given) = match window {
                Some(window) => {
                    let chunk = &rest[..rest.len().min(window.length())];
                    window.copy_in(chunk);
                    let written =
                        client.write_shared(handle, offset, chunk.len() as u32, window.offset())?;
                    (written, chunk.len())
                }
                None => {
                    let chunk = &rest[..rest.len().min(CHUNK)];
                    (client.write(handle, offset, chunk)?, chunk.len())
                }
            };
            usize::try_from(written)
                .ok()
                .filter(|written| *written <= given)
                .map(|written| (written, given))
                .ok_or(CallError::BadReply)
        });
        match result {
            Ok((written, given)) => {
                done += written;
                if written < given {
                    break;
                }
            }
            Err(error) if done == 0 => return Err(error),
            Err(_) => break,
        }
    }
    Ok(done)
}

/// `read`: the console is at end of file.
pub fn read(descriptor: i32, buffer: usize, length: usize) -> Result<usize> {
    pread_at(descriptor, buffer, length, Position::Current)
}

/// `pread64`.
pub fn pread(descriptor: i32, buffer: usize, length: usize, offset: i64) -> Result<usize> {
    pread_at(descriptor, buffer, length, Position::At(offset))
}

fn pread_at(descriptor: i32, buffer: usize, length: usize, position: Position) -> Result<usize> {
    let description = description(descriptor)?;
    match description.kind {
        Kind::Console if position == Position::Current => Ok(0),
        Kind::Console => Err(Errno::ESPIPE),
        Kind::File(file) => {
            check_readable(&description)?;
            check_position(position)?;
            let buffer = user::bytes_mut(buffer, length)?;
            read_file(file, buffer, position)
        }
    }
}

/// `write`.
pub fn write(descriptor: i32, buffer: usize, length: usize) -> Result<usize> {
    pwrite_at(descriptor, buffer, length, Position::Current)
}

/// `pwrite64`.
pub fn pwrite(descriptor: i32, buffer: usize, length: usize, offset: i64) -> Result<usize> {
    pwrite_at(descriptor, buffer, length, Position::At(offset))
}

fn pwrite_at(descriptor: i32, buffer: usize, length: usize, position: Position) -> Result<usize> {
    let description = description(descriptor)?;
    check_writable(&description)?;
    let bytes = user::bytes(buffer, length)?;
    match description.kind {
        Kind::Console if position == Position::Current => console::write_all(bytes),
        Kind::Console => Err(Errno::ESPIPE),
        Kind::File(file) => {
            check_position(position)?;
            write_file(file, bytes, position)
        }
    }
}

/// An explicit offset must not be negative.
fn check_position(position: Position) -> Result<()> {
    match position {
        Position::At(offset) if offset < 0 => Err(Errno::EINVAL),
        _ => Ok(()),
    }
}

/// The `iovec`s of a vectored call; their total length must fit an `ssize_t`.
fn vectors<'a>(vector: usize, count: i32) -> Result<&'a [libc::iovec]> {
    let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    if count > IOV_MAX {
        return Err(Errno::EINVAL);
    }
    if count == 0 {
        return Ok(&[]);
    }
    if vector == 0 || !vector.is_multiple_of(core::mem::align_of::<libc::iovec>()) {
        return Err(Errno::EFAULT);
    }
    // SAFETY: an array of `count` iovecs the program passed (see `user` for what can be
    // checked); aligned as checked above.
    let vectors = unsafe { core::slice::from_raw_parts(vector as *const libc::iovec, count) };
    let mut total = 0usize;
    for entry in vectors {
        total = total
            .checked_add(entry.iov_len)
            .filter(|total| *total <= isize::MAX as usize)
            .ok_or(Errno::EINVAL)?;
    }
    Ok(vectors)
}

/// `readv`: the console is at end of file.
pub fn readv(descriptor: i32, vector: usize, count: i32) -> Result<usize> {
    read_vectors(descriptor, vector, count, Position::Current)
}

/// `preadv`.
pub fn preadv(descriptor: i32, vector: usize, count: i32, offset: i64) -> Result<usize> {
    read_vectors(descriptor, vector, count, Position::At(offset))
}

/// `preadv2`: an offset of -1 is the description's own; `RWF_HIPRI`, `RWF_DSYNC` and
/// `RWF_SYNC` change nothing for a read; other flags are `EOPNOTSUPP`.
pub fn preadv2(
    descriptor: i32,
    vector: usize,
    count: i32,
    offset: i64,
    flags: u32,
) -> Result<usize> {
    check_vector_flags(flags)?;
    read_vectors(descriptor, vector, count, position_or_current(offset))
}

/// `pwritev2`: as `preadv2`; `RWF_DSYNC` and `RWF_SYNC` make the data durable before the call
/// returns, as `fsync` would.
pub fn pwritev2(
    descriptor: i32,
    vector: usize,
    count: i32,
    offset: i64,
    flags: u32,
) -> Result<usize> {
    check_vector_flags(flags)?;
    let written = write_vectors(descriptor, vector, count, position_or_current(offset))?;
    if flags & (RWF_DSYNC | RWF_SYNC) != 0 {
        sync(descriptor)?;
    }
    Ok(written)
}

fn check_vector_flags(flags: u32) -> Result<()> {
    if flags & !(RWF_HIPRI | RWF_DSYNC | RWF_SYNC) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    Ok(())
}

fn position_or_current(offset: i64) -> Position {
    if offset == -1 {
        Position::Current
    } else {
        Position::At(offset)
    }
}

fn read_vectors(descriptor: i32, vector: usize, count: i32, position: Position) -> Result<usize> {
    let vectors = vectors(vector, count)?;
    let description = description(descriptor)?;
    let file = match description.kind {
        Kind::Console if position == Position::Current => return Ok(0),
        Kind::Console => return Err(Errno::ESPIPE),
        Kind::File(file) => file,
    };
    check_readable(&description)?;
    check_position(position)?;
    let mut total = 0usize;
    for entry in vectors {
        let buffer = user::bytes_mut(entry.iov_base as usize, entry.iov_len)?;
        let advanced = match position {
            Position::Current => Position::Current,
            Position::At(_) => Position::At(position.offset(total)?),
        };
        let count = match read_file(file, buffer, advanced) {
            Ok(count) => count,
            Err(error) if total == 0 => return Err(error),
            Err(_) => break,
        };
        total += count;
        if count < entry.iov_len {
            break;
        }
    }
    Ok(total)
}

/// `writev`: each buffer in turn; a short write ends the call.
pub fn writev(descriptor: i32, vector: usize, count: i32) -> Result<usize> {
    write_vectors(descriptor, vector, count, Position::Current)
}

/// `pwritev`.
pub fn pwritev(descriptor: i32, vector: usize, count: i32, offset: i64) -> Result<usize> {
    write_vectors(descriptor, vector, count, Position::At(offset))
}

fn write_vectors(descriptor: i32, vector: usize, count: i32, position: Position) -> Result<usize> {
    let vectors = vectors(vector, count)?;
    let description = description(descriptor)?;
    check_writable(&description)?;
    if let Kind::File(_) = description.kind {
        check_position(position)?;
    } else if position != Position::Current {
        return Err(Errno::ESPIPE);
    }
    let mut total = 0usize;
    for entry in vectors {
        let advanced = match position {
            Position::Current => Position::Current,
            Position::At(_) => Position::At(position.offset(total)?),
        };
        let written = match pwrite_at(descriptor, entry.iov_base as usize, entry.iov_len, advanced)
        {
            Ok(written) => written,
            Err(error) if total == 0 => return Err(error),
            Err(_) => break,
        };
        total += written;
        if written < entry.iov_len {
            break;
        }
    }
    Ok(total)
}

/// Whether a file's description is a directory: known from how it was opened or used, or
/// asked of the server once (`fstat`) and remembered.
fn is_directory(descriptor: i32, file: OpenFile) -> Result<bool> {
    if let Some(known) = DESCRIPTORS.lock().details(descriptor)?.directory {
        return Ok(known);
    }
    let status = file_status(file)?;
    let directory = status::is_directory(&status);
    let _ = DESCRIPTORS.lock().set_directory(descriptor, directory);
    Ok(directory)
}

/// `lseek`: the server moves a file's offset; a directory's offset is the cookie where its
/// listing continues, kept here (`rewinddir` and `seekdir` set it with `SEEK_SET`).
pub fn lseek(descriptor: i32, offset: i64, whence: i32) -> Result<usize> {
    let description = description(descriptor)?;
    let Kind::File(file) = description.kind else {
        return Err(Errno::ESPIPE);
    };
    check_usable(&description)?;
    if ![libc::SEEK_SET, libc::SEEK_CUR, libc::SEEK_END].contains(&whence) {
        return Err(Errno::EINVAL);
    }
    if vfs::lost(file) {
        return Err(Errno::EIO);
    }
    if is_directory(descriptor, file)? {
        let mut table = DESCRIPTORS.lock();
        let cookie = table.details(descriptor)?.cookie;
        let position = match whence {
            libc::SEEK_SET => Some(offset),
            libc::SEEK_CUR => i64::try_from(cookie)
                .ok()
                .and_then(|cookie| cookie.checked_add(offset)),
            _ => None,
        }
        .filter(|position| *position >= 0)
        .ok_or(Errno::EINVAL)?;
        table.set_cookie(descriptor, position as u64)?;
        return Ok(position as usize);
    }
    let position = vfs::call_on(file, |client, handle| {
        client.seek(handle, offset, whence as u32)
    })?;
    usize::try_from(position)
        .ok()
        .filter(|position| *position <= i64::MAX as usize)
        .ok_or(Errno::EOVERFLOW)
}

/// `close`: the last descriptor of a file's description closes it on its server.
pub fn close(descriptor: i32) -> Result<usize> {
    let released = DESCRIPTORS.lock().close(descriptor)?;
    release(released)?;
    Ok(0)
}

/// `close_range`.
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<usize> {
    if flags & !(libc::CLOSE_RANGE_CLOEXEC | libc::CLOSE_RANGE_UNSHARE) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    if flags & libc::CLOSE_RANGE_CLOEXEC != 0 {
        DESCRIPTORS.lock().close_range(first, last, true, |_| {});
        return Ok(0);
    }
    // One at a time, so that servers are told without the table's lock held.
    let last = (last as usize).min(DESCRIPTOR_LIMIT - 1);
    for descriptor in first as usize..=last {
        if let Ok(released) = DESCRIPTORS.lock().close(descriptor as i32) {
            let _ = release(released);
        }
    }
    Ok(0)
}

/// Closes every descriptor as the entity ends, as Linux does at exit: each file VFS is told of
/// the descriptions that end, so that it frees what only this entity held open.
pub fn close_all() {
    let _ = close_range(0, u32::MAX, 0);
}

/// `dup`.
pub fn dup(descriptor: i32) -> Result<usize> {
    DESCRIPTORS
        .lock()
        .duplicate(descriptor, 0, false)
        .map(|new| new as usize)
}

/// `dup2`: the same number is allowed and changes nothing.
pub fn dup2(descriptor: i32, target: i32) -> Result<usize> {
    if descriptor == target {
        description(descriptor)?;
        return Ok(target as usize);
    }
    let released = DESCRIPTORS.lock().duplicate_to(descriptor, target, false)?;
    let _ = release(released);
    Ok(target as usize)
}

/// `dup3`: `O_CLOEXEC` is the only flag; the same number is `EINVAL`.
pub fn dup3(descriptor: i32, target: i32, flags: i32) -> Result<usize> {
    if flags & !libc::O_CLOEXEC != 0 || descriptor == target {
        return Err(Errno::EINVAL);
    }
    let released =
        DESCRIPTORS
            .lock()
            .duplicate_to(descriptor, target, flags & libc::O_CLOEXEC != 0)?;
    let _ = release(released);
    Ok(target as usize)
}

/// Replaces the settable status flags of a description (`F_SETFL`, `FIONBIO`); a file's
/// server is told of `O_APPEND` and `O_NONBLOCK` when they change.
fn set_status_flags(descriptor: i32, flags: i32) -> Result<()> {
    let description = description(descriptor)?;
    if let Kind::File(file) = description.kind {
        check_usable(&description)?;
        let wanted = flags & SERVER_STATUS_FLAGS;
        if wanted != description.flags & SERVER_STATUS_FLAGS {
            vfs::call_on(file, |client, handle| {
                client.set_flags(handle, wanted as u32)
            })?;
        }
    }
    DESCRIPTORS.lock().set_status_flags(descriptor, flags)
}

/// `fcntl`.
pub fn fcntl(descriptor: i32, command: i32, argument: usize) -> Result<usize> {
    if command == libc::F_SETFL {
        set_status_flags(descriptor, argument as i32)?;
        return Ok(0);
    }
    let mut table = DESCRIPTORS.lock();
    match command {
        libc::F_DUPFD | libc::F_DUPFD_CLOEXEC => table
            .duplicate(
                descriptor,
                argument as i32,
                command == libc::F_DUPFD_CLOEXEC,
            )
            .map(|new| new as usize),
        libc::F_GETFD => Ok(if table.close_on_exec(descriptor)? {
            libc::FD_CLOEXEC as usize
        } else {
            0
        }),
        libc::F_SETFD => {
            table.set_close_on_exec(descriptor, argument as i32 & libc::FD_CLOEXEC != 0)?;
            Ok(0)
        }
        libc::F_GETFL => Ok(table.get(descriptor)?.flags as usize),
        libc::F_GETOWN | libc::F_SETOWN => {
            table.get(descriptor)?;
            Ok(0)
        }
        _ => {
            table.get(descriptor)?;
            Err(Errno::EINVAL)
        }
    }
}

/// The terminal settings `TCGETS` reads: the kernel's `struct termios` (asm-generic/termbits.h),
/// which is shorter than the C library's.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct KernelTermios {
    input: u32,
    output: u32,
    control: u32,
    local: u32,
    line: u8,
    characters: [u8; 19],
}

/// A cooked terminal, as a Linux console starts: ICRNL|IXON, OPOST|ONLCR, B38400|CS8|CREAD|HUPCL,
/// ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN, and the usual control characters.
const COOKED_TERMINAL: KernelTermios = KernelTermios {
    input: 0o400 | 0o2000,
    output: 0o1 | 0o4,
    control: 0o17 | 0o60 | 0o200 | 0o2000,
    local: 0o1 | 0o2 | 0o10 | 0o20 | 0o40 | 0o1000 | 0o4000 | 0o100000,
    line: 0,
    characters: [
        3, 28, 127, 21, 4, 0, 1, 0, 17, 19, 26, 0, 18, 15, 23, 22, 0, 0, 0,
    ],
};

/// `ioctl`: terminal requests on the console; `FIOCLEX`, `FIONCLEX` and `FIONBIO` on any
/// descriptor; anything else is `ENOTTY`.
pub fn ioctl(descriptor: i32, request: u64, argument: usize) -> Result<usize> {
    let description = description(descriptor)?;
    // The request is a 32-bit number; musl passes it as an int, which may arrive
    // sign-extended.
    let request = request as u32 as libc::Ioctl;
    match request {
        libc::FIOCLEX | libc::FIONCLEX => {
            DESCRIPTORS
                .lock()
                .set_close_on_exec(descriptor, request == libc::FIOCLEX)?;
            return Ok(0);
        }
        libc::FIONBIO => {
            let on = user::read(argument as *const i32)? != 0;
            let flags = description.flags & !libc::O_NONBLOCK;
            set_status_flags(
                descriptor,
                if on { flags | libc::O_NONBLOCK } else { flags },
            )?;
            return Ok(0);
        }
        _ => {}
    }
    match description.kind {
        Kind::Console => match request {
            libc::TIOCGWINSZ => {
                let size = libc::winsize {
                    ws_row: 24,
                    ws_col: 80,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                user::write(argument as *mut libc::winsize, size)?;
                Ok(0)
            }
            libc::TIOCSWINSZ => {
                user::read(argument as *const libc::winsize)?;
                Ok(0)
            }
            libc::TCGETS => {
                user::write(argument as *mut KernelTermios, COOKED_TERMINAL)?;
                Ok(0)
            }
            // Settings are accepted and have no effect: the console has no line discipline.
            libc::TCSETS | libc::TCSETSW | libc::TCSETSF => {
                user::read(argument as *const KernelTermios)?;
                Ok(0)
            }
            _ => Err(Errno::ENOTTY),
        },
        Kind::File(_) => Err(Errno::ENOTTY),
    }
}

/// A file's metadata, from its server.
fn file_status(file: OpenFile) -> Result<Status> {
    let bytes = vfs::call_on(file, |client, handle| client.fstat(handle))?;
    status::decode(&bytes)
}

/// The metadata of the description `descriptor` names (an `O_PATH` one included).
fn descriptor_status(descriptor: i32) -> Result<Status> {
    match description(descriptor)?.kind {
        Kind::Console => Ok(status::console()),
        Kind::File(file) => {
            let status = file_status(file)?;
            let _ = DESCRIPTORS
                .lock()
                .set_directory(descriptor, status::is_directory(&status));
            Ok(status)
        }
    }
}

/// `fstat`.
pub fn fstat(descriptor: i32, pointer: usize) -> Result<usize> {
    let status = descriptor_status(descriptor)?;
    user::write(pointer as *mut libc::stat, status::stat(&status))?;
    Ok(0)
}

/// `statx` of a descriptor (`AT_EMPTY_PATH` with an empty path).
pub fn statx_descriptor(descriptor: i32, pointer: usize) -> Result<usize> {
    let status = descriptor_status(descriptor)?;
    user::write(pointer as *mut libc::statx, status::statx(&status))?;
    Ok(0)
}

/// `getdents64` (and x86_64's `getdents`): the entries from the description's cookie on, as
/// many as the buffer takes; 0 at the end of the listing.
pub fn getdents(descriptor: i32, buffer: usize, length: usize, format: Format) -> Result<usize> {
    let description = description(descriptor)?;
    let Kind::File(file) = description.kind else {
        return Err(Errno::ENOTDIR);
    };
    check_usable(&description)?;
    let output = user::bytes_mut(buffer, length)?;
    let cookie = DESCRIPTORS.lock().details(descriptor)?.cookie;
    // The server's records are never longer than the program's for the same names, so asking
    // for the buffer's size brings no more than it could take; but at least one entry of the
    // longest name, so that a buffer too small for the next entry is told so (EINVAL) rather
    // than taken for the end of the listing.
    let wanted = length.clamp(LISTING_MINIMUM, CHUNK) as u32;
    let listing = vfs::call_on(file, |client, handle| {
        client.read_directory(handle, cookie, wanted)
    })?;
    let entries = DirectoryEntry::decode_all(&listing).map_err(|_| Errno::EIO)?;
    if entries.is_empty() {
        return Ok(0);
    }
    if !entries
        .iter()
        .all(|entry| directory_entries::valid_name(entry.name))
    {
        return Err(Errno::EIO);
    }
    let (written, used) = directory_entries::pack(&entries, format, output);
    if used == 0 {
        // Not even one entry fits: the buffer is too small.
        return Err(Errno::EINVAL);
    }
    let mut table = DESCRIPTORS.lock();
    table.set_cookie(descriptor, entries[used - 1].next_cookie)?;
    table.set_directory(descriptor, true)?;
    Ok(written)
}

/// `fsync` and `fdatasync`: the server makes the file durable; the console is `EINVAL`, as a
/// terminal is.
pub fn sync(descriptor: i32) -> Result<usize> {
    let description = description(descriptor)?;
    let Kind::File(file) = description.kind else {
        return Err(Errno::EINVAL);
    };
    check_usable(&description)?;
    vfs::call_on(file, |client, handle| client.sync(handle))?;
    Ok(0)
}

/// `ftruncate`: the description must be open for writing (`EINVAL` otherwise, as Linux).
pub fn ftruncate(descriptor: i32, length: i64) -> Result<usize> {
    let description = description(descriptor)?;
    let Kind::File(file) = description.kind else {
        return Err(Errno::EINVAL);
    };
    check_usable(&description)?;
    if length < 0 || description.flags & ACCESS_MODE == libc::O_RDONLY {
        return Err(Errno::EINVAL);
    }
    vfs::call_on(file, |client, handle| client.truncate(handle, length))?;
    Ok(0)
}

/// `fallocate`: mode 0 extends the file to `offset + length` if it is shorter (the file VFS
/// allocates as it writes, so there is nothing more to reserve); other modes are `EOPNOTSUPP`.
pub fn fallocate(descriptor: i32, mode: i32, offset: i64, length: i64) -> Result<usize> {
    let description = description(descriptor)?;
    let Kind::File(file) = description.kind else {
        return Err(Errno::EINVAL);
    };
    check_writable(&description)?;
    let end = offset
        .checked_add(length)
        .filter(|_| offset >= 0 && length > 0)
        .ok_or(Errno::EINVAL)?;
    if mode != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    if file_status(file)?.file.size < end {
        vfs::call_on(file, |client, handle| client.truncate(handle, end))?;
    }
    Ok(0)
}

/// `fadvise64`: advice is only a hint, which the file VFS has no use for; the console cannot
/// take any (`ESPIPE`).
pub fn fadvise(descriptor: i32, advice: i32) -> Result<usize> {
    let description = description(descriptor)?;
    if description.kind == Kind::Console {
        return Err(Errno::ESPIPE);
    }
    match advice {
        libc::POSIX_FADV_NORMAL
        | libc::POSIX_FADV_RANDOM
        | libc::POSIX_FADV_SEQUENTIAL
        | libc::POSIX_FADV_WILLNEED
        | libc::POSIX_FADV_DONTNEED
        | libc::POSIX_FADV_NOREUSE => Ok(0),
        _ => Err(Errno::EINVAL),
    }
}

/// Copies the path of a directory's description into `path`, for `fchdir` and as the base
/// of `*at` calls: `ENOTDIR` for anything else.
pub fn directory_path(descriptor: i32, path: &mut PathBuffer) -> Result<()> {
    let Kind::File(file) = description(descriptor)?.kind else {
        return Err(Errno::ENOTDIR);
    };
    if vfs::lost(file) {
        return Err(Errno::EIO);
    }
    if !is_directory(descriptor, file)? {
        return Err(Errno::ENOTDIR);
    }
    copy_path(descriptor, path)
}

/// Copies the path a file's description was opened by into `path`; `false` (nothing copied)
/// for the console.
pub fn description_path(descriptor: i32, path: &mut PathBuffer) -> Result<bool> {
    match description(descriptor)?.kind {
        Kind::Console => Ok(false),
        Kind::File(_) => copy_path(descriptor, path).map(|()| true),
    }
}

fn copy_path(descriptor: i32, path: &mut PathBuffer) -> Result<()> {
    let table = DESCRIPTORS.lock();
    let stored = table
        .details(descriptor)?
        .path
        .as_deref()
        .ok_or(Errno::ENOTDIR)?;
    path.assign(stored)
}

/// What `poll` reports for a description, given the events asked for.
fn readiness(description: &Description, events: i16) -> i16 {
    match description.kind {
        // The console: writable always, readable at end of file. A file, as on Linux: always
        // readable and writable.
        Kind::Console | Kind::File(_) => {
            events & (libc::POLLIN | libc::POLLRDNORM | libc::POLLOUT | libc::POLLWRNORM)
        }
    }
}

/// Waits out a timeout when nothing is ready (nothing will become ready: every description
/// libposix has today, console or file, is always ready).
fn wait_for_nothing(timeout: Option<u64>) {
    match timeout {
        Some(nanoseconds) => time::sleep(nanoseconds),
        None => loop {
            time::sleep(u64::MAX);
        },
    }
}

/// `poll` and `ppoll`: negative descriptors are skipped, unknown ones get `POLLNVAL`.
pub fn poll(descriptors: usize, count: usize, timeout: Option<u64>) -> Result<usize> {
    if count > DESCRIPTOR_LIMIT {
        return Err(Errno::EINVAL);
    }
    let mut ready = 0;
    for index in 0..count {
        let entry = (descriptors as *mut libc::pollfd).wrapping_add(index);
        let mut request = user::read(entry)?;
        request.revents = if request.fd < 0 {
            0
        } else {
            match description(request.fd) {
                Ok(description) => readiness(&description, request.events),
                Err(_) => libc::POLLNVAL,
            }
        };
        if request.revents != 0 {
            ready += 1;
        }
        user::write(entry, request)?;
    }
    if ready == 0 {
        wait_for_nothing(timeout);
    }
    Ok(ready)
}

const BITS_PER_WORD: usize = 8 * core::mem::size_of::<usize>();

fn bit(set: usize, descriptor: usize) -> Result<bool> {
    if set == 0 {
        return Ok(false);
    }
    let word = user::read((set as *const usize).wrapping_add(descriptor / BITS_PER_WORD))?;
    Ok(word & (1 << (descriptor % BITS_PER_WORD)) != 0)
}

fn clear_bit(set: usize, descriptor: usize) -> Result<()> {
    let pointer = (set as *mut usize).wrapping_add(descriptor / BITS_PER_WORD);
    let word = user::read(pointer)?;
    user::write(pointer, word & !(1 << (descriptor % BITS_PER_WORD)))
}

/// `select` and `pselect6`: the console and files are readable and writable, never
/// exceptional.
pub fn select(
    count: i32,
    read: usize,
    write: usize,
    except: usize,
    timeout: Option<u64>,
) -> Result<usize> {
    let count = usize::try_from(count).map_err(|_| Errno::EINVAL)?;
    if count > libc::FD_SETSIZE {
        return Err(Errno::EINVAL);
    }
    // Check every descriptor first, so that EBADF changes no set.
    for descriptor in 0..count {
        if (bit(read, descriptor)? || bit(write, descriptor)? || bit(except, descriptor)?)
            && description(descriptor as i32).is_err()
        {
            return Err(Errno::EBADF);
        }
    }
    let mut ready = 0;
    for descriptor in 0..count {
        for (set, events) in [
            (read, libc::POLLIN),
            (write, libc::POLLOUT),
            (except, libc::POLLPRI),
        ] {
            if !bit(set, descriptor)? {
                continue;
            }
            let description = description(descriptor as i32)?;
            if readiness(&description, events) != 0 {
                ready += 1;
            } else {
                clear_bit(set, descriptor)?;
            }
        }
    }
    if ready == 0 {
        wait_for_nothing(timeout);
    }
    Ok(ready)
}

// The constants' types differ between glibc (the host) and musl, so the casts stay.
#[allow(clippy::unnecessary_cast)]
#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fake;

    // The table is global: these tests use descriptors from 100 up, each its own, besides
    // reading the console's 0..2.

    #[test]
    fn the_console_reads_end_of_file_and_writes_through() {
        let mut buffer = [0u8; 4];
        assert_eq!(read(0, buffer.as_mut_ptr() as usize, 4), Ok(0));
        fake::take_console();
        let text = b"hello\n";
        assert_eq!(write(1, text.as_ptr() as usize, text.len()), Ok(6));
        let vectors = [
            libc::iovec {
                iov_base: b"ab".as_ptr() as *mut _,
                iov_len: 2,
            },
            libc::iovec {
                iov_base: b"cde".as_ptr() as *mut _,
                iov_len: 3,
            },
        ];
        assert_eq!(writev(2, vectors.as_ptr() as usize, 2), Ok(5));
        assert_eq!(fake::take_console(), b"hello\nabcde");
        assert_eq!(writev(2, vectors.as_ptr() as usize, -1), Err(Errno::EINVAL));
        assert_eq!(
            writev(2, vectors.as_ptr() as usize, 1025),
            Err(Errno::EINVAL)
        );
        assert_eq!(readv(0, vectors.as_ptr() as usize, 2), Ok(0));
        assert_eq!(write(1, 0, 3), Err(Errno::EFAULT));
        assert_eq!(write(333, text.as_ptr() as usize, 1), Err(Errno::EBADF));
        assert_eq!(lseek(1, 0, 0), Err(Errno::ESPIPE));
        assert_eq!(
            pread(0, buffer.as_mut_ptr() as usize, 4, 0),
            Err(Errno::ESPIPE)
        );
        assert_eq!(pwrite(1, text.as_ptr() as usize, 1, 0), Err(Errno::ESPIPE));
        assert_eq!(
            preadv(0, vectors.as_ptr() as usize, 2, 0),
            Err(Errno::ESPIPE)
        );
        assert_eq!(sync(1), Err(Errno::EINVAL));
        assert_eq!(ftruncate(1, 0), Err(Errno::EINVAL));
    }

    #[test]
    fn the_console_is_a_terminal() {
        let mut size = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        assert_eq!(
            ioctl(1, libc::TIOCGWINSZ as u64, &mut size as *mut _ as usize),
            Ok(0)
        );
        assert_eq!((size.ws_row, size.ws_col), (24, 80));
        let mut settings = [0u8; 36];
        assert_eq!(
            ioctl(0, libc::TCGETS as u64, settings.as_mut_ptr() as usize),
            Ok(0)
        );
        assert_ne!(settings, [0u8; 36]);
        assert_eq!(ioctl(1, 0x5401_0000, 0), Err(Errno::ENOTTY));
        assert_eq!(ioctl(1, libc::TIOCGWINSZ as u64, 0), Err(Errno::EFAULT));
        assert_eq!(ioctl(444, libc::TIOCGWINSZ as u64, 0), Err(Errno::EBADF));
        // SAFETY: `stat` is plain integers.
        let mut status: libc::stat = unsafe { core::mem::zeroed() };
        assert_eq!(fstat(2, &mut status as *mut _ as usize), Ok(0));
        assert_eq!(status.st_mode & libc::S_IFMT, libc::S_IFCHR);
        assert_eq!(status.st_rdev as u64, status::device_number(5, 1));
        let mut listing = [0u8; 64];
        assert_eq!(
            getdents(0, listing.as_mut_ptr() as usize, 64, Format::Modern),
            Err(Errno::ENOTDIR)
        );
    }

    #[test]
    fn duplicates_follow_linux_rules() {
        assert_eq!(dup2(1, 100), Ok(100));
        assert_eq!(fcntl(100, libc::F_GETFD, 0), Ok(0));
        assert_eq!(dup3(1, 101, libc::O_CLOEXEC), Ok(101));
        assert_eq!(fcntl(101, libc::F_GETFD, 0), Ok(libc::FD_CLOEXEC as usize));
        assert_eq!(fcntl(101, libc::F_SETFD, 0), Ok(0));
        assert_eq!(fcntl(101, libc::F_GETFD, 0), Ok(0));
        assert_eq!(dup3(101, 101, 0), Err(Errno::EINVAL));
        assert_eq!(dup3(101, 102, libc::O_NONBLOCK), Err(Errno::EINVAL));
        assert_eq!(dup2(101, 101), Ok(101));
        assert_eq!(dup2(555, 555), Err(Errno::EBADF));
        assert_eq!(dup2(1, 5000), Err(Errno::EBADF));
        let copy = fcntl(100, libc::F_DUPFD_CLOEXEC, 900).unwrap();
        assert!(copy >= 900);
        assert_eq!(
            fcntl(copy as i32, libc::F_GETFD, 0),
            Ok(libc::FD_CLOEXEC as usize)
        );
        assert_eq!(
            fcntl(100, libc::F_GETFL, 0).unwrap() as i32 & libc::O_ACCMODE,
            libc::O_RDWR
        );
        assert_eq!(fcntl(100, 9999, 0), Err(Errno::EINVAL));
        assert_eq!(ioctl(100, libc::FIOCLEX as u64, 0), Ok(0));
        assert_eq!(fcntl(100, libc::F_GETFD, 0), Ok(libc::FD_CLOEXEC as usize));
        for descriptor in [100, 101, copy as i32] {
            assert_eq!(close(descriptor), Ok(0));
        }
        assert_eq!(close(100), Err(Errno::EBADF));
    }

    #[test]
    fn poll_reports_the_console_and_bad_descriptors() {
        let mut entries = [
            libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: -1,
            },
            libc::pollfd {
                fd: 1,
                events: libc::POLLOUT,
                revents: 0,
            },
            libc::pollfd {
                fd: 777,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: -1,
                events: libc::POLLIN,
                revents: 5,
            },
            libc::pollfd {
                fd: 2,
                events: 0,
                revents: 0,
            },
        ];
        assert_eq!(poll(entries.as_mut_ptr() as usize, 5, Some(0)), Ok(3));
        let revents: std::vec::Vec<i16> = entries.iter().map(|entry| entry.revents).collect();
        assert_eq!(revents, [libc::POLLIN, libc::POLLOUT, libc::POLLNVAL, 0, 0]);
        assert_eq!(poll(0, 0, Some(0)), Ok(0));
        assert_eq!(poll(0, DESCRIPTOR_LIMIT + 1, Some(0)), Err(Errno::EINVAL));
    }

    #[test]
    fn select_keeps_ready_bits() {
        let mut read = [0usize; 16];
        let mut write = [0usize; 16];
        let mut except = [0usize; 16];
        read[0] = 0b001;
        write[0] = 0b110;
        except[0] = 0b100;
        let sets = (
            read.as_mut_ptr() as usize,
            write.as_mut_ptr() as usize,
            except.as_mut_ptr() as usize,
        );
        assert_eq!(select(3, sets.0, sets.1, sets.2, Some(0)), Ok(3));
        assert_eq!((read[0], write[0], except[0]), (0b001, 0b110, 0));
        read[0] = 1 << 40;
        assert_eq!(
            select(41, read.as_mut_ptr() as usize, 0, 0, Some(0)),
            Err(Errno::EBADF)
        );
        assert_eq!(select(-1, 0, 0, 0, Some(0)), Err(Errno::EINVAL));
        assert_eq!(select(0, 0, 0, 0, Some(0)), Ok(0));
    }
}

/// The file calls end to end: `dispatch` through the File client to an in-process server.
// The constants' types differ between glibc (the host) and musl, so the casts stay.
#[allow(clippy::unnecessary_cast)]
#[cfg(test)]
mod file_tests {
    use super::*;
    use crate::test_file_server::{self, Files};
    use libc::c_long;
    use std::cell::RefCell;
    use std::ffi::CString;
    use std::rc::Rc;
    use std::vec::Vec;

    fn call(number: c_long, arguments: [usize; 6]) -> isize {
        crate::errno::encode(crate::dispatch::call(number, &arguments))
    }

    fn open(path: &str, flags: i32, mode: u32) -> i32 {
        let path = CString::new(path).unwrap();
        call(
            libc::SYS_openat,
            [
                libc::AT_FDCWD as usize,
                path.as_ptr() as usize,
                flags as usize,
                mode as usize,
                0,
                0,
            ],
        ) as i32
    }

    fn write_bytes(descriptor: i32, bytes: &[u8]) -> isize {
        call(
            libc::SYS_write,
            [
                descriptor as usize,
                bytes.as_ptr() as usize,
                bytes.len(),
                0,
                0,
                0,
            ],
        )
    }

    fn read_bytes(descriptor: i32, length: usize) -> Vec<u8> {
        let mut buffer = std::vec![0u8; length];
        let count = call(
            libc::SYS_read,
            [
                descriptor as usize,
                buffer.as_mut_ptr() as usize,
                length,
                0,
                0,
                0,
            ],
        );
        assert!(count >= 0, "read failed: {count}");
        buffer.truncate(count as usize);
        buffer
    }

    fn seek(descriptor: i32, offset: i64, whence: i32) -> isize {
        call(
            libc::SYS_lseek,
            [
                descriptor as usize,
                offset as usize,
                whence as usize,
                0,
                0,
                0,
            ],
        )
    }

    fn close(descriptor: i32) -> isize {
        call(libc::SYS_close, [descriptor as usize, 0, 0, 0, 0, 0])
    }

    fn errno(number: i32) -> isize {
        -(number as isize)
    }

    fn server() -> Rc<RefCell<Files>> {
        test_file_server::install().root
    }

    #[test]
    fn files_open_read_write_and_seek_on_their_server() {
        let root = server();
        let _umask = identity::set_creation_mask_for_test(0o022);
        let descriptor = open(
            "/notes",
            libc::O_CREAT | libc::O_RDWR | libc::O_CLOEXEC,
            0o666,
        );
        assert!(descriptor >= 3, "{descriptor}");
        assert_eq!(
            root.borrow().last_open,
            Some((libc::O_RDWR as u32, libc::O_CREAT as u32, 0o644))
        );
        assert_eq!(root.borrow().mode("/notes"), Some(0o644));
        assert_eq!(
            fcntl(descriptor, libc::F_GETFD, 0),
            Ok(libc::FD_CLOEXEC as usize)
        );
        assert_eq!(
            fcntl(descriptor, libc::F_GETFL, 0).unwrap() as i32 & libc::O_ACCMODE,
            libc::O_RDWR
        );
        assert_eq!(write_bytes(descriptor, b"hello world"), 11);
        assert_eq!(seek(descriptor, 0, libc::SEEK_SET), 0);
        assert_eq!(read_bytes(descriptor, 64), b"hello world");
        assert_eq!(read_bytes(descriptor, 64), b"");
        let mut buffer = [0u8; 5];
        assert_eq!(pread(descriptor, buffer.as_mut_ptr() as usize, 5, 6), Ok(5));
        assert_eq!(&buffer, b"world");
        assert_eq!(pwrite(descriptor, b"HELLO".as_ptr() as usize, 5, 0), Ok(5));
        assert_eq!(root.borrow().contents("/notes").unwrap(), b"HELLO world");
        // Positioned calls leave the offset alone.
        assert_eq!(seek(descriptor, 0, libc::SEEK_CUR), 11);
        assert_eq!(seek(descriptor, -1, libc::SEEK_SET), errno(libc::EINVAL));
        assert_eq!(seek(descriptor, 0, 7), errno(libc::EINVAL));
        assert_eq!(
            pread(descriptor, buffer.as_mut_ptr() as usize, 5, -2),
            Err(Errno::EINVAL)
        );
        assert_eq!(write_bytes(descriptor, b""), 0);
        assert_eq!(close(descriptor), 0);
        assert_eq!(root.borrow().open_handles(), 0);
        assert_eq!(write_bytes(descriptor, b"x"), errno(libc::EBADF));
        // Access modes are checked before the server is asked.
        let read_only = open("/notes", libc::O_RDONLY, 0);
        assert_eq!(write_bytes(read_only, b"x"), errno(libc::EBADF));
        assert_eq!(ftruncate(read_only, 0), Err(Errno::EINVAL));
        assert_eq!(close(read_only), 0);
        let write_only = open("/notes", libc::O_WRONLY | libc::O_TRUNC, 0);
        let mut byte = [0u8; 1];
        assert_eq!(
            read(write_only, byte.as_mut_ptr() as usize, 1),
            Err(Errno::EBADF)
        );
        assert_eq!(root.borrow().contents("/notes").unwrap(), b"");
        assert_eq!(close(write_only), 0);
    }

    #[test]
    fn large_transfers_are_split_into_chunks() {
        let root = server();
        let descriptor = open("/large", libc::O_CREAT | libc::O_RDWR, 0o600);
        let data: Vec<u8> = (0..40_000u32).map(|index| (index % 251) as u8).collect();
        assert_eq!(write_bytes(descriptor, &data), 40_000);
        assert_eq!(
            root.borrow().writes,
            [
                (-1, CHUNK),
                (-1, CHUNK),
                (-1, CHUNK),
                (-1, 40_000 - 3 * CHUNK)
            ]
        );
        assert_eq!(seek(descriptor, 0, libc::SEEK_SET), 0);
        // The fourth call comes back short: the end of the file ends the read.
        assert_eq!(read_bytes(descriptor, 50_000), data);
        assert_eq!(root.borrow().reads, [(-1, CHUNK as u32); 4]);
        root.borrow_mut().reads.clear();
        let mut buffer = std::vec![0u8; 30_000];
        assert_eq!(
            pread(descriptor, buffer.as_mut_ptr() as usize, 30_000, 5_000),
            Ok(30_000)
        );
        assert_eq!(buffer, &data[5_000..35_000]);
        assert_eq!(
            root.borrow().reads,
            [
                (5_000, CHUNK as u32),
                (5_000 + CHUNK as i64, CHUNK as u32),
                (5_000 + 2 * CHUNK as i64, (30_000 - 2 * CHUNK) as u32)
            ]
        );
        root.borrow_mut().writes.clear();
        let tail = std::vec![7u8; 13_000];
        assert_eq!(
            pwrite(descriptor, tail.as_ptr() as usize, tail.len(), 100_000),
            Ok(13_000)
        );
        assert_eq!(
            root.borrow().writes,
            [(100_000, CHUNK), (100_000 + CHUNK as i64, 13_000 - CHUNK)]
        );
        assert_eq!(root.borrow().contents("/large").unwrap().len(), 113_000);
        assert_eq!(close(descriptor), 0);
    }

    #[test]
    fn vectored_calls_fill_and_drain_each_buffer() {
        let root = server();
        let descriptor = open("/vectors", libc::O_CREAT | libc::O_RDWR, 0o600);
        let pieces: [&[u8]; 3] = [b"one ", b"two ", b"three"];
        let vectors: Vec<libc::iovec> = pieces
            .iter()
            .map(|piece| libc::iovec {
                iov_base: piece.as_ptr() as *mut _,
                iov_len: piece.len(),
            })
            .collect();
        assert_eq!(writev(descriptor, vectors.as_ptr() as usize, 3), Ok(13));
        assert_eq!(
            pwritev(descriptor, vectors.as_ptr() as usize, 2, 100),
            Ok(8)
        );
        let contents = root.borrow().contents("/vectors").unwrap();
        assert_eq!(&contents[..13], b"one two three");
        assert_eq!(&contents[100..108], b"one two ");
        let mut first = [0u8; 3];
        let mut second = [0u8; 6];
        let targets = [
            libc::iovec {
                iov_base: first.as_mut_ptr() as *mut _,
                iov_len: 3,
            },
            libc::iovec {
                iov_base: second.as_mut_ptr() as *mut _,
                iov_len: 6,
            },
        ];
        assert_eq!(preadv(descriptor, targets.as_ptr() as usize, 2, 4), Ok(9));
        assert_eq!((&first, &second), (b"two", b" three"));
        assert_eq!(seek(descriptor, 0, libc::SEEK_SET), 0);
        assert_eq!(readv(descriptor, targets.as_ptr() as usize, 2), Ok(9));
        assert_eq!((&first, &second), (b"one", b" two t"));
        // preadv2 with -1 reads at the description's offset, and moves it.
        assert_eq!(
            preadv2(descriptor, targets.as_ptr() as usize, 1, -1, 0),
            Ok(3)
        );
        assert_eq!(&first, b"hre");
        assert_eq!(seek(descriptor, 0, libc::SEEK_CUR), 12);
        assert_eq!(
            preadv2(descriptor, targets.as_ptr() as usize, 1, -1, 0x8),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(close(descriptor), 0);
    }

    #[test]
    fn metadata_comes_from_the_servers_file_status() {
        let root = server();
        let _umask = identity::set_creation_mask_for_test(0o022);
        let descriptor = open("/status", libc::O_CREAT | libc::O_WRONLY, 0o640);
        assert_eq!(write_bytes(descriptor, &[1u8; 1000]), 1000);
        // SAFETY: `stat` is plain integers.
        let mut status: libc::stat = unsafe { core::mem::zeroed() };
        let pointer = &mut status as *mut libc::stat as usize;
        assert_eq!(
            call(libc::SYS_fstat, [descriptor as usize, pointer, 0, 0, 0, 0]),
            0
        );
        assert_eq!(status.st_size, 1000);
        assert_eq!(
            status.st_mode as u32 & libc::S_IFMT as u32,
            libc::S_IFREG as u32
        );
        assert_eq!(status.st_blocks, 2);
        assert_eq!(status.st_blksize, 4096);
        let inode = status.st_ino;
        let path = CString::new("/status").unwrap();
        // SAFETY: as above.
        let mut by_path: libc::stat = unsafe { core::mem::zeroed() };
        assert_eq!(
            call(
                libc::SYS_newfstatat,
                [
                    libc::AT_FDCWD as usize,
                    path.as_ptr() as usize,
                    &mut by_path as *mut libc::stat as usize,
                    0,
                    0,
                    0
                ]
            ),
            0
        );
        assert_eq!((by_path.st_ino, by_path.st_size), (inode, 1000));
        // SAFETY: `statx` is plain integers.
        let mut extended: libc::statx = unsafe { core::mem::zeroed() };
        let empty = CString::new("").unwrap();
        assert_eq!(
            call(
                libc::SYS_statx,
                [
                    descriptor as usize,
                    empty.as_ptr() as usize,
                    libc::AT_EMPTY_PATH as usize,
                    0x7ff,
                    &mut extended as *mut libc::statx as usize,
                    0
                ]
            ),
            0
        );
        assert_eq!((extended.stx_ino, extended.stx_size), (inode, 1000));
        assert_eq!(extended.stx_mode as u32 & 0o7777, 0o640);
        assert_eq!(close(descriptor), 0);
        drop(root);
    }

    #[test]
    fn directory_listings_pack_dirent64_and_continue_by_cookie() {
        let root = server();
        root.borrow_mut()
            .make_directory_for_test("/listing", &["a", "bb", "ccc"]);
        let directory = open("/listing", libc::O_RDONLY | libc::O_DIRECTORY, 0);
        assert!(directory >= 0);
        let mut names = Vec::new();
        let mut offsets = Vec::new();
        let mut buffer = [0u8; 64];
        loop {
            let count = call(
                libc::SYS_getdents64,
                [
                    directory as usize,
                    buffer.as_mut_ptr() as usize,
                    64,
                    0,
                    0,
                    0,
                ],
            );
            assert!(count >= 0, "{count}");
            if count == 0 {
                break;
            }
            let mut at = 0;
            let mut records = 0;
            while at < count as usize {
                let record = &buffer[at..];
                let length = u16::from_ne_bytes([record[16], record[17]]) as usize;
                let name_end = 19 + record[19..].iter().position(|byte| *byte == 0).unwrap();
                names.push(std::string::String::from_utf8(record[19..name_end].to_vec()).unwrap());
                offsets.push(i64::from_ne_bytes(record[8..16].try_into().unwrap()));
                at += length;
                records += 1;
            }
            // 64 bytes take two 24-byte records; the third waits for the next call.
            assert!(records <= 2);
        }
        assert_eq!(names, [".", "..", "a", "bb", "ccc"]);
        assert_eq!(offsets, [1, 2, 3, 4, 5]);
        // The server is asked for the program's buffer, or one entry of the longest name.
        assert!(
            root.borrow()
                .listing_lengths
                .iter()
                .all(|length| *length as usize == LISTING_MINIMUM)
        );
        // rewinddir and seekdir are lseek on the cookie.
        assert_eq!(seek(directory, 0, libc::SEEK_SET), 0);
        assert_eq!(seek(directory, 3, libc::SEEK_SET), 3);
        assert_eq!(seek(directory, 0, libc::SEEK_CUR), 3);
        let count = call(
            libc::SYS_getdents64,
            [
                directory as usize,
                buffer.as_mut_ptr() as usize,
                64,
                0,
                0,
                0,
            ],
        );
        assert_eq!(count, 48);
        assert_eq!(&buffer[19..21], b"bb");
        // A buffer too small for the next entry.
        assert_eq!(seek(directory, 0, libc::SEEK_SET), 0);
        assert_eq!(
            call(
                libc::SYS_getdents64,
                [
                    directory as usize,
                    buffer.as_mut_ptr() as usize,
                    16,
                    0,
                    0,
                    0
                ]
            ),
            errno(libc::EINVAL)
        );
        assert_eq!(close(directory), 0);
        let file = open("/listing/a", libc::O_RDONLY, 0);
        assert_eq!(
            call(
                libc::SYS_getdents64,
                [file as usize, buffer.as_mut_ptr() as usize, 64, 0, 0, 0]
            ),
            errno(libc::ENOTDIR)
        );
        // A plain read-only file learns it is no directory: lseek goes to the server.
        assert_eq!(seek(file, 0, libc::SEEK_END), 0);
        assert_eq!(close(file), 0);
    }

    #[test]
    fn server_errors_and_denials_become_errno_values() {
        let servers = test_file_server::install();
        let root = servers.root;
        assert_eq!(
            open("/missing", libc::O_RDONLY, 0),
            errno(libc::ENOENT) as i32
        );
        assert_eq!(
            open("/denied/file", libc::O_RDONLY, 0),
            errno(libc::EACCES) as i32
        );
        let descriptor = open("/exists", libc::O_CREAT | libc::O_WRONLY, 0o600);
        assert_eq!(close(descriptor), 0);
        assert_eq!(
            open(
                "/exists",
                libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY,
                0o600
            ),
            errno(libc::EEXIST) as i32
        );
        assert_eq!(
            open("/exists", libc::O_RDONLY | libc::O_DIRECTORY, 0),
            errno(libc::ENOTDIR) as i32
        );
        assert_eq!(open("/", libc::O_WRONLY, 0), errno(libc::EISDIR) as i32);
        assert_eq!(open("/exists", 3, 0), errno(libc::EINVAL) as i32);
        assert_eq!(root.borrow().open_handles(), 0);
    }

    #[test]
    fn a_description_is_lost_with_its_server() {
        let servers = test_file_server::install();
        let gone = servers.gone;
        let descriptor = open("/gone/file", libc::O_CREAT | libc::O_RDWR, 0o600);
        assert!(descriptor >= 0);
        let second = open("/gone/file", libc::O_RDONLY, 0);
        gone.borrow_mut().gone = true;
        assert_eq!(write_bytes(descriptor, b"x"), errno(libc::EIO));
        // The server restarts: the old descriptions stay lost without reaching it.
        gone.borrow_mut().gone = false;
        let reads = gone.borrow().reads.len();
        let mut byte = [0u8; 1];
        assert_eq!(read(second, byte.as_mut_ptr() as usize, 1), Err(Errno::EIO));
        assert_eq!(seek(second, 0, libc::SEEK_SET), errno(libc::EIO));
        assert_eq!(gone.borrow().reads.len(), reads);
        assert_eq!(close(descriptor), 0);
        assert_eq!(close(second), 0);
        // New opens work again.
        let fresh = open("/gone/file", libc::O_RDONLY, 0);
        assert!(fresh >= 0);
        assert_eq!(read(fresh, byte.as_mut_ptr() as usize, 1), Ok(0));
        assert_eq!(close(fresh), 0);
    }

    #[test]
    fn duplicates_share_the_description_and_its_offset() {
        let root = server();
        let descriptor = open("/shared", libc::O_CREAT | libc::O_RDWR, 0o600);
        let copy = dup(descriptor).unwrap() as i32;
        assert_eq!(write_bytes(descriptor, b"abc"), 3);
        // The offset lives on the server, shared by the one handle.
        assert_eq!(seek(copy, 0, libc::SEEK_CUR), 3);
        assert_eq!(
            fcntl(
                copy,
                libc::F_SETFL,
                (libc::O_APPEND | libc::O_RDONLY) as usize
            ),
            Ok(0)
        );
        let flags = fcntl(descriptor, libc::F_GETFL, 0).unwrap() as i32;
        assert_eq!(flags & libc::O_APPEND, libc::O_APPEND);
        assert_eq!(flags & libc::O_ACCMODE, libc::O_RDWR);
        assert_eq!(seek(descriptor, 0, libc::SEEK_SET), 0);
        assert_eq!(write_bytes(descriptor, b"d"), 1);
        assert_eq!(root.borrow().contents("/shared").unwrap(), b"abcd");
        let third = dup3(copy, 900, libc::O_CLOEXEC).unwrap() as i32;
        assert_eq!(
            fcntl(third, libc::F_GETFD, 0),
            Ok(libc::FD_CLOEXEC as usize)
        );
        assert_eq!(close(descriptor), 0);
        assert_eq!(close(copy), 0);
        assert_eq!(root.borrow().open_handles(), 1);
        // dup2 over the last descriptor of another file closes that file's description.
        let other = open("/shared", libc::O_RDONLY, 0);
        assert_eq!(root.borrow().open_handles(), 2);
        assert_eq!(dup2(other, third), Ok(third as usize));
        assert_eq!(root.borrow().open_handles(), 1);
        assert_eq!(close(other), 0);
        assert_eq!(close(third), 0);
        assert_eq!(root.borrow().open_handles(), 0);
    }

    #[test]
    fn truncate_sync_and_allocate_reach_the_server() {
        let root = server();
        let descriptor = open("/sized", libc::O_CREAT | libc::O_RDWR, 0o600);
        assert_eq!(ftruncate(descriptor, 100), Ok(0));
        assert_eq!(root.borrow().contents("/sized").unwrap().len(), 100);
        assert_eq!(ftruncate(descriptor, -1), Err(Errno::EINVAL));
        assert_eq!(sync(descriptor), Ok(0));
        assert_eq!(fallocate(descriptor, 0, 50, 100), Ok(0));
        assert_eq!(root.borrow().contents("/sized").unwrap().len(), 150);
        assert_eq!(fallocate(descriptor, 0, 0, 10), Ok(0));
        assert_eq!(root.borrow().contents("/sized").unwrap().len(), 150);
        assert_eq!(fallocate(descriptor, 1, 0, 10), Err(Errno::EOPNOTSUPP));
        assert_eq!(fadvise(descriptor, libc::POSIX_FADV_SEQUENTIAL), Ok(0));
        assert_eq!(fadvise(descriptor, 99), Err(Errno::EINVAL));
        assert_eq!(close(descriptor), 0);
        assert_eq!(close_range(0, 0, 0x10), Err(Errno::EINVAL));
    }
}
