//! Lanes: deliveries with one ordering key to one endpoint, one at a time, in the order
//! the dispatcher admitted them.
//!
//! A dispatch with a key takes a [`Turn`] in each of its targets' lanes when the
//! dispatcher admits it (a target whose lane is empty is delivered at once there and
//! needs none); a delivery waits until its turn is at the front of its lane, and
//! gives it up when it ends. A turn given up before
//! its delivery began (the dispatch was refused, cut off, or its target failed before
//! delivery) leaves the lane without a trace; one whose delivery finally failed blocks
//! the lane if the target's [`Ordering`] says so.

use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering as Atomic};

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::Notify;

use super::Resilience;
use super::ordering::Ordering;
use crate::{ErrorKind, Target};

/// Every lane of a dispatcher (shared by its shards), bounded in number and depth.
#[derive(Debug)]
pub(crate) struct Lanes {
    map: DashMap<u64, Lane, foldhash::fast::RandomState>,
    /// Seeds lane ids: a publisher cannot aim its keys at another target's lane.
    seed: foldhash::fast::RandomState,
    max_lanes: usize,
    max_depth: usize,
    /// How many lanes the map holds: while none, every lane is free without a lookup.
    live: AtomicUsize,
}

/// One lane: its turns in admission order (the front's delivery may run), and whether a
/// final failure stopped it.
#[derive(Debug, Default)]
struct Lane {
    turns: VecDeque<Arc<Notify>>,
    blocked: bool,
}

/// What [`Stats`](crate::Stats) shows of the lanes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LaneCounts {
    pub(crate) lanes: usize,
    pub(crate) queued: usize,
    pub(crate) blocked: usize,
}

impl Lanes {
    /// The defaults of [`DispatcherBuilder::max_lanes`](crate::DispatcherBuilder::max_lanes)
    /// and [`max_lane_depth`](crate::DispatcherBuilder::max_lane_depth).
    pub(crate) const MAX_LANES: usize = 100_000;
    pub(crate) const MAX_DEPTH: usize = 10_000;

    pub(crate) fn new(max_lanes: usize, max_depth: usize) -> Self {
        Self {
            map: DashMap::default(),
            seed: foldhash::fast::RandomState::default(),
            max_lanes: max_lanes.max(1),
            max_depth: max_depth.max(1),
            live: AtomicUsize::new(0),
        }
    }

