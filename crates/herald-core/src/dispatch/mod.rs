//! What a dispatcher is sent and what it answers: the `Dispatch` message and its
//! detached form, the results, admission, `Shutdown`, `CheckTargets` and `Stats`.
//! Nothing here knows the dispatcher; everything above uses these.

mod admission;
mod check;
mod detached;
mod report;
mod shutdown;
mod stats;

use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use actix::Message;
use herald_signal::Signal;
use tokio::time::Instant;
use tracing::Span;

pub(crate) use admission::Admission;
pub use admission::Overload;
pub use check::{CheckTargets, TargetProblem};
pub(crate) use detached::{Detached, Inlet, Refused};
pub use report::{DispatchError, DispatchReport, DispatchResult, DispatchResultExt, TargetFailure};
pub(crate) use report::{Results, warn_failures};
pub use shutdown::Shutdown;
pub(crate) use stats::Counters;
pub use stats::{AdapterStats, Stats, StatsSnapshot};

use crate::resilience::Turns;
use crate::time::deadline_after;
use crate::{ActorId, ErrorKind, IntoTargets, Target};

/// Deliver one signal to one or many targets: the message a [`Dispatcher`](crate::Dispatcher) handles.
///
/// Targets run in parallel, at most the dispatcher's `max_concurrency` at a time
/// (override per dispatch with [`Dispatch::max_concurrency`]). Every target is
/// attempted; the answer is `Ok` with each target's outcome when all succeeded, or a
/// [`DispatchError`](crate::DispatchError) holding every failure.
///
/// The caller's current `tracing` span, taken when the `Dispatch` is created, becomes
/// the parent of the dispatch's spans.
///
/// ```
/// # use herald_core::{Dispatch, Dispatcher, Target};
/// # use herald_signal::Signal;
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// let signal = Signal::new("user.created", serde_json::json!({"id": 1})).unwrap();
/// let report = dispatcher
///     .send(Dispatch::new(signal, [Target::noop(), Target::logger().into()])
///         .deadline(std::time::Duration::from_secs(2)))
///     .await
///     .expect("dispatcher is running")
///     .expect("every target succeeded");
/// assert_eq!(report.len(), 2);
/// # });
/// ```
#[derive(Debug)]
#[must_use = "a dispatch does nothing until it is sent to a dispatcher"]
pub struct Dispatch {
    pub(crate) signal: Arc<Signal>,
    /// Shared with the dispatch's answer, which reports every target even if the fan-out
    /// is dropped.
    pub(crate) targets: Arc<[Target]>,
    /// What most dispatches leave at its default, boxed: a dispatch is moved several
    /// times on its way (into the caller's request, the mailbox, the fan-out), and a small
    /// one is cheaper to move (32 bytes in all, pinned by the `sizes` test below).
    extras: Option<Box<Extras>>,
}

/// A dispatch's settings past its signal and targets.
#[derive(Debug, Default)]
struct Extras {
    max_concurrency: Option<NonZeroUsize>,
    deadline: Option<Instant>,
    caller: Option<ActorId>,
    /// The caller's span, when a subscriber wanted spans.
    parent: Option<Span>,
    /// The hash of the dispatch's key, which picks its shard.
    key: Option<NonZeroU64>,
    /// The hash of its ordering key.
    ordering: Option<NonZeroU64>,
    /// Its turns in its targets' ordering lanes, taken when the dispatcher admitted it.
    turns: Option<Arc<Turns>>,
    /// The dead letter of targets that name none of their own: `None` for the
    /// dispatcher's default, `Some(None)` for none.
    dead_letter: Option<Option<Arc<Target>>>,
    /// How many buses the signal went through to reach this dispatch: a bus refuses
    /// one past [`Bus::MAX_HOPS`](crate::Bus::MAX_HOPS), which ends a routing loop.
    hops: u8,
}

