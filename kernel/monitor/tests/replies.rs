//! Replies: structure against the reply descriptor, error statuses, and the mirrored rule.

mod common;

use common::*;
use septa_abi::layout::FieldKind;
use septa_monitor::{DenyReason, Verdict};

fn deny(reason: DenyReason) -> Verdict {
    Verdict::Deny(reason)
}

#[test]
fn reply_to_a_granted_call_is_granted() {
    let message = reply(FILES, SHELL, FILE_SYSTEM, OPEN, 0, &[Field::U64(3)]);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn reply_ignores_the_request_conditions() {
    // The send rule's conditions are on request fields; the reply has none.
    let message = reply(NETWORK, SHELL, SOCKETS, SEND, 0, &[]);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
    // Even a rule whose condition can never hold lets its calls be answered.
    let message = reply(
        NETWORK,
        SHELL,
        SOCKETS,
        RESOLVE,
        0,
        &[Field::U32(0x7f00_0001)],
    );
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn reply_under_a_method_wildcard_is_granted() {
    let message = reply(FILES, INIT, FILE_SYSTEM, WRITE, 0, &[Field::U32(5)]);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn reply_without_a_rule_is_denied() {
    let message = reply(FILES, STRANGER, FILE_SYSTEM, OPEN, 0, &[Field::U64(3)]);
    assert_eq!(check(&policy(), &message.view()), deny(DenyReason::NoRule));
}

#[test]
fn reply_in_the_direction_of_a_request_rule_is_denied() {
    // The rule lets the shell call the file system, not the file system answer calls it made.
    let message = reply(SHELL, FILES, FILE_SYSTEM, OPEN, 0, &[Field::U64(3)]);
    assert_eq!(check(&policy(), &message.view()), deny(DenyReason::NoRule));
}

#[test]
fn error_reply_with_empty_body_is_granted() {
    let message = reply(FILES, SHELL, FILE_SYSTEM, OPEN, 16, &[]);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn error_reply_without_a_rule_is_denied() {
    let message = reply(FILES, STRANGER, FILE_SYSTEM, OPEN, 16, &[]);
    assert_eq!(check(&policy(), &message.view()), deny(DenyReason::NoRule));
}

#[test]
fn error_reply_with_a_fixed_part_is_denied() {
    let message = reply(FILES, SHELL, FILE_SYSTEM, OPEN, 16, &[Field::U64(3)]);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadReply)
    );
}

#[test]
fn error_reply_with_only_an_arena_is_denied() {
    let message = reply(FILES, SHELL, FILE_SYSTEM, OPEN, 16, &[]).with_arena(b"why".to_vec());
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadReply)
    );
}

#[test]
fn reply_is_checked_against_the_reply_descriptor() {
    // A body shaped like open's request is not open's reply.
    let message = reply(
        FILES,
        SHELL,
        FILE_SYSTEM,
        OPEN,
        0,
        &[Field::String("/home/"), Field::U32(0)],
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadFixedSize)
    );
}

#[test]
fn reply_slice_out_of_bounds_is_denied() {
    let message = reply(FILES, SHELL, FILE_SYSTEM, READ, 0, &[Field::Bytes(b"data")]).with_slice(
        &[FieldKind::Bytes],
        0,
        2,
        3,
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 0 })
    );
}

#[test]
fn reply_string_is_validated() {
    // No fixture reply carries a string, so make resolve answer with its name instead.
    let mut policy = policy();
    let resolve = policy
        .interfaces
        .iter_mut()
        .find(|interface| interface.id == SOCKETS)
        .and_then(|interface| {
            interface
                .methods
                .iter_mut()
                .find(|method| method.id == RESOLVE)
        })
        .expect("the fixture has resolve");
    resolve.reply[0].kind = FieldKind::String;
    let message = reply(
        NETWORK,
        SHELL,
        SOCKETS,
        RESOLVE,
        0,
        &[Field::String("a\0b")],
    );
    assert_eq!(
        check(&policy, &message.view()),
        deny(DenyReason::BadString { field: 0 })
    );
}

#[test]
fn malformed_reply_header_is_denied() {
    let mut message = reply(FILES, SHELL, FILE_SYSTEM, OPEN, 0, &[Field::U64(3)]);
    message.header.reserved = 7;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
    let mut message = reply(FILES, SHELL, FILE_SYSTEM, OPEN, 0, &[Field::U64(3)]);
    message.header.method = 42;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::UnknownMethod)
    );
}
