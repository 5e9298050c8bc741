//! POSIX file semantics through the server's typed operations: every open flag, offsets,
//! directories, rename, links, times, limits, ownership, and the policy checked again through
//! symbolic links, with the error each POSIX call names.

mod common;

use common::{server, server_with};
use septa_abi::{MESSAGE_ARENA_MAX, MESSAGE_HEADER_SIZE, MessageHeader};
use septa_interfaces::file_records::DirectoryEntry;
use septa_vfs::server::{CONTINUE_COOKIE, TimeChange};
use septa_vfs::{Errno, Timestamp, Vfs};
use std::rc::Rc;

const ALICE: u32 = 5;
const BOB: u32 = 6;

const READ_ONLY: u32 = 0;
const WRITE_ONLY: u32 = 1;
const READ_WRITE: u32 = 2;

fn flags(value: i32) -> u32 {
    value as u32
}

fn create(server: &mut Vfs, path: &str, data: &[u8]) {
    let handle = server
        .open(
            ALICE,
            path,
            WRITE_ONLY,
            flags(libc::O_CREAT | libc::O_TRUNC),
            0o644,
        )
        .unwrap();
    assert_eq!(server.write(ALICE, handle, -1, data), Ok(data.len() as u64));
    server.close(ALICE, handle).unwrap();
}

