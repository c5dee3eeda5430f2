//! The `Dispatch` message and its detached form.

use std::future::Future;
use std::num::{NonZeroU64, NonZeroUsize};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix::{Addr, Message};
use herald_signal::Signal;
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;
use tracing::Span;

use super::report::{DispatchReport, DispatchResult, Results};
use super::{Admission, Dispatcher};
use crate::time::deadline_after;
use crate::{ActorId, ErrorKind, IntoTargets, Target};

/// Deliver one signal to one or many targets: the message a [`Dispatcher`] handles.
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
    /// Shared with the dispatch's answer, which reports every target even if the run
    /// is dropped.
    pub(crate) targets: Arc<[Target]>,
    /// What most dispatches leave at its default, boxed: a dispatch is moved several
    /// times on its way (into the caller's request, the mailbox, the run), and a small
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

    pub(crate) fn shard_key(&self) -> Option<NonZeroU64> {
        self.extras.as_ref().and_then(|e| e.key)
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

/// The message of every target's error when a run is dropped by a panic.
pub(crate) const PANICKED_RUN: &str =
    "the dispatch's run was dropped by a panic on the dispatcher's thread";

/// Where a dispatch's result goes. Dropped unanswered — the run was dropped because
/// the dispatcher's arbiter or system stopped — it answers with every target failed
/// as [`ErrorKind::Shutdown`], each at its own index, so nothing is lost silently; as
/// [`ErrorKind::Panicked`] when it is dropped by a panic (the run's own, or one that
/// unwinds the dispatcher's thread).
pub(crate) struct Answer<F: FnOnce(DispatchResult)> {
    finish: Option<F>,
    targets: Arc<[Target]>,
}

impl<F: FnOnce(DispatchResult)> Answer<F> {
    pub(crate) fn new(targets: Arc<[Target]>, finish: F) -> Self {
        Self {
            finish: Some(finish),
            targets,
        }
    }

    pub(crate) fn send(mut self, result: DispatchResult) {
        if let Some(finish) = self.finish.take() {
            finish(result);
        }
    }
}

impl<F: FnOnce(DispatchResult)> Drop for Answer<F> {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            let panicking = std::thread::panicking();
            // Dropped by a panic, the run may have begun any target (counted as one
            // attempt); dropped unhandled, it began none.
            finish(fail_all(&self.targets, || {
                if panicking {
                    let message = PANICKED_RUN.to_owned();
                    (ErrorKind::Panicked { message }, 1)
                } else {
                    (ErrorKind::Shutdown, 0)
                }
            }));
        }
    }
}

impl Message for Dispatch {
    type Result = DispatchResult;
}

/// A dispatch that runs on its own; see [`DispatchExt::dispatch_async`].
#[derive(Debug)]
pub(crate) struct Detached {
    dispatch: Option<Dispatch>,
    /// Where the result goes; `None` when nobody awaits it (a bus publish).
    reply: Option<oneshot::Sender<DispatchResult>>,
    /// The admission permit it was queued under, returned when it is handled.
    permit: Option<OwnedSemaphorePermit>,
}

impl Detached {
    pub(crate) fn new(
        dispatch: Dispatch,
        reply: Option<oneshot::Sender<DispatchResult>>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            dispatch: Some(dispatch),
            reply,
            permit,
        }
    }

    /// Takes the dispatch and where its result goes, returning the admission permit.
    pub(crate) fn take(&mut self) -> Option<(Dispatch, Option<oneshot::Sender<DispatchResult>>)> {
        self.permit = None;
        Some((self.dispatch.take()?, self.reply.take()))
    }

    /// Answers without running: every target fails with `kind`.
    pub(crate) fn refuse(mut self, kind: fn() -> ErrorKind) {
        if let Some((dispatch, reply)) = self.take() {
            let result = dispatch.fail_all(kind);
            warn_failures(&dispatch.signal, &result);
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
    }
}

impl Drop for Detached {
    /// Dropped unhandled (the dispatcher stopped): every target is reported failed.
    fn drop(&mut self) {
        if self.dispatch.is_some() {
            let unhandled = Self {
                dispatch: self.dispatch.take(),
                reply: self.reply.take(),
                permit: None,
            };
            unhandled.refuse(|| ErrorKind::Shutdown);
        }
    }
}

/// One `WARN` event per failed delivery of a finished dispatch, answered or not, with
/// its signal, target (redacted), kind, attempts and where its dead letter went: a
/// failure is never lost silently, and the default `INFO` level shows it.
pub(crate) fn warn_failures(signal: &Signal, result: &DispatchResult) {
    let Err(error) = result else {
        return;
    };
    for failure in error.failures() {
        let error = &failure.error;
        tracing::warn!(
            signal.r#type = signal.ty(),
            signal.id = signal.id(),
            index = failure.index,
            adapter = error.adapter(),
            target = error.target(),
            error.kind = error.kind().name(),
            attempts = error.attempts(),
            retryable = error.retryable(),
            error = %error,
            "delivery failed"
        );
    }
}

