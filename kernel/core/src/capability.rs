//! Per-entity capability tables: handles that name kernel objects with rights.

use alloc::vec::Vec;
use septa_abi::Error;

/// A handle as entities see it: 1-based index into the table; 0 is never valid.
pub type Handle = u32;

/// One capability: an object and the rights held on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capability<Object> {
    /// The kernel object.
    pub object: Object,
    /// Rights, from [`septa_abi::rights`].
    pub rights: u32,
}

/// An entity's capability table.
#[derive(Clone, Debug, Default)]
pub struct CapabilityTable<Object> {
    slots: Vec<Option<Capability<Object>>>,
}

impl<Object: Copy> CapabilityTable<Object> {
    /// An empty table.
    pub const fn new() -> Self {
        CapabilityTable { slots: Vec::new() }
    }

    /// Installs a capability in the first free slot and returns its handle.
    pub fn insert(&mut self, capability: Capability<Object>) -> Handle {
        if let Some(index) = self.slots.iter().position(Option::is_none) {
            self.slots[index] = Some(capability);
            return index as Handle + 1;
        }
        self.slots.push(Some(capability));
        self.slots.len() as Handle
    }

    /// Looks a handle up, requiring every right in `needed`.
    pub fn lookup(&self, handle: Handle, needed: u32) -> Result<Capability<Object>, Error> {
        let index = (handle as usize).checked_sub(1).ok_or(Error::BadHandle)?;
        let capability = self
            .slots
            .get(index)
            .copied()
            .flatten()
            .ok_or(Error::BadHandle)?;
        if capability.rights & needed != needed {
            return Err(Error::NoRight);
        }
        Ok(capability)
    }

    /// Removes a capability.
    pub fn remove(&mut self, handle: Handle) -> Result<Capability<Object>, Error> {
        let index = (handle as usize).checked_sub(1).ok_or(Error::BadHandle)?;
        self.slots
            .get_mut(index)
            .and_then(Option::take)
            .ok_or(Error::BadHandle)
    }

    /// Every capability held, with its handle.
    pub fn iter(&self) -> impl Iterator<Item = (Handle, Capability<Object>)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| slot.map(|capability| (index as Handle + 1, capability)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use septa_abi::rights;

    #[test]
    fn handles_start_at_one_and_check_rights() {
        let mut table = CapabilityTable::new();
        let handle = table.insert(Capability {
            object: 7u32,
            rights: rights::SEND,
        });
        assert_eq!(handle, 1);
        assert_eq!(table.lookup(1, rights::SEND).unwrap().object, 7);
        assert_eq!(table.lookup(1, rights::RECEIVE), Err(Error::NoRight));
        assert_eq!(
            table.lookup(1, rights::SEND | rights::RECEIVE),
            Err(Error::NoRight)
        );
        assert_eq!(table.lookup(0, 0), Err(Error::BadHandle));
        assert_eq!(table.lookup(2, 0), Err(Error::BadHandle));
        assert_eq!(table.lookup(u32::MAX, 0), Err(Error::BadHandle));
    }

    #[test]
    fn removed_slots_are_reused() {
        let mut table = CapabilityTable::new();
        let first = table.insert(Capability {
            object: 1u32,
            rights: rights::ALL,
        });
        let second = table.insert(Capability {
            object: 2u32,
            rights: rights::ALL,
        });
        assert_eq!(table.remove(first).unwrap().object, 1);
        assert_eq!(table.lookup(first, 0), Err(Error::BadHandle));
        assert_eq!(table.remove(first), Err(Error::BadHandle));
        assert_eq!(
            table.insert(Capability {
                object: 3u32,
                rights: 0
            }),
            first
        );
        assert_eq!(table.iter().count(), 2);
        assert_eq!(table.lookup(second, rights::ALL).unwrap().object, 2);
    }
}
