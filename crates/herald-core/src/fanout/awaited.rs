//! A fan-out that waits: launch targets under the concurrency limit — inline for local
//! adapters, one `Addr::send` batch per pool adapter per launch — collect every answer
//! in one join set, and account for every target.

use std::future::{Future, poll_fn};
use std::num::NonZeroUsize;
use std::ops::Range;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc::{Receiver, Sender, channel};
use tokio::sync::{OwnedSemaphorePermit, oneshot};
use tokio::time::Instant;
use tracing::Span;

use super::join::{JoinSet, Joined};
use super::{
    Answer, DoneAtOnce, Lifecycle, Lookup, Phase, Running, Shared, dead_letters, oversized,
};
use crate::delivery::{DeliverBatch, DispatchContext, Job, Pool, Reply, StartedAdapter, Via};
use crate::dispatch::{DispatchReport, DispatchResult, Results};
use crate::telemetry;
use crate::{DeliveryError, Dispatch, ErrorKind, Outcome, Target, TargetError};

/// The in-flight slots a dispatch was admitted with.
pub(crate) enum Slots {
    /// Reserved.
    Held(OwnedSemaphorePermit),
    /// None free, and the dispatcher fails fast: every target fails with
    /// [`ErrorKind::Overloaded`].
    Refused,
    /// Coming when free (the dispatcher waits for them, its mailbox paused).
    Awaited(oneshot::Receiver<OwnedSemaphorePermit>),
}

/// Fans a dispatch out, from what it did at once, and hands the result to
/// `answer`. It is the whole of its task's future, so it is allocated once.
///
/// The in-flight slots follow the deliveries: the dispatch holds one per delivery it
/// may have running at once while targets remain to launch, and gives each back as its
/// delivery ends once none remain.
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::manual_async_fn)]
pub(crate) fn fan_out<F: FnOnce(DispatchResult)>(
    inner: Rc<Shared>,
    dispatch: Dispatch,
    slots: Slots,
    mut head: DoneAtOnce,
    running: Running,
    answer: Answer<F>,
) -> impl Future<Output = ()> {
    // Fields are borrowed, not moved out: a moved-out field would take a second place
    // in this future.
    async move {
        let mut permit = match slots {
            Slots::Held(permit) => Some(permit),
            Slots::Refused => None,
            Slots::Awaited(coming) => coming.await.ok(),
        };
        // Checked in a block of its own: a local once borrowed keeps a place in this
        // future through every later wait, beside the fan-out's.
        let (result, letters) = {
            let deliveries = Phase::Deliveries;
            let result =
                fan_out_admitted(&inner, &dispatch, &mut permit, &mut head, deliveries).await;
            let wanted = dead_letters::wanted(&inner, &dispatch, &result);
            (result, wanted)
        };
        drop(permit);
        // Not boxed: the dead letters' future is smaller than the fan-out's, whose room in
        // this future it takes.
        let result = if letters {
            dead_letters::sent(&inner, &dispatch, result).await
        } else {
            result
        };
        answer.send(result);
        // Running until answered.
        drop(running);
    }
}

