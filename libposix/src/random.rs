//! `getrandom`: bytes from the processor's random-number instruction (x86_64 RDRAND, aarch64
//! RNDR), which needs no seeding, so `GRND_NONBLOCK`, `GRND_RANDOM` and `GRND_INSECURE` all
//! get the same bytes at once.
//!
//! When the instruction is missing or keeps failing the call is `EAGAIN` after any bytes
//! already given: libposix never substitutes weaker randomness.

use crate::arch;
use crate::errno::{Errno, Result};
use crate::user;

const FLAGS: u32 = libc::GRND_NONBLOCK | libc::GRND_RANDOM | libc::GRND_INSECURE;

/// Fills `buffer` with random words from `source`; returns how many bytes were filled (fewer
/// than asked only if the source failed).
pub fn fill(buffer: &mut [u8], mut source: impl FnMut() -> Option<u64>) -> usize {
    let mut filled = 0;
    for chunk in buffer.chunks_mut(8) {
        let Some(word) = source() else {
            break;
        };
        chunk.copy_from_slice(&word.to_ne_bytes()[..chunk.len()]);
        filled += chunk.len();
    }
    filled
}

/// `getrandom`.
pub fn getrandom(buffer: usize, length: usize, flags: u32) -> Result<usize> {
    if flags & !FLAGS != 0 || flags & libc::GRND_RANDOM != 0 && flags & libc::GRND_INSECURE != 0 {
        return Err(Errno::EINVAL);
    }
    // Linux returns at most 32 MiB - 1 per call.
    let length = length.min((32 << 20) - 1);
    let buffer = user::bytes_mut(buffer, length)?;
    match fill(buffer, arch::random_word) {
        0 if length > 0 => Err(Errno::EAGAIN),
        filled => Ok(filled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_whole_words_and_the_tail() {
        let mut buffer = [0u8; 13];
        let mut next = 0u64;
        let filled = fill(&mut buffer, || {
            next += 1;
            Some(u64::from_ne_bytes([next as u8; 8]))
        });
        assert_eq!(filled, 13);
        assert_eq!(buffer, [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2]);
    }

    #[test]
    fn a_failing_source_gives_what_it_had() {
        let mut buffer = [0u8; 24];
        let mut calls = 0;
        let filled = fill(&mut buffer, || {
            calls += 1;
            (calls < 3).then_some(7)
        });
        assert_eq!(filled, 16);
        assert_eq!(fill(&mut buffer, || None), 0);
    }

    #[test]
    fn flags_are_checked() {
        let mut buffer = [0u8; 8];
        let pointer = buffer.as_mut_ptr() as usize;
        assert_eq!(getrandom(pointer, 8, 0x80), Err(Errno::EINVAL));
        assert_eq!(
            getrandom(pointer, 8, libc::GRND_RANDOM | libc::GRND_INSECURE),
            Err(Errno::EINVAL)
        );
        assert_eq!(getrandom(pointer, 0, 0), Ok(0));
        assert_eq!(getrandom(0, 8, 0), Err(Errno::EFAULT));
    }
}