impl Dispatch {
    /// A dispatch of `signal` to `targets`: an array or `Vec` of one kind, or a tuple
    /// mixing kinds (see [`IntoTargets`]).
    pub fn new(signal: impl Into<Arc<Signal>>, targets: impl IntoTargets) -> Self {
        let mut dispatch = Self {
            signal: signal.into(),
            targets: targets.into_targets(),
            extras: None,
        };
        if let Some(parent) = crate::telemetry::parent() {
            // With feature `opentelemetry`, the signal carries the caller's trace on.
            dispatch.signal = crate::telemetry::otel::carry(dispatch.signal, Some(&parent));
            dispatch.extras_mut().parent = Some(parent);
        }
        dispatch
    }

    /// The settings, made on the first that is set.
    fn extras_mut(&mut self) -> &mut Extras {
        self.extras.get_or_insert_with(Box::default)
    }

    pub(crate) fn max_concurrency_limit(&self) -> Option<NonZeroUsize> {
        self.extras.as_ref().and_then(|e| e.max_concurrency)
    }

    pub(crate) fn deadline_at(&self) -> Option<Instant> {
        self.extras.as_ref().and_then(|e| e.deadline)
    }

    pub(crate) fn caller_id(&self) -> Option<ActorId> {
        self.extras.as_ref().and_then(|e| e.caller)
    }

    pub(crate) fn parent(&self) -> Option<&Span> {
        self.extras.as_ref().and_then(|e| e.parent.as_ref())
    }

    /// The hash that picks the dispatch's shard: its key, else its ordering key (its
    /// own, else its signal's `partitionkey`), so that one key's dispatches are
    /// admitted by one shard, in order.
    pub(crate) fn shard_key(&self) -> Option<NonZeroU64> {
        self.extras
            .as_ref()
            .and_then(|e| e.key)
            .or_else(|| self.ordering())
    }

    /// The hash of the dispatch's ordering key: its own, else its signal's
    /// `partitionkey`.
    pub(crate) fn ordering(&self) -> Option<NonZeroU64> {
        self.extras
            .as_ref()
            .and_then(|e| e.ordering)
            .or_else(|| crate::resilience::partition_key(&self.signal))
    }

    /// The dispatch's turns in its targets' ordering lanes.
    pub(crate) fn turns(&self) -> Option<&Arc<Turns>> {
        self.extras.as_ref().and_then(|e| e.turns.as_ref())
    }

    pub(crate) fn set_turns(&mut self, turns: Turns) {
        self.extras_mut().turns = Some(Arc::new(turns));
    }

    /// The dispatch's own dead letter: `None` for the dispatcher's default, `Some(None)`
    /// for none.
    pub(crate) fn own_dead_letter(&self) -> Option<Option<&Arc<Target>>> {
        self.extras
            .as_ref()
            .and_then(|e| e.dead_letter.as_ref())
            .map(Option::as_ref)
    }

    /// How many buses the signal went through to reach this dispatch.
    pub(crate) fn hops(&self) -> u8 {
        self.extras.as_ref().map_or(0, |e| e.hops)
    }

    pub(crate) fn set_hops(&mut self, hops: u8) {
        if hops != 0 || self.extras.is_some() {
            self.extras_mut().hops = hops;
        }
    }

    /// A dispatch of `signal` to `targets` made on behalf of this one: the same
    /// deadline, caller, bus hops and parent span.
    pub(crate) fn on_behalf(&self, signal: Signal, targets: impl IntoTargets) -> Self {
        let mut made = Self {
            signal: Arc::new(signal),
            targets: targets.into_targets(),
            extras: None,
        };
        if let Some(extras) = &self.extras {
            made.extras = Some(Box::new(Extras {
                deadline: extras.deadline,
                caller: extras.caller,
                parent: extras.parent.clone(),
                ordering: extras.ordering,
                hops: extras.hops,
                ..Extras::default()
            }));
        }
        made
    }

    /// Sends the signal of each target that finally fails to `target`, with the
    /// failure in extension attributes (see [`resilience`](crate::resilience)); a
    /// target's own dead letter wins. Default is the dispatcher's.
    pub fn dead_letter(mut self, target: impl Into<Target>) -> Self {
        self.extras_mut().dead_letter = Some(Some(Arc::new(target.into())));
        self
    }

