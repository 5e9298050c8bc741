//! Calls on file descriptors: reading and writing, duplication, `fcntl`, `ioctl`, `fstat`,
//! `poll` and `select`, served by the descriptor table and, for now, the console.
//!
//! Descriptors 0, 1 and 2 start on the console, one description opened for reading and
//! writing. Writing goes to the kernel console. Reading gives end of file at once: the kernel
//! has no console input (when it has, reads will block for it). The console is a terminal to
//! programs: `TIOCGWINSZ` answers 80x24 (so `isatty` is true and musl line-buffers standard
//! output), `TCGETS` a cooked terminal, and `lseek` is `ESPIPE`.

use crate::descriptors::{DESCRIPTOR_LIMIT, Description, Descriptors, Kind};
use crate::errno::{Errno, Result};
use crate::lock::Lock;
use crate::{console, time, user};

static DESCRIPTORS: Lock<Descriptors> = Lock::new(Descriptors::with_console());

/// Most `iovec`s one call takes (Linux's `IOV_MAX`).
const IOV_MAX: usize = 1024;

/// The description descriptor `descriptor` names.
pub fn description(descriptor: i32) -> Result<Description> {
    DESCRIPTORS.lock().get(descriptor)
}

/// The console's device number: Linux's `/dev/console`, major 5, minor 1.
const CONSOLE_DEVICE: (u32, u32) = (5, 1);

/// Linux's encoding of a device number (`makedev`).
pub fn device_number(major: u32, minor: u32) -> u64 {
    let (major, minor) = (major as u64, minor as u64);
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
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

/// `read`: the console is at end of file.
pub fn read(descriptor: i32, _buffer: usize, _length: usize) -> Result<usize> {
    match description(descriptor)?.kind {
        Kind::Console => Ok(0),
    }
}

/// `write`.
pub fn write(descriptor: i32, buffer: usize, length: usize) -> Result<usize> {
    let description = description(descriptor)?;
    if description.flags & libc::O_ACCMODE == libc::O_RDONLY {
        return Err(Errno::EBADF);
    }
    let bytes = user::bytes(buffer, length)?;
    match description.kind {
        Kind::Console => console::write_all(bytes),
    }
}

/// The `iovec`s of a vectored call.
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
    Ok(unsafe { core::slice::from_raw_parts(vector as *const libc::iovec, count) })
}

/// `readv`: the console is at end of file.
pub fn readv(descriptor: i32, vector: usize, count: i32) -> Result<usize> {
    vectors(vector, count)?;
    read(descriptor, 0, 0)
}

