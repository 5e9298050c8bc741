//! Request rules: source, target, interface and method matching, and condition predicates.

mod common;

use common::*;
use septa_monitor::{DenyReason, Verdict};

fn deny(reason: DenyReason) -> Verdict {
    Verdict::Deny(reason)
}

fn open(source: u32, target: u32, path: &str) -> OwnedMessage {
    request(
        source,
        target,
        FILE_SYSTEM,
        OPEN,
        &[Field::String(path), Field::U32(0)],
    )
}

fn read(length: u32) -> OwnedMessage {
    request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        READ,
        &[Field::U64(3), Field::U64(0), Field::U32(length)],
    )
}

fn seek(offset: i64, whence: i32) -> OwnedMessage {
    request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        SEEK,
        &[Field::I64(offset), Field::I32(whence)],
    )
}

fn send(payload: &[u8], port: u32) -> OwnedMessage {
    send_at(payload, port, 0)
}

fn send_at(payload: &[u8], port: u32, priority: i32) -> OwnedMessage {
    request(
        SHELL,
        NETWORK,
        SOCKETS,
        SEND,
        &[
            Field::Bytes(payload),
            Field::U32(port),
            Field::I32(priority),
        ],
    )
}

fn reserve(bytes: u64) -> OwnedMessage {
    request(SHELL, NETWORK, SOCKETS, RESERVE, &[Field::U64(bytes)])
}

#[test]
fn matching_rule_grants() {
    assert_eq!(
        check(&policy(), &open(SHELL, FILES, "/home/notes").view()),
        Verdict::Grant
    );
}

#[test]
fn no_rule_denies() {
    assert_eq!(
        check(&policy(), &open(STRANGER, FILES, "/home/notes").view()),
        deny(DenyReason::NoRule)
    );
}

#[test]
fn empty_policy_denies_everything_it_can_parse() {
    let mut empty = policy();
    empty.rules.clear();
    assert_eq!(
        check(&empty, &open(SHELL, FILES, "/home/notes").view()),
        deny(DenyReason::NoRule)
    );
}

#[test]
fn method_wildcard_grants_every_method() {
    let policy = policy();
    let open = open(INIT, FILES, "/etc/passwd");
    assert_eq!(check(&policy, &open.view()), Verdict::Grant);
    let seek = request(
        INIT,
        FILES,
        FILE_SYSTEM,
        SEEK,
        &[Field::I64(-1_000_000), Field::I32(9)],
    );
    assert_eq!(check(&policy, &seek.view()), Verdict::Grant);
}

#[test]
fn method_wildcard_does_not_cover_another_interface() {
    let message = request(INIT, FILES, SOCKETS, RESERVE, &[Field::U64(1)]);
    assert_eq!(check(&policy(), &message.view()), deny(DenyReason::NoRule));
}

#[test]
fn rule_for_one_method_does_not_cover_another() {
    // The shell may call reserve on the network, but not reserve on the file system server.
    let message = request(SHELL, FILES, SOCKETS, RESERVE, &[Field::U64(u64::MAX)]);
    assert_eq!(check(&policy(), &message.view()), deny(DenyReason::NoRule));
    // Nor a file-system method it has no rule for: only init's wildcard covers every method.
    let mut policy = policy();
    policy.rules.retain(|rule| rule.method != Some(SEEK));
    assert_eq!(check(&policy, &seek(0, 0).view()), deny(DenyReason::NoRule));
}

#[test]
fn wrong_source_is_denied() {
    assert_eq!(
        check(&policy(), &open(NETWORK, FILES, "/home/notes").view()),
        deny(DenyReason::NoRule)
    );
}

#[test]
fn wrong_target_is_denied() {
    assert_eq!(
        check(&policy(), &open(SHELL, NETWORK, "/home/notes").view()),
        deny(DenyReason::NoRule)
    );
}

#[test]
fn source_and_target_swapped_is_denied() {
    assert_eq!(
        check(&policy(), &open(FILES, SHELL, "/home/notes").view()),
        deny(DenyReason::NoRule)
    );
}

#[test]
fn prefix_on_string_grants() {
    assert_eq!(
        check(&policy(), &open(SHELL, FILES, "/home/").view()),
        Verdict::Grant
    );
}

