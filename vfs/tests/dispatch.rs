//! The server behind the generated File dispatcher, called through the generated client over
//! an in-process transport that stamps senders as the kernel does: every method, errors as
//! reply statuses, handle ownership between entities, path escapes, and malformed requests.

mod common;

use common::{client, recording_client, server, server_with};
use septa_abi::{MESSAGE_ARENA_MAX, MESSAGE_HEADER_SIZE, MESSAGE_MAX_SIZE, MessageHeader, status};
use septa_interfaces::CallError;
use septa_interfaces::file;
use septa_interfaces::file_records::{DirectoryEntry, FileStatus};
use septa_vfs::Errno;
use septa_vfs::server::CONTINUE_COOKIE;
use std::cell::RefCell;
use std::rc::Rc;

const ALICE: u32 = 5;
const BOB: u32 = 6;

fn failed(errno: i32) -> CallError {
    CallError::Status(Errno(errno).status())
}

#[test]
fn every_method_round_trips() {
    let (server, clock) = server();
    let server = Rc::new(RefCell::new(server));
    let mut alice = client(&server, ALICE);
    let create = (libc::O_CREAT | libc::O_EXCL) as u32;

    alice.make_directory("/tmp/work", 0o755).unwrap();
    let handle = alice.open("/tmp/work/notes", 2, create, 0o600).unwrap();
    assert_eq!(alice.write(handle, -1, b"hello, world"), Ok(12));
    assert_eq!(alice.seek(handle, 7, libc::SEEK_SET as u32), Ok(7));
    assert_eq!(alice.read(handle, -1, 100).unwrap(), b"world");
    assert_eq!(alice.read(handle, 0, 5).unwrap(), b"hello");

    let status = FileStatus::from_bytes(&alice.fstat(handle).unwrap()).unwrap();
    assert_eq!(status.mode, libc::S_IFREG | 0o600);
    assert_eq!(status.size, 12);
    assert_eq!(status.modify_seconds, 1000);
    let by_path = FileStatus::from_bytes(&alice.stat("/tmp/work/notes", 0).unwrap()).unwrap();
    assert_eq!(by_path, status);

    alice.truncate(handle, 5).unwrap();
    alice.sync(handle).unwrap();
    alice.set_flags(handle, libc::O_APPEND as u32).unwrap();
    alice.write(handle, 0, b"!").unwrap();
    assert_eq!(alice.read(handle, 0, 100).unwrap(), b"hello!");

    alice.symlink("notes", "/tmp/work/link").unwrap();
    assert_eq!(alice.read_link("/tmp/work/link").as_deref(), Ok("notes"));
    let link = FileStatus::from_bytes(&alice.stat("/tmp/work/link", 1).unwrap()).unwrap();
    assert_eq!(link.mode & libc::S_IFMT, libc::S_IFLNK);
    alice.access("/tmp/work/link", libc::R_OK as u32).unwrap();

    clock.set(3000, 0);
    alice
        .set_times("/tmp/work/notes", 0, 42, 0, 0, libc::UTIME_NOW)
        .unwrap();
    let status = FileStatus::from_bytes(&alice.fstat(handle).unwrap()).unwrap();
    assert_eq!((status.access_seconds, status.modify_seconds), (42, 3000));

    let directory = alice
        .open("/tmp/work", 0, libc::O_DIRECTORY as u32, 0)
        .unwrap();
    let listing = alice.read_directory(directory, 0, 4096).unwrap();
    let names: Vec<&[u8]> = DirectoryEntry::decode_all(&listing)
        .unwrap()
        .into_iter()
        .map(|entry| entry.name)
        .collect();
    assert_eq!(names, vec![&b"."[..], b"..", b"notes", b"link"]);
    assert!(
        alice
            .read_directory(directory, CONTINUE_COOKIE, 4096)
            .unwrap()
            .is_empty()
    );

    alice
        .rename("/tmp/work/notes", "/tmp/work/renamed")
        .unwrap();
    alice.unlink("/tmp/work/link").unwrap();
    alice.unlink("/tmp/work/renamed").unwrap();
    // Still open, still readable.
    assert_eq!(alice.read(handle, 0, 100).unwrap(), b"hello!");
    alice.close(handle).unwrap();
    alice.close(directory).unwrap();
    alice.remove_directory("/tmp/work").unwrap();
    assert_eq!(server.borrow().open_descriptions(), 0);
}

