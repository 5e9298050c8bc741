//! Ready queues for a fixed-priority, round-robin-within-priority scheduler.

use alloc::collections::VecDeque;

/// Number of priority levels; 0 is the lowest.
pub const PRIORITY_LEVELS: usize = 32;

/// Threads ready to run, by priority, each level first-in first-out.
#[derive(Debug)]
pub struct ReadyQueues<Thread> {
    levels: [VecDeque<Thread>; PRIORITY_LEVELS],
    /// Bit `p` is set when level `p` is not empty, so the highest level is found in one step.
    occupied: u32,
}

impl<Thread: Copy + PartialEq> Default for ReadyQueues<Thread> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Thread: Copy + PartialEq> ReadyQueues<Thread> {
    /// Empty queues.
    pub const fn new() -> Self {
        ReadyQueues {
            levels: [const { VecDeque::new() }; PRIORITY_LEVELS],
            occupied: 0,
        }
    }

    /// Adds a thread at the back of its priority level (priorities above the top are clamped).
    pub fn push(&mut self, thread: Thread, priority: u8) {
        let level = (priority as usize).min(PRIORITY_LEVELS - 1);
        self.levels[level].push_back(thread);
        self.occupied |= 1 << level;
    }

    /// Takes the first thread of the highest non-empty level.
    pub fn pop(&mut self) -> Option<Thread> {
        let level = self.highest()? as usize;
        let thread = self.levels[level].pop_front();
        if self.levels[level].is_empty() {
            self.occupied &= !(1 << level);
        }
        thread
    }

    /// The highest non-empty priority level.
    pub fn highest(&self) -> Option<u8> {
        if self.occupied == 0 {
            None
        } else {
            Some(31 - self.occupied.leading_zeros() as u8)
        }
    }

    /// Removes a thread queued at `priority`; returns whether it was there.
    pub fn remove(&mut self, thread: Thread, priority: u8) -> bool {
        let level = (priority as usize).min(PRIORITY_LEVELS - 1);
        if self.occupied & (1 << level) == 0 {
            return false;
        }
        let Some(position) = self.levels[level]
            .iter()
            .position(|queued| *queued == thread)
        else {
            return false;
        };
        self.levels[level].remove(position);
        if self.levels[level].is_empty() {
            self.occupied &= !(1 << level);
        }
        true
    }

    /// Whether no thread is ready.
    pub fn is_empty(&self) -> bool {
        self.occupied == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_priority_first_then_fifo() {
        let mut queues = ReadyQueues::new();
        queues.push(1u32, 3);
        queues.push(2, 10);
        queues.push(3, 10);
        queues.push(4, 0);
        assert_eq!(queues.highest(), Some(10));
        assert_eq!(queues.pop(), Some(2));
        assert_eq!(queues.pop(), Some(3));
        assert_eq!(queues.pop(), Some(1));
        assert_eq!(queues.pop(), Some(4));
        assert_eq!(queues.pop(), None);
        assert!(queues.is_empty());
    }

    #[test]
    fn remove_and_clamp() {
        let mut queues = ReadyQueues::new();
        queues.push(1u32, 200);
        queues.push(2, 31);
        assert_eq!(queues.highest(), Some(31));
        assert!(!queues.remove(1, 30));
        assert!(queues.remove(1, 200));
        assert!(!queues.remove(1, 31));
        assert_eq!(queues.pop(), Some(2));
        assert_eq!(queues.highest(), None);
    }
}
