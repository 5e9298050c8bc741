//! Fuzz target: arbitrary bytes as a message, requests and replies, must never make `check` panic.
//!
//! The bytes are decoded by the same fixture the host tests use (`tests/common`): one control
//! byte picking direction, source and target, then the header, then the fixed part and arena.
//! The policy is the tests' fixture too, so string, bytes and integer fields with prefix and
//! range conditions are all reachable. `common::check` also asserts that the audit record
//! describes the message, whatever the verdict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use septa_monitor::Policy;
use std::sync::LazyLock;

#[path = "../../tests/common/mod.rs"]
mod common;

/// Built once: the target measures `check`, not building the policy.
static POLICY: LazyLock<Policy> = LazyLock::new(common::policy);

fuzz_target!(|bytes: &[u8]| {
    if let Some(message) = common::message_from_bytes(bytes) {
        common::check(&POLICY, &message);
    }
});