#[test]
fn prefix_on_string_denies_and_names_the_field() {
    assert_eq!(
        check(&policy(), &open(SHELL, FILES, "/etc/passwd").view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
    // A shorter string than the prefix.
    assert_eq!(
        check(&policy(), &open(SHELL, FILES, "/home").view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn later_rule_grants_what_an_earlier_rule_refused() {
    assert_eq!(
        check(&policy(), &open(SHELL, FILES, "/tmp/scratch").view()),
        Verdict::Grant
    );
}

#[test]
fn prefix_on_bytes_grants_and_denies() {
    let policy = policy();
    assert_eq!(
        check(&policy, &send(b"GET /index.html", 80).view()),
        Verdict::Grant
    );
    assert_eq!(
        check(&policy, &send(b"POST /form", 80).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn first_failing_condition_of_the_rule_is_reported() {
    let policy = policy();
    assert_eq!(
        check(&policy, &send(b"GET /", 81).view()),
        deny(DenyReason::ConditionFailed { field: 1 })
    );
    // Both fail: the first condition in the rule is the one named.
    assert_eq!(
        check(&policy, &send(b"PUT /", 81).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn unsigned_range_edges() {
    let policy = policy();
    assert_eq!(
        check(&policy, &send(b"GET /", 79).view()),
        deny(DenyReason::ConditionFailed { field: 1 })
    );
    assert_eq!(check(&policy, &send(b"GET /", 80).view()), Verdict::Grant);
    assert_eq!(
        check(&policy, &send(b"GET /", 81).view()),
        deny(DenyReason::ConditionFailed { field: 1 })
    );

    assert_eq!(check(&policy, &read(0).view()), Verdict::Grant);
    assert_eq!(check(&policy, &read(4096).view()), Verdict::Grant);
    assert_eq!(
        check(&policy, &read(4097).view()),
        deny(DenyReason::ConditionFailed { field: 2 })
    );
    assert_eq!(
        check(&policy, &read(u32::MAX).view()),
        deny(DenyReason::ConditionFailed { field: 2 })
    );
}

#[test]
fn unsigned_64_bit_values_are_not_read_as_negative() {
    let policy = policy();
    assert_eq!(check(&policy, &reserve(u64::MAX).view()), Verdict::Grant);
    assert_eq!(
        check(&policy, &reserve(u64::MAX - 1).view()),
        Verdict::Grant
    );
    assert_eq!(
        check(&policy, &reserve(u64::MAX - 2).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
    assert_eq!(
        check(&policy, &reserve(0).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn signed_range_edges() {
    let policy = policy();
    assert_eq!(
        check(&policy, &seek(-101, 0).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
    assert_eq!(check(&policy, &seek(-100, 0).view()), Verdict::Grant);
    assert_eq!(check(&policy, &seek(100, 0).view()), Verdict::Grant);
    assert_eq!(
        check(&policy, &seek(101, 0).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
    assert_eq!(
        check(&policy, &seek(i64::MIN, 0).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
    assert_eq!(
        check(&policy, &seek(i64::MAX, 0).view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn signed_32_bit_range_edges() {
    let policy = policy();
    let priority = |priority| check(&policy, &send_at(b"GET /", 80, priority).view());
    // -10 is 0xffff_fff6 on the wire: read unsigned it would fall far outside the range.
    assert_eq!(
        priority(-11),
        deny(DenyReason::ConditionFailed { field: 2 })
    );
    assert_eq!(priority(-10), Verdict::Grant);
    assert_eq!(priority(10), Verdict::Grant);
    assert_eq!(priority(11), deny(DenyReason::ConditionFailed { field: 2 }));
    assert_eq!(
        priority(i32::MIN),
        deny(DenyReason::ConditionFailed { field: 2 })
    );
    assert_eq!(
        priority(i32::MAX),
        deny(DenyReason::ConditionFailed { field: 2 })
    );
}

#[test]
fn second_signed_condition_is_evaluated() {
    let policy = policy();
    assert_eq!(check(&policy, &seek(0, 2).view()), Verdict::Grant);
    assert_eq!(
        check(&policy, &seek(0, 3).view()),
        deny(DenyReason::ConditionFailed { field: 1 })
    );
    assert_eq!(
        check(&policy, &seek(0, -1).view()),
        deny(DenyReason::ConditionFailed { field: 1 })
    );
}

#[test]
fn condition_on_a_missing_field_never_holds() {
    let message = request(
        SHELL,
        NETWORK,
        SOCKETS,
        RESOLVE,
        &[Field::String("example.org")],
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::ConditionFailed { field: 5 })
    );
}

#[test]
fn prefix_on_an_integer_field_never_holds() {
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        WRITE,
        &[Field::U64(3), Field::Bytes(b"x")],
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn range_on_a_string_field_never_holds() {
    let message = request(
        INIT,
        NETWORK,
        SOCKETS,
        RESOLVE,
        &[Field::String("example.org")],
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn header_sender_is_not_trusted() {
    // The kernel-stamped source decides, not whatever the sender wrote in the header.
    let mut message = open(STRANGER, FILES, "/home/notes");
    message.header.sender = SHELL;
    assert_eq!(check(&policy(), &message.view()), deny(DenyReason::NoRule));
}

#[test]
fn second_condition_is_evaluated_on_its_own_field() {
    let policy = policy();
    let rename = |from: &str, to: &str| {
        request(
            SHELL,
            FILES,
            FILE_SYSTEM,
            RENAME,
            &[Field::String(from), Field::String(to)],
        )
    };
    assert_eq!(
        check(&policy, &rename("/home/a", "/home/b").view()),
        Verdict::Grant
    );
    assert_eq!(
        check(&policy, &rename("/home/a", "/etc/b").view()),
        deny(DenyReason::ConditionFailed { field: 1 })
    );
}
