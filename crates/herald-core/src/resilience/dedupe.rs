//! Idempotency: a window of signal ids each target has already been delivered.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::{ConfigFields, TargetError};

/// Skips a delivery of a signal id the same target was already delivered within
/// `ttl`: the target's result is then [`Outcome::Duplicate`](crate::Outcome::Duplicate),
/// a success, and no attempt is made.
///
/// Only successful deliveries are remembered (a failed one may be tried again). A
/// delivery of an id the same target has **in flight** waits for that one's outcome
/// (within its own delivery budget; past it, it fails as a retryable `Timeout`): a
/// success makes it a `Duplicate` too, a failure lets it go, so concurrent dispatches of
/// one signal reach the target once. Each
/// target (by its exact identity: two targets that differ in any field keep apart) has
/// a window of its own; all of a dispatcher's windows together (shared by its shards)
/// keep at most
/// [`DispatcherBuilder::dedupe_capacity`](crate::DispatcherBuilder::dedupe_capacity)
/// ids. Past it the largest window's oldest id goes, so a target that takes many fresh
/// ids evicts its own, never another's; ids past their `ttl` go too.
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

/// The ids delivered, in one window per target: each id by a 64-bit hash of (target,
/// signal id) under a key chosen at random per dispatcher, so that ids from outside
/// cannot be made to collide on purpose.
///
/// All windows together keep at most `capacity` ids. Past it, the oldest id of the
/// *largest* window goes: a target that takes many fresh ids evicts its own, never
/// another's, until every window is the same size.
#[derive(Debug)]
pub(crate) struct Window {
    hasher: std::collections::hash_map::RandomState,
    capacity: usize,
    entries: Mutex<Entries>,
}

/// A delivery's place in the windows: its target's and its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    target: u64,
    id: u64,
}

#[derive(Debug, Default)]
struct Entries {
    /// Each target's window. Keys are already keyed hashes: the maps use them as they are.
    windows: HashMap<u64, TargetWindow, BuildHasherDefault<Prehashed>>,
    /// The windows by size, to find the largest.
    by_size: BTreeSet<(usize, u64)>,
    /// Ids kept in all windows.
    total: usize,
    /// Deliveries under way, by (target, id): at most one per pair, each as long as its
    /// delivery (so no more than the deliveries in flight).
    in_flight: HashMap<(u64, u64), Arc<Flight>>,
}

/// A delivery under way that later deliveries of the same id to the same target wait
/// for.
#[derive(Debug, Default)]
pub(crate) struct Flight {
    ended: AtomicBool,
    notify: Notify,
}

impl Flight {
    /// Waits until the delivery ended (however it did).
    pub(crate) async fn ended(&self) {
        loop {
            // Made before the check: a `notify_waiters` after it is not missed.
            let notified = self.notify.notified();
            if self.ended.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

/// What a delivery found of its id in the windows.
#[derive(Debug)]
pub(crate) enum Claim<'w> {
    /// Delivered already, within the window.
    Seen,
    /// Under way in another delivery: wait for it to end, then claim again.
    Busy(Arc<Flight>),
    /// This delivery's to make; the reservation ends with it.
    Mine(Reservation<'w>),
}

/// A delivery's hold on its (target, id): released when dropped, remembered as
/// delivered with [`delivered`](Self::delivered).
#[derive(Debug)]
pub(crate) struct Reservation<'w> {
    window: &'w Window,
    key: Key,
}

impl Reservation<'_> {
    /// The delivery succeeded: remembered until `started + ttl`, and released.
    pub(crate) fn delivered(self, started: Instant, ttl: Duration) {
        self.window.remember(self.key, started, ttl);
        // Dropped here: released after it is remembered, so a waiter finds it seen.
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let flight = super::lock(&self.window.entries)
            .in_flight
            .remove(&(self.key.target, self.key.id));
        if let Some(flight) = flight {
            flight.ended.store(true, Ordering::Release);
            flight.notify.notify_waiters();
        }
    }
}

/// One target's ids.
#[derive(Debug, Default)]
struct TargetWindow {
    /// Each id's expiry.
    expires: HashMap<u64, Instant, BuildHasherDefault<Prehashed>>,
    /// Ids in the order remembered (an id remembered again appears twice; the stale
    /// copy is skipped when it comes up).
    order: VecDeque<(u64, Instant)>,
}

impl TargetWindow {
    /// Forgets its oldest id; whether there was one.
    fn pop_oldest(&mut self) -> bool {
        while let Some((oldest, expiry)) = self.order.pop_front() {
            if self.expires.get(&oldest) == Some(&expiry) {
                self.expires.remove(&oldest);
                return true;
            }
        }
        false
    }

