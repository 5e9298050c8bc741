//! The FAT backend on real FAT images made by `mkfs.fat` (Debian's `dosfstools`), through the
//! server's typed operations as clients reach them, and through the backend itself where the
//! block cache and durability are the point. `fsck.fat -n` checks the images afterwards.
//!
//! Without `mkfs.fat` each test says it is skipped and passes, except under CI (`CI` set),
//! where a missing `mkfs.fat` is a failure: CI must install dosfstools.

mod common;

use common::ManualClock;
use septa_interfaces::file_records::DirectoryEntry;
use septa_vfs::fat::{FatFileSystem, ROOT};
use septa_vfs::server::{CONTINUE_COOKIE, TimeChange};
use septa_vfs::storage::{BlockDevice, BlockStorage, DEFAULT_CACHE_SIZE, ImageFile};
use septa_vfs::{Configuration, Errno, FileSystem, Timestamp, Vfs};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

const ALICE: u32 = 5;

const READ_ONLY: u32 = 0;
const WRITE_ONLY: u32 = 1;
const READ_WRITE: u32 = 2;

/// 2023-11-14 22:13:20 UTC: an even second, which FAT's modification time keeps exactly.
const START: i64 = 1_700_000_000;

fn flags(value: i32) -> u32 {
    value as u32
}

