//! The policy as data: its postcard encoding, lookups, and the reasons printed on audit lines.

mod common;

use common::*;
use septa_monitor::{DenyReason, Direction, Policy};

#[test]
fn policy_round_trips_through_postcard() {
    let policy = policy();
    let bytes = postcard::to_allocvec(&policy).expect("the policy encodes");
    let decoded: Policy = postcard::from_bytes(&bytes).expect("the policy decodes");
    assert_eq!(decoded, policy);
}

#[test]
fn decoded_policy_decides_the_same() {
    let bytes = postcard::to_allocvec(&policy()).expect("the policy encodes");
    let decoded: Policy = postcard::from_bytes(&bytes).expect("the policy decodes");
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        OPEN,
        &[Field::String("/etc/"), Field::U32(0)],
    );
    assert_eq!(
        decoded.check(&message.view()),
        policy().check(&message.view())
    );
}

#[test]
fn unknown_field_kind_does_not_decode() {
    let mut policy = policy();
    policy.interfaces.truncate(1);
    policy.interfaces[0].methods.truncate(1);
    policy.interfaces[0].methods[0].request.truncate(1);
    policy.interfaces[0].methods[0].reply.clear();
    policy.rules.clear();
    policy.entity_names.clear();
    let mut bytes = postcard::to_allocvec(&policy).expect("the policy encodes");
    // The only field kind is the last byte before the (empty) reply and rules.
    let kind = bytes.len() - 3;
    assert_eq!(bytes[kind], 5, "String is kind 5");
    bytes[kind] = 6;
    assert!(postcard::from_bytes::<Policy>(&bytes).is_err());
}

#[test]
fn interface_lookup() {
    let policy = policy();
    assert_eq!(
        policy
            .interface(SOCKETS)
            .map(|interface| interface.name.as_str()),
        Some("sockets")
    );
    assert!(policy.interface(99).is_none());
}

#[test]
fn method_lookup() {
    let policy = policy();
    assert_eq!(
        policy
            .method(FILE_SYSTEM, SEEK)
            .map(|method| method.name.as_str()),
        Some("seek")
    );
    assert!(policy.method(FILE_SYSTEM, 99).is_none());
    assert!(policy.method(99, SEEK).is_none());
}

#[test]
fn audit_record_describes_a_denial() {
    let message = reply(FILES, STRANGER, FILE_SYSTEM, OPEN, 0, &[Field::U64(1)]);
    let decision = policy().check(&message.view());
    assert_eq!(decision.audit.source, FILES);
    assert_eq!(decision.audit.target, STRANGER);
    assert_eq!(decision.audit.direction, Direction::Reply);
    assert_eq!(decision.audit.interface, FILE_SYSTEM);
    assert_eq!(decision.audit.method, OPEN);
    assert_eq!(decision.audit.verdict, decision.verdict);
}

#[test]
fn deny_reasons_read_as_short_phrases() {
    let cases = [
        (
            DenyReason::BadSizes,
            "header sizes, handle count or reserved word invalid",
        ),
        (DenyReason::UnknownInterface, "unknown interface"),
        (DenyReason::UnknownMethod, "unknown method"),
        (
            DenyReason::BadFixedSize,
            "fixed part size does not match the method",
        ),
        (
            DenyReason::SliceOutOfBounds { field: 1 },
            "slice field 1 outside the arena",
        ),
        (
            DenyReason::BadString { field: 3 },
            "string field 3 not UTF-8 or contains NUL",
        ),
        (DenyReason::NoRule, "no rule grants this call"),
        (
            DenyReason::ConditionFailed { field: 2 },
            "condition on field 2 failed",
        ),
        (DenyReason::BadReply, "error reply with a non-empty body"),
    ];
    for (reason, text) in cases {
        assert_eq!(reason.to_string(), text);
    }
}