    /// Dead-letters nothing of this dispatch, whatever its targets or the dispatcher
    /// say: for redrives and for dead letters themselves.
    pub fn no_dead_letter(mut self) -> Self {
        self.extras_mut().dead_letter = Some(None);
        self
    }

    /// Sets how many of this dispatch's targets may be in flight at once; values below
    /// 1 count as 1. Default is the dispatcher's
    /// [`max_concurrency`](crate::DispatcherBuilder::max_concurrency).
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.extras_mut().max_concurrency = NonZeroUsize::new(limit.max(1));
        self
    }

    /// Sets an overall budget, counted from now: targets not finished when it runs out
    /// fail with [`ErrorKind::DeadlineExceeded`]. Default is none (each adapter's own
    /// timeouts still apply).
    pub fn deadline(mut self, budget: Duration) -> Self {
        self.extras_mut().deadline = Some(deadline_after(budget));
        self
    }

    /// Names the actor that dispatches, so that a synchronous delivery back to it fails
    /// at once with [`ErrorKind::CallingSelf`] instead of deadlocking. Pass
    /// `&ctx.address()` from inside a handler. Default is none.
    pub fn caller(mut self, caller: impl Into<ActorId>) -> Self {
        self.extras_mut().caller = Some(caller.into());
        self
    }

    /// Keys the dispatch for a [`Sharded`](crate::Sharded) dispatcher: dispatches with
    /// equal keys go to the same shard, so they are handled in the order they were
    /// sent. Without a key, shards take dispatches in turn. A single dispatcher ignores
    /// it.
    pub fn key(mut self, key: impl std::hash::Hash) -> Self {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        self.extras_mut().key = Some(NonZeroU64::new(hash).unwrap_or(NonZeroU64::MAX));
        self
    }

    /// Orders the dispatch by `key`: its deliveries to each endpoint are made one at a
    /// time with those of other dispatches with the same key, in the order the
    /// dispatcher admitted them (and a [`Sharded`](crate::Sharded) dispatcher admits
    /// one key's dispatches in one shard, in the order they were sent). Different keys
    /// and different endpoints stay parallel. Without it, the signal's CloudEvents
    /// `partitionkey` extension is the key, if it has one. What a target does when a
    /// keyed delivery finally fails is its [`Ordering`](crate::resilience::Ordering)
    /// policy; the guide is `docs/RESILIENCE.md`.
    pub fn ordering_key(mut self, key: impl AsRef<str>) -> Self {
        self.extras_mut().ordering = Some(crate::resilience::ordering_key_hash(key.as_ref()));
        self
    }

    /// The signal.
    pub fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }

    /// The targets.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Every target failing with the same reason: for a dispatch that never ran, so
    /// none made an attempt.
    pub(crate) fn fail_all(&self, kind: impl Fn() -> ErrorKind) -> DispatchResult {
        fail_all(&self.targets, || (kind(), 0))
    }
}

/// Every one of `targets` failing with the same reason and count of attempts, each at
/// its own index.
pub(crate) fn fail_all(
    targets: &[Target],
    failure: impl Fn() -> (ErrorKind, u32),
) -> DispatchResult {
    if targets.is_empty() {
        return Ok(DispatchReport::default());
    }
    let mut results = Results::new(targets.len());
    for (index, target) in targets.iter().enumerate() {
        let (kind, attempts) = failure();
        results.set(index, Err(target.error(kind).with_attempts(attempts)));
    }
    results.conclude()
}

impl Message for Dispatch {
    type Result = DispatchResult;
}

#[cfg(test)]
mod sizes {
    //! The sizes the hot path counts on, pinned here rather than in comments: a change
    //! that grows one fails this test and says by how much.

    use super::*;

    #[test]
    fn a_dispatch_is_four_words() {
        // The signal, the targets (a fat pointer) and the boxed extras: moved into the
        // caller's request, the mailbox and the fan-out on every dispatch.
        assert_eq!(size_of::<Dispatch>(), 32);
    }

    #[test]
    fn a_target_and_an_outcome_keep_their_size() {
        // A fan-out keeps one of each per target.
        assert_eq!(size_of::<Target>(), 48);
        assert_eq!(size_of::<crate::Outcome>(), 32);
    }
}