    /// Forgets ids past their expiry, oldest first, and stale copies past a bound.
    fn expire(&mut self, now: Instant) {
        while let Some(&(oldest, expiry)) = self.order.front() {
            let live = self.expires.get(&oldest) == Some(&expiry);
            if live && expiry > now {
                break;
            }
            self.order.pop_front();
            if live {
                self.expires.remove(&oldest);
            }
        }
        if self.order.len() > self.expires.len().saturating_mul(2).max(16) {
            let Self { expires, order } = self;
            order.retain(|(key, expiry)| expires.get(key) == Some(expiry));
        }
    }
}

impl Window {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            hasher: Default::default(),
            capacity: capacity.max(1),
            entries: Mutex::default(),
        }
    }

    /// The key of a delivery: `target` writes the target's identity, `id` the signal's.
    pub(crate) fn key(
        &self,
        target: impl FnOnce(&mut dyn Hasher),
        id: impl FnOnce(&mut dyn Hasher),
    ) -> Key {
        let mut hasher = self.hasher.build_hasher();
        target(&mut hasher);
        let target = hasher.finish();
        hasher.write_u64(0x5eed);
        id(&mut hasher);
        Key {
            target,
            id: hasher.finish(),
        }
    }

    /// Whether `key` was delivered and has not expired; if not, whether another
    /// delivery of it is under way; if not, a reservation for this one.
    pub(crate) fn claim(&self, key: Key, now: Instant) -> Claim<'_> {
        let mut entries = super::lock(&self.entries);
        let seen = entries
            .windows
            .get(&key.target)
            .and_then(|window| window.expires.get(&key.id))
            .is_some_and(|expiry| *expiry > now);
        if seen {
            return Claim::Seen;
        }
        match entries.in_flight.entry((key.target, key.id)) {
            std::collections::hash_map::Entry::Occupied(flight) => {
                Claim::Busy(Arc::clone(flight.get()))
            }
            std::collections::hash_map::Entry::Vacant(room) => {
                room.insert(Arc::default());
                Claim::Mine(Reservation { window: self, key })
            }
        }
    }

    /// Remembers `key` as delivered until `now + ttl`, forgetting its window's expired
    /// ids and, past the capacity, the largest window's oldest.
    pub(crate) fn remember(&self, key: Key, now: Instant, ttl: Duration) {
        let mut guard = super::lock(&self.entries);
        let entries = &mut *guard;
        let window = entries.windows.entry(key.target).or_default();
        let before = window.expires.len();
        let expiry = now + ttl;
        window.expires.insert(key.id, expiry);
        window.order.push_back((key.id, expiry));
        window.expire(now);
        let after = window.expires.len();
        entries.resize(key.target, before, after);
        while entries.total > self.capacity {
            let Some(&(size, largest)) = entries.by_size.last() else {
                break;
            };
            let Some(window) = entries.windows.get_mut(&largest) else {
                break;
            };
            window.pop_oldest();
            let left = window.expires.len();
            entries.resize(largest, size, left);
        }
    }

    /// Whether `key` was delivered and has not expired (a reservation the check makes is
    /// dropped at once).
    #[cfg(test)]
    fn seen(&self, key: Key, now: Instant) -> bool {
        matches!(self.claim(key, now), Claim::Seen)
    }

    /// How many ids are remembered now.
    #[cfg(test)]
    fn len(&self) -> usize {
        super::lock(&self.entries).total
    }
}