/// Fans out a dispatch that was admitted with `permit` (`None`: refused), from what its
/// `head` did at once.
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::manual_async_fn)]
pub(super) fn fan_out_admitted<'a>(
    inner: &'a Shared,
    dispatch: &'a Dispatch,
    permit: &'a mut Option<OwnedSemaphorePermit>,
    head: &'a mut DoneAtOnce,
    phase: Phase,
) -> impl Future<Output = DispatchResult> + 'a {
    async move {
        let total = dispatch.targets.len();
        if total == 0 {
            return Ok(DispatchReport::default());
        }
        let next = head.next;
        // No span when no subscriber could want it: making one costs even when disabled.
        let span = if inner.telemetry && telemetry::spans_wanted() {
            let parent = dispatch.parent().unwrap_or(&telemetry::NO_SPAN);
            telemetry::dispatch_span(parent, &dispatch.signal, total)
        } else {
            Span::none()
        };
        let context = DispatchContext {
            signal: Arc::clone(&dispatch.signal),
            caller: dispatch.caller_id(),
            hops: dispatch.hops(),
            span,
            telemetry: inner.telemetry,
            delivery_timeout: inner.delivery_timeout,
            policies: Arc::clone(&inner.policies),
            expires: dispatch.signal.expirytime(),
            turns: dispatch.turns().cloned(),
        };
        let mut fan_out = FanOut {
            inner,
            context: &context,
            targets: &dispatch.targets,
            results: &mut head.results,
            settled: next,
            in_flight: 0,
            limit: 0,
            joined: JoinSet::default(),
            remote: None,
            lookup: Lookup::default(),
            declined: head.declined.then_some(next),
        };

        if let Some(size) = oversized(&dispatch.signal, inner.max_signal_size) {
            let limit = inner.max_signal_size;
            for index in next..total {
                fan_out.fail_here(index, ErrorKind::TooLarge { size, limit }, false);
            }
            return fan_out.finish();
        }
        let Some(held) = &*permit else {
            for index in next..total {
                fan_out.fail_here(index, ErrorKind::Overloaded, false);
            }
            return fan_out.finish();
        };
        let limit = dispatch
            .max_concurrency_limit()
            .map_or(inner.max_concurrency, NonZeroUsize::get)
            .min(held.num_permits())
            .max(1);
        fan_out.limit = limit;

        let mut next = next;
        // What fails the targets still open when the loop ends early.
        let mut unfinished: fn() -> ErrorKind = || ErrorKind::DeadlineExceeded;
        while fan_out.settled < total {
            if next < total && fan_out.in_flight < limit {
                let end = total.min(next + limit - fan_out.in_flight);
                poll_fn(|cx| {
                    fan_out.launch(next..end, cx);
                    Poll::Ready(())
                })
                .await;
                next = end;
                continue;
            }
            if next == total {
                give_back(permit, fan_out.in_flight);
            }
            match fan_out
                .wait(dispatch.deadline_at(), &inner.lifecycle, phase)
                .await
            {
                Wake::Reply(Some((index, result))) => {
                    fan_out.settle(index, result, true);
                    fan_out.settle_arrived();
                }
                Wake::Reply(None) | Wake::Deadline => break,
                Wake::Changed => {}
                Wake::Cutoff => {
                    unfinished = || ErrorKind::Shutdown;
                    break;
                }
            }
        }
        // Stop what is still running (inline futures are dropped; pool batches see the
        // inbox close), then report whatever is open: it ran out of time.
        fan_out.joined.clear();
        fan_out.remote = None;
        for index in 0..total {
            if fan_out.results.is_open(index) {
                fan_out.fail_here(index, unfinished(), index < next);
            }
        }
        fan_out.finish()
    }
}

/// Returns the slots a dispatch holds beyond its `in_flight` deliveries.
fn give_back(permit: &mut Option<OwnedSemaphorePermit>, in_flight: usize) {
    if let Some(held) = permit {
        let spare = held.num_permits().saturating_sub(in_flight);
        if spare > 0 {
            drop(held.split(spare));
        }
    }
}

/// What ended a wait for the next answer.
enum Wake {
    /// An answer, or `None` when nothing is left to answer.
    Reply(Option<Reply>),
    /// The shutdown cutoff changed: wait again with the new one.
    Changed,
    /// The dispatch's deadline passed.
    Deadline,
    /// The shutdown cutoff passed.
    Cutoff,
}

/// What deliveries on the pool share: made on the first batch sent there.
struct Remote {
    context: Arc<DispatchContext>,
    /// Room for `limit` answers: every pool delivery answers once, and at most `limit`
    /// are in flight, so an answer never waits for room.
    replies: Sender<Reply>,
    inbox: Receiver<Reply>,
}

