//! File metadata as Linux programs read it: `struct stat` and `struct statx` filled from the
//! File interface's [`FileStatus`] record, and the console's own.

use septa_interfaces::file_records::FileStatus;

use crate::errno::{Errno, Result};

/// The console's device number: Linux's `/dev/console`, major 5, minor 1.
pub const CONSOLE_DEVICE: (u32, u32) = (5, 1);

/// Metadata and, for a device, its number (`st_rdev`; 0 for the file VFS's files).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Status {
    /// What the File interface reports.
    pub file: FileStatus,
    /// The device a special file stands for.
    pub device: u64,
}

/// The console: a character device, as a terminal is.
pub fn console() -> Status {
    Status {
        file: FileStatus {
            inode: 1,
            mode: libc::S_IFCHR | 0o620,
            links: 1,
            block_size: 1024,
            ..FileStatus::default()
        },
        device: device_number(CONSOLE_DEVICE.0, CONSOLE_DEVICE.1),
    }
}

/// A file VFS's `stat` or `fstat` reply, decoded (`EIO` when it is not a `FileStatus`).
pub fn decode(bytes: &[u8]) -> Result<Status> {
    let file = FileStatus::from_bytes(bytes).ok_or(Errno::EIO)?;
    Ok(Status { file, device: 0 })
}

/// Whether the status is a directory's.
pub fn is_directory(status: &Status) -> bool {
    status.file.mode & libc::S_IFMT == libc::S_IFDIR
}

/// Linux's encoding of a device number (`makedev`).
pub fn device_number(major: u32, minor: u32) -> u64 {
    let (major, minor) = (major as u64, minor as u64);
    ((major & 0xffff_f000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffff_ff00) << 12)
        | (minor & 0xff)
}

/// The major and minor numbers of a device number (`major`, `minor`).
pub fn device_parts(device: u64) -> (u32, u32) {
    let major = ((device >> 32) & 0xffff_f000) | ((device >> 8) & 0xfff);
    let minor = ((device >> 12) & 0xffff_ff00) | (device & 0xff);
    (major as u32, minor as u32)
}

/// The `struct stat` of a status.
// The field types differ between architectures (and glibc, under host tests), so each
// assignment converts with `as _`.
pub fn stat(status: &Status) -> libc::stat {
    let file = &status.file;
    // SAFETY: `stat` is plain integers, for which all zeroes is valid.
    let mut result: libc::stat = unsafe { core::mem::zeroed() };
    result.st_dev = file.device as _;
    result.st_ino = file.inode as _;
    result.st_nlink = file.links as _;
    result.st_mode = file.mode as _;
    result.st_uid = file.user as _;
    result.st_gid = file.group as _;
    result.st_rdev = status.device as _;
    result.st_size = file.size as _;
    result.st_blksize = file.block_size as _;
    result.st_blocks = file.blocks as _;
    result.st_atime = file.access_seconds as _;
    result.st_atime_nsec = file.access_nanoseconds as _;
    result.st_mtime = file.modify_seconds as _;
    result.st_mtime_nsec = file.modify_nanoseconds as _;
    result.st_ctime = file.change_seconds as _;
    result.st_ctime_nsec = file.change_nanoseconds as _;
    result
}

/// The `struct statx` of a status: the basic statistics (no birth time).
pub fn statx(status: &Status) -> libc::statx {
    let file = &status.file;
    // SAFETY: `statx` is plain integers, for which all zeroes is valid.
    let mut result: libc::statx = unsafe { core::mem::zeroed() };
    result.stx_mask = libc::STATX_BASIC_STATS;
    result.stx_blksize = file.block_size;
    result.stx_nlink = file.links;
    result.stx_uid = file.user;
    result.stx_gid = file.group;
    result.stx_mode = file.mode as u16;
    result.stx_ino = file.inode;
    result.stx_size = file.size as u64;
    result.stx_blocks = file.blocks as u64;
    result.stx_atime.tv_sec = file.access_seconds;
    result.stx_atime.tv_nsec = file.access_nanoseconds;
    result.stx_mtime.tv_sec = file.modify_seconds;
    result.stx_mtime.tv_nsec = file.modify_nanoseconds;
    result.stx_ctime.tv_sec = file.change_seconds;
    result.stx_ctime.tv_nsec = file.change_nanoseconds;
    (result.stx_rdev_major, result.stx_rdev_minor) = device_parts(status.device);
    (result.stx_dev_major, result.stx_dev_minor) = device_parts(file.device);
    result
}

