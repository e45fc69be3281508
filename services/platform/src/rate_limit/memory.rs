//! Fixed-window counters in this process, bounded in size.

use std::collections::HashMap;
use std::sync::Mutex;

/// Counts attempts per key in the current window. All counts are dropped when a new window
/// starts, and at most `capacity` keys are held: once full, a new key is not stored and each of
/// its attempts counts as the first, until the window ends.
///
/// NOTE: when full, new client addresses are therefore not limited individually for the rest of
/// the window. The per-tenant limit, held in its own counter, still applies to them.
pub struct MemoryCounter {
    capacity: usize,
    state: Mutex<State>,
}

struct State {
    window: u64,
    counts: HashMap<String, u64>,
    /// Whether "full" was logged in this window, so it is logged once per window.
    full_logged: bool,
}

impl MemoryCounter {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            state: Mutex::new(State {
                window: 0,
                counts: HashMap::new(),
                full_logged: false,
            }),
        }
    }

    /// Counts one attempt for `key` in `window` and returns the attempts so far in that window.
    pub fn increment(&self, key: &str, window: u64) -> u64 {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if state.window != window {
            state.window = window;
            state.counts.clear();
            state.full_logged = false;
        }
        if let Some(count) = state.counts.get_mut(key) {
            *count += 1;
            return *count;
        }
        if state.counts.len() >= self.capacity {
            if !state.full_logged {
                state.full_logged = true;
                tracing::warn!(
                    capacity = self.capacity,
                    "login attempt counter is full; new keys are not counted until the window ends"
                );
            }
            return 1;
        }
        state.counts.insert(key.to_owned(), 1);
        1
    }

    /// Returns the number of keys held in the current window.
    pub fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .counts
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increment_counts_per_key() {
        let counter = MemoryCounter::new(10);
        assert_eq!(counter.increment("a", 5), 1);
        assert_eq!(counter.increment("a", 5), 2);
        assert_eq!(counter.increment("b", 5), 1);
        assert_eq!(counter.len(), 2);
    }

    #[test]
    fn new_window_starts_from_zero() {
        let counter = MemoryCounter::new(10);
        counter.increment("a", 5);
        counter.increment("a", 5);
        assert_eq!(counter.increment("a", 6), 1);
        assert_eq!(counter.len(), 1);
    }

    #[test]
    fn capacity_bounds_keys() {
        let counter = MemoryCounter::new(100);
        for i in 0..10_000 {
            counter.increment(&format!("ip:{i}"), 1);
        }
        assert_eq!(counter.len(), 100);
        // Keys held before the counter filled up keep counting.
        assert_eq!(counter.increment("ip:0", 1), 2);
        // A key that did not fit counts every attempt as the first.
        assert_eq!(counter.increment("ip:5000", 1), 1);
        assert_eq!(counter.increment("ip:5000", 1), 1);
    }
}
