//! Every method of every interface, through a generated client, an in-process transport and
//! the generated dispatcher; and the client's handling of failed and malformed replies.

mod common;

use common::{CLIENT_ENTITY, Loopback, NOT_ABSOLUTE, Scripted, Served, message, slice_field};
use septa_abi::{Error, MESSAGE_ARENA_MAX, status};
use septa_interfaces::echo::{EchoClient, TransferReply};
use septa_interfaces::system_test::SystemTestClient;
use septa_interfaces::{CallError, echo, system_test};

fn echo_client() -> EchoClient<Loopback> {
    EchoClient::new(Loopback::new(Served::Echo))
}

#[test]
fn ping_round_trips() {
    let mut client = echo_client();
    for value in [0, 1, 42, u64::MAX] {
        assert_eq!(client.ping(value), Ok(value));
    }
    assert_eq!(
        client.into_transport().server.last_sender,
        Some(CLIENT_ENTITY)
    );
}

#[test]
fn greet_round_trips_strings() {
    let mut client = echo_client();
    assert_eq!(client.greet("Septa").as_deref(), Ok("Hello, Septa!"));
    assert_eq!(client.greet("").as_deref(), Ok("Hello, !"));
    assert_eq!(
        client.greet("héllo wörld").as_deref(),
        Ok("Hello, héllo wörld!")
    );
}

#[test]
fn add_round_trips_signed_integers() {
    let mut client = echo_client();
    assert_eq!(client.add(2, 3), Ok(5));
    assert_eq!(client.add(-7, 3), Ok(-4));
    assert_eq!(client.add(i64::MAX, 1), Ok(i64::MIN));
}

#[test]
fn open_sees_every_field_and_the_sender() {
    let mut client = echo_client();
    let token = client.open("/etc/passwd", 3).expect("granted");
    assert_eq!(token, (u64::from(CLIENT_ENTITY) << 32) | (11 << 8) | 3);
}

#[test]
fn transfer_returns_a_reply_struct() {
    let mut client = echo_client();
    let data: Vec<u8> = (0..4096u32).map(|index| index as u8).collect();
    let expected = common::word_checksum(&data);
    assert_eq!(
        client.transfer(&data),
        Ok(TransferReply {
            length: 4096,
            checksum: expected
        })
    );
    assert_eq!(
        client.transfer(&[]),
        Ok(TransferReply {
            length: 0,
            checksum: 0
        })
    );
}

#[test]
fn null_and_sized_round_trip() {
    let mut client = SystemTestClient::new(Loopback::new(Served::SystemTest));
    for _ in 0..1000 {
        assert_eq!(client.null(), Ok(()));
    }
    for length in [0, 1, 7, 4096, MESSAGE_ARENA_MAX] {
        let data: Vec<u8> = (0..length).map(|index| (index * 7) as u8).collect();
        assert_eq!(client.sized(&data), Ok(data));
    }
    assert_eq!(client.into_transport().server.null_calls, 1000);
}

#[test]
fn application_errors_come_back_as_status() {
    let mut client = echo_client();
    assert_eq!(
        client.open("relative", 0),
        Err(CallError::Status(NOT_ABSOLUTE))
    );
    // A server's Err(0) would claim success with no fields; it arrives as APPLICATION.
    assert_eq!(
        client.open("/zero-status", 0),
        Err(CallError::Status(status::APPLICATION))
    );
}

#[test]
fn a_request_larger_than_a_message_is_refused_before_sending() {
    let mut client = SystemTestClient::new(Loopback::new(Served::SystemTest));
    let data = vec![0u8; MESSAGE_ARENA_MAX + 1];
    assert_eq!(client.sized(&data), Err(CallError::Kernel(Error::TooLarge)));
}

#[test]
fn calling_the_wrong_server_is_an_unknown_method() {
    let mut client = EchoClient::new(Loopback::new(Served::SystemTest));
    assert_eq!(
        client.ping(1),
        Err(CallError::Status(status::UNKNOWN_METHOD))
    );
}