// The constants' types differ between glibc (the host) and musl, so the casts stay.
#[allow(clippy::unnecessary_cast)]
#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Status {
        Status {
            file: FileStatus {
                inode: 77,
                mode: libc::S_IFREG as u32 | 0o640,
                links: 2,
                user: 10,
                group: 20,
                size: 12_345,
                blocks: 32,
                block_size: 4096,
                device: device_number(0, 42),
                access_seconds: 1_000,
                access_nanoseconds: 1,
                modify_seconds: 2_000,
                modify_nanoseconds: 2,
                change_seconds: 3_000,
                change_nanoseconds: 999_999_999,
            },
            device: 0,
        }
    }

    #[test]
    fn stat_takes_every_field() {
        let result = stat(&sample());
        assert_eq!(result.st_ino as u64, 77);
        assert_eq!(result.st_mode as u32, libc::S_IFREG as u32 | 0o640);
        assert_eq!(result.st_nlink as u64, 2);
        assert_eq!((result.st_uid as u32, result.st_gid as u32), (10, 20));
        assert_eq!(result.st_size as i64, 12_345);
        assert_eq!(result.st_blocks as i64, 32);
        assert_eq!(result.st_blksize as i64, 4096);
        assert_eq!(result.st_dev as u64, 42);
        assert_eq!(result.st_rdev as u64, 0);
        assert_eq!(
            (result.st_atime as i64, result.st_atime_nsec as i64),
            (1_000, 1)
        );
        assert_eq!(
            (result.st_mtime as i64, result.st_mtime_nsec as i64),
            (2_000, 2)
        );
        assert_eq!(
            (result.st_ctime as i64, result.st_ctime_nsec as i64),
            (3_000, 999_999_999)
        );
    }

    #[test]
    fn statx_takes_every_basic_field() {
        let result = statx(&sample());
        assert_eq!(result.stx_mask, libc::STATX_BASIC_STATS);
        assert_eq!(result.stx_ino, 77);
        assert_eq!(result.stx_mode as u32, libc::S_IFREG as u32 | 0o640);
        assert_eq!(result.stx_size, 12_345);
        assert_eq!((result.stx_dev_major, result.stx_dev_minor), (0, 42));
        assert_eq!(result.stx_mtime.tv_sec, 2_000);
        assert_eq!(result.stx_ctime.tv_nsec, 999_999_999);
        assert_eq!(result.stx_btime.tv_sec, 0);
    }

    #[test]
    fn the_console_is_a_character_device() {
        let console = console();
        let result = stat(&console);
        assert_eq!(
            result.st_mode as u32 & libc::S_IFMT as u32,
            libc::S_IFCHR as u32
        );
        assert_eq!(result.st_rdev as u64, 0x501);
        let extended = statx(&console);
        assert_eq!((extended.stx_rdev_major, extended.stx_rdev_minor), (5, 1));
        assert!(!is_directory(&console));
    }

    #[test]
    fn replies_that_are_no_status_are_eio() {
        assert_eq!(decode(&[0; 10]), Err(Errno::EIO));
        let bytes = sample().file.to_bytes();
        assert_eq!(decode(&bytes), Ok(sample()));
    }

    #[test]
    fn device_numbers_encode_like_linux() {
        assert_eq!(device_number(5, 1), 0x501);
        assert_eq!(
            device_number(259, 0x12345),
            (0x12300 << 12) | (0x103 << 8) | 0x45
        );
        for (major, minor) in [(0, 0), (5, 1), (259, 0x12345), (0xfff_ffff, 0xffff_ffff)] {
            assert_eq!(device_parts(device_number(major, minor)), (major, minor));
        }
    }
}