    /// The turns of a dispatch with ordering key `key` for its `targets` from `from`
    /// (those before were delivered at once), taken now, in admission order.
    pub(crate) fn join(
        self: &Arc<Self>,
        targets: &[Target],
        key: NonZeroU64,
        from: usize,
        defaults: &Resilience,
    ) -> Turns {
        let turns = targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let ordering = ordering_of(target, defaults).filter(|_| index >= from);
                let Some(ordering) = ordering else {
                    return Seat::Unordered;
                };
                match self.take(self.lane(target, key), ordering) {
                    Some(turn) => Seat::Queued(turn),
                    None => Seat::Full,
                }
            })
            .collect();
        Turns(turns)
    }

    /// Whether `target` may take a delivery for `key` now, without a turn: its lane
    /// is empty (or it ignores keys). A delivery made at once, while the dispatcher
    /// admits its dispatch, cannot be overtaken by one admitted later.
    pub(crate) fn free(&self, target: &Target, key: NonZeroU64, defaults: &Resilience) -> bool {
        self.live.load(Atomic::Acquire) == 0
            || ordering_of(target, defaults).is_none()
            || !self.map.contains_key(&self.lane(target, key))
    }

    /// The lane of `target` for the ordering key hashed as `key`: the endpoint its
    /// policies name, else the target's whole identity.
    fn lane(&self, target: &Target, key: NonZeroU64) -> u64 {
        let mut hasher = self.seed.build_hasher();
        match target.resilience().and_then(Resilience::endpoint_name) {
            Some(endpoint) => {
                hasher.write_u8(0);
                hasher.write(endpoint.as_bytes());
            }
            None => {
                hasher.write_u8(1);
                target.write_identity(&mut hasher);
            }
        }
        hasher.write_u64(key.get());
        hasher.finish()
    }

    /// A turn at the back of `lane`; `None` when it (or the lane table) is full.
    fn take(self: &Arc<Self>, lane: u64, ordering: Ordering) -> Option<Turn> {
        let full = self.map.len() >= self.max_lanes;
        let mut entry = match self.map.entry(lane) {
            Entry::Occupied(entry) => entry.into_ref(),
            Entry::Vacant(_) if full => return None,
            Entry::Vacant(entry) => {
                self.live.fetch_add(1, Atomic::AcqRel);
                entry.insert(Lane::default())
            }
        };
        if entry.turns.len() >= self.max_depth {
            return None;
        }
        let notify = Arc::new(Notify::new());
        entry.turns.push_back(Arc::clone(&notify));
        Some(Turn {
            lanes: Arc::clone(self),
            lane,
            notify,
            state: AtomicU8::new(QUEUED),
            block: ordering.blocks(),
        })
    }

    /// A delivery made at once through `target`'s empty lane for `key` failed: under
    /// [`Ordering::block`], the lane is blocked (kept past the table's bound: a failure
    /// is not forgotten).
    pub(crate) fn failed_free(&self, target: &Target, key: NonZeroU64, defaults: &Resilience) {
        if ordering_of(target, defaults).is_some_and(|ordering| ordering.blocks()) {
            let mut lane = self.map.entry(self.lane(target, key)).or_insert_with(|| {
                self.live.fetch_add(1, Atomic::AcqRel);
                Lane::default()
            });
            lane.blocked = true;
            tracing::warn!(
                "an ordering lane is blocked by a failed delivery; resume it with ResumeLanes"
            );
        }
    }

    /// Opens blocked lanes: `target`'s lane for `key`, or every lane. How many were
    /// blocked.
    pub(crate) fn resume(&self, only: Option<(&Target, &str)>) -> usize {
        let resume = |lane: &mut Lane| -> bool {
            let was = std::mem::take(&mut lane.blocked);
            if let Some(front) = lane.turns.front() {
                front.notify_one();
            }
            was
        };
        let resumed = match only {
            Some((target, key)) => {
                let lane = self.lane(target, key_hash(key));
                let Entry::Occupied(mut entry) = self.map.entry(lane) else {
                    return 0;
                };
                let was = resume(entry.get_mut());
                if entry.get().turns.is_empty() {
                    entry.remove();
                    self.live.fetch_sub(1, Atomic::AcqRel);
                }
                usize::from(was)
            }
            None => {
                let mut resumed = 0;
                self.map.retain(|_, lane| {
                    resumed += usize::from(resume(lane));
                    let kept = !lane.turns.is_empty();
                    if !kept {
                        self.live.fetch_sub(1, Atomic::AcqRel);
                    }
                    kept
                });
                resumed
            }
        };
        if resumed > 0 {
            tracing::info!(lanes = resumed, "ordering lanes resumed");
        }
        resumed
    }

    pub(crate) fn counts(&self) -> LaneCounts {
        let mut counts = LaneCounts::default();
        for lane in self.map.iter() {
            counts.lanes += 1;
            counts.queued += lane.turns.len();
            counts.blocked += usize::from(lane.blocked);
        }
        counts
    }
}

/// The ordering a target applies to keyed dispatches: its own setting, else the
/// dispatcher's, else [`Ordering::skip`]; `None` when set off.
fn ordering_of(target: &Target, defaults: &Resilience) -> Option<Ordering> {
    let set = target.resilience().and_then(Resilience::ordering_setting);
    match set.or_else(|| defaults.ordering_setting()) {
        Some(setting) => setting.copied(),
        None => Some(Ordering::skip()),
    }
}

/// The hash an ordering key is known by (the same in every shard and process).
pub(crate) fn key_hash(key: &str) -> NonZeroU64 {
    use std::hash::{BuildHasherDefault, DefaultHasher};
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    NonZeroU64::new(hash).unwrap_or(NonZeroU64::MAX)
}