fn scripted(answer: Result<Vec<u8>, Error>) -> EchoClient<Scripted> {
    EchoClient::new(Scripted {
        answer,
        last_request: Vec::new(),
    })
}

#[test]
fn kernel_errors_map_to_call_errors() {
    assert_eq!(
        scripted(Err(Error::PeerGone)).ping(1),
        Err(CallError::ServerGone)
    );
    let denied = scripted(Err(Error::Denied)).ping(1);
    assert_eq!(denied, Err(CallError::Kernel(Error::Denied)));
    assert!(denied.is_err_and(|error| error.is_denied()));
    assert!(!CallError::ServerGone.is_denied());
    assert_eq!(
        scripted(Err(Error::TimedOut)).ping(1),
        Err(CallError::Kernel(Error::TimedOut))
    );
}

#[test]
fn the_request_is_laid_out_as_the_abi_says() {
    let mut client = scripted(Ok(message(1, echo::OPEN_ID, 0, &7u64.to_le_bytes(), &[])));
    assert_eq!(client.open("/tmp", 2), Ok(7));
    let mut fixed = slice_field(0, 4);
    fixed.extend_from_slice(&2u32.to_le_bytes());
    fixed.extend_from_slice(&[0; 4]);
    let expected = message(echo::INTERFACE_ID, echo::OPEN_ID, 0, &fixed, b"/tmp");
    assert_eq!(client.into_transport().last_request, expected);
}

#[test]
fn malformed_replies_are_bad_replies() {
    let ping = |fixed: &[u8], arena: &[u8]| message(1, echo::PING_ID, 0, fixed, arena);
    let cases: Vec<Vec<u8>> = vec![
        // Shorter than a header.
        vec![0; 8],
        // Header sizes disagree with the length.
        ping(&[0; 8], &[])[..36].to_vec(),
        // Fixed part of the wrong size.
        ping(&[0; 16], &[]),
        // Another method's reply.
        message(1, echo::GREET_ID, 0, &[0; 8], &[]),
        // Another interface's reply.
        message(2, echo::PING_ID, 0, &[0; 8], &[]),
    ];
    for reply in cases {
        assert_eq!(
            scripted(Ok(reply.clone())).ping(1),
            Err(CallError::BadReply),
            "{reply:?}"
        );
    }

    let greet = |fixed: &[u8], arena: &[u8]| message(1, echo::GREET_ID, 0, fixed, arena);
    for reply in [
        greet(&slice_field(0, 4), b"abc"),
        greet(&slice_field(u32::MAX, 2), b"abc"),
        greet(&slice_field(0, 2), &[0xff, 0xfe]),
        greet(&slice_field(0, 3), b"a\0b"),
    ] {
        let mut client = EchoClient::new(Scripted {
            answer: Ok(reply),
            last_request: Vec::new(),
        });
        assert_eq!(client.greet("x"), Err(CallError::BadReply));
    }
}

#[test]
fn status_replies_are_statuses() {
    let reply = message(1, echo::PING_ID, 99, &[], &[]);
    assert_eq!(scripted(Ok(reply)).ping(1), Err(CallError::Status(99)));
}

#[test]
fn call_errors_display() {
    assert_eq!(
        CallError::ServerGone.to_string(),
        "server died or restarted"
    );
    assert_eq!(
        CallError::Kernel(Error::Denied).to_string(),
        "denied by the security monitor"
    );
    assert_eq!(
        CallError::Status(17).to_string(),
        "server replied with status 17"
    );
}

#[test]
fn dispatch_answers_with_the_requests_interface_and_method() {
    let mut server = common::TestServer::default();
    let mut reply = vec![0; septa_abi::MESSAGE_MAX_SIZE];
    let request = message(2, system_test::NULL_ID, 0, &[], &[]);
    let length = system_test::dispatch(&mut server, &request, &mut reply);
    assert_eq!(length, septa_abi::MESSAGE_HEADER_SIZE);
    let header = common::reply_header(&reply);
    assert_eq!(
        (header.interface, header.method, header.status),
        (2, 0, status::OK)
    );
}