#[test]
fn errors_come_back_as_errno_statuses() {
    let (server, _) = server();
    let server = Rc::new(RefCell::new(server));
    let mut alice = client(&server, ALICE);
    assert_eq!(alice.open("/missing", 0, 0, 0), Err(failed(libc::ENOENT)));
    assert_eq!(alice.stat("/", 2), Err(failed(libc::EINVAL)));
    assert_eq!(alice.stat("/missing", 0), Err(failed(libc::ENOENT)));
    assert_eq!(
        alice.set_times("/", 0, 0, 1_000_000_000, 0, 0),
        Err(failed(libc::EINVAL))
    );
    assert_eq!(
        alice.set_times("/", 7, 0, 0, 0, 0),
        Err(failed(libc::EINVAL))
    );
    assert_eq!(alice.remove_directory("/tmp"), Err(failed(libc::EBUSY)));
    assert_eq!(alice.close(12345), Err(failed(libc::EBADF)));
    assert_eq!(alice.rename("/tmp", "/elsewhere"), Err(failed(libc::EBUSY)));
    alice.make_directory("/a", 0o755).unwrap();
    assert_eq!(alice.rename("/a", "/tmp/a"), Err(failed(libc::EXDEV)));
    assert_eq!(alice.read_link("/a"), Err(failed(libc::EINVAL)));
    // The status is APPLICATION plus the errno.
    assert_eq!(
        Errno(libc::ENOENT).status(),
        status::APPLICATION + libc::ENOENT as u32
    );
}

#[test]
fn a_handle_works_only_for_the_entity_that_opened_it() {
    let (server, _) = server();
    let server = Rc::new(RefCell::new(server));
    let mut alice = client(&server, ALICE);
    let mut bob = client(&server, BOB);
    let handle = alice
        .open("/tmp/private", 2, libc::O_CREAT as u32, 0o600)
        .unwrap();
    alice.write(handle, -1, b"alice").unwrap();
    assert_eq!(bob.read(handle, 0, 10), Err(failed(libc::EBADF)));
    assert_eq!(bob.write(handle, 0, b"bob"), Err(failed(libc::EBADF)));
    assert_eq!(bob.fstat(handle), Err(failed(libc::EBADF)));
    assert_eq!(bob.seek(handle, 0, 0), Err(failed(libc::EBADF)));
    assert_eq!(bob.truncate(handle, 0), Err(failed(libc::EBADF)));
    assert_eq!(bob.close(handle), Err(failed(libc::EBADF)));
    assert_eq!(alice.read(handle, 0, 10).unwrap(), b"alice");
    // Bob's own handle to the same file is his own description, with its own offset.
    let his = bob.open("/tmp/private", 0, 0, 0).unwrap();
    assert_ne!(his, handle);
    assert_eq!(bob.read(his, -1, 2).unwrap(), b"al");
    assert_eq!(alice.read(handle, -1, 2).unwrap(), b"");
    assert_eq!(alice.close(his), Err(failed(libc::EBADF)));
}

#[test]
fn path_escapes_are_refused_on_the_wire() {
    let (server, _) = server();
    let server = Rc::new(RefCell::new(server));
    let mut alice = client(&server, ALICE);
    for path in [
        "/a/../..",
        "/tmp/../etc",
        "//etc",
        "/tmp//x",
        "relative",
        "/tmp/./x",
    ] {
        assert_eq!(alice.stat(path, 0), Err(failed(libc::EINVAL)), "{path:?}");
        assert_eq!(
            alice.open(path, 2, libc::O_CREAT as u32, 0o644),
            Err(failed(libc::EINVAL)),
            "{path:?}"
        );
    }
    // A NUL never reaches the server: the wire format's strings have none, and the generated
    // dispatcher answers BAD_REQUEST (the server would say EINVAL).
    assert_eq!(
        alice.stat("/tmp/x\0/../y", 0),
        Err(CallError::Status(status::BAD_REQUEST))
    );
    let overlong = format!("/{}", "x/".repeat(2048));
    assert_eq!(alice.stat(&overlong, 0), Err(failed(libc::ENAMETOOLONG)));
    let long_name = format!("/tmp/{}", "n".repeat(256));
    assert_eq!(
        alice.make_directory(&long_name, 0o755),
        Err(failed(libc::ENAMETOOLONG))
    );
    assert_eq!(alice.stat("", 0), Err(failed(libc::ENOENT)));
}

#[test]
fn a_whole_arena_goes_both_ways() {
    let (server, _) = server();
    let server = Rc::new(RefCell::new(server));
    let mut alice = client(&server, ALICE);
    let handle = alice.open("/big", 2, libc::O_CREAT as u32, 0o644).unwrap();
    let data: Vec<u8> = (0..MESSAGE_ARENA_MAX)
        .map(|index| (index % 251) as u8)
        .collect();
    assert_eq!(alice.write(handle, -1, &data), Ok(MESSAGE_ARENA_MAX as u64));
    assert_eq!(alice.write(handle, -1, &data), Ok(MESSAGE_ARENA_MAX as u64));
    let back = alice.read(handle, 0, u32::MAX).unwrap();
    assert_eq!(back, data);
    let listing = {
        for index in 0..1000 {
            alice
                .open(
                    &format!("/many-{index:04}-{}", "n".repeat(40)),
                    1,
                    libc::O_CREAT as u32,
                    0o644,
                )
                .unwrap();
        }
        let directory = alice.open("/", 0, 0, 0).unwrap();
        alice.read_directory(directory, 0, u32::MAX).unwrap()
    };
    assert!(listing.len() <= MESSAGE_ARENA_MAX);
    assert!(DirectoryEntry::decode_all(&listing).unwrap().len() > 100);
}