/// A signal's own ordering key: its CloudEvents `partitionkey` extension.
pub(crate) fn partition_key(signal: &herald_signal::Signal) -> Option<NonZeroU64> {
    match signal.extension(herald_signal::PARTITIONKEY)? {
        herald_signal::ExtensionValue::String(key) => Some(key_hash(key)),
        other => Some(key_hash(&other.to_string())),
    }
}

/// A dispatch's turns, by target index.
#[derive(Debug)]
pub(crate) struct Turns(Vec<Seat>);

/// One target's place in a keyed dispatch.
#[derive(Debug)]
enum Seat {
    /// It ignores the key.
    Unordered,
    /// Its turn in its lane.
    Queued(Turn),
    /// Its lane, or the lane table, was full: it fails as `Overloaded`.
    Full,
}

impl Turns {
    /// Target `index`'s turn: `None` when it takes no lane; `Err` when its lane was
    /// full.
    pub(crate) fn get(&self, index: usize) -> Option<Result<&Turn, ErrorKind>> {
        match self.0.get(index)? {
            Seat::Queued(turn) => Some(Ok(turn)),
            Seat::Full => Some(Err(ErrorKind::Overloaded)),
            Seat::Unordered => None,
        }
    }

    /// Gives up target `index`'s turn (see [`Turn::release`]).
    pub(crate) fn release(&self, index: usize, failed: bool) {
        if let Some(Seat::Queued(turn)) = self.0.get(index) {
            turn.release(failed);
        }
    }

    /// Gives up target `index`'s turn after a delivery at once (see [`Turn::finish`]).
    pub(crate) fn finish(&self, index: usize, failed: bool) {
        if let Some(Seat::Queued(turn)) = self.0.get(index) {
            turn.finish(failed);
        }
    }
}

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const RELEASED: u8 = 2;

/// One delivery's place in its lane.
#[derive(Debug)]
pub(crate) struct Turn {
    lanes: Arc<Lanes>,
    lane: u64,
    /// Woken when the turn may be at the front, or its lane blocked.
    notify: Arc<Notify>,
    state: AtomicU8,
    /// A final failure blocks the lane.
    block: bool,
}

/// Where a turn stands.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// At the front: its delivery may go (and is counted as begun).
    Front,
    /// Behind others.
    Behind,
    /// Its lane is blocked: its delivery fails.
    Blocked,
}

impl Turn {
    /// Where the turn stands now.
    pub(crate) fn place(&self) -> Place {
        match self.lanes.map.get(&self.lane) {
            None => Place::Front,
            Some(lane) if lane.blocked => Place::Blocked,
            Some(lane) => match lane.turns.front() {
                Some(front) if Arc::ptr_eq(front, &self.notify) => Place::Front,
                _ => Place::Behind,
            },
        }
    }

    /// Waits until the turn is at the front (`Ok`), or its lane blocked.
    pub(crate) async fn wait(&self) -> Result<(), ErrorKind> {
        loop {
            match self.place() {
                Place::Front => {
                    self.state.store(STARTED, Atomic::Release);
                    return Ok(());
                }
                Place::Blocked => return Err(ErrorKind::LaneBlocked),
                // A wake between the check and this wait is kept as a permit.
                Place::Behind => self.notify.notified().await,
            }
        }
    }

    /// Leaves the lane, once: the next turn goes, unless this one's delivery began
    /// (after [`wait`](Self::wait)) and `failed` under [`Ordering::block`], which
    /// blocks the lane.
    pub(crate) fn release(&self, failed: bool) {
        let began = self.state.load(Atomic::Acquire) == STARTED;
        self.leave(began && failed);
    }

    /// [`release`](Self::release) for a delivery made at once, which began.
    pub(crate) fn finish(&self, failed: bool) {
        self.leave(failed);
    }