/// `writev`: each buffer in turn; a short write ends the call.
pub fn writev(descriptor: i32, vector: usize, count: i32) -> Result<usize> {
    let vectors = vectors(vector, count)?;
    description(descriptor)?;
    let mut total = 0usize;
    for entry in vectors {
        let written = match write(descriptor, entry.iov_base as usize, entry.iov_len) {
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

/// `pread64`, `pwrite64`, `preadv`, `pwritev` and their `2` forms: the console cannot seek.
pub fn positioned(descriptor: i32) -> Result<usize> {
    match description(descriptor)?.kind {
        Kind::Console => Err(Errno::ESPIPE),
    }
}

/// `lseek`.
pub fn lseek(descriptor: i32, _offset: i64, _whence: i32) -> Result<usize> {
    positioned(descriptor)
}

/// `close`.
pub fn close(descriptor: i32) -> Result<usize> {
    // With servers, the last close of a file or socket will tell its server here; the
    // console needs nothing.
    let _released = DESCRIPTORS.lock().close(descriptor)?;
    Ok(0)
}

/// `close_range`.
pub fn close_range(first: u32, last: u32, flags: u32) -> Result<usize> {
    if flags & !(libc::CLOSE_RANGE_CLOEXEC | libc::CLOSE_RANGE_UNSHARE) != 0 || first > last {
        return Err(Errno::EINVAL);
    }
    let close_on_exec = flags & libc::CLOSE_RANGE_CLOEXEC != 0;
    DESCRIPTORS
        .lock()
        .close_range(first, last, close_on_exec, |_| {});
    Ok(0)
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
    let mut table = DESCRIPTORS.lock();
    if descriptor == target {
        table.get(descriptor)?;
        return Ok(target as usize);
    }
    table.duplicate_to(descriptor, target, false)?;
    Ok(target as usize)
}

/// `dup3`: `O_CLOEXEC` is the only flag; the same number is `EINVAL`.
pub fn dup3(descriptor: i32, target: i32, flags: i32) -> Result<usize> {
    if flags & !libc::O_CLOEXEC != 0 || descriptor == target {
        return Err(Errno::EINVAL);
    }
    DESCRIPTORS
        .lock()
        .duplicate_to(descriptor, target, flags & libc::O_CLOEXEC != 0)?;
    Ok(target as usize)
}

/// `fcntl`.
pub fn fcntl(descriptor: i32, command: i32, argument: usize) -> Result<usize> {
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
        libc::F_SETFL => {
            table.set_status_flags(descriptor, argument as i32)?;
            Ok(0)
        }
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
            let mut table = DESCRIPTORS.lock();
            let flags = table.get(descriptor)?.flags & !libc::O_NONBLOCK;
            table.set_status_flags(
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
    }
}

/// The `stat` of a description.
fn status(description: &Description) -> libc::stat {
    // SAFETY: `stat` is plain integers, for which all zeroes is valid.
    let mut status: libc::stat = unsafe { core::mem::zeroed() };
    match description.kind {
        Kind::Console => {
            status.st_mode = libc::S_IFCHR | 0o620;
            status.st_nlink = 1;
            status.st_rdev = device_number(CONSOLE_DEVICE.0, CONSOLE_DEVICE.1) as _;
            status.st_blksize = 1024;
            status.st_ino = 1;
        }
    }
    status
}

/// `fstat`.
pub fn fstat(descriptor: i32, pointer: usize) -> Result<usize> {
    let status = status(&description(descriptor)?);
    user::write(pointer as *mut libc::stat, status)?;
    Ok(0)
}

/// `statx` of a descriptor (`AT_EMPTY_PATH` with an empty path).
pub fn statx_descriptor(descriptor: i32, pointer: usize) -> Result<usize> {
    let status = status(&description(descriptor)?);
    // SAFETY: `statx` is plain integers, for which all zeroes is valid.
    let mut extended: libc::statx = unsafe { core::mem::zeroed() };
    extended.stx_mask = libc::STATX_BASIC_STATS;
    extended.stx_blksize = status.st_blksize as u32;
    extended.stx_nlink = status.st_nlink as u32;
    extended.stx_mode = status.st_mode as u16;
    extended.stx_ino = status.st_ino;
    extended.stx_rdev_major = CONSOLE_DEVICE.0;
    extended.stx_rdev_minor = CONSOLE_DEVICE.1;
    user::write(pointer as *mut libc::statx, extended)?;
    Ok(0)
}

/// `getdents64` and `getdents`: no descriptor is a directory yet.
pub fn getdents(descriptor: i32) -> Result<usize> {
    description(descriptor)?;
    Err(Errno::ENOTDIR)
}

/// `fsync`, `fdatasync`, `ftruncate`, `fallocate` on the console: `EINVAL`, as for a terminal.
pub fn not_for_console(descriptor: i32) -> Result<usize> {
    match description(descriptor)?.kind {
        Kind::Console => Err(Errno::EINVAL),
    }
}

/// What `poll` reports for a description, given the events asked for.
fn readiness(description: &Description, events: i16) -> i16 {
    match description.kind {
        // Writable always; readable at end of file.
        Kind::Console => {
            events & (libc::POLLIN | libc::POLLRDNORM | libc::POLLOUT | libc::POLLWRNORM)
        }
    }
}

/// Waits out a timeout when nothing is ready (nothing will become ready: every description
/// libposix has today is always ready).
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

/// `select` and `pselect6`: the console is readable (at end of file) and writable, never
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
        assert_eq!(positioned(0), Err(Errno::ESPIPE));
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
        assert_eq!(status.st_rdev as u64, device_number(5, 1));
        assert_eq!(getdents(0), Err(Errno::ENOTDIR));
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

    #[test]
    fn device_numbers_encode_like_linux() {
        assert_eq!(device_number(5, 1), 0x501);
        assert_eq!(
            device_number(259, 0x12345),
            (0x12300 << 12) | (0x103 << 8) | 0x45
        );
    }
}
