//! Physical frame accounting: a bitmap of free 4 KiB frames.

use alloc::vec;
use alloc::vec::Vec;

/// Size of a frame.
pub const FRAME_SIZE: u64 = 4096;

/// A bitmap over physical frames `[0, frame_count)`; a set bit means free.
#[derive(Debug)]
pub struct FrameBitmap {
    words: Vec<u64>,
    frame_count: u64,
    free: u64,
    /// Lowest word that may hold a free frame, to make allocation quick.
    hint: usize,
}

impl FrameBitmap {
    /// A bitmap of `frame_count` frames, all in use until [`FrameBitmap::release_range`].
    pub fn new(frame_count: u64) -> Self {
        FrameBitmap {
            words: vec![0; frame_count.div_ceil(64) as usize],
            frame_count,
            free: 0,
            hint: 0,
        }
    }

    /// Marks the frames wholly inside `[start, end)` (byte addresses) free.
    pub fn release_range(&mut self, start: u64, end: u64) {
        let first = start.div_ceil(FRAME_SIZE);
        let last = (end / FRAME_SIZE).min(self.frame_count);
        for frame in first..last {
            self.free_frame(frame * FRAME_SIZE);
        }
    }

    /// Marks the frames touching `[start, end)` used (for the kernel image, boot modules).
    pub fn reserve_range(&mut self, start: u64, end: u64) {
        let first = start / FRAME_SIZE;
        let last = end.div_ceil(FRAME_SIZE).min(self.frame_count);
        for frame in first..last {
            let (word, bit) = ((frame / 64) as usize, frame % 64);
            if self.words[word] & (1 << bit) != 0 {
                self.words[word] &= !(1 << bit);
                self.free -= 1;
            }
        }
    }

    /// Takes a free frame, returning its physical address.
    pub fn allocate(&mut self) -> Option<u64> {
        for index in self.hint..self.words.len() {
            let word = self.words[index];
            if word != 0 {
                let bit = word.trailing_zeros() as u64;
                self.words[index] &= !(1 << bit);
                self.free -= 1;
                self.hint = index;
                return Some((index as u64 * 64 + bit) * FRAME_SIZE);
            }
        }
        None
    }

    /// Returns a frame. Freeing a frame that is already free or out of range is ignored, so a
    /// bookkeeping mistake cannot corrupt the count.
    pub fn free_frame(&mut self, address: u64) {
        let frame = address / FRAME_SIZE;
        if frame >= self.frame_count {
            return;
        }
        let (word, bit) = ((frame / 64) as usize, frame % 64);
        if self.words[word] & (1 << bit) == 0 {
            self.words[word] |= 1 << bit;
            self.free += 1;
            self.hint = self.hint.min(word);
        }
    }

    /// Free frames.
    pub fn free_count(&self) -> u64 {
        self.free
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocates_released_frames_only() {
        let mut bitmap = FrameBitmap::new(256);
        assert_eq!(bitmap.allocate(), None);
        bitmap.release_range(0x1800, 0x5000); // frames 2, 3, 4
        assert_eq!(bitmap.free_count(), 3);
        bitmap.reserve_range(0x3000, 0x3001); // frame 3
        assert_eq!(bitmap.allocate(), Some(0x2000));
        assert_eq!(bitmap.allocate(), Some(0x4000));
        assert_eq!(bitmap.allocate(), None);
        bitmap.free_frame(0x2000);
        bitmap.free_frame(0x2000);
        bitmap.free_frame(u64::MAX - 10);
        assert_eq!(bitmap.free_count(), 1);
        assert_eq!(bitmap.allocate(), Some(0x2000));
    }

    #[test]
    fn release_is_clamped_to_the_bitmap() {
        let mut bitmap = FrameBitmap::new(4);
        bitmap.release_range(0, u64::MAX / 2);
        assert_eq!(bitmap.free_count(), 4);
    }
}