impl Entries {
    /// Records that `target`'s window went from `before` to `after` ids (and drops it
    /// when empty).
    fn resize(&mut self, target: u64, before: usize, after: usize) {
        self.by_size.remove(&(before, target));
        self.total = self.total.saturating_sub(before) + after;
        if after == 0 {
            self.windows.remove(&target);
        } else {
            self.by_size.insert((after, target));
        }
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

    fn key(window: &Window, target: &str, id: &str) -> Key {
        window.key(|h| h.write(target.as_bytes()), |h| h.write(id.as_bytes()))
    }

    #[test]
    fn remembers_until_the_ttl_and_forgets_the_oldest_past_capacity() {
        let window = Window::new(2);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(10);
        let [a, b, c] = ["a", "b", "c"].map(|id| key(&window, "target", id));
        window.remember(a, t0, ttl);
        assert!(window.seen(a, t0));
        assert!(!window.seen(a, t0 + ttl));
        window.remember(b, t0, ttl);
        window.remember(c, t0, ttl);
        assert_eq!(window.len(), 2);
        assert!(!window.seen(a, t0), "the oldest went first");
        assert!(window.seen(b, t0) && window.seen(c, t0));
        assert_ne!(key(&window, "one", "a"), key(&window, "other", "a"));
    }

    #[test]
    fn a_noisy_target_evicts_its_own_ids_not_anothers() {
        let window = Window::new(100);
        let t0 = Instant::now();
        let ttl = Duration::from_secs(60);
        let quiet: Vec<Key> = (0..10)
            .map(|n| key(&window, "quiet", &n.to_string()))
            .collect();
        for id in &quiet {
            window.remember(*id, t0, ttl);
        }
        for n in 0..100_000 {
            window.remember(key(&window, "noisy", &n.to_string()), t0, ttl);
        }
        assert_eq!(window.len(), 100);
        assert!(
            quiet.iter().all(|id| window.seen(*id, t0)),
            "quiet kept all"
        );
        assert!(window.seen(key(&window, "noisy", "99999"), t0));
        assert!(!window.seen(key(&window, "noisy", "0"), t0));
    }

    #[test]
    fn a_million_ids_stay_within_the_capacity() {
        let window = Window::new(10_000);
        let t0 = Instant::now();
        for id in 0..1_000_000u32 {
            let key = window.key(|h| h.write_u32(id % 7), |h| h.write_u32(id));
            window.remember(key, t0, Duration::from_secs(60));
        }
        assert_eq!(window.len(), 10_000);
        let entries = window.entries.lock().unwrap();
        let copies: usize = entries.windows.values().map(|w| w.order.len()).sum();
        assert!(copies <= 20_000 + 16 * 7, "{copies}");
    }

    #[test]
    fn remembering_one_id_again_does_not_grow_the_window() {
        let window = Window::new(4);
        let t0 = Instant::now();
        let key = key(&window, "t", "same");
        for step in 0..1_000u64 {
            window.remember(
                key,
                t0 + Duration::from_millis(step),
                Duration::from_secs(60),
            );
        }
        assert_eq!(window.len(), 1);
        let entries = window.entries.lock().unwrap();
        assert!(entries.windows.values().all(|w| w.order.len() <= 16));
    }

    #[test]
    fn a_delivery_under_way_holds_its_id_until_it_ends() {
        let window = Window::new(10);
        let (a, t0, ttl) = (
            key(&window, "t", "1"),
            Instant::now(),
            Duration::from_secs(60),
        );
        let Claim::Mine(first) = window.claim(a, t0) else {
            panic!("the first claim is its own");
        };
        let Claim::Busy(flight) = window.claim(a, t0) else {
            panic!("a second claim waits for the first");
        };
        assert!(matches!(
            window.claim(key(&window, "t", "2"), t0),
            Claim::Mine(_)
        ));
        assert!(matches!(
            window.claim(key(&window, "u", "1"), t0),
            Claim::Mine(_)
        ));
        drop(first);
        assert!(flight.ended.load(Ordering::Acquire));
        let Claim::Mine(again) = window.claim(a, t0) else {
            panic!("a failed delivery lets the next one go");
        };
        again.delivered(t0, ttl);
        assert!(matches!(window.claim(a, t0), Claim::Seen));
        assert!(super::super::lock(&window.entries).in_flight.is_empty());
    }
}