fn contents(server: &mut Vfs, path: &str) -> Vec<u8> {
    let handle = server.open(ALICE, path, READ_ONLY, 0, 0).unwrap();
    let mut all = Vec::new();
    loop {
        let chunk = server.read(ALICE, handle, -1, 4096).unwrap();
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

#[test]
fn open_creates_only_when_asked() {
    let (mut server, _) = server();
    assert_eq!(
        server.open(ALICE, "/new", READ_ONLY, 0, 0),
        Err(Errno::ENOENT)
    );
    let handle = server
        .open(ALICE, "/new", READ_WRITE, flags(libc::O_CREAT), 0o640)
        .unwrap();
    let status = server.fstat(ALICE, handle).unwrap();
    assert_eq!(status.mode, libc::S_IFREG | 0o640);
    assert_eq!(status.size, 0);
    assert_eq!(status.links, 1);
    server.close(ALICE, handle).unwrap();
    // O_CREAT on an existing file opens it; with O_EXCL it is EEXIST.
    let again = server
        .open(ALICE, "/new", READ_ONLY, flags(libc::O_CREAT), 0o600)
        .unwrap();
    assert_eq!(
        server.fstat(ALICE, again).unwrap().mode,
        libc::S_IFREG | 0o640
    );
    assert_eq!(
        server.open(
            ALICE,
            "/new",
            READ_ONLY,
            flags(libc::O_CREAT | libc::O_EXCL),
            0
        ),
        Err(Errno::EEXIST)
    );
    // Missing directories, and files where directories should be.
    assert_eq!(
        server.open(
            ALICE,
            "/missing/new",
            READ_WRITE,
            flags(libc::O_CREAT),
            0o644
        ),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        server.open(ALICE, "/new/inner", READ_WRITE, flags(libc::O_CREAT), 0o644),
        Err(Errno::ENOTDIR)
    );
    // A directory cannot be created or written through open.
    server.make_directory(ALICE, "/directory", 0o755).unwrap();
    assert_eq!(
        server.open(ALICE, "/directory", READ_ONLY, flags(libc::O_CREAT), 0o644),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        server.open(ALICE, "/fresh/", READ_WRITE, flags(libc::O_CREAT), 0o644),
        Err(Errno::EISDIR)
    );
    assert_eq!(
        server.open(
            ALICE,
            "/x",
            READ_ONLY,
            flags(libc::O_CREAT | libc::O_DIRECTORY),
            0
        ),
        Err(Errno::EINVAL)
    );
    assert_eq!(server.open(ALICE, "/new", 3, 0, 0), Err(Errno::EINVAL));
    assert_eq!(
        server.open(
            ALICE,
            "/directory",
            READ_WRITE,
            flags(libc::O_TMPFILE),
            0o600
        ),
        Err(Errno::EOPNOTSUPP)
    );
    // Flags the client keeps (O_CLOEXEC) or Linux ignores change nothing.
    assert!(
        server
            .open(
                ALICE,
                "/new",
                READ_ONLY,
                flags(libc::O_CLOEXEC | libc::O_NOCTTY),
                0
            )
            .is_ok()
    );
}

#[test]
fn open_through_symbolic_links() {
    let (mut server, _) = server();
    create(&mut server, "/target", b"through the link");
    server.symlink(ALICE, "target", "/link").unwrap();
    server
        .symlink(ALICE, "created-by-open", "/dangling")
        .unwrap();
    let handle = server.open(ALICE, "/link", READ_ONLY, 0, 0).unwrap();
    assert_eq!(
        server.read(ALICE, handle, -1, 100).unwrap(),
        b"through the link"
    );
    assert_eq!(
        server.open(ALICE, "/link", READ_ONLY, flags(libc::O_NOFOLLOW), 0),
        Err(Errno::ELOOP)
    );
    assert!(
        server
            .open(ALICE, "/target", READ_ONLY, flags(libc::O_NOFOLLOW), 0)
            .is_ok()
    );
    // O_CREAT follows a dangling link and creates its target; with O_EXCL the link exists.
    assert_eq!(
        server.open(
            ALICE,
            "/dangling",
            READ_WRITE,
            flags(libc::O_CREAT | libc::O_EXCL),
            0o644
        ),
        Err(Errno::EEXIST)
    );
    server
        .open(ALICE, "/dangling", READ_WRITE, flags(libc::O_CREAT), 0o644)
        .unwrap();
    assert!(server.stat(ALICE, "/created-by-open", false).is_ok());
    // O_DIRECTORY follows a link to a directory.
    server.make_directory(ALICE, "/directory", 0o755).unwrap();
    server
        .symlink(ALICE, "/directory", "/to-directory")
        .unwrap();
    assert!(
        server
            .open(
                ALICE,
                "/to-directory",
                READ_ONLY,
                flags(libc::O_DIRECTORY),
                0
            )
            .is_ok()
    );
    assert_eq!(
        server.open(ALICE, "/link", READ_ONLY, flags(libc::O_DIRECTORY), 0),
        Err(Errno::ENOTDIR)
    );
}

#[test]
fn open_truncates_and_directories_refuse_writing() {
    let (mut server, clock) = server();
    create(&mut server, "/file", b"0123456789");
    clock.set(2000, 0);
    let handle = server
        .open(ALICE, "/file", READ_WRITE, flags(libc::O_TRUNC), 0)
        .unwrap();
    let status = server.fstat(ALICE, handle).unwrap();
    assert_eq!(status.size, 0);
    assert_eq!(status.modify_seconds, 2000);
    server.make_directory(ALICE, "/directory", 0o755).unwrap();
    for access in [WRITE_ONLY, READ_WRITE] {
        assert_eq!(
            server.open(ALICE, "/directory", access, 0, 0),
            Err(Errno::EISDIR)
        );
    }
    assert_eq!(
        server.open(ALICE, "/directory", READ_ONLY, flags(libc::O_TRUNC), 0),
        Err(Errno::EISDIR)
    );
    let directory = server.open(ALICE, "/directory", READ_ONLY, 0, 0).unwrap();
    assert_eq!(server.read(ALICE, directory, -1, 10), Err(Errno::EISDIR));
    assert_eq!(server.write(ALICE, directory, -1, b"x"), Err(Errno::EBADF));
}

#[test]
fn reads_and_writes_move_the_offset_unless_positioned() {
    let (mut server, _) = server();
    let handle = server
        .open(ALICE, "/file", READ_WRITE, flags(libc::O_CREAT), 0o644)
        .unwrap();
    assert_eq!(server.write(ALICE, handle, -1, b"hello "), Ok(6));
    assert_eq!(server.write(ALICE, handle, -1, b"world"), Ok(5));
    assert_eq!(server.read(ALICE, handle, -1, 100).unwrap(), b"");
    // pread and pwrite leave the offset where it is.
    assert_eq!(server.read(ALICE, handle, 0, 5).unwrap(), b"hello");
    assert_eq!(server.write(ALICE, handle, 0, b"J"), Ok(1));
    assert_eq!(server.seek(ALICE, handle, 0, libc::SEEK_CUR as u32), Ok(11));
    assert_eq!(server.seek(ALICE, handle, 0, libc::SEEK_SET as u32), Ok(0));
    assert_eq!(server.read(ALICE, handle, -1, 5).unwrap(), b"Jello");
    assert_eq!(server.read(ALICE, handle, -1, 100).unwrap(), b" world");
    assert_eq!(server.read(ALICE, handle, 100, 10).unwrap(), b"");
    assert_eq!(server.read(ALICE, handle, -2, 10), Err(Errno::EINVAL));
    assert_eq!(server.write(ALICE, handle, -5, b"x"), Err(Errno::EINVAL));
    assert_eq!(server.write(ALICE, handle, -1, b""), Ok(0));
    // Writing past the end leaves a hole of zeros.
    assert_eq!(server.write(ALICE, handle, 20, b"!"), Ok(1));
    assert_eq!(
        server.read(ALICE, handle, 9, 100).unwrap(),
        b"ld\0\0\0\0\0\0\0\0\0!"
    );
    // A read returns at most a message's arena.
    server.truncate(ALICE, handle, 1 << 20).unwrap();
    assert_eq!(
        server.read(ALICE, handle, 0, u32::MAX).unwrap().len(),
        MESSAGE_ARENA_MAX
    );
    server.close(ALICE, handle).unwrap();
    // Access modes are enforced.
    let reader = server.open(ALICE, "/file", READ_ONLY, 0, 0).unwrap();
    assert_eq!(server.write(ALICE, reader, -1, b"x"), Err(Errno::EBADF));
    assert_eq!(server.write(ALICE, reader, 0, b"x"), Err(Errno::EBADF));
    let writer = server.open(ALICE, "/file", WRITE_ONLY, 0, 0).unwrap();
    assert_eq!(server.read(ALICE, writer, -1, 1), Err(Errno::EBADF));
    assert_eq!(server.read(ALICE, writer, 0, 1), Err(Errno::EBADF));
}

#[test]
fn append_writes_go_to_the_end() {
    let (mut server, _) = server();
    create(&mut server, "/log", b"one\n");
    let handle = server
        .open(ALICE, "/log", READ_WRITE, flags(libc::O_APPEND), 0)
        .unwrap();
    assert_eq!(server.seek(ALICE, handle, 0, libc::SEEK_SET as u32), Ok(0));
    server.write(ALICE, handle, -1, b"two\n").unwrap();
    assert_eq!(server.seek(ALICE, handle, 0, libc::SEEK_CUR as u32), Ok(8));
    // pwrite appends too on Linux, and leaves the offset.
    server.write(ALICE, handle, 0, b"three\n").unwrap();
    assert_eq!(server.seek(ALICE, handle, 0, libc::SEEK_CUR as u32), Ok(8));
    // Another writer in between: appends still land at the end.
    let other = server.open(ALICE, "/log", WRITE_ONLY, 0, 0).unwrap();
    server.write(ALICE, other, 100, b"far").unwrap();
    server.write(ALICE, handle, -1, b"four").unwrap();
    let all = contents(&mut server, "/log");
    assert_eq!(&all[..14], b"one\ntwo\nthree\n");
    assert!(all.ends_with(b"farfour"));
    // F_SETFL turns O_APPEND off and on.
    server.set_flags(ALICE, handle, 0).unwrap();
    server.write(ALICE, handle, 0, b"ONE").unwrap();
    assert_eq!(&contents(&mut server, "/log")[..4], b"ONE\n");
    server
        .set_flags(
            ALICE,
            handle,
            flags(libc::O_APPEND | libc::O_NONBLOCK | libc::O_TRUNC),
        )
        .unwrap();
    let before = server.fstat(ALICE, handle).unwrap().size;
    server.write(ALICE, handle, 0, b"!").unwrap();
    assert_eq!(server.fstat(ALICE, handle).unwrap().size, before + 1);
}

#[test]
fn seek_follows_lseek() {
    let (mut server, _) = server();
    create(&mut server, "/file", b"0123456789");
    let handle = server.open(ALICE, "/file", READ_ONLY, 0, 0).unwrap();
    let set = libc::SEEK_SET as u32;
    let current = libc::SEEK_CUR as u32;
    let end = libc::SEEK_END as u32;
    assert_eq!(server.seek(ALICE, handle, 4, set), Ok(4));
    assert_eq!(server.seek(ALICE, handle, 2, current), Ok(6));
    assert_eq!(server.seek(ALICE, handle, -3, end), Ok(7));
    assert_eq!(server.read(ALICE, handle, -1, 10).unwrap(), b"789");
    assert_eq!(server.seek(ALICE, handle, 100, end), Ok(110));
    assert_eq!(server.seek(ALICE, handle, -1, set), Err(Errno::EINVAL));
    assert_eq!(
        server.seek(ALICE, handle, -200, current),
        Err(Errno::EINVAL)
    );
    assert_eq!(server.seek(ALICE, handle, 0, 5), Err(Errno::EINVAL));
    assert_eq!(server.seek(ALICE, handle, 0, u32::MAX), Err(Errno::EINVAL));
    assert_eq!(
        server.seek(ALICE, handle, i64::MAX, end),
        Err(Errno::EOVERFLOW)
    );
    // A failed seek leaves the offset.
    assert_eq!(server.seek(ALICE, handle, 0, current), Ok(110));
    let data = libc::SEEK_DATA as u32;
    let hole = libc::SEEK_HOLE as u32;
    assert_eq!(server.seek(ALICE, handle, 3, data), Ok(3));
    assert_eq!(server.seek(ALICE, handle, 3, hole), Ok(10));
    assert_eq!(server.seek(ALICE, handle, 10, data), Err(Errno::ENXIO));
    assert_eq!(server.seek(ALICE, handle, -1, hole), Err(Errno::ENXIO));
}

#[test]
fn an_unlinked_open_file_stays_readable_until_closed() {
    let (mut server, _) = server();
    create(&mut server, "/tmp/scratch", b"keep me");
    let used = server.budget().used();
    let handle = server
        .open(ALICE, "/tmp/scratch", READ_WRITE, 0, 0)
        .unwrap();
    server.unlink(ALICE, "/tmp/scratch").unwrap();
    assert_eq!(server.stat(ALICE, "/tmp/scratch", true), Err(Errno::ENOENT));
    assert_eq!(server.fstat(ALICE, handle).unwrap().links, 0);
    assert_eq!(server.read(ALICE, handle, -1, 100).unwrap(), b"keep me");
    assert_eq!(server.write(ALICE, handle, -1, b", still"), Ok(7));
    assert_eq!(
        server.read(ALICE, handle, 0, 100).unwrap(),
        b"keep me, still"
    );
    // A new file of the same name is another file.
    create(&mut server, "/tmp/scratch", b"new");
    assert_eq!(server.read(ALICE, handle, 0, 4).unwrap(), b"keep");
    server.unlink(ALICE, "/tmp/scratch").unwrap();
    // Only the name's bytes are given back while the file is open.
    assert_eq!(server.budget().used(), used - "scratch".len() as u64);
    server.close(ALICE, handle).unwrap();
    assert!(server.budget().used() < used);
    assert!(!names(&mut server, "/tmp").contains(&"scratch".to_owned()));
}

#[test]
fn directories_are_made_and_removed_as_posix_says() {
    let (mut server, _) = server();
    server.make_directory(ALICE, "/a", 0o750).unwrap();
    assert_eq!(
        server.stat(ALICE, "/a", true).unwrap().mode,
        libc::S_IFDIR | 0o750
    );
    assert_eq!(
        server.make_directory(ALICE, "/a", 0o755),
        Err(Errno::EEXIST)
    );
    assert_eq!(server.make_directory(ALICE, "/", 0o755), Err(Errno::EEXIST));
    assert_eq!(
        server.make_directory(ALICE, "/tmp", 0o755),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        server.make_directory(ALICE, "/missing/b", 0o755),
        Err(Errno::ENOENT)
    );
    server.make_directory(ALICE, "/a/b/", 0o755).unwrap();
    create(&mut server, "/a/b/file", b"");
    server.symlink(ALICE, "/a", "/link").unwrap();
    assert_eq!(
        server.make_directory(ALICE, "/link", 0o755),
        Err(Errno::EEXIST)
    );
    assert_eq!(
        server.make_directory(ALICE, "/a/b/file/c", 0o755),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(server.remove_directory(ALICE, "/a"), Err(Errno::ENOTEMPTY));
    assert_eq!(
        server.remove_directory(ALICE, "/a/b/file"),
        Err(Errno::ENOTDIR)
    );
    assert_eq!(server.remove_directory(ALICE, "/link"), Err(Errno::ENOTDIR));
    assert_eq!(
        server.remove_directory(ALICE, "/missing"),
        Err(Errno::ENOENT)
    );
    assert_eq!(server.remove_directory(ALICE, "/"), Err(Errno::EBUSY));
    assert_eq!(server.remove_directory(ALICE, "/tmp"), Err(Errno::EBUSY));
    assert_eq!(server.unlink(ALICE, "/a"), Err(Errno::EISDIR));
    assert_eq!(server.unlink(ALICE, "/"), Err(Errno::EISDIR));
    assert_eq!(server.unlink(ALICE, "/tmp"), Err(Errno::EISDIR));
    assert_eq!(server.unlink(ALICE, "/missing"), Err(Errno::ENOENT));
    // Unlinking a link removes the link, not its target.
    server.unlink(ALICE, "/link").unwrap();
    assert!(server.stat(ALICE, "/a", true).is_ok());
    server.unlink(ALICE, "/a/b/file").unwrap();
    server.remove_directory(ALICE, "/a/b").unwrap();
    server.remove_directory(ALICE, "/a").unwrap();
    assert_eq!(names(&mut server, "/"), vec![".", "..", "tmp"]);
    // The root's link count: its `.`, its name, and `tmp`'s `..`.
    assert_eq!(server.stat(ALICE, "/", true).unwrap().links, 3);
}

#[test]
fn rename_replaces_moves_and_refuses_as_posix_says() {
    let (mut server, _) = server();
    create(&mut server, "/one", b"1");
    create(&mut server, "/two", b"2");
    let open_one = server.open(ALICE, "/one", READ_ONLY, 0, 0).unwrap();
    server.rename(ALICE, "/one", "/two").unwrap();
    assert_eq!(contents(&mut server, "/two"), b"1");
    assert_eq!(server.stat(ALICE, "/one", true), Err(Errno::ENOENT));
    // An open description follows its file under the new name.
    assert_eq!(server.read(ALICE, open_one, 0, 1).unwrap(), b"1");
    // The same file: nothing happens.
    server.rename(ALICE, "/two", "/two").unwrap();
    assert_eq!(server.rename(ALICE, "/one", "/x"), Err(Errno::ENOENT));
    server.make_directory(ALICE, "/d", 0o755).unwrap();
    server.make_directory(ALICE, "/d/inner", 0o755).unwrap();
    server.make_directory(ALICE, "/empty", 0o755).unwrap();
    server.make_directory(ALICE, "/full", 0o755).unwrap();
    create(&mut server, "/full/f", b"");
    assert_eq!(server.rename(ALICE, "/two", "/empty"), Err(Errno::EISDIR));
    assert_eq!(server.rename(ALICE, "/d", "/two"), Err(Errno::ENOTDIR));
    assert_eq!(server.rename(ALICE, "/d", "/full"), Err(Errno::ENOTEMPTY));
    assert_eq!(server.rename(ALICE, "/d", "/d/inner/x"), Err(Errno::EINVAL));
    assert_eq!(server.rename(ALICE, "/d", "/d/x"), Err(Errno::EINVAL));
    assert_eq!(
        server.rename(ALICE, "/two", "/missing/x"),
        Err(Errno::ENOENT)
    );
    assert_eq!(server.rename(ALICE, "/two", "/two/x"), Err(Errno::ENOTDIR));
    assert_eq!(server.rename(ALICE, "/two", "/new/"), Err(Errno::ENOTDIR));
    server.rename(ALICE, "/d", "/empty").unwrap();
    assert!(server.stat(ALICE, "/empty/inner", true).is_ok());
    // Across mounts, and on mounts.
    assert_eq!(server.rename(ALICE, "/two", "/tmp/two"), Err(Errno::EXDEV));
    create(&mut server, "/tmp/here", b"");
    assert_eq!(
        server.rename(ALICE, "/tmp/here", "/here"),
        Err(Errno::EXDEV)
    );
    assert_eq!(
        server.rename(ALICE, "/tmp", "/elsewhere"),
        Err(Errno::EBUSY)
    );
    assert_eq!(server.rename(ALICE, "/empty", "/tmp"), Err(Errno::EBUSY));
    assert_eq!(server.rename(ALICE, "/", "/x"), Err(Errno::EBUSY));
    assert_eq!(server.rename(ALICE, "/two", "/"), Err(Errno::EBUSY));
    // A link is renamed itself, not its target.
    server.symlink(ALICE, "two", "/link").unwrap();
    server.rename(ALICE, "/link", "/renamed-link").unwrap();
    assert_eq!(
        server.read_link(ALICE, "/renamed-link").as_deref(),
        Ok("two")
    );
    assert!(server.stat(ALICE, "/two", false).is_ok());
    // Within a mount other than the root.
    server.rename(ALICE, "/tmp/here", "/tmp/there").unwrap();
    assert!(server.stat(ALICE, "/tmp/there", true).is_ok());
}

#[test]
fn a_mount_point_cannot_be_moved_from_under_its_mount() {
    let (mut server, _) = server_with(&["--mount", "/=ramfs", "--mount", "/srv/data=ramfs"]);
    assert_eq!(server.rename(ALICE, "/srv", "/moved"), Err(Errno::EBUSY));
    assert_eq!(server.remove_directory(ALICE, "/srv"), Err(Errno::EBUSY));
    server.make_directory(ALICE, "/other", 0o755).unwrap();
    assert_eq!(server.rename(ALICE, "/other", "/srv"), Err(Errno::EBUSY));
    create(&mut server, "/srv/data/file", b"data");
    assert_eq!(contents(&mut server, "/srv/data/file"), b"data");
}

#[test]
fn symbolic_links_and_their_errors() {
    let (mut server, _) = server();
    create(&mut server, "/file", b"abc");
    server.symlink(ALICE, "file", "/link").unwrap();
    assert_eq!(server.read_link(ALICE, "/link").as_deref(), Ok("file"));
    assert_eq!(server.read_link(ALICE, "/file"), Err(Errno::EINVAL));
    assert_eq!(server.read_link(ALICE, "/missing"), Err(Errno::ENOENT));
    assert_eq!(server.symlink(ALICE, "x", "/file"), Err(Errno::EEXIST));
    assert_eq!(server.symlink(ALICE, "x", "/link"), Err(Errno::EEXIST));
    assert_eq!(server.symlink(ALICE, "", "/empty"), Err(Errno::ENOENT));
    assert_eq!(server.symlink(ALICE, "a\0b", "/nul"), Err(Errno::EINVAL));
    assert_eq!(
        server.symlink(ALICE, "x", "/missing/link"),
        Err(Errno::ENOENT)
    );
    // stat follows, lstat does not.
    let followed = server.stat(ALICE, "/link", true).unwrap();
    assert_eq!(followed.mode, libc::S_IFREG | 0o644);
    assert_eq!(followed.size, 3);
    let itself = server.stat(ALICE, "/link", false).unwrap();
    assert_eq!(itself.mode, libc::S_IFLNK | 0o777);
    assert_eq!(itself.size, 4);
    // Loops.
    server.symlink(ALICE, "loop-b", "/loop-a").unwrap();
    server.symlink(ALICE, "loop-a", "/loop-b").unwrap();
    assert_eq!(server.stat(ALICE, "/loop-a", true), Err(Errno::ELOOP));
    assert!(server.stat(ALICE, "/loop-a", false).is_ok());
    assert_eq!(
        server.open(ALICE, "/loop-a", READ_ONLY, 0, 0),
        Err(Errno::ELOOP)
    );
    // A target is kept as given, `..` and all.
    server.symlink(ALICE, "../../..//x/./y", "/odd").unwrap();
    assert_eq!(
        server.read_link(ALICE, "/odd").as_deref(),
        Ok("../../..//x/./y")
    );
}

#[test]
fn directory_listings_page_with_cookies_and_offsets() {
    let (mut server, _) = server();
    server.make_directory(ALICE, "/d", 0o755).unwrap();
    let count = 300;
    for index in 0..count {
        create(&mut server, &format!("/d/file-{index:03}"), b"");
    }
    server.make_directory(ALICE, "/d/sub", 0o755).unwrap();
    server.symlink(ALICE, "file-000", "/d/link").unwrap();
    let listed = names(&mut server, "/d");
    assert_eq!(listed.len(), count + 4);
    assert_eq!(&listed[..3], &[".", "..", "file-000"]);
    // Explicit cookies: a small buffer, then continuing from an entry's next cookie.
    let handle = server
        .open(ALICE, "/d", READ_ONLY, flags(libc::O_DIRECTORY), 0)
        .unwrap();
    let first = server.read_directory(ALICE, handle, 0, 64).unwrap();
    let entries = DirectoryEntry::decode_all(&first).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].name, b".");
    assert_eq!(entries[0].kind, libc::DT_DIR);
    let after_dot_dot = entries[1].next_cookie;
    let next = server
        .read_directory(ALICE, handle, after_dot_dot, 100)
        .unwrap();
    let entries = DirectoryEntry::decode_all(&next).unwrap();
    assert_eq!(entries[0].name, b"file-000");
    assert_eq!(entries[0].kind, libc::DT_REG);
    let status = server.stat(ALICE, "/d/file-000", true).unwrap();
    assert_eq!(entries[0].inode, status.inode);
    // The description's offset follows the last listing; seek rewinds it.
    let set = libc::SEEK_SET as u32;
    let position = server
        .seek(ALICE, handle, 0, libc::SEEK_CUR as u32)
        .unwrap();
    assert_eq!(position, entries.last().unwrap().next_cookie);
    assert_eq!(server.seek(ALICE, handle, 0, set), Ok(0));
    let again = server
        .read_directory(ALICE, handle, CONTINUE_COOKIE, 64)
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(
        server.seek(ALICE, handle, 0, libc::SEEK_END as u32),
        Err(Errno::EINVAL)
    );
    // Kinds of links and directories.
    let all = server.read_directory(ALICE, handle, 0, u32::MAX).unwrap();
    assert!(all.len() <= MESSAGE_ARENA_MAX);
    assert_eq!(server.seek(ALICE, handle, 0, set), Ok(0));
    let mut kinds = std::collections::HashMap::new();
    loop {
        let bytes = server
            .read_directory(ALICE, handle, CONTINUE_COOKIE, 1000)
            .unwrap();
        if bytes.is_empty() {
            break;
        }
        for entry in DirectoryEntry::decode_all(&bytes).unwrap() {
            kinds.insert(String::from_utf8(entry.name.to_vec()).unwrap(), entry.kind);
        }
    }
    assert_eq!(kinds["sub"], libc::DT_DIR);
    assert_eq!(kinds["link"], libc::DT_LNK);
    // Too small for one entry, and not a directory.
    assert_eq!(
        server.read_directory(ALICE, handle, 0, 10),
        Err(Errno::EINVAL)
    );
    let file = server.open(ALICE, "/d/file-001", READ_ONLY, 0, 0).unwrap();
    assert_eq!(
        server.read_directory(ALICE, file, 0, 1000),
        Err(Errno::ENOTDIR)
    );
}

#[test]
fn access_checks_existence_and_execute_bits() {
    let (mut server, _) = server();
    create(&mut server, "/plain", b"");
    let handle = server
        .open(ALICE, "/script", WRITE_ONLY, flags(libc::O_CREAT), 0o755)
        .unwrap();
    server.close(ALICE, handle).unwrap();
    let read = libc::R_OK as u32;
    let write = libc::W_OK as u32;
    let execute = libc::X_OK as u32;
    assert_eq!(server.access(ALICE, "/plain", libc::F_OK as u32), Ok(()));
    assert_eq!(server.access(ALICE, "/plain", read | write), Ok(()));
    assert_eq!(server.access(ALICE, "/plain", execute), Err(Errno::EACCES));
    assert_eq!(server.access(ALICE, "/script", execute), Ok(()));
    assert_eq!(server.access(ALICE, "/tmp", execute), Ok(()));
    assert_eq!(server.access(ALICE, "/missing", 0), Err(Errno::ENOENT));
    assert_eq!(server.access(ALICE, "/plain", 8), Err(Errno::EINVAL));
    server.symlink(ALICE, "missing", "/dangling").unwrap();
    assert_eq!(server.access(ALICE, "/dangling", 0), Err(Errno::ENOENT));
}

#[test]
fn times_come_from_the_clock_and_utimensat() {
    let (mut server, clock) = server();
    clock.set(5000, 7);
    create(&mut server, "/file", b"x");
    let status = server.stat(ALICE, "/file", true).unwrap();
    assert_eq!(
        (status.modify_seconds, status.modify_nanoseconds),
        (5000, 7)
    );
    assert_eq!((status.access_seconds, status.change_seconds), (5000, 5000));
    clock.set(6000, 0);
    server
        .set_times(
            ALICE,
            "/file",
            true,
            TimeChange::Set(Timestamp::new(10, 20)),
            TimeChange::Omit,
        )
        .unwrap();
    let status = server.stat(ALICE, "/file", true).unwrap();
    assert_eq!((status.access_seconds, status.access_nanoseconds), (10, 20));
    assert_eq!(status.modify_seconds, 5000);
    assert_eq!(status.change_seconds, 6000);
    clock.set(7000, 0);
    server
        .set_times(ALICE, "/file", true, TimeChange::Omit, TimeChange::Now)
        .unwrap();
    let status = server.stat(ALICE, "/file", true).unwrap();
    assert_eq!((status.access_seconds, status.modify_seconds), (10, 7000));
    // Both omitted: nothing changes, not even the change time.
    clock.set(8000, 0);
    server
        .set_times(ALICE, "/file", true, TimeChange::Omit, TimeChange::Omit)
        .unwrap();
    assert_eq!(
        server.stat(ALICE, "/file", true).unwrap().change_seconds,
        7000
    );
    // The link itself, not following it.
    server.symlink(ALICE, "file", "/link").unwrap();
    server
        .set_times(
            ALICE,
            "/link",
            false,
            TimeChange::Set(Timestamp::new(1, 0)),
            TimeChange::Set(Timestamp::new(2, 0)),
        )
        .unwrap();
    assert_eq!(
        server.stat(ALICE, "/link", false).unwrap().modify_seconds,
        2
    );
    assert_eq!(
        server.stat(ALICE, "/link", true).unwrap().modify_seconds,
        7000
    );
    assert_eq!(
        server.set_times(ALICE, "/missing", true, TimeChange::Now, TimeChange::Now),
        Err(Errno::ENOENT)
    );
    assert_eq!(
        TimeChange::from_timespec(0, 1_000_000_000),
        Err(Errno::EINVAL)
    );
    assert_eq!(TimeChange::from_timespec(0, -1), Err(Errno::EINVAL));
    assert_eq!(
        TimeChange::from_timespec(3, libc::UTIME_NOW),
        Ok(TimeChange::Now)
    );
}

#[test]
fn ftruncate_and_fsync() {
    let (mut server, _) = server();
    create(&mut server, "/file", b"0123456789");
    let handle = server.open(ALICE, "/file", READ_WRITE, 0, 0).unwrap();
    server.truncate(ALICE, handle, 4).unwrap();
    assert_eq!(contents(&mut server, "/file"), b"0123");
    server.truncate(ALICE, handle, 8).unwrap();
    assert_eq!(contents(&mut server, "/file"), b"0123\0\0\0\0");
    assert_eq!(server.truncate(ALICE, handle, -1), Err(Errno::EINVAL));
    assert_eq!(server.truncate(ALICE, handle, i64::MAX), Ok(()));
    assert_eq!(server.sync(ALICE, handle), Ok(()));
    let reader = server.open(ALICE, "/file", READ_ONLY, 0, 0).unwrap();
    assert_eq!(server.truncate(ALICE, reader, 0), Err(Errno::EINVAL));
    assert_eq!(server.sync(ALICE, reader), Ok(()));
    let directory = server.open(ALICE, "/tmp", READ_ONLY, 0, 0).unwrap();
    assert_eq!(server.truncate(ALICE, directory, 0), Err(Errno::EINVAL));
    assert_eq!(server.sync(ALICE, directory), Ok(()));
}

#[test]
fn status_reports_devices_blocks_and_kinds() {
    let (mut server, _) = server();
    create(&mut server, "/file", &[1u8; 5000]);
    create(&mut server, "/tmp/file", b"");
    let root = server.stat(ALICE, "/file", true).unwrap();
    let tmp = server.stat(ALICE, "/tmp/file", true).unwrap();
    assert_ne!(root.device, tmp.device);
    assert_eq!(root.size, 5000);
    assert_eq!(root.blocks, 16);
    assert_eq!(root.block_size, 4096);
    assert_eq!((root.user, root.group), (0, 0));
    assert_eq!(tmp.blocks, 0);
    let directory = server.stat(ALICE, "/tmp", true).unwrap();
    assert_eq!(directory.mode & libc::S_IFMT, libc::S_IFDIR);
    assert_eq!(directory.device, tmp.device);
}

#[test]
fn handles_belong_to_the_client_that_opened_them() {
    let (mut server, _) = server();
    create(&mut server, "/secret", b"alice's");
    let handle = server.open(ALICE, "/secret", READ_WRITE, 0, 0).unwrap();
    assert_eq!(server.read(BOB, handle, 0, 10), Err(Errno::EBADF));
    assert_eq!(server.write(BOB, handle, 0, b"bob"), Err(Errno::EBADF));
    assert_eq!(server.seek(BOB, handle, 0, 0), Err(Errno::EBADF));
    assert_eq!(server.fstat(BOB, handle), Err(Errno::EBADF));
    assert_eq!(server.truncate(BOB, handle, 0), Err(Errno::EBADF));
    assert_eq!(server.sync(BOB, handle), Err(Errno::EBADF));
    assert_eq!(server.set_flags(BOB, handle, 0), Err(Errno::EBADF));
    assert_eq!(
        server.read_directory(BOB, handle, 0, 100),
        Err(Errno::EBADF)
    );
    assert_eq!(server.close(BOB, handle), Err(Errno::EBADF));
    // Alice's handle is untouched by all that.
    assert_eq!(server.read(ALICE, handle, -1, 10).unwrap(), b"alice's");
    server.close(ALICE, handle).unwrap();
    assert_eq!(server.close(ALICE, handle), Err(Errno::EBADF));
    assert_eq!(server.read(ALICE, handle, 0, 1), Err(Errno::EBADF));
    assert_eq!(server.read(ALICE, 0, 0, 1), Err(Errno::EBADF));
    assert_eq!(server.read(ALICE, u64::MAX, 0, 1), Err(Errno::EBADF));
}

#[test]
fn a_gone_client_releases_its_files() {
    let (mut server, _) = server();
    create(&mut server, "/tmp/file", &[0u8; 8192]);
    let used = server.budget().used();
    let handle = server.open(BOB, "/tmp/file", READ_ONLY, 0, 0).unwrap();
    server.open(BOB, "/tmp", READ_ONLY, 0, 0).unwrap();
    server.unlink(ALICE, "/tmp/file").unwrap();
    assert_eq!(server.budget().used(), used - "file".len() as u64);
    server.release_client(BOB);
    assert_eq!(server.open_descriptions(), 0);
    assert!(server.budget().used() < used - 8192);
    assert_eq!(server.read(BOB, handle, 0, 1), Err(Errno::EBADF));
}

#[test]
fn each_client_has_a_handle_limit() {
    let (mut server, _) = server_with(&["--handles-per-client", "3"]);
    create(&mut server, "/file", b"");
    let mut handles = Vec::new();
    for _ in 0..3 {
        handles.push(server.open(BOB, "/file", READ_ONLY, 0, 0).unwrap());
    }
    assert_eq!(
        server.open(BOB, "/file", READ_ONLY, 0, 0),
        Err(Errno::EMFILE)
    );
    // Nothing was created by the refused open.
    assert_eq!(
        server.open(BOB, "/new", READ_WRITE, flags(libc::O_CREAT), 0o644),
        Err(Errno::EMFILE)
    );
    assert_eq!(server.stat(BOB, "/new", true), Err(Errno::ENOENT));
    assert!(server.open(ALICE, "/file", READ_ONLY, 0, 0).is_ok());
    server.close(BOB, handles[0]).unwrap();
    assert!(server.open(BOB, "/file", READ_ONLY, 0, 0).is_ok());
}

#[test]
fn a_full_ramfs_is_enospc_and_stays_consistent() {
    let (mut server, _) = server_with(&["--ramfs-limit", "64 KiB"]);
    let handle = server
        .open(ALICE, "/big", READ_WRITE, flags(libc::O_CREAT), 0o644)
        .unwrap();
    let chunk = vec![0x5A; 8192];
    let mut total = 0u64;
    loop {
        match server.write(ALICE, handle, -1, &chunk) {
            Ok(written) => {
                total += written;
                if written < chunk.len() as u64 {
                    break;
                }
            }
            Err(error) => {
                assert_eq!(error, Errno::ENOSPC);
                break;
            }
        }
    }
    assert!(total > 32 * 1024 && total < 64 * 1024, "{total}");
    assert_eq!(server.write(ALICE, handle, -1, b"x"), Err(Errno::ENOSPC));
    assert!(server.budget().used() <= 64 * 1024);
    // Everything that was written reads back; the file's size is what was written.
    assert_eq!(server.fstat(ALICE, handle).unwrap().size as u64, total);
    let data = contents(&mut server, "/big");
    assert_eq!(data.len() as u64, total);
    assert!(data.iter().all(|byte| *byte == 0x5A));
    // Names need room too; freeing gives it back.
    let mut created = 0;
    while server
        .make_directory(ALICE, &format!("/d{created}"), 0o755)
        .is_ok()
    {
        created += 1;
    }
    assert_eq!(
        server.make_directory(ALICE, "/one-more", 0o755),
        Err(Errno::ENOSPC)
    );
    server.truncate(ALICE, handle, 0).unwrap();
    assert!(server.make_directory(ALICE, "/one-more", 0o755).is_ok());
    assert!(server.write(ALICE, handle, 0, &chunk).is_ok());
}

/// The security monitor over the File interface's descriptor with `rules`, answering as the
/// kernel's `MONITOR_CHECK` does for the server (entity [`SERVER`]).
struct PolicyMonitor {
    policy: Rc<septa_monitor::Policy>,
}

const SERVER: u32 = 1;

impl septa_vfs::monitor::Monitor for PolicyMonitor {
    fn permits(&mut self, client: u32, request: &[u8]) -> bool {
        policy_grants(&self.policy, client, request)
    }
}

fn policy_grants(policy: &septa_monitor::Policy, client: u32, request: &[u8]) -> bool {
    let Some(header) = MessageHeader::of_message(request) else {
        return false;
    };
    let fixed_end = MESSAGE_HEADER_SIZE + header.fixed_size as usize;
    let message = septa_monitor::Message {
        source: client,
        target: SERVER,
        direction: septa_monitor::Direction::Request,
        header,
        fixed: &request[MESSAGE_HEADER_SIZE..fixed_end],
        arena: &request[fixed_end..],
    };
    policy.check(&message).verdict == septa_monitor::Verdict::Grant
}

/// A policy letting `client` use paths under `prefix` with every path method, and every
/// method on handles.
fn prefix_policy(client: u32, prefix: &str) -> septa_monitor::Policy {
    let directory = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../interfaces/definitions/file.toml"
    );
    let file = septa_idl::parse_file(std::path::Path::new(directory)).unwrap();
    let mut rules = Vec::new();
    for method in &file.methods {
        let conditions: Vec<septa_monitor::Condition> = ["path", "target"]
            .iter()
            .filter(|name| !(method.name == "symlink" && **name == "target"))
            .filter_map(|name| method.request_field(name))
            .map(|(index, _)| septa_monitor::Condition {
                field: index as u32,
                predicate: septa_monitor::Predicate::Prefix(prefix.as_bytes().to_vec()),
            })
            .collect();
        rules.push(septa_monitor::Rule {
            source: client,
            target: SERVER,
            interface: file.id,
            method: Some(method.id),
            conditions,
        });
    }
    septa_monitor::Policy {
        entity_names: vec![],
        interfaces: vec![file.descriptor()],
        rules,
    }
}