/// The state of one dispatch's fan-out.
struct FanOut<'a> {
    inner: &'a Shared,
    context: &'a DispatchContext,
    targets: &'a [Target],
    /// Borrowed from the fan-out's `head`: moved out, it would take a second place in the
    /// fan-out's future.
    results: &'a mut Results,
    settled: usize,
    in_flight: usize,
    /// The most deliveries in flight at once.
    limit: usize,
    /// The join set: local deliveries (answering with their reply) and batch requests
    /// to pool actors (answering `None` once taken). Made on first use.
    joined: JoinSet<'a>,
    /// Finds each target's adapter.
    lookup: Lookup<'a>,
    /// The answers of deliveries on the pool (made on first use).
    remote: Option<Remote>,
    /// A target already offered a delivery at once, which declined it.
    declined: Option<usize>,
}

impl<'a> FanOut<'a> {
    /// Starts targets `range`: inline for local adapters, else one batch per pool
    /// adapter. An inline delivery is polled once at once: most (a mailbox push) finish
    /// there, and only those still pending join the set.
    fn launch(&mut self, range: Range<usize>, cx: &mut Context<'_>) {
        let targets = self.targets;
        let context = self.context;
        // Launched late (after slots freed up), a signal may have expired meanwhile.
        if context.expired() {
            for index in range {
                self.fail_here(index, ErrorKind::Expired, false);
            }
            return;
        }
        let mut batches: Vec<(&Pool, Vec<Job>)> = Vec::new();
        // At once only when no delivery span is wanted (policies are checked target by
        // target).
        let at_once = !context.traced();
        let mut index = range.start;
        while index < range.end {
            let target = &targets[index];
            let Some((adapter, started)) = self.adapter_of(index) else {
                let unknown = TargetError::UnknownAdapter {
                    name: target.adapter().to_owned(),
                    known: self.inner.known_adapters(),
                };
                self.fail_here(index, ErrorKind::InvalidTarget(unknown), false);
                index += 1;
                continue;
            };
            match started.placed() {
                Via::Inline(inline) => {
                    if at_once && self.declined != Some(index) && target.may_be_at_once() {
                        let now = context.now();
                        let progress =
                            inline.deliver_now(now, targets, index..range.end, self.results);
                        if progress.end > index {
                            self.inner.counters.delivered_at_once(
                                adapter,
                                self.results,
                                index..progress.end,
                                progress.failed,
                            );
                            self.settled += progress.end - index;
                            index = progress.end;
                            continue;
                        }
                    }
                    self.in_flight += 1;
                    self.inner.counters.deliveries_started(1);
                    let mut delivery = inline.deliver(context, index, target);
                    match delivery.as_mut().poll(cx) {
                        Poll::Ready((index, result)) => self.settle(index, result, true),
                        Poll::Pending => self.joined.push(Joined::Delivery(delivery)),
                    }
                }
                Via::Pool(pool) => {
                    self.in_flight += 1;
                    self.inner.counters.deliveries_started(1);
                    let replies = &self.remote().replies;
                    let job = Job::new(index, target.clone(), replies.clone());
                    match batches.iter_mut().find(|(p, _)| std::ptr::eq(*p, pool)) {
                        Some((_, jobs)) => jobs.push(job),
                        None => batches.push((pool, vec![job])),
                    }
                }
            }
            index += 1;
        }
        for (pool, jobs) in batches {
            let context = Arc::clone(&self.remote().context);
            let request = pool.send(DeliverBatch { context, jobs });
            self.joined.push(Joined::Batch(Box::pin(request)));
        }
    }

    /// The adapter target `index` names, with its index.
    fn adapter_of(&mut self, index: usize) -> Option<(usize, &'a StartedAdapter)> {
        self.lookup.find(self.inner, self.targets[index].adapter())
    }

    fn remote(&mut self) -> &Remote {
        let (context, limit) = (self.context, self.limit);
        self.remote.get_or_insert_with(|| {
            let (replies, inbox) = channel(limit.max(1));
            Remote {
                context: Arc::new(context.clone()),
                replies,
                inbox,
            }
        })
    }