impl Message for Detached {
    type Result = ();
}

/// Dispatching on a dispatcher's address (or a [`Sharded`](crate::Sharded) handle) with
/// one result type, whatever became of the dispatcher.
pub trait DispatchExt {
    /// Dispatches and waits for the result, as `Addr::send` does, but always answers a
    /// [`DispatchResult`]: once the dispatcher has stopped (after a
    /// [`Shutdown`](crate::Shutdown), or with its system), every target fails with
    /// [`ErrorKind::Shutdown`] (no attempt made) where `send` would give actix's
    /// `MailboxError`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use herald_core::{Dispatch, DispatchExt, Dispatcher, ErrorKind, Shutdown, Target};
    /// use herald_signal::Signal;
    ///
    /// # actix::System::new().block_on(async {
    /// let dispatcher = Dispatcher::builder().start();
    /// dispatcher.send(Shutdown::new(Duration::from_secs(1))).await.unwrap();
    /// let signal = Signal::new("order.placed", serde_json::json!({})).unwrap();
    /// let dispatch = Dispatch::new(signal, [Target::noop()]);
    /// let error = dispatcher.dispatch(dispatch).await.unwrap_err();
    /// assert!(matches!(error.first().error.kind(), ErrorKind::Shutdown));
    /// # });
    /// ```
    fn dispatch(&self, dispatch: Dispatch) -> impl Future<Output = DispatchResult> + 'static;

    /// Starts `dispatch` without waiting for it. Await the returned handle for its
    /// result, or drop it: the dispatch runs to completion either way, and its failures
    /// still reach telemetry (a `WARN` event) and [`Stats`](crate::Stats).
    ///
    /// Never waits. Detached dispatches queue under the dispatcher's admission permits
    /// (as many as its [mailbox capacity](crate::DispatcherBuilder::mailbox_capacity)),
    /// whichever clone of the address sends them: when none is free, the handle
    /// resolves at once with every target failing [`ErrorKind::Overloaded`], counted in
    /// [`StatsSnapshot::refused`](crate::StatsSnapshot::refused); when the dispatcher has
    /// stopped, with [`ErrorKind::Shutdown`]. Either way a `WARN` event says so.
    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle;
}

impl DispatchExt for Addr<Dispatcher> {
    fn dispatch(&self, dispatch: Dispatch) -> impl Future<Output = DispatchResult> + 'static {
        let targets = Arc::clone(&dispatch.targets);
        let sent = self.send(dispatch);
        async move {
            sent.await
                .unwrap_or_else(|_stopped| fail_all(&targets, || (ErrorKind::Shutdown, 0)))
        }
    }

    fn dispatch_async(&self, dispatch: Dispatch) -> DispatchHandle {
        let (reply, receiver) = oneshot::channel();
        let targets = Arc::clone(&dispatch.targets);
        let detached = |permit| Detached::new(dispatch, Some(reply), permit);
        match Admission::of(self) {
            None => detached(None).refuse(|| ErrorKind::Shutdown),
            Some(admission) => match admission.admit() {
                None => detached(None).refuse(|| ErrorKind::Overloaded),
                // The permit is the bound; a closed mailbox drops the message, which
                // then reports every target.
                Some(permit) => self.do_send(detached(Some(permit))),
            },
        }
        DispatchHandle { receiver, targets }
    }
}

/// The completion of a detached dispatch. Await it for the result, or drop it.
#[derive(Debug)]
#[must_use = "drop the handle explicitly to ignore the dispatch's result"]
pub struct DispatchHandle {
    receiver: oneshot::Receiver<DispatchResult>,
    targets: Arc<[Target]>,
}

impl Future for DispatchHandle {
    type Output = DispatchResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<DispatchResult> {
        // The message and the run both answer as they drop, so this only finds the
        // sender gone if the thread that held it died; every target is reported then
        // too, each at its own index.
        Pin::new(&mut self.receiver).poll(cx).map(|result| {
            // The thread died: any target may have begun.
            result.unwrap_or_else(|_| fail_all(&self.targets, || (ErrorKind::Shutdown, 1)))
        })
    }
}

#[cfg(test)]
mod sizes {
    //! The sizes the hot path counts on, pinned here rather than in comments: a change
    //! that grows one fails this test and says by how much.

    use super::*;

    #[test]
    fn a_dispatch_is_four_words() {
        // The signal, the targets (a fat pointer) and the boxed extras: moved into the
        // caller's request, the mailbox and the run on every dispatch.
        assert_eq!(size_of::<Dispatch>(), 32);
    }

    #[test]
    fn a_target_and_an_outcome_keep_their_size() {
        // A fan-out keeps one of each per target.
        assert_eq!(size_of::<Target>(), 48);
        assert_eq!(size_of::<crate::Outcome>(), 32);
    }
}
