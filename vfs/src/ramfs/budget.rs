//! The memory budget: how many bytes the ramfs instances of a server may hold together, so that
//! a full ramfs is `ENOSPC` rather than an entity out of memory.

use crate::errno::{Errno, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A shared count of bytes charged against a limit; clones share the count.
#[derive(Clone, Debug)]
pub struct MemoryBudget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    limit: u64,
    used: AtomicU64,
}

impl MemoryBudget {
    /// A budget of `limit` bytes, none used.
    pub fn new(limit: u64) -> MemoryBudget {
        MemoryBudget {
            shared: Arc::new(Shared {
                limit,
                used: AtomicU64::new(0),
            }),
        }
    }

    /// The limit in bytes.
    pub fn limit(&self) -> u64 {
        self.shared.limit
    }

    /// Bytes charged now.
    pub fn used(&self) -> u64 {
        self.shared.used.load(Ordering::Relaxed)
    }

    /// Charges `bytes`, or fails with `ENOSPC` (charging nothing) when they do not fit.
    pub fn charge(&self, bytes: u64) -> Result<()> {
        let limit = self.shared.limit;
        self.shared
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                used.checked_add(bytes).filter(|total| *total <= limit)
            })
            .map(|_| ())
            .map_err(|_| Errno::ENOSPC)
    }

    /// Gives back `bytes` charged earlier.
    pub fn release(&self, bytes: u64) {
        // Never below zero: a release matches a charge, but a mistake must not wrap the count.
        let _ = self
            .shared
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                Some(used.saturating_sub(bytes))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_clones_share() {
        let budget = MemoryBudget::new(100);
        let other = budget.clone();
        assert_eq!(budget.charge(60), Ok(()));
        assert_eq!(other.charge(50), Err(Errno::ENOSPC));
        assert_eq!(other.charge(40), Ok(()));
        assert_eq!(budget.used(), 100);
        assert_eq!(budget.charge(1), Err(Errno::ENOSPC));
        other.release(30);
        assert_eq!(budget.used(), 70);
        assert_eq!(budget.charge(u64::MAX), Err(Errno::ENOSPC));
        budget.release(1000);
        assert_eq!(budget.used(), 0);
    }
}
