//! The fuzz target's property on stable: `check` never panics and always audits what it saw.
//!
//! A xorshift generator stands in for the fuzzer, so CI needs neither nightly nor a dependency.
//! Raw byte strings alone rarely get past the header checks, so most cases are built from the
//! fixture's own methods with random contents, and counted, to show the rules were reached.

mod common;

use common::*;
use septa_abi::layout::{self, FieldKind};
use septa_abi::{MESSAGE_HEADER_SIZE, MessageHeader};
use septa_monitor::{DenyReason, Direction, Message, Policy, Verdict};

/// Marsaglia's xorshift64: deterministic, so a failure reproduces.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, length: usize) -> Vec<u8> {
        (0..length).map(|_| self.next() as u8).collect()
    }

    /// Bytes drawn mostly from those the fixture's predicates and string checks care about.
    fn interesting_bytes(&mut self, length: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"GET /home/tmp/\0\xff\xc3\xa9";
        (0..length)
            .map(|_| {
                if self.chance(8) {
                    self.next() as u8
                } else {
                    ALPHABET[self.below(ALPHABET.len() as u64) as usize]
                }
            })
            .collect()
    }
}

/// What the cases reached, so the test can show it went past the header checks.
#[derive(Default)]
struct Tally {
    grants: usize,
    reasons: Vec<DenyReason>,
}

impl Tally {
    fn record(&mut self, verdict: Verdict) {
        match verdict {
            Verdict::Grant => self.grants += 1,
            Verdict::Deny(reason) => {
                let kind = core::mem::discriminant(&reason);
                if !self
                    .reasons
                    .iter()
                    .any(|seen| core::mem::discriminant(seen) == kind)
                {
                    self.reasons.push(reason);
                }
            }
        }
    }
}

/// A message for one of the fixture's methods (or a made-up one), with random contents of
/// about the right shape.
fn shaped_message(random: &mut Xorshift, policy: &Policy) -> OwnedMessage {
    let interface = &policy.interfaces[random.below(policy.interfaces.len() as u64) as usize];
    let method = &interface.methods[random.below(interface.methods.len() as u64) as usize];
    let direction = if random.chance(3) {
        Direction::Reply
    } else {
        Direction::Request
    };
    let status = if random.chance(4) {
        random.next() as u32
    } else {
        0
    };
    let fields = match direction {
        Direction::Request => &method.request,
        Direction::Reply => &method.reply,
    };
    let kinds: Vec<FieldKind> = fields.iter().map(|field| field.kind).collect();

    let mut fixed_size = layout::fixed_size(&kinds);
    if random.chance(10) {
        fixed_size = random.below(40) as usize;
    }
    let mut fixed = random.bytes(fixed_size);
    let arena_size = random.below(48) as usize;
    let arena = random.interesting_bytes(arena_size);
    for (index, kind) in kinds.iter().enumerate() {
        let Some(at) = layout::field_offset(&kinds, index) else {
            continue;
        };
        if at + 8 > fixed.len() {
            continue;
        }
        if kind.is_slice() {
            // Mostly small offsets and lengths, so some slices land inside the arena.
            let offset = if random.chance(16) {
                random.next() as u32
            } else {
                random.below(50) as u32
            };
            let length = if random.chance(16) {
                random.next() as u32
            } else {
                random.below(30) as u32
            };
            fixed[at..at + 4].copy_from_slice(&offset.to_le_bytes());
            fixed[at + 4..at + 8].copy_from_slice(&length.to_le_bytes());
        } else if random.chance(2) {
            // Small integers, so that ranges such as 80..=80 and -100..=100 are hit.
            let small = (random.below(256) as i64 - 128).to_le_bytes();
            fixed[at..at + kind.size()].copy_from_slice(&small[..kind.size()]);
        }
    }

    let mut header = MessageHeader {
        interface: interface.id,
        method: method.id,
        fixed_size: fixed.len() as u32,
        arena_size: arena.len() as u32,
        handle_count: 0,
        status,
        sender: 0,
        reserved: 0,
    };
    // Now and then, corrupt one header word.
    if random.chance(8) {
        let mut words = header.to_bytes();
        let word = random.below(8) as usize * 4;
        words[word..word + 4].copy_from_slice(&(random.next() as u32).to_le_bytes());
        header = MessageHeader::from_bytes(&words);
    }
    OwnedMessage {
        source: random.below(6) as u32,
        target: random.below(6) as u32,
        direction,
        header,
        fixed,
        arena,
    }
}

#[test]
fn random_byte_strings_never_panic() {
    let policy = policy();
    let mut random = Xorshift(0x5e97_a000_0000_0001);
    let mut tally = Tally::default();
    for _ in 0..4000 {
        let length = random.below(1 + MESSAGE_HEADER_SIZE as u64 + 96) as usize;
        let mut bytes = random.bytes(length);
        // Half the time, make the header's sizes agree with the bytes that follow it.
        if random.chance(2) && bytes.len() > MESSAGE_HEADER_SIZE {
            let body = bytes.len() - 1 - MESSAGE_HEADER_SIZE;
            let fixed = random.below(body as u64 + 1) as u32;
            bytes[9..13].copy_from_slice(&fixed.to_le_bytes());
            bytes[13..17].copy_from_slice(&(body as u32 - fixed).to_le_bytes());
        }
        if let Some(message) = message_from_bytes(&bytes) {
            tally.record(check(&policy, &message));
        }
    }
    assert!(tally.reasons.contains(&DenyReason::BadSizes));
}

#[test]
fn random_shaped_messages_never_panic() {
    let policy = policy();
    let mut random = Xorshift(0x0dd_ba11_cafe_f00d);
    let mut tally = Tally::default();
    for _ in 0..6000 {
        let message = shaped_message(&mut random, &policy);
        let view: Message<'_> = message.view();
        tally.record(check(&policy, &view));
    }
    // Every reason and some grants were reached: the generator gets past the header checks.
    assert!(tally.grants > 0, "no grants");
    let kinds = tally.reasons.len();
    assert_eq!(kinds, 9, "reached only {:?}", tally.reasons);
}