/// A small deterministic generator, so a failure reproduces.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

#[test]
fn malformed_requests_never_panic_the_server() {
    let (server, _) = server_with(&["--ramfs-limit", "1 MiB", "--handles-per-client", "64"]);
    let server = Rc::new(RefCell::new(server));
    let (mut alice, last_request) = recording_client(&server, ALICE);
    // Real requests of several shapes, recorded as the dispatcher saw them.
    let handle = alice.open("/seed", 2, libc::O_CREAT as u32, 0o644).unwrap();
    let mut seeds = Vec::new();
    let _ = alice.write(handle, -1, b"seed data");
    seeds.push(last_request.borrow().clone());
    let _ = alice.read(handle, 0, 4);
    seeds.push(last_request.borrow().clone());
    let _ = alice.rename("/seed", "/seed2");
    seeds.push(last_request.borrow().clone());
    let _ = alice.set_times("/seed2", 0, 1, 2, 3, 4);
    seeds.push(last_request.borrow().clone());
    let _ = alice.read_directory(handle, 0, 100);
    seeds.push(last_request.borrow().clone());
    let _ = alice.open("/tmp/x", 2, libc::O_CREAT as u32, 0o644);
    seeds.push(last_request.borrow().clone());

    let mut random = Random(0x5EED_F11E);
    let mut reply = vec![0u8; MESSAGE_MAX_SIZE];
    for round in 0..20_000 {
        let mut request = seeds[round % seeds.len()].clone();
        match random.below(4) {
            0 => {
                for _ in 0..1 + random.below(4) {
                    let at = random.below(request.len());
                    request[at] = random.next() as u8;
                }
            }
            1 => request.truncate(random.below(request.len() + 1)),
            2 => {
                // Sizes and slice fields pointing anywhere.
                let at = 8 + 4 * random.below(6);
                let value = random.next() as u32;
                let end = (at + 4).min(request.len());
                if at < end {
                    request[at..end].copy_from_slice(&value.to_le_bytes()[..end - at]);
                }
            }
            _ => {
                let length = random.below(200);
                request = (0..length).map(|_| random.next() as u8).collect();
            }
        }
        let length = file::dispatch(&mut *server.borrow_mut(), &request, &mut reply);
        assert!((MESSAGE_HEADER_SIZE..=MESSAGE_MAX_SIZE).contains(&length));
        let mut header_bytes = [0u8; MESSAGE_HEADER_SIZE];
        header_bytes.copy_from_slice(&reply[..MESSAGE_HEADER_SIZE]);
        let header = MessageHeader::from_bytes(&header_bytes);
        assert_eq!(
            MESSAGE_HEADER_SIZE + header.fixed_size as usize + header.arena_size as usize,
            length
        );
    }
}

#[test]
fn shared_reads_and_writes_use_the_callers_own_region() {
    let (mut server, _) = server();
    let mut regions = septa_vfs::bulk::MemoryRegions::default();
    regions.regions.insert(ALICE, vec![0; 8192]);
    server.set_bulk_regions(Box::new(regions));
    let server = Rc::new(RefCell::new(server));
    let mut alice = client(&server, ALICE);
    let mut bob = client(&server, BOB);
    let create = libc::O_CREAT as u32;

    let handle = alice.open("/tmp/shared", 2, create, 0o600).unwrap();
    assert_eq!(alice.write(handle, 0, b"0123456789"), Ok(10));
    // Ten bytes at offset 2 of the file land at byte 100 of Alice's region.
    assert_eq!(alice.read_shared(handle, 2, 100, 100), Ok(8));
    assert_eq!(alice.read_shared(handle, -1, 4, 4096), Ok(4));
    assert_eq!(alice.seek(handle, 0, libc::SEEK_CUR as u32), Ok(4));
    // What lies in the region is what a shared write takes: read back through a message.
    assert_eq!(alice.write_shared(handle, 20, 8, 100), Ok(8));
    assert_eq!(alice.read(handle, 20, 100).unwrap(), b"23456789");

    // A window past the region's end, or overflowing, changes nothing.
    assert_eq!(
        alice.read_shared(handle, 0, 2, 8191),
        Err(failed(libc::EINVAL))
    );
    assert_eq!(
        alice.write_shared(handle, 0, u32::MAX, u32::MAX),
        Err(failed(libc::EINVAL))
    );
    // Bob has no region, and Alice's handle is not his either.
    let his = bob.open("/tmp/shared", 0, 0, 0).unwrap();
    assert_eq!(bob.read_shared(his, 0, 4, 0), Err(failed(libc::EINVAL)));
    assert_eq!(bob.read_shared(handle, 0, 4, 0), Err(failed(libc::EINVAL)));
    // Errors of the description come as they do for messages.
    let reader = alice.open("/tmp/shared", 0, 0, 0).unwrap();
    assert_eq!(
        alice.write_shared(reader, 0, 4, 0),
        Err(failed(libc::EBADF))
    );
}
