//! What a cache of remote documents remembers per origin, bounded in entries and in bytes:
//! when either bound is passed, the least recently used origin is forgotten first (and is
//! simply fetched again when next asked for). Each origin's state is shared (`Arc`), so a
//! holder keeps its copy while it works even if the origin is forgotten meanwhile.
//!
//! The bound matters because the origins are not ours to choose: every issuer an
//! organization's admin names (a provider, a trust policy) ends up here once a token claims
//! it, and tokens arrive unauthenticated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per-origin state of type `T`, at most `max_entries` origins and `max_bytes` bytes (as
/// each origin's state reports them through [`Slots::set_bytes`]).
#[derive(Debug)]
pub(crate) struct Slots<T> {
    inner: Mutex<Inner<T>>,
    max_entries: usize,
    max_bytes: usize,
}

#[derive(Debug)]
struct Inner<T> {
    entries: HashMap<String, Entry<T>>,
    /// A counter, not a clock: the order of uses is all that matters.
    uses: u64,
    bytes: usize,
}

#[derive(Debug)]
struct Entry<T> {
    slot: Arc<T>,
    last_used: u64,
    bytes: usize,
}

impl<T: Default> Slots<T> {
    pub(crate) fn new(max_entries: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                uses: 0,
                bytes: 0,
            }),
            max_entries: max_entries.max(1),
            max_bytes,
        }
    }

    /// The state of `origin`, made empty if it is not remembered; it becomes the most
    /// recently used, and the least recently used others are forgotten if it does not fit.
    pub(crate) fn get(&self, origin: &str) -> Arc<T> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.uses += 1;
        let uses = inner.uses;
        if let Some(entry) = inner.entries.get_mut(origin) {
            entry.last_used = uses;
            return entry.slot.clone();
        }
        let slot = Arc::new(T::default());
        inner.entries.insert(
            origin.to_owned(),
            Entry {
                slot: slot.clone(),
                last_used: uses,
                bytes: 0,
            },
        );
        inner.fit(origin, self.max_entries, self.max_bytes);
        slot
    }

    /// Records that `slot`, the state of `origin`, now holds `bytes`, and forgets the least
    /// recently used others until everything fits. A slot forgotten meanwhile is left
    /// forgotten.
    pub(crate) fn set_bytes(&self, origin: &str, slot: &Arc<T>, bytes: usize) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = inner.entries.get_mut(origin) else {
            return;
        };
        if !Arc::ptr_eq(&entry.slot, slot) {
            return;
        }
        let before = std::mem::replace(&mut entry.bytes, bytes);
        inner.bytes = inner.bytes.saturating_sub(before).saturating_add(bytes);
        inner.fit(origin, self.max_entries, self.max_bytes);
    }

    /// How many origins are remembered.
    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    /// The bytes the remembered origins hold, together.
    pub(crate) fn bytes(&self) -> usize {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).bytes
    }
}

impl<T> Inner<T> {
    /// Forgets the least recently used origins other than `keep` until both bounds hold (or
    /// `keep` is all that is left).
    fn fit(&mut self, keep: &str, max_entries: usize, max_bytes: usize) {
        while self.entries.len() > max_entries || self.bytes > max_bytes {
            let victim = self
                .entries
                .iter()
                .filter(|(origin, _)| origin.as_str() != keep)
                .min_by_key(|(_, entry)| entry.last_used)
                .map(|(origin, _)| origin.clone());
            let Some(victim) = victim else {
                return;
            };
            if let Some(entry) = self.entries.remove(&victim) {
                self.bytes = self.bytes.saturating_sub(entry.bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Counter = Mutex<u32>;

    #[test]
    fn the_least_recently_used_origin_is_forgotten_past_the_entries_bound() {
        let slots: Slots<Counter> = Slots::new(2, usize::MAX);
        let a = slots.get("a");
        *a.lock().unwrap() = 1;
        slots.get("b");
        // `a` used again, so `b` is the least recently used when `c` comes.
        assert!(Arc::ptr_eq(&slots.get("a"), &a));
        slots.get("c");
        assert_eq!(slots.len(), 2);
        assert_eq!(*slots.get("a").lock().unwrap(), 1);
        // `b` was forgotten: it comes back empty, and `c` makes way for it.
        assert_eq!(*slots.get("b").lock().unwrap(), 0);
        assert_eq!(slots.len(), 2);
    }

    #[test]
    fn origins_are_forgotten_until_their_bytes_fit() {
        let slots: Slots<Counter> = Slots::new(100, 1000);
        let a = slots.get("a");
        slots.set_bytes("a", &a, 400);
        let b = slots.get("b");
        slots.set_bytes("b", &b, 400);
        assert_eq!((slots.len(), slots.bytes()), (2, 800));
        let c = slots.get("c");
        slots.set_bytes("c", &c, 400);
        // `a`, the least recently used, is forgotten.
        assert_eq!((slots.len(), slots.bytes()), (2, 800));
        assert!(!Arc::ptr_eq(&slots.get("a"), &a));
        // One origin larger than the bound stays alone rather than not at all.
        let d = slots.get("d");
        slots.set_bytes("d", &d, 5000);
        assert_eq!((slots.len(), slots.bytes()), (1, 5000));
        // Its size shrinking is counted too.
        slots.set_bytes("d", &d, 10);
        assert_eq!(slots.bytes(), 10);
    }

    #[test]
    fn the_size_of_a_forgotten_slot_is_not_counted() {
        let slots: Slots<Counter> = Slots::new(1, usize::MAX);
        let a = slots.get("a");
        slots.get("b");
        slots.set_bytes("a", &a, 100);
        assert_eq!((slots.len(), slots.bytes()), (1, 0));
        // Nor is a stale holder's size counted for the origin's new slot.
        let a_again = slots.get("a");
        slots.set_bytes("a", &a, 100);
        assert_eq!(slots.bytes(), 0);
        slots.set_bytes("a", &a_again, 50);
        assert_eq!(slots.bytes(), 50);
    }
}
