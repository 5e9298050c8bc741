//! The dispatchers never panic on any bytes, and answer malformed requests with
//! `BAD_REQUEST` and unknown ones with `UNKNOWN_METHOD`.

mod common;

use common::{TestServer, XorShift, message, reply_header, slice_field};
use septa_abi::{MESSAGE_HEADER_SIZE, MESSAGE_MAX_SIZE, status};
use septa_interfaces::{echo, system_test};

/// Dispatches `request` to both interfaces and checks each reply is well-formed: a header
/// echoing the request's interface and method, and a body only when the status is OK.
/// Returns the statuses.
fn dispatch_both(server: &mut TestServer, request: &[u8]) -> [u32; 2] {
    let mut reply = vec![0u8; MESSAGE_MAX_SIZE];
    let mut statuses = [0; 2];
    for (index, statuses) in statuses.iter_mut().enumerate() {
        let length = match index {
            0 => echo::dispatch(server, request, &mut reply),
            _ => system_test::dispatch(server, request, &mut reply),
        };
        assert!(
            length >= MESSAGE_HEADER_SIZE,
            "a reply buffer this large always holds a reply"
        );
        let header = reply_header(&reply);
        assert_eq!(
            header.total_size(),
            Some(length),
            "reply sizes describe the reply"
        );
        let mut asked = [0u8; MESSAGE_HEADER_SIZE];
        let available = request.len().min(MESSAGE_HEADER_SIZE);
        asked[..available].copy_from_slice(&request[..available]);
        let asked = septa_abi::MessageHeader::from_bytes(&asked);
        assert_eq!(
            (header.interface, header.method),
            (asked.interface, asked.method)
        );
        if header.status != status::OK {
            assert_eq!(length, MESSAGE_HEADER_SIZE, "an error reply has no body");
        }
        *statuses = header.status;
    }
    statuses
}

fn status_of(request: &[u8]) -> u32 {
    let mut server = TestServer::default();
    let mut reply = vec![0u8; MESSAGE_MAX_SIZE];
    echo::dispatch(&mut server, request, &mut reply);
    reply_header(&reply).status
}

#[test]
fn random_bytes_never_panic() {
    let mut random = XorShift(0x5e97_a001);
    let mut server = TestServer::default();
    for _ in 0..3000 {
        let length = random.below(200) as usize;
        let request = random.bytes(length);
        for status in dispatch_both(&mut server, &request) {
            assert!(status == status::BAD_REQUEST || status == status::UNKNOWN_METHOD);
        }
    }
}

#[test]
fn random_bodies_behind_plausible_headers_never_panic() {
    let mut random = XorShift(0x0dd_ba11);
    let mut server = TestServer::default();
    let mut granted = 0;
    for _ in 0..5000 {
        let fixed_size = [0, 8, 16, 24][random.below(4) as usize];
        let fixed = random.bytes(fixed_size);
        let arena_size = random.below(24) as usize;
        let arena = random.bytes(arena_size);
        let mut request = message(
            1 + random.below(2) as u32,
            random.below(6) as u32,
            0,
            &fixed,
            &arena,
        );
        // Keep slice offsets mostly small so that some land inside the arena.
        for word in (MESSAGE_HEADER_SIZE..MESSAGE_HEADER_SIZE + fixed.len()).step_by(4) {
            if random.below(2) == 0 {
                request[word..word + 4].copy_from_slice(&(random.below(24) as u32).to_le_bytes());
            }
        }
        let statuses = dispatch_both(&mut server, &request);
        granted += statuses
            .iter()
            .filter(|status| **status == status::OK)
            .count();
    }
    assert!(
        granted > 0,
        "some random requests decode (the test reaches the server methods)"
    );
}

#[test]
fn mutated_valid_requests_never_panic() {
    let mut fixed = slice_field(0, 11);
    fixed.extend_from_slice(&3u32.to_le_bytes());
    fixed.extend_from_slice(&[0; 4]);
    let valid = message(1, echo::OPEN_ID, 0, &fixed, b"/etc/passwd");
    assert_eq!(status_of(&valid), status::OK);

    let mut random = XorShift(0xfeed_f00d);
    let mut server = TestServer::default();
    for _ in 0..5000 {
        let mut request = valid.clone();
        for _ in 0..1 + random.below(3) {
            let index = random.below(request.len() as u64) as usize;
            request[index] ^= 1 << random.below(8);
        }
        if random.below(8) == 0 {
            request.truncate(random.below(request.len() as u64) as usize);
        }
        dispatch_both(&mut server, &request);
    }
}

#[test]
fn unknown_interfaces_and_methods_are_unknown_methods() {
    assert_eq!(
        status_of(&message(9, 0, 0, &[0; 8], &[])),
        status::UNKNOWN_METHOD
    );
    assert_eq!(
        status_of(&message(1, 77, 0, &[0; 8], &[])),
        status::UNKNOWN_METHOD
    );
}

#[test]
fn malformed_requests_are_bad_requests() {
    let open = |fixed: &[u8], arena: &[u8]| message(1, echo::OPEN_ID, 0, fixed, arena);
    let mut good = slice_field(0, 4);
    good.extend_from_slice(&[0; 8]);
    assert_eq!(status_of(&open(&good, b"/etc")), status::OK);

    let with_path = |offset: u32, length: u32| {
        let mut fixed = slice_field(offset, length);
        fixed.extend_from_slice(&[0; 8]);
        fixed
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("short header", vec![1, 0, 0, 0, 3, 0]),
        ("fixed part too small", open(&[0; 8], &[])),
        ("fixed part too large", open(&[0; 24], &[])),
        ("slice past the arena", open(&with_path(0, 5), b"/etc")),
        (
            "slice offset overflows",
            open(&with_path(u32::MAX, 2), b"/etc"),
        ),
        ("invalid UTF-8", open(&with_path(0, 2), &[0xc3, 0x28])),
        ("NUL in a string", open(&with_path(0, 3), b"/\0a")),
        (
            "length disagrees with sizes",
            open(&good, b"/etc")[..40].to_vec(),
        ),
        ("trailing bytes", [open(&good, b"/etc"), vec![0]].concat()),
    ];
    for (what, request) in cases {
        assert_eq!(status_of(&request), status::BAD_REQUEST, "{what}");
    }

    let mut handles = open(&good, b"/etc");
    handles[16] = 1;
    assert_eq!(status_of(&handles), status::BAD_REQUEST, "a handle count");
    let mut reserved = open(&good, b"/etc");
    reserved[28] = 1;
    assert_eq!(status_of(&reserved), status::BAD_REQUEST, "a reserved word");
}

#[test]
fn small_reply_buffers_never_overflow() {
    let mut server = TestServer::default();
    let request = message(1, echo::GREET_ID, 0, &slice_field(0, 5), b"Septa");
    // Too small for a header: nothing is written.
    let mut tiny = [0u8; 16];
    assert_eq!(echo::dispatch(&mut server, &request, &mut tiny), 0);
    // Room for a header but not the greeting: a status reply.
    let mut small = [0u8; MESSAGE_HEADER_SIZE + 12];
    assert_eq!(
        echo::dispatch(&mut server, &request, &mut small),
        MESSAGE_HEADER_SIZE
    );
    assert_eq!(reply_header(&small).status, status::BAD_REQUEST);
}