    fn leave(&self, failed: bool) {
        if self.state.swap(RELEASED, Atomic::AcqRel) == RELEASED {
            return;
        }
        let Entry::Occupied(mut entry) = self.lanes.map.entry(self.lane) else {
            return;
        };
        let lane = entry.get_mut();
        let at = lane
            .turns
            .iter()
            .position(|turn| Arc::ptr_eq(turn, &self.notify));
        if let Some(at) = at {
            lane.turns.remove(at);
        }
        if failed && self.block && !lane.blocked {
            lane.blocked = true;
            tracing::warn!(
                queued = lane.turns.len(),
                "an ordering lane is blocked by a failed delivery; resume it with ResumeLanes"
            );
            lane.turns.iter().for_each(|turn| turn.notify_one());
        } else if at == Some(0)
            && !lane.blocked
            && let Some(front) = lane.turns.front()
        {
            front.notify_one();
        }
        if lane.turns.is_empty() && !lane.blocked {
            entry.remove();
            self.lanes.live.fetch_sub(1, Atomic::AcqRel);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        // A delivery cut off after it began counts as failed.
        self.release(true);
    }
}

/// Opens blocked ordering lanes (see [`Ordering::block`]): the lane of one target
/// for one key, or every blocked lane. Answered with how many were blocked. Lanes are
/// shared by a sharded dispatcher's shards: send it to any one.
///
/// ```
/// use herald_core::resilience::ResumeLanes;
/// use herald_core::{Dispatcher, Target};
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// assert_eq!(dispatcher.send(ResumeLanes::all()).await.unwrap(), 0);
/// let one = ResumeLanes::lane(Target::noop(), "order-42");
/// assert_eq!(dispatcher.send(one).await.unwrap(), 0);
/// # });
/// ```
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "usize")]
pub struct ResumeLanes {
    pub(crate) only: Option<(Target, String)>,
}

impl ResumeLanes {
    /// Every blocked lane.
    pub fn all() -> Self {
        Self { only: None }
    }

    /// `target`'s lane for ordering key `key`.
    pub fn lane(target: impl Into<Target>, key: impl Into<String>) -> Self {
        Self {
            only: Some((target.into(), key.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes() -> Arc<Lanes> {
        Arc::new(Lanes::new(2, 3))
    }

    #[test]
    fn turns_go_in_order_and_a_turn_left_early_leaves_no_trace() {
        let lanes = lanes();
        let take = || lanes.take(7, Ordering::skip()).unwrap();
        let (a, b, c) = (take(), take(), take());
        assert!(
            lanes.take(7, Ordering::skip()).is_none(),
            "the lane is full"
        );
        assert_eq!(b.place(), Place::Behind);
        assert_eq!(a.place(), Place::Front);
        // `b` is given up before it began: `c` is next once `a` ends.
        drop(b);
        assert_eq!(c.place(), Place::Behind);
        a.release(true);
        assert_eq!(c.place(), Place::Front);
        c.release(false);
        assert_eq!(lanes.counts(), LaneCounts::default());
        assert_eq!(lanes.live.load(Atomic::Acquire), 0);
    }

    #[test]
    fn a_failure_under_block_stops_the_lane_until_resumed() {
        let lanes = lanes();
        let take = || lanes.take(1, Ordering::block()).unwrap();
        let (a, b) = (take(), take());
        assert_eq!(a.place(), Place::Front);
        // Given up before its delivery began, it blocks nothing.
        let early = take();
        a.finish(true);
        assert_eq!(b.place(), Place::Blocked);
        early.release(true);
        b.release(true);
        let counts = lanes.counts();
        assert_eq!((counts.lanes, counts.queued, counts.blocked), (1, 0, 1));
        assert_eq!(lanes.resume(None), 1);
        assert_eq!(lanes.counts(), LaneCounts::default());
        assert_eq!(lanes.live.load(Atomic::Acquire), 0);
        // The table holds two lanes at most.
        let _one = lanes.take(1, Ordering::skip()).unwrap();
        let _two = lanes.take(2, Ordering::skip()).unwrap();
        assert!(
            lanes.take(3, Ordering::skip()).is_none(),
            "the table is full"
        );
    }
}