    /// The next answer, from the join set or from the pool. (We hold a sender
    /// ourselves, so the inbox never closes while we wait.) `None` when nothing is left
    /// that could answer.
    fn poll_reply(&mut self, cx: &mut Context<'_>) -> Poll<Option<Reply>> {
        let mut open = false;
        match self.joined.poll_reply(cx) {
            Poll::Ready(Some(reply)) => return Poll::Ready(Some(reply)),
            Poll::Pending => open = true,
            Poll::Ready(None) => {}
        }
        if let Some(remote) = &mut self.remote {
            if let Poll::Ready(reply) = remote.inbox.poll_recv(cx) {
                return Poll::Ready(reply);
            }
            open = true;
        }
        if open {
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }

    /// Waits for the next answer, the dispatch's deadline, or the shutdown cutoff of
    /// `phase`.
    async fn wait(
        &mut self,
        deadline: Option<Instant>,
        lifecycle: &Lifecycle,
        phase: Phase,
    ) -> Wake {
        let mut changed = pin!(lifecycle.changed());
        let (until, cut_off) = match (deadline, lifecycle.cutoff(phase)) {
            (Some(deadline), Some(cutoff)) if cutoff < deadline => (Some(cutoff), true),
            (None, Some(cutoff)) => (Some(cutoff), true),
            (deadline, _) => (deadline, false),
        };
        // Boxed: a timer would otherwise grow every dispatch's future.
        let mut timer = until.map(|until| Box::pin(tokio::time::sleep_until(until)));
        // Moved in, not borrowed: this future then keeps one place for each.
        poll_fn(move |cx| {
            if let Poll::Ready(reply) = self.poll_reply(cx) {
                return Poll::Ready(Wake::Reply(reply));
            }
            if let Some(timer) = &mut timer
                && timer.as_mut().poll(cx).is_ready()
            {
                return Poll::Ready(if cut_off {
                    Wake::Cutoff
                } else {
                    Wake::Deadline
                });
            }
            changed.as_mut().poll(cx).map(|()| Wake::Changed)
        })
        .await
    }

    /// Settles whatever the pool has already answered.
    fn settle_arrived(&mut self) {
        while let Some(Ok((index, result))) = self.remote.as_mut().map(|r| r.inbox.try_recv()) {
            self.settle(index, result, true);
        }
    }

    /// Records one target's result (the first one only).
    fn settle(&mut self, index: usize, result: Result<Outcome, DeliveryError>, in_flight: bool) {
        if !self.results.is_open(index) {
            return;
        }
        let adapter = self.adapter_of(index);
        self.inner
            .counters
            .delivery_finished(adapter.map(|(index, _)| index), &result, in_flight);
        if in_flight {
            self.in_flight -= 1;
        }
        // Its lane goes on (its delivery gave it up already, if it made one).
        self.context.release(index, result.is_err());
        self.results.set(index, result);
        self.settled += 1;
    }

    /// Fails a target from the dispatcher itself (unknown adapter, overload, deadline),
    /// with the same telemetry an adapter's failure gets. One that was not `in_flight`
    /// made no attempt.
    fn fail_here(&mut self, index: usize, kind: ErrorKind, in_flight: bool) {
        let target = &self.targets[index];
        let made = u32::from(in_flight && !kind.is_refusal());
        let result = Err(target.error(kind).with_attempts(made));
        if self.context.traced() {
            let kind = self
                .adapter_of(index)
                .map_or("unknown", |(_, started)| started.kind);
            let span =
                telemetry::delivery_span(&self.context.span, target, kind, &self.context.signal);
            telemetry::record(&span, &result, 0, Default::default());
        }
        self.settle(index, result, in_flight);
    }

    fn finish(self) -> DispatchResult {
        let span = &self.context.span;
        if !span.is_disabled() {
            let failed = self.results.failed();
            span.record("delivered", self.results.len() - failed);
            span.record("failed", failed);
        }
        std::mem::replace(self.results, Results::new(0)).conclude()
    }
}
