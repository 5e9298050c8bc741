//! Structural validation: one malformed message per deny reason, each asserting its verdict.

mod common;

use common::*;
use septa_abi::layout::FieldKind;
use septa_abi::{MESSAGE_ARENA_MAX, MESSAGE_FIXED_MAX};
use septa_monitor::{DenyReason, Verdict};

const OPEN_KINDS: [FieldKind; 2] = [FieldKind::String, FieldKind::U32];
const WRITE_KINDS: [FieldKind; 2] = [FieldKind::U64, FieldKind::Bytes];
const RENAME_KINDS: [FieldKind; 2] = [FieldKind::String, FieldKind::String];

fn deny(reason: DenyReason) -> Verdict {
    Verdict::Deny(reason)
}

/// `open("/home/notes", 0)` from the shell: granted as built.
fn open_home() -> OwnedMessage {
    request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        OPEN,
        &[Field::String("/home/notes"), Field::U32(0)],
    )
}

#[test]
fn well_formed_baseline_is_granted() {
    assert_eq!(check(&policy(), &open_home().view()), Verdict::Grant);
}

#[test]
fn fixed_size_not_matching_the_fixed_part_is_denied() {
    let mut message = open_home();
    message.header.fixed_size += 8;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn arena_size_not_matching_the_arena_is_denied() {
    let mut message = open_home();
    message.header.arena_size -= 1;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn oversized_fixed_part_is_denied_even_when_sizes_agree() {
    let message = open_home().with_fixed(vec![0; MESSAGE_FIXED_MAX + 1]);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn oversized_arena_is_denied_even_when_sizes_agree() {
    let message = open_home().with_arena(vec![b'/'; MESSAGE_ARENA_MAX + 1]);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn largest_arena_is_accepted() {
    let mut path = b"/home/".to_vec();
    path.resize(MESSAGE_ARENA_MAX, b'a');
    let message =
        open_home()
            .with_arena(path)
            .with_slice(&OPEN_KINDS, 0, 0, MESSAGE_ARENA_MAX as u32);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn huge_header_sizes_are_denied() {
    let mut message = open_home();
    message.header.fixed_size = u32::MAX;
    message.header.arena_size = u32::MAX;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn handles_are_denied() {
    let mut message = open_home();
    message.header.handle_count = 1;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn non_zero_reserved_word_is_denied() {
    let mut message = open_home();
    message.header.reserved = 1;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadSizes)
    );
}

#[test]
fn unknown_interface_is_denied() {
    let mut message = open_home();
    message.header.interface = 99;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::UnknownInterface)
    );
}

#[test]
fn unknown_method_is_denied() {
    let mut message = open_home();
    message.header.method = 99;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::UnknownMethod)
    );
}

#[test]
fn structure_is_checked_before_rules() {
    // A stranger has no rule at all, yet a malformed message is reported as malformed.
    let mut message = open_home();
    message.source = STRANGER;
    message.header.method = 99;
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::UnknownMethod)
    );
}

#[test]
fn fixed_part_too_long_for_the_method_is_denied() {
    let mut fixed = open_home().fixed;
    fixed.extend_from_slice(&[0; 8]);
    let message = open_home().with_fixed(fixed);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadFixedSize)
    );
}

#[test]
fn fixed_part_too_short_for_the_method_is_denied() {
    let mut fixed = open_home().fixed;
    fixed.truncate(8);
    let message = open_home().with_fixed(fixed);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadFixedSize)
    );
}

#[test]
fn fixed_part_must_include_trailing_padding() {
    // open's fields end at byte 12; the ABI rounds the fixed part up to 16.
    let mut fixed = open_home().fixed;
    assert_eq!(fixed.len(), 16);
    fixed.truncate(12);
    let message = open_home().with_fixed(fixed);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadFixedSize)
    );
}

#[test]
fn method_with_the_most_fields_a_fixed_part_can_hold_is_callable() {
    let message = request(SHELL, FILES, WIDE, WIDEST_CALLABLE, &[Field::U32(7); 256]);
    assert_eq!(message.fixed.len(), MESSAGE_FIXED_MAX);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn method_with_more_fields_than_a_fixed_part_can_hold_is_denied() {
    let message = request(SHELL, FILES, WIDE, TOO_WIDE, &[]).with_fixed(vec![0; MESSAGE_FIXED_MAX]);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadFixedSize)
    );
}

