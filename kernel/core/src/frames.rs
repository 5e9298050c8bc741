//! Physical frame accounting: a bitmap of free 4 KiB frames, taken one at a time or as a
//! physically contiguous run (for memory a device reaches by DMA).

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

    /// Takes `count` free frames that are physically contiguous, the lowest such run, and
    /// returns the address of the first. `None` when `count` is 0 or no run is long enough.
    /// The frames are freed one by one with [`FrameBitmap::free_frame`].
    pub fn allocate_run(&mut self, count: u64) -> Option<u64> {
        if count == 0 || count > self.free {
            return None;
        }
        let mut frame = self.hint as u64 * 64;
        let (mut start, mut length) = (frame, 0u64);
        while frame < self.frame_count {
            let (word, bit) = ((frame / 64) as usize, frame % 64);
            // Whole words at once where they are wholly used, or wholly free and not the end.
            if bit == 0 && self.words[word] == 0 {
                length = 0;
                frame += 64;
                continue;
            }
            if bit == 0 && self.words[word] == u64::MAX && length + 64 < count {
                if length == 0 {
                    start = frame;
                }
                length += 64;
                frame += 64;
                continue;
            }
            if self.words[word] & (1 << bit) == 0 {
                length = 0;
            } else {
                if length == 0 {
                    start = frame;
                }
                length += 1;
                if length == count {
                    for taken in start..start + count {
                        self.words[(taken / 64) as usize] &= !(1 << (taken % 64));
                    }
                    self.free -= count;
                    return Some(start * FRAME_SIZE);
                }
            }
            frame += 1;
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
    fn runs_are_contiguous_and_first_fit() {
        let mut bitmap = FrameBitmap::new(512);
        bitmap.release_range(0, 512 * FRAME_SIZE);
        // Holes at frames 3 and 70 split the free space into runs of 3, 66 and 441 frames.
        bitmap.reserve_range(3 * FRAME_SIZE, 4 * FRAME_SIZE);
        bitmap.reserve_range(70 * FRAME_SIZE, 71 * FRAME_SIZE);
        assert_eq!(bitmap.allocate_run(2), Some(0));
        assert_eq!(bitmap.allocate_run(2), Some(4 * FRAME_SIZE));
        // Frames 6..70 are 64, one short: the run comes after frame 70, across a word boundary.
        assert_eq!(bitmap.allocate_run(65), Some(71 * FRAME_SIZE));
        // An exact fit, across the word boundary at frame 64.
        assert_eq!(bitmap.allocate_run(64), Some(6 * FRAME_SIZE));
        assert_eq!(bitmap.free_count(), 512 - 2 - 2 - 2 - 65 - 64);
        // The single frame left below the first hole.
        assert_eq!(bitmap.allocate(), Some(2 * FRAME_SIZE));
        // Exactly the rest of the bitmap, ending at its last frame.
        assert_eq!(bitmap.allocate_run(512 - 136), Some(136 * FRAME_SIZE));
        assert_eq!(bitmap.allocate_run(1), None);
        assert_eq!(bitmap.free_count(), 0);
    }

    #[test]
    fn runs_fail_when_memory_is_fragmented_or_short() {
        let mut bitmap = FrameBitmap::new(200);
        assert_eq!(bitmap.allocate_run(1), None);
        bitmap.release_range(0, 200 * FRAME_SIZE);
        assert_eq!(bitmap.allocate_run(0), None);
        assert_eq!(bitmap.allocate_run(201), None);
        for frame in (0..200).step_by(2) {
            bitmap.reserve_range(frame * FRAME_SIZE, frame * FRAME_SIZE + 1);
        }
        // A hundred free frames, none adjacent to another.
        assert_eq!(bitmap.free_count(), 100);
        assert_eq!(bitmap.allocate_run(2), None);
        assert_eq!(bitmap.free_count(), 100);
        assert_eq!(bitmap.allocate_run(1), Some(FRAME_SIZE));
    }

    #[test]
    fn run_frames_are_freed_one_by_one() {
        let mut bitmap = FrameBitmap::new(128);
        bitmap.release_range(0, 128 * FRAME_SIZE);
        let run = bitmap.allocate_run(100).unwrap();
        assert_eq!(bitmap.free_count(), 28);
        for frame in 0..100 {
            bitmap.free_frame(run + frame * FRAME_SIZE);
        }
        assert_eq!(bitmap.free_count(), 128);
        assert_eq!(bitmap.allocate_run(128), Some(0));
        assert_eq!(bitmap.free_count(), 0);
    }

    #[test]
    fn release_is_clamped_to_the_bitmap() {
        let mut bitmap = FrameBitmap::new(4);
        bitmap.release_range(0, u64::MAX / 2);
        assert_eq!(bitmap.free_count(), 4);
    }
}
