//! Idempotency: a window of signal ids each target has already been delivered.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::{ConfigFields, TargetError};

/// Skips a delivery of a signal id the same target was already delivered within
/// `ttl`: the target's result is then [`Outcome::Duplicate`](crate::Outcome::Duplicate),
/// a success, and no attempt is made.
///
/// Only successful deliveries are remembered (a failed one may be tried again). Ids are
/// kept in one window per dispatcher (shared by its shards), bounded by
/// [`DispatcherBuilder::dedupe_capacity`](crate::DispatcherBuilder::dedupe_capacity):
/// past it the oldest entries go first, as do entries past their `ttl`.
///
/// ```
/// use std::time::Duration;
/// use herald_core::resilience::Dedupe;
///
/// let dedupe = Dedupe::new(Duration::from_secs(60));
/// assert_eq!(dedupe.ttl(), Duration::from_secs(60));
/// assert_eq!(Dedupe::default().ttl(), Duration::from_secs(600));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dedupe {
    ttl: Duration,
}

impl Default for Dedupe {
    /// Ten minutes.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(600),
        }
    }
}

impl Dedupe {
    /// The longest window: one day.
    pub const MAX_TTL: Duration = Duration::from_secs(86_400);

    /// Remembers each delivered id for `ttl` (at least 1 ms, at most a day).
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl: ttl.clamp(Duration::from_millis(1), Self::MAX_TTL),
        }
    }

    /// How long a delivered id is remembered.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let ttl = fields.millis("ttl_ms", Self::MAX_TTL)?;
        fields.finish(&["ttl_ms"])?;
        Ok(ttl.map_or_else(Self::default, Self::new))
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        serde_json::json!({ "ttl_ms": self.ttl.as_millis() as u64 })
    }
}

/// The ids delivered, by a 64-bit hash of (target, signal id) under a key chosen at
/// random per window, so that ids from outside cannot be made to collide on purpose.
#[derive(Debug)]
pub(crate) struct Window {
    hasher: std::collections::hash_map::RandomState,
    capacity: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    /// Each key's expiry. Keys are already keyed hashes: the map uses them as they are.
    expires: HashMap<u64, Instant, BuildHasherDefault<Prehashed>>,
    /// Keys in the order remembered (a key remembered again appears twice; the stale
    /// copy is skipped when it comes up).
    order: VecDeque<(u64, Instant)>,
}

impl Window {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            hasher: Default::default(),
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    /// The key of what `feed` writes (a target and a signal id).
    pub(crate) fn key(&self, feed: impl FnOnce(&mut dyn Hasher)) -> u64 {
        let mut hasher = self.hasher.build_hasher();
        feed(&mut hasher);
        hasher.finish()
    }

    /// Whether `key` was delivered and has not expired.
    pub(crate) fn seen(&self, key: u64, now: Instant) -> bool {
        let entries = super::lock(&self.entries);
        entries
            .expires
            .get(&key)
            .is_some_and(|expiry| *expiry > now)
    }

    /// Remembers `key` as delivered until `now + ttl`, evicting expired and (past the
    /// capacity) oldest entries.
    pub(crate) fn remember(&self, key: u64, now: Instant, ttl: Duration) {
        let mut entries = super::lock(&self.entries);
        let expiry = now + ttl;
        entries.expires.insert(key, expiry);
        entries.order.push_back((key, expiry));
        while let Some(&(oldest, expiry)) = entries.order.front() {
            let live = entries.expires.get(&oldest) == Some(&expiry);
            if live && expiry > now && entries.expires.len() <= self.capacity {
                break;
            }
            entries.order.pop_front();
            if live {
                entries.expires.remove(&oldest);
            }
        }
        // Stale copies of re-remembered keys are bounded too.
        if entries.order.len() > self.capacity.saturating_mul(2) {
            let Entries { expires, order } = &mut *entries;
            order.retain(|(key, expiry)| expires.get(key) == Some(expiry));
        }
    }

    /// How many ids are remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        super::lock(&self.entries).expires.len()
    }
}

/// A hasher for keys that are hashes already: it passes the `u64` through.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here; fold anything else in, to stay correct.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, key: u64) {
        self.0 = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_until_the_ttl_and_forgets_the_oldest_past_capacity() {
        let window = Window::new(2);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let key = |target: &str, id: &str| {
            window.key(|h| {
                h.write(target.as_bytes());
                h.write(id.as_bytes());
            })
        };
        let [a, b, c] = ["a", "b", "c"].map(|id| key("target", id));
        window.remember(a, t0, ttl);
        assert!(window.seen(a, t0));
        assert!(!window.seen(a, t0 + ttl));
        window.remember(b, t0, ttl);
        window.remember(c, t0, ttl);
        assert_eq!(window.len(), 2);
        assert!(!window.seen(a, t0), "the oldest went first");
        assert!(window.seen(b, t0) && window.seen(c, t0));
        assert_ne!(key("one", "a"), key("other", "a"));
    }

    #[test]
    fn a_million_ids_stay_within_the_capacity() {
        let window = Window::new(10_000);
        let t0 = Instant::now();
        for id in 0..1_000_000u32 {
            let key = window.key(|h| h.write_u32(id));
            window.remember(key, t0, Duration::from_secs(60));
        }
        assert_eq!(window.len(), 10_000);
        let entries = window.entries.lock().unwrap();
        assert!(entries.order.len() <= 20_000);
    }

    #[test]
    fn remembering_one_id_again_does_not_grow_the_window() {
        let window = Window::new(4);
        let t0 = Instant::now();
        let key = window.key(|h| h.write(b"same"));
        for step in 0..1_000u64 {
            window.remember(
                key,
                t0 + Duration::from_millis(step),
                Duration::from_secs(60),
            );
        }
        assert_eq!(window.len(), 1);
        assert!(window.entries.lock().unwrap().order.len() <= 8);
    }
}