/// A FAT image in a directory of its own under the system's temporary directory, removed
/// with it.
struct Image {
    directory: PathBuf,
    path: PathBuf,
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

impl Image {
    /// Another file name in the image's directory.
    fn sibling(&self, name: &str) -> PathBuf {
        self.directory.join(name)
    }
}

/// The dosfstools program `name`, wherever Debian puts it.
fn dosfstools(name: &str) -> Option<PathBuf> {
    [
        PathBuf::from(name),
        Path::new("/usr/sbin").join(name),
        Path::new("/sbin").join(name),
    ]
    .into_iter()
    .find(|candidate| {
        Command::new(candidate)
            .arg("--help")
            .output()
            .is_ok_and(|output| output.status.success())
    })
}

/// A fresh FAT`bits` image of `kibibytes` KiB made by `mkfs.fat`, or `None` (the test is
/// skipped) when dosfstools is not installed outside CI.
fn image(bits: u32, kibibytes: u32) -> Option<Image> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let Some(mkfs) = dosfstools("mkfs.fat") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "mkfs.fat is missing: CI must install dosfstools (apt-get install -y dosfstools)"
        );
        eprintln!("skipped: mkfs.fat not found (apt-get install -y dosfstools)");
        return None;
    };
    let directory = std::env::temp_dir().join(format!(
        "septa-vfs-fat-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let path = directory.join("disk.img");
    let output = Command::new(mkfs)
        .args([
            "-F",
            &bits.to_string(),
            "-n",
            "SEPTA",
            "-i",
            "5E97A000",
            "-C",
        ])
        .arg(&path)
        .arg(kibibytes.to_string())
        .output()
        .expect("mkfs.fat runs");
    assert!(
        output.status.success(),
        "mkfs.fat: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(Image { directory, path })
}

/// Asserts that `fsck.fat -n` finds nothing to repair (when fsck.fat is installed).
fn assert_clean(image: &Path) {
    let Some(fsck) = dosfstools("fsck.fat") else {
        eprintln!("fsck.fat not found: the image is not checked");
        return;
    };
    let output = Command::new(fsck)
        .arg("-n")
        .arg(image)
        .output()
        .expect("fsck.fat runs");
    assert!(
        output.status.success(),
        "fsck.fat -n found problems:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A server with a ramfs at `/` and the FAT image at `/data` (as `fat:disk`).
fn server_on(image: &Path) -> (Vfs, ManualClock) {
    let configuration =
        Configuration::from_arguments(["--mount", "/=ramfs", "--mount", "/data=fat:disk"])
            .expect("valid arguments");
    let clock = ManualClock::default();
    clock.set(START, 0);
    let path = image.to_owned();
    let server = Vfs::with_devices(&configuration, Box::new(clock.clone()), &mut |device| {
        assert_eq!(device, "disk");
        let storage = ImageFile::open(&path).map_err(|error| error.to_string())?;
        Ok(Box::new(storage) as Box<dyn BlockStorage>)
    })
    .expect("the FAT image mounts");
    (server, clock)
}

fn write_file(server: &mut Vfs, path: &str, data: &[u8]) {
    let handle = server
        .open(
            ALICE,
            path,
            WRITE_ONLY,
            flags(libc::O_CREAT | libc::O_TRUNC),
            0o644,
        )
        .unwrap();
    let mut done = 0;
    while done < data.len() {
        let end = data.len().min(done + 15 * 1024);
        let written = server.write(ALICE, handle, -1, &data[done..end]).unwrap();
        done += written as usize;
    }
    server.close(ALICE, handle).unwrap();
}

fn contents(server: &mut Vfs, path: &str) -> Vec<u8> {
    let handle = server.open(ALICE, path, READ_ONLY, 0, 0).unwrap();
    let mut all = Vec::new();
    loop {
        let chunk = server.read(ALICE, handle, -1, 15 * 1024).unwrap();
        if chunk.is_empty() {
            break;
        }
        all.extend_from_slice(&chunk);
    }
    server.close(ALICE, handle).unwrap();
    all
}

fn names(server: &mut Vfs, path: &str) -> Vec<String> {
    let handle = server
        .open(ALICE, path, READ_ONLY, flags(libc::O_DIRECTORY), 0)
        .unwrap();
    let mut listed = Vec::new();
    loop {
        let bytes = server
            .read_directory(ALICE, handle, CONTINUE_COOKIE, 4096)
            .unwrap();
        if bytes.is_empty() {
            break;
        }
        for entry in DirectoryEntry::decode_all(&bytes).unwrap() {
            listed.push(String::from_utf8(entry.name.to_vec()).unwrap());
        }
    }
    server.close(ALICE, handle).unwrap();
    listed
}

/// Bytes that differ from one position to the next, so that misplaced data shows.
fn pattern(length: usize, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn files_are_created_read_written_appended_and_truncated_on_each_fat_type() {
    for (bits, kibibytes) in [(12, 2048), (16, 16 * 1024), (32, 40 * 1024)] {
        let Some(image) = image(bits, kibibytes) else {
            return;
        };
        let (mut server, clock) = server_on(&image.path);
        // Larger than a cluster and than a message, so that both are crossed.
        let data = pattern(70_000, bits as u8);
        write_file(&mut server, "/data/file.bin", &data);
        assert_eq!(contents(&mut server, "/data/file.bin"), data, "FAT{bits}");

        // pread and pwrite at offsets; writing past the end fills the gap with zeros.
        let handle = server
            .open(ALICE, "/data/file.bin", READ_WRITE, 0, 0)
            .unwrap();
        assert_eq!(
            server.read(ALICE, handle, 5000, 10).unwrap(),
            &data[5000..5010]
        );
        assert_eq!(server.write(ALICE, handle, 10, b"middle"), Ok(6));
        assert_eq!(server.write(ALICE, handle, 80_000, b"far"), Ok(3));
        let status = server.fstat(ALICE, handle).unwrap();
        assert_eq!(status.size, 80_003);
        assert_eq!(status.mode, libc::S_IFREG | 0o644);
        assert_eq!(status.links, 1);
        assert!(status.blocks * 512 >= 80_003);
        assert_eq!(
            server.read(ALICE, handle, 69_998, 6).unwrap(),
            [&data[69_998..], &[0, 0, 0, 0][..]].concat()
        );

        // Shrinking and growing.
        clock.set(START + 100, 0);
        server.truncate(ALICE, handle, 20).unwrap();
        let status = server.fstat(ALICE, handle).unwrap();
        assert_eq!(status.size, 20);
        assert_eq!(status.modify_seconds, START + 100);
        server.truncate(ALICE, handle, 5000).unwrap();
        let read = server.read(ALICE, handle, 0, 5000).unwrap();
        assert_eq!(&read[..10], &data[..10]);
        assert_eq!(&read[10..16], b"middle");
        assert!(read[20..].iter().all(|byte| *byte == 0));
        server.truncate(ALICE, handle, 0).unwrap();
        assert_eq!(server.fstat(ALICE, handle).unwrap().size, 0);
        server.close(ALICE, handle).unwrap();

        // O_APPEND writes at the end, even pwrite.
        write_file(&mut server, "/data/log", b"one\n");
        let handle = server
            .open(ALICE, "/data/log", WRITE_ONLY, flags(libc::O_APPEND), 0)
            .unwrap();
        server.write(ALICE, handle, -1, b"two\n").unwrap();
        server.write(ALICE, handle, 0, b"three\n").unwrap();
        server.close(ALICE, handle).unwrap();
        assert_eq!(contents(&mut server, "/data/log"), b"one\ntwo\nthree\n");

        // O_TRUNC empties; O_EXCL refuses an existing name.
        let handle = server
            .open(ALICE, "/data/log", WRITE_ONLY, flags(libc::O_TRUNC), 0)
            .unwrap();
        server.close(ALICE, handle).unwrap();
        assert_eq!(contents(&mut server, "/data/log"), b"");
        assert_eq!(
            server.open(
                ALICE,
                "/data/log",
                WRITE_ONLY,
                flags(libc::O_CREAT | libc::O_EXCL),
                0o644
            ),
            Err(Errno::EEXIST)
        );
        drop(server);
        assert_clean(&image.path);
    }
}

#[test]
fn the_mount_point_and_its_root_behave_as_directories() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    let root = server.stat(ALICE, "/data", true).unwrap();
    assert_eq!(root.mode, libc::S_IFDIR | 0o755);
    assert_ne!(root.device, server.stat(ALICE, "/", true).unwrap().device);
    assert!(names(&mut server, "/").contains(&"data".to_owned()));
    // The volume label's entry is not a file.
    assert_eq!(names(&mut server, "/data"), [".", ".."]);
}

#[test]
fn directories_list_with_stable_cookies() {
    let Some(image) = image(16, 16 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    server.make_directory(ALICE, "/data/dir", 0o755).unwrap();
    server
        .make_directory(ALICE, "/data/dir/sub", 0o755)
        .unwrap();
    let status = server.stat(ALICE, "/data/dir", true).unwrap();
    assert_eq!(status.mode, libc::S_IFDIR | 0o755);
    for index in 0..60 {
        write_file(&mut server, &format!("/data/dir/file-{index:02}"), b"x");
    }
    let mut all = names(&mut server, "/data/dir");
    assert_eq!(&all[..3], [".", "..", "sub"]);
    all.sort();
    assert_eq!(all.len(), 63);

    // A listing in progress: entries removed or added meanwhile never make it repeat or skip
    // the others.
    let handle = server
        .open(ALICE, "/data/dir", READ_ONLY, flags(libc::O_DIRECTORY), 0)
        .unwrap();
    let first = server
        .read_directory(ALICE, handle, CONTINUE_COOKIE, 600)
        .unwrap();
    let mut seen: Vec<String> = DirectoryEntry::decode_all(&first)
        .unwrap()
        .iter()
        .map(|entry| String::from_utf8(entry.name.to_vec()).unwrap())
        .collect();
    assert!(seen.len() > 3 && seen.len() < 30);
    let kept_cookie = DirectoryEntry::decode_all(&first).unwrap()[2].next_cookie;
    for index in (0..60).step_by(3) {
        server
            .unlink(ALICE, &format!("/data/dir/file-{index:02}"))
            .unwrap();
    }
    write_file(&mut server, "/data/dir/late", b"y");
    loop {
        let bytes = server
            .read_directory(ALICE, handle, CONTINUE_COOKIE, 600)
            .unwrap();
        if bytes.is_empty() {
            break;
        }
        for entry in DirectoryEntry::decode_all(&bytes).unwrap() {
            seen.push(String::from_utf8(entry.name.to_vec()).unwrap());
        }
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "nothing repeated");
    for index in 0..60 {
        let name = format!("file-{index:02}");
        if index % 3 != 0 {
            assert!(seen.contains(&name), "{name} not skipped");
        }
    }
    // A kept cookie (telldir) still lists from where it was.
    let again = server
        .read_directory(ALICE, handle, kept_cookie, 4096)
        .unwrap();
    let after: Vec<String> = DirectoryEntry::decode_all(&again)
        .unwrap()
        .iter()
        .map(|entry| String::from_utf8(entry.name.to_vec()).unwrap())
        .collect();
    assert_eq!(after.first().map(String::as_str), Some("file-01"));
    server.close(ALICE, handle).unwrap();

    // Listed inode numbers are the ones stat gives.
    let handle = server
        .open(ALICE, "/data/dir", READ_ONLY, flags(libc::O_DIRECTORY), 0)
        .unwrap();
    let bytes = server.read_directory(ALICE, handle, 0, 4096).unwrap();
    for entry in DirectoryEntry::decode_all(&bytes).unwrap() {
        let name = String::from_utf8(entry.name.to_vec()).unwrap();
        if name == "sub" {
            assert_eq!(entry.kind, libc::DT_DIR);
            let status = server.stat(ALICE, "/data/dir/sub", true).unwrap();
            assert_eq!(entry.inode, status.inode);
        }
    }
    server.close(ALICE, handle).unwrap();

    // rmdir: not empty, not a directory, then done.
    assert_eq!(
        server.remove_directory(ALICE, "/data/dir"),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(
        server.remove_directory(ALICE, "/data/dir/late"),
        Err(Errno::ENOTDIR)
    );
    server.remove_directory(ALICE, "/data/dir/sub").unwrap();
    assert_eq!(
        server.stat(ALICE, "/data/dir/sub", true),
        Err(Errno::ENOENT)
    );
    drop(server);
    assert_clean(&image.path);
}

#[test]
fn errors_are_the_posix_ones() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    write_file(&mut server, "/data/file", b"data");
    server.make_directory(ALICE, "/data/dir", 0o755).unwrap();
    let open = |server: &mut Vfs, path: &str, access: u32, value: i32| {
        server.open(ALICE, path, access, flags(value), 0o644)
    };
    assert_eq!(
        open(&mut server, "/data/missing", READ_ONLY, 0),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        open(&mut server, "/data/missing/x", READ_ONLY, libc::O_CREAT),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        open(&mut server, "/data/file/x", READ_ONLY, 0),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        open(&mut server, "/data/file", READ_ONLY, libc::O_DIRECTORY),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(
        open(&mut server, "/data/dir", WRITE_ONLY, 0),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        server.make_directory(ALICE, "/data/file", 0o755),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        server.make_directory(ALICE, "/data/DIR", 0o755),
        Err(Errno::EEXIST),
        "names differ only in case: one name on FAT"
    );
    assert_eq!(server.unlink(ALICE, "/data/dir"), Err(Errno::EISDIR));
    assert_eq!(server.unlink(ALICE, "/data/missing"), Err(Errno::ENOENT));
    assert_eq!(
        server.remove_directory(ALICE, "/data/missing"),
        Err(Errno::ENOENT)
    );
    // What FAT cannot hold.
    assert_eq!(
        server.symlink(ALICE, "file", "/data/link"),
        Err(Errno::EPERM)
    );
    assert_eq!(server.read_link(ALICE, "/data/file"), Err(Errno::EINVAL));
    assert_eq!(
        open(&mut server, "/data/a:b", WRITE_ONLY, libc::O_CREAT),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        server.make_directory(ALICE, "/data/what?", 0o755),
        Err(Errno::EINVAL)
    );
    let handle = open(&mut server, "/data/file", READ_WRITE, 0).unwrap();
    assert_eq!(
        server.write(ALICE, handle, (4 << 30) - 1, b"x"),
        Err(Errno::EFBIG)
    );
    assert_eq!(server.truncate(ALICE, handle, 4 << 30), Err(Errno::EFBIG));
    server.close(ALICE, handle).unwrap();
    drop(server);
    assert_clean(&image.path);
}

#[test]
fn names_keep_their_case_and_match_without_it() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    write_file(&mut server, "/data/Mixed Case Name.txt", b"hello");
    write_file(&mut server, "/data/été.txt", b"summer");
    let status = server
        .stat(ALICE, "/data/Mixed Case Name.txt", true)
        .unwrap();
    let other_case = server
        .stat(ALICE, "/data/MIXED CASE name.TXT", true)
        .unwrap();
    assert_eq!(status.inode, other_case.inode);
    assert_eq!(contents(&mut server, "/data/ÉTÉ.TXT"), b"summer");
    let mut listed = names(&mut server, "/data");
    listed.sort();
    assert_eq!(listed, [".", "..", "Mixed Case Name.txt", "été.txt"]);
    drop(server);
    // The names are on disk as given: mounted again, they list the same.
    let (mut server, _) = server_on(&image.path);
    let mut listed = names(&mut server, "/data");
    listed.sort();
    assert_eq!(listed, [".", "..", "Mixed Case Name.txt", "été.txt"]);
    drop(server);
    assert_clean(&image.path);
}

#[test]
fn rename_moves_and_replaces_as_posix_says() {
    // FAT16's root directory is a fixed table; FAT32's is a cluster chain.
    for (bits, kibibytes) in [(16, 16 * 1024), (32, 40 * 1024)] {
        rename_on(bits, kibibytes);
    }
}

fn rename_on(bits: u32, kibibytes: u32) {
    let Some(image) = image(bits, kibibytes) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    write_file(&mut server, "/data/a", b"first");
    write_file(&mut server, "/data/b", b"second");
    server.make_directory(ALICE, "/data/one", 0o755).unwrap();
    server.make_directory(ALICE, "/data/two", 0o755).unwrap();
    write_file(&mut server, "/data/two/inside", b"in two");

    let inode = server.stat(ALICE, "/data/a", true).unwrap().inode;
    server.rename(ALICE, "/data/a", "/data/one/moved").unwrap();
    assert_eq!(server.stat(ALICE, "/data/a", true), Err(Errno::ENOENT));
    let moved = server.stat(ALICE, "/data/one/moved", true).unwrap();
    assert_eq!(moved.inode, inode, "a rename keeps the inode number");
    assert_eq!(contents(&mut server, "/data/one/moved"), b"first");

    // Replacing a file; an open description follows its file.
    let handle = server.open(ALICE, "/data/b", READ_ONLY, 0, 0).unwrap();
    server.rename(ALICE, "/data/b", "/data/one/moved").unwrap();
    assert_eq!(contents(&mut server, "/data/one/moved"), b"second");
    assert_eq!(server.read(ALICE, handle, 0, 100).unwrap(), b"second");
    server.close(ALICE, handle).unwrap();

    // Kinds must agree; a directory cannot go below itself.
    assert_eq!(
        server.rename(ALICE, "/data/one/moved", "/data/two"),
        Err(Errno::EISDIR)
    );
    write_file(&mut server, "/data/plain", b"plain");
    assert_eq!(
        server.rename(ALICE, "/data/one", "/data/plain"),
        Err(Errno::ENOTDIR)
    );
    server.unlink(ALICE, "/data/plain").unwrap();
    assert_eq!(
        server.rename(ALICE, "/data/one", "/data/two"),
        Err(Errno::ENOTEMPTY)
    );
    assert_eq!(
        server.rename(ALICE, "/data/one", "/data/one/deeper"),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        server.rename(ALICE, "/data/missing", "/data/x"),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        server.rename(ALICE, "/data/one/moved", "/tmp-elsewhere"),
        Err(Errno::EXDEV)
    );

    // Directories move with what they hold, and replace an empty directory.
    server.make_directory(ALICE, "/data/empty", 0o755).unwrap();
    server.rename(ALICE, "/data/two", "/data/empty").unwrap();
    assert_eq!(contents(&mut server, "/data/empty/inside"), b"in two");
    server.rename(ALICE, "/data/empty", "/data/Nested").unwrap();
    assert_eq!(contents(&mut server, "/data/nested/inside"), b"in two");
    write_file(&mut server, "/data/nested/new", b"new");
    let mut listed = names(&mut server, "/data/nested");
    listed.sort();
    assert_eq!(listed, [".", "..", "inside", "new"]);
    // Into another directory: EXDEV (its `..` cannot follow), as across file systems.
    assert_eq!(
        server.rename(ALICE, "/data/nested", "/data/one/nested"),
        Err(Errno::EXDEV)
    );
    let mut listed = names(&mut server, "/data");
    listed.sort();
    assert_eq!(listed, [".", "..", "Nested", "one"]);
    drop(server);
    let (mut server, _) = server_on(&image.path);
    assert_eq!(contents(&mut server, "/data/nested/new"), b"new");
    drop(server);
    assert_clean(&image.path);
}

#[test]
fn an_unlinked_open_file_lives_until_its_last_close() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    let data = pattern(20_000, 7);
    write_file(&mut server, "/data/temporary", &data);
    let handle = server
        .open(ALICE, "/data/temporary", READ_WRITE, 0, 0)
        .unwrap();
    server.unlink(ALICE, "/data/temporary").unwrap();
    assert_eq!(
        server.stat(ALICE, "/data/temporary", true),
        Err(Errno::ENOENT)
    );
    assert_eq!(server.fstat(ALICE, handle).unwrap().links, 0);
    assert_eq!(
        server.read(ALICE, handle, 0, 15_000).unwrap(),
        &data[..15_000]
    );
    assert_eq!(server.write(ALICE, handle, 20_000, b"more"), Ok(4));
    assert_eq!(
        names(&mut server, "/data"),
        [".", ".."],
        "the hidden directory"
    );
    assert_eq!(
        server.make_directory(ALICE, "/data/.septa-unlinked", 0o755),
        Err(Errno::EPERM)
    );
    // The name is free again at once.
    write_file(&mut server, "/data/temporary", b"another file");
    assert_eq!(
        server.read(ALICE, handle, 19_998, 10).unwrap(),
        [&data[19_998..], b"more"].concat()
    );
    server.sync(ALICE, handle).unwrap();

    // A crash now (the image as the device holds it after fsync): the next mount deletes
    // the unlinked file.
    let crashed = image.sibling("crashed.img");
    std::fs::copy(&image.path, &crashed).unwrap();
    server.close(ALICE, handle).unwrap();
    drop(server);
    assert_clean(&image.path);

    let volume = FatFileSystem::open_image(&crashed, Timestamp::new(START, 0)).unwrap();
    let free_after_mount = volume.free_clusters().unwrap();
    // fatfs leaves the dirty flag of a volume that was not unmounted for fsck.fat to clear,
    // so the crashed image is not checked here: its free space shows the file went.
    volume.unmount().unwrap();
    let clean = FatFileSystem::open_image(&image.path, Timestamp::new(START, 0)).unwrap();
    assert_eq!(free_after_mount, clean.free_clusters().unwrap());
}

#[test]
fn a_removed_open_directory_lists_nothing() {
    let Some(image) = image(16, 16 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    server.make_directory(ALICE, "/data/gone", 0o755).unwrap();
    let handle = server
        .open(ALICE, "/data/gone", READ_ONLY, flags(libc::O_DIRECTORY), 0)
        .unwrap();
    server.remove_directory(ALICE, "/data/gone").unwrap();
    assert_eq!(
        server.read_directory(ALICE, handle, 0, 4096),
        Ok(Vec::new())
    );
    assert_eq!(server.fstat(ALICE, handle).unwrap().links, 0);
    server.close(ALICE, handle).unwrap();
    drop(server);
    assert_clean(&image.path);
}

#[test]
fn times_follow_the_server_clock_at_fat_resolution() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let (mut server, clock) = server_on(&image.path);
    clock.set(START + 11, 500_000_000);
    write_file(&mut server, "/data/file", b"x");
    let status = server.stat(ALICE, "/data/file", true).unwrap();
    // FAT keeps even seconds of the modification time.
    assert_eq!(status.modify_seconds, START + 10);
    assert_eq!(status.change_seconds, status.modify_seconds);
    // The access time is a date.
    assert_eq!(status.access_seconds, START - START % 86_400);

    let when = Timestamp::new(1_234_567_890, 0);
    server
        .set_times(
            ALICE,
            "/data/file",
            true,
            TimeChange::Set(when),
            TimeChange::Set(when),
        )
        .unwrap();
    let status = server.stat(ALICE, "/data/file", true).unwrap();
    assert_eq!(status.modify_seconds, 1_234_567_890);
    assert_eq!(
        status.access_seconds,
        1_234_567_890 - 1_234_567_890 % 86_400
    );
    // Before 1980, FAT's first day is kept instead.
    server
        .set_times(
            ALICE,
            "/data/file",
            true,
            TimeChange::Omit,
            TimeChange::Set(Timestamp::new(0, 0)),
        )
        .unwrap();
    assert_eq!(
        server
            .stat(ALICE, "/data/file", true)
            .unwrap()
            .modify_seconds,
        315_532_800
    );
    // A directory's times cannot be set: accepted, unchanged.
    server.make_directory(ALICE, "/data/dir", 0o755).unwrap();
    let before = server.stat(ALICE, "/data/dir", true).unwrap();
    server
        .set_times(
            ALICE,
            "/data/dir",
            true,
            TimeChange::Set(when),
            TimeChange::Set(when),
        )
        .unwrap();
    assert_eq!(server.stat(ALICE, "/data/dir", true).unwrap(), before);
}

#[test]
fn fsynced_data_survives_a_crash_and_a_remount() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    let data = pattern(300_000, 3);
    server.make_directory(ALICE, "/data/saved", 0o755).unwrap();
    let handle = server
        .open(
            ALICE,
            "/data/saved/file",
            WRITE_ONLY,
            flags(libc::O_CREAT),
            0o644,
        )
        .unwrap();
    for chunk in data.chunks(15 * 1024) {
        server.write(ALICE, handle, -1, chunk).unwrap();
    }
    server.sync(ALICE, handle).unwrap();
    // The device as it is right after fsync, before any unmount: what a crash leaves.
    let crashed = image.sibling("crashed.img");
    std::fs::copy(&image.path, &crashed).unwrap();
    server.close(ALICE, handle).unwrap();
    drop(server);

    for path in [&crashed, &image.path] {
        let (mut server, _) = server_on(path);
        assert_eq!(contents(&mut server, "/data/saved/file"), data);
    }
    assert_clean(&image.path);
}

#[test]
fn a_full_disk_is_enospc_and_stays_consistent() {
    let Some(image) = image(12, 1024) else {
        return;
    };
    let (mut server, _) = server_on(&image.path);
    let handle = server
        .open(ALICE, "/data/big", WRITE_ONLY, flags(libc::O_CREAT), 0o644)
        .unwrap();
    let chunk = pattern(15 * 1024, 9);
    let mut total = 0u64;
    let mut short_writes = 0;
    loop {
        match server.write(ALICE, handle, -1, &chunk) {
            Ok(written) => {
                total += written;
                if written < chunk.len() as u64 {
                    short_writes += 1;
                }
            }
            Err(error) => {
                assert_eq!(error, Errno::ENOSPC);
                break;
            }
        }
        assert!(total < 2 << 20, "the disk never filled");
    }
    assert!(total > 900_000, "only {total} bytes fit on 1 MiB");
    assert!(short_writes <= 1);
    assert_eq!(server.fstat(ALICE, handle).unwrap().size as u64, total);
    // Nothing more fits, and a failed extension changes nothing.
    assert_eq!(server.write(ALICE, handle, -1, b"x"), Err(Errno::ENOSPC));
    assert_eq!(
        server.write(ALICE, handle, (total + 100_000) as i64, b"x"),
        Err(Errno::ENOSPC)
    );
    assert_eq!(
        server.truncate(ALICE, handle, (total + 100_000) as i64),
        Err(Errno::ENOSPC)
    );
    assert_eq!(server.fstat(ALICE, handle).unwrap().size as u64, total);
    assert_eq!(
        server.make_directory(ALICE, "/data/dir", 0o755),
        Err(Errno::ENOSPC)
    );
    server.sync(ALICE, handle).unwrap();
    server.close(ALICE, handle).unwrap();
    let expected: Vec<u8> = chunk.iter().copied().cycle().take(total as usize).collect();
    assert_eq!(contents(&mut server, "/data/big"), expected);
    drop(server);
    assert_clean(&image.path);

    // An open file cannot be unlinked on a full disk (there is no room to keep it for its
    // handles); closed, it can, and freeing it gives the room back.
    let (mut server, _) = server_on(&image.path);
    let handle = server.open(ALICE, "/data/big", READ_ONLY, 0, 0).unwrap();
    assert_eq!(server.unlink(ALICE, "/data/big"), Err(Errno::EBUSY));
    server.close(ALICE, handle).unwrap();
    server.unlink(ALICE, "/data/big").unwrap();
    write_file(&mut server, "/data/small", b"fits again");
    server.make_directory(ALICE, "/data/dir", 0o755).unwrap();
    drop(server);
    assert_clean(&image.path);
    let (mut server, _) = server_on(&image.path);
    assert_eq!(contents(&mut server, "/data/small"), b"fits again");
}

#[test]
fn many_small_writes_stay_in_the_cache_until_fsync() {
    let Some(image) = image(32, 40 * 1024) else {
        return;
    };
    let now = Timestamp::new(START, 0);
    let mut volume = FatFileSystem::open_image(&image.path, now).unwrap();
    assert_eq!(volume.fat_type(), "FAT32");
    let inode = volume.create(ROOT, "small-writes", 0o644, now).unwrap();
    volume.open(inode).unwrap();
    let before = volume.cache_statistics();
    let record = *b"0123456789abcdef";
    for index in 0..4096u64 {
        let written = volume.write_at(inode, index * 16, &record, now).unwrap();
        assert_eq!(written, 16);
    }
    let after_writes = volume.cache_statistics();
    assert_eq!(
        after_writes.device_writes, before.device_writes,
        "64 KiB of small writes fit the 256 KiB cache"
    );
    assert!(volume.dirty_blocks() > 128);
    volume.sync(inode).unwrap();
    let after_sync = volume.cache_statistics();
    assert_eq!(volume.dirty_blocks(), 0);
    assert_eq!(after_sync.device_flushes, before.device_flushes + 1);
    let writes = after_sync.device_writes - before.device_writes;
    assert!(
        writes < 40,
        "{writes} device writes for 4,096 small writes (consecutive blocks are coalesced)"
    );
    volume.release(inode);
    drop(volume);

    let volume = FatFileSystem::open_image(&image.path, now).unwrap();
    let inode = volume.lookup(ROOT, "small-writes").unwrap();
    let metadata = volume.metadata(inode).unwrap();
    assert_eq!(metadata.size, 4096 * 16);
    let mut volume = volume;
    let mut buffer = vec![0u8; 64];
    assert_eq!(volume.read_at(inode, 16 * 1000, &mut buffer).unwrap(), 64);
    assert_eq!(&buffer[..16], &record);
    drop(volume);
    assert_clean(&image.path);
}

#[test]
fn a_read_only_device_mounts_read_only() {
    let Some(image) = image(16, 16 * 1024) else {
        return;
    };
    {
        let (mut server, _) = server_on(&image.path);
        write_file(&mut server, "/data/kept", b"kept");
    }
    let storage = ImageFile::open_read_only(&image.path).unwrap();
    let now = Timestamp::new(START, 0);
    let mut volume = FatFileSystem::mount(Box::new(storage), DEFAULT_CACHE_SIZE, now).unwrap();
    let inode = volume.lookup(ROOT, "kept").unwrap();
    let mut buffer = [0u8; 8];
    assert_eq!(volume.read_at(inode, 0, &mut buffer), Ok(4));
    assert_eq!(volume.write_at(inode, 0, b"x", now), Err(Errno::EROFS));
    assert_eq!(volume.create(ROOT, "new", 0o644, now), Err(Errno::EROFS));
    assert_eq!(volume.unlink(ROOT, "kept", now), Err(Errno::EROFS));
    volume.unmount().unwrap();
    assert_clean(&image.path);
}

/// The Block interface's client as the device: an in-process transport to a `BlockServer`
/// over the image's bytes, as the block driver entity would serve them.
mod block_interface {
    use super::*;
    use septa_abi::Error;
    use septa_interfaces::Transport;
    use septa_interfaces::block::{self, BlockServer, InformationReply};
    use std::cell::RefCell;
    use std::rc::Rc;

    /// A disk in memory, served as the Block interface says (errors `APPLICATION + errno`).
    pub struct MemoryDisk {
        pub bytes: Vec<u8>,
        pub flushes: u32,
        pub largest_read: u32,
    }

    impl BlockServer for MemoryDisk {
        fn information(&mut self, _sender: u32) -> Result<InformationReply, u32> {
            Ok(InformationReply {
                block_size: 512,
                block_count: self.bytes.len() as u64 / 512,
                read_only: 0,
            })
        }

        fn read(&mut self, _sender: u32, first: u64, count: u32) -> Result<Vec<u8>, u32> {
            self.largest_read = self.largest_read.max(count);
            let start = first as usize * 512;
            let end = start + count as usize * 512;
            if count > 24 || end > self.bytes.len() {
                return Err(Errno::EINVAL.status());
            }
            Ok(self.bytes[start..end].to_vec())
        }

        fn write(&mut self, _sender: u32, first: u64, data: &[u8]) -> Result<(), u32> {
            let start = first as usize * 512;
            if !data.len().is_multiple_of(512) || start + data.len() > self.bytes.len() {
                return Err(Errno::EINVAL.status());
            }
            self.bytes[start..start + data.len()].copy_from_slice(data);
            Ok(())
        }

        fn flush(&mut self, _sender: u32) -> Result<(), u32> {
            self.flushes += 1;
            Ok(())
        }
    }

    pub struct Loopback {
        pub disk: Rc<RefCell<MemoryDisk>>,
    }

    impl Transport for Loopback {
        fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize, Error> {
            Ok(block::dispatch(
                &mut *self.disk.borrow_mut(),
                request,
                reply,
            ))
        }
    }

    #[test]
    fn the_fat_backend_works_over_the_block_interface() {
        let Some(image) = image(16, 16 * 1024) else {
            return;
        };
        let disk = Rc::new(RefCell::new(MemoryDisk {
            bytes: std::fs::read(&image.path).unwrap(),
            flushes: 0,
            largest_read: 0,
        }));
        let device = BlockDevice::connect(Loopback { disk: disk.clone() }).unwrap();
        assert_eq!(device.block_count(), 16 * 1024 * 2);
        let now = Timestamp::new(START, 0);
        let mut volume = FatFileSystem::mount(Box::new(device), DEFAULT_CACHE_SIZE, now).unwrap();
        let directory = volume.make_directory(ROOT, "over-ipc", 0o755, now).unwrap();
        let inode = volume.create(directory, "file", 0o644, now).unwrap();
        let data = pattern(100_000, 5);
        let mut done = 0;
        while done < data.len() {
            done += volume
                .write_at(inode, done as u64, &data[done..], now)
                .unwrap();
        }
        volume.sync(inode).unwrap();
        assert_eq!(disk.borrow().flushes, 1);
        volume.unmount().unwrap();
        assert!(disk.borrow().largest_read <= 24);

        // The bytes the driver holds are a clean FAT volume with the file.
        let copy = image.sibling("from-ipc.img");
        std::fs::write(&copy, &disk.borrow().bytes).unwrap();
        assert_clean(&copy);
        let (mut server, _) = server_on(&copy);
        assert_eq!(contents(&mut server, "/data/over-ipc/file"), data);
    }

    #[test]
    fn a_failing_driver_is_eio() {
        struct Broken;
        impl Transport for Broken {
            fn call(&mut self, _request: &[u8], _reply: &mut [u8]) -> Result<usize, Error> {
                Err(Error::PeerGone)
            }
        }
        assert_eq!(BlockDevice::connect(Broken).err(), Some(Errno::EIO));
    }
}

#[test]
fn a_fat_mount_needs_a_device() {
    let configuration = Configuration::from_arguments(["--mount", "/data=fat:virtio-blk"])
        .expect("valid arguments");
    let error = Vfs::new(&configuration, Box::new(ManualClock::default()))
        .err()
        .expect("no device on the host");
    assert!(error.contains("virtio-blk"), "{error}");
    let Some(image) = image(16, 16 * 1024) else {
        return;
    };
    std::fs::write(&image.path, vec![0u8; 1 << 20]).unwrap();
    let path = image.path.clone();
    let error = Vfs::with_devices(
        &configuration,
        Box::new(ManualClock::default()),
        &mut |_| Ok(Box::new(ImageFile::open(&path).unwrap()) as Box<dyn BlockStorage>),
    )
    .err()
    .expect("zeros are not a FAT volume");
    assert!(error.contains("no FAT volume"), "{error}");
}