#[test]
fn symbolic_links_cannot_lead_a_client_past_the_policy() {
    let confined = 9;
    let policy = Rc::new(prefix_policy(confined, "/tmp/"));
    let (mut server, _) = server();
    server.set_monitor(Box::new(PolicyMonitor {
        policy: policy.clone(),
    }));
    server.make_directory(ALICE, "/etc", 0o755).unwrap();
    create(&mut server, "/etc/passwd", b"root");
    // The monitor itself refuses the direct path: the kernel would not deliver it.
    let direct = septa_vfs::monitor::encoded(|file| {
        let _ = file.open("/etc/passwd", 0, 0, 0);
    });
    assert!(!policy_grants(&policy, confined, &direct));
    // Within the prefix, with or without links, anything goes.
    let handle = server
        .open(
            confined,
            "/tmp/mine",
            READ_WRITE,
            flags(libc::O_CREAT),
            0o600,
        )
        .unwrap();
    server.write(confined, handle, -1, b"ok").unwrap();
    server
        .symlink(confined, "/tmp/mine", "/tmp/inside")
        .unwrap();
    let inside = server
        .open(confined, "/tmp/inside", READ_ONLY, 0, 0)
        .unwrap();
    assert_eq!(server.read(confined, inside, 0, 10).unwrap(), b"ok");
    // Links the client makes itself that lead out are refused where they lead.
    server.symlink(confined, "/etc", "/tmp/escape").unwrap();
    server
        .symlink(confined, "../etc/passwd", "/tmp/relative")
        .unwrap();
    assert_eq!(
        server.open(confined, "/tmp/escape/passwd", READ_ONLY, 0, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.open(confined, "/tmp/relative", READ_ONLY, 0, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.stat(confined, "/tmp/relative", true),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.open(
            confined,
            "/tmp/escape/new",
            WRITE_ONLY,
            flags(libc::O_CREAT),
            0o600
        ),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.rename(confined, "/tmp/mine", "/tmp/escape/mine"),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.unlink(confined, "/tmp/escape/passwd"),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.make_directory(confined, "/tmp/escape/directory", 0o755),
        Err(Errno::EACCES)
    );
    assert_eq!(
        server.access(confined, "/tmp/relative", libc::R_OK as u32),
        Err(Errno::EACCES)
    );
    // The links themselves are the client's to read, stat and remove.
    assert_eq!(
        server.read_link(confined, "/tmp/escape").as_deref(),
        Ok("/etc")
    );
    assert!(server.stat(confined, "/tmp/escape", false).is_ok());
    server.unlink(confined, "/tmp/escape").unwrap();
    // Another client the policy does not name is refused through the link too: the rules,
    // not the link, decide.
    assert_eq!(
        server.open(ALICE, "/tmp/relative", READ_ONLY, 0, 0),
        Err(Errno::EACCES)
    );
    assert_eq!(contents(&mut server, "/etc/passwd"), b"root");
}