#[test]
fn slice_ending_past_the_arena_is_denied() {
    let length = open_home().arena.len() as u32;
    let message = open_home().with_slice(&OPEN_KINDS, 0, 1, length);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 0 })
    );
}

#[test]
fn empty_slice_starting_past_the_arena_is_denied() {
    let length = open_home().arena.len() as u32;
    let message = open_home().with_slice(&OPEN_KINDS, 0, length + 1, 0);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 0 })
    );
}

#[test]
fn empty_slice_at_the_end_of_the_arena_is_in_bounds() {
    // In bounds, so the verdict comes from the rule: an empty path lacks the /home/ prefix.
    let length = open_home().arena.len() as u32;
    let message = open_home().with_slice(&OPEN_KINDS, 0, length, 0);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::ConditionFailed { field: 0 })
    );
}

#[test]
fn slice_whose_offset_plus_length_overflows_is_denied() {
    // In 32-bit arithmetic 0xffff_fff8 + 9 wraps to 1, which would look in bounds.
    let message = open_home().with_slice(&OPEN_KINDS, 0, 0xffff_fff8, 9);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 0 })
    );
    let message = open_home().with_slice(&OPEN_KINDS, 0, u32::MAX, u32::MAX);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 0 })
    );
}

#[test]
fn slice_out_of_bounds_names_its_field() {
    let message = request(
        INIT,
        FILES,
        FILE_SYSTEM,
        WRITE,
        &[Field::U64(3), Field::Bytes(b"abc")],
    )
    .with_slice(&WRITE_KINDS, 1, 0, 4);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 1 })
    );
}

#[test]
fn string_that_is_not_utf8_is_denied() {
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        OPEN,
        &[Field::String("/home/x"), Field::U32(0)],
    );
    let mut arena = message.arena.clone();
    arena[6] = 0xff;
    let message = message.with_arena(arena);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadString { field: 0 })
    );
}

#[test]
fn string_with_a_truncated_utf8_sequence_is_denied() {
    // "é" is two bytes; the slice takes only the first.
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        OPEN,
        &[Field::String("/home/é"), Field::U32(0)],
    );
    let message = message.with_slice(&OPEN_KINDS, 0, 0, 7);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadString { field: 0 })
    );
}

#[test]
fn string_containing_nul_is_denied() {
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        OPEN,
        &[Field::String("/home/x\0/etc/passwd"), Field::U32(0)],
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadString { field: 0 })
    );
}

#[test]
fn multibyte_utf8_string_is_accepted() {
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        OPEN,
        &[Field::String("/home/é✓"), Field::U32(0)],
    );
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn bytes_may_hold_nul_and_invalid_utf8() {
    let message = request(
        INIT,
        FILES,
        FILE_SYSTEM,
        WRITE,
        &[Field::U64(3), Field::Bytes(&[0, 0xff, 0xfe])],
    );
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn slices_may_share_arena_bytes() {
    // The ABI does not forbid two fields naming the same bytes; nothing in them can conflict.
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        RENAME,
        &[Field::String("/home/a"), Field::String("")],
    );
    let message = message.with_slice(&RENAME_KINDS, 1, 0, 7);
    assert_eq!(check(&policy(), &message.view()), Verdict::Grant);
}

#[test]
fn every_slice_field_is_bounds_checked() {
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        RENAME,
        &[Field::String("/home/a"), Field::String("/home/b")],
    );
    assert_eq!(message.arena.len(), 14);
    let message = message.with_slice(&RENAME_KINDS, 1, 7, 8);
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::SliceOutOfBounds { field: 1 })
    );
}

#[test]
fn every_string_field_is_validated() {
    let message = request(
        SHELL,
        FILES,
        FILE_SYSTEM,
        RENAME,
        &[Field::String("/home/a"), Field::String("/home/\0")],
    );
    assert_eq!(
        check(&policy(), &message.view()),
        deny(DenyReason::BadString { field: 1 })
    );
}
