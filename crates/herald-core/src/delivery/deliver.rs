//! One delivery, wherever it runs: the target's options checked, the adapter called
//! inside the delivery span under `catch_unwind`, and the delivery bounded in time.

use std::any::Any;
use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::num::NonZeroU64;
use std::ops::Deref;
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::FutureExt;
use herald_signal::Signal;
use tokio::time::{Instant, Sleep};
use tracing::{Instrument, Span};

use super::Named;
use crate::adapter::{Adapter, Delivery};
use crate::dispatch::Results;
use crate::error::panic_message;
use crate::resilience::{Effective, Place, Policies, Turns, guarded, guarded_now};
use crate::target::Options;
use crate::telemetry::{self, meter};
use crate::{ActorId, DeliveryError, ErrorKind, Outcome, Target, TargetError, TargetOptions};

/// One target's result, sent back to the dispatch that asked for it.
pub(crate) type Reply = (usize, Result<Outcome, DeliveryError>);

/// What every delivery of one dispatch shares.
#[derive(Debug, Clone)]
pub(crate) struct DispatchContext {
    pub(crate) signal: Arc<Signal>,
    pub(crate) caller: Option<ActorId>,
    /// Buses the signal went through (see `Dispatch::hops`).
    pub(crate) hops: u8,
    /// The dispatch span, parent of every delivery span (`Span::none()` when telemetry
    /// is off).
    pub(crate) span: Span,
    pub(crate) telemetry: bool,
    /// The bound on a delivery whose adapter states none of its own.
    pub(crate) delivery_timeout: Duration,
    /// The dispatcher's default policies and its endpoints' state.
    pub(crate) policies: Arc<Policies>,
    /// The signal's `expirytime`, read once.
    pub(crate) expires: Option<chrono::DateTime<chrono::Utc>>,
    /// The dispatch's turns in its targets' ordering lanes, when it has a key.
    pub(crate) turns: Option<Arc<Turns>>,
}

impl DispatchContext {
    /// Whether the signal's `expirytime` has passed (the clock is read only when it
    /// has one).
    pub(crate) fn expired(&self) -> bool {
        crate::resilience::expiry_passed(self.expires)
    }

    /// Whether deliveries get spans: telemetry is on and a subscriber wants the
    /// dispatch span. When not, no span is made and no clock is read.
    pub(crate) fn traced(&self) -> bool {
        self.telemetry && !self.span.is_disabled()
    }

    /// What a delivery at once needs of it.
    pub(crate) fn now(&self) -> AtOnce<'_> {
        AtOnce {
            signal: &self.signal,
            caller: self.caller,
            hops: self.hops,
            policies: &self.policies,
            expires: self.expires,
            keyed: match &self.turns {
                Some(turns) => Keyed::Turns(turns),
                None => Keyed::No,
            },
        }
    }

    /// Gives up target `index`'s turn in its ordering lane, if it has one.
    pub(crate) fn release(&self, index: usize, failed: bool) {
        if let Some(turns) = &self.turns {
            turns.release(index, failed);
        }
    }
}

/// Delivers to one target with `adapter` (registered as `name`, held by the delivery
/// until it ends) and returns the target's reply; if the adapter panicked, `restart`
/// is called (its started adapter then replaces it).
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::manual_async_fn)]
pub(crate) fn deliver<'a, A: Adapter>(
    adapter: impl Deref<Target = A> + 'a,
    name: &'a Named,
    context: &'a DispatchContext,
    index: usize,
    target: &'a Target,
    restart: impl FnOnce() + 'a,
) -> impl Future<Output = Reply> + 'a {
    async move {
        // A keyed delivery waits for its turn in its lane (boxed: most have none).
        if let Some(turn) = context.turns.as_ref().and_then(|turns| turns.get(index)) {
            let waited = match turn {
                Ok(turn) => Box::pin(turn.wait()).await,
                Err(full) => Err(full),
            };
            if let Err(kind) = waited {
                context.release(index, true);
                return (index, Err(target.error(kind).with_attempts(0)));
            }
        }
        let adapter = &*adapter;
        // Delivery spans hang under the dispatch span; when no subscriber wants that
        // one, none is made, no clock is read, and the delivery is not wrapped in one.
        let traced = context.traced();
        // For the metrics (feature `metrics`; without it, nothing).
        let timer = meter::Timer::start();
        // How many times the adapter was called on (or said it retried): none yet.
        let attempts = Cell::new(0);
        let (caught, span) = if traced {
            let span = telemetry::delivery_span(&context.span, target, A::KIND, &context.signal);
            let started = Instant::now();
            // Boxed: held inline, the span's wrapper would grow every delivery's future
            // (96 bytes), traced or not.
            let attempt = AssertUnwindSafe(attempt(adapter, name, context, target, &attempts));
            let caught = Box::pin(attempt.catch_unwind().instrument(span.clone())).await;
            (caught, Some((span, started.elapsed())))
        } else {
            // Polled where it is made, each poll under `catch_unwind` (what
            // `FutureExt::catch_unwind` does): wrapped by value, the attempt would be
            // copied into the wrapper.
            let mut attempt = pin!(attempt(adapter, name, context, target, &attempts));
            let caught = poll_fn(|cx| {
                match std::panic::catch_unwind(AssertUnwindSafe(|| attempt.as_mut().poll(cx))) {
                    Ok(Poll::Pending) => Poll::Pending,
                    Ok(Poll::Ready(result)) => Poll::Ready(Ok(result)),
                    Err(payload) => Poll::Ready(Err(payload)),
                }
            });
            (caught.await, None)
        };
        let (result, panicked) = match caught {
            Ok(result) => (result, false),
            Err(payload) => (Err(panicked(name, payload.as_ref())), true),
        };
        let result = result.map_err(|kind| {
            // A refusal made nothing on the attempt it ended (an egress refusal on a
            // retry, a call to the caller itself); a policy's refusal, none at all.
            let made = attempts.get().saturating_sub(u32::from(kind.is_refusal()));
            target.error(kind).with_attempts(made)
        });
        name.meter.delivered(timer, &result, attempts.get());
        if let Some((span, elapsed)) = span {
            telemetry::record(&span, &result, attempts.get(), elapsed);
        }
        context.release(index, result.is_err());
        if panicked {
            restart();
        }
        (index, result)
    }
}

/// What a delivery at once needs from its dispatch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AtOnce<'d> {
    pub(crate) signal: &'d Arc<Signal>,
    pub(crate) caller: Option<ActorId>,
    pub(crate) hops: u8,
    /// The dispatcher's default policies and its endpoints' state.
    pub(crate) policies: &'d Policies,
    /// The signal's `expirytime`, as its fan-out reads it.
    pub(crate) expires: Option<chrono::DateTime<chrono::Utc>>,
    /// The dispatch's ordering key, or its turns.
    pub(crate) keyed: Keyed<'d>,
}

/// How a dispatch with an ordering key keeps its deliveries at once in order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keyed<'d> {
    /// It has no key.
    No,
    /// While the dispatcher admits it, before it takes turns: a target goes at once
    /// if its lane for this key is empty.
    Free(NonZeroU64),
    /// Its turns, taken: a target goes at once at the front of its lane.
    Turns(&'d Turns),
}

/// How far a stretch of deliveries at once got: targets from its start to `end` are
/// settled, `failed` of them with an error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    pub(crate) end: usize,
    pub(crate) failed: usize,
}

impl Progress {
    /// Nothing done yet, from `start`.
    pub(crate) fn at(start: usize) -> Self {
        Self {
            end: start,
            failed: 0,
        }
    }

    #[inline]
    fn settle(
        &mut self,
        results: &mut Results,
        target: &Target,
        result: Result<Outcome, ErrorKind>,
    ) {
        match result {
            Ok(outcome) => results.set_ok(self.end, outcome),
            Err(kind) => {
                self.failed += 1;
                results.set(self.end, Err(target.error(kind)));
            }
        }
        self.end += 1;
    }
}

/// Delivers targets `progress.end..end` at once, in order, into `results`, while each one
/// names the adapter by the same string as the first and can be delivered without
/// waiting: by the adapter ([`Adapter::deliver_now`]) and by its policies, if any
/// ([`guarded_now`]; a rate limit always waits in the fan-out). Stops before the first
/// that cannot. One `catch_unwind` covers the stretch: a panic fails the target it came
/// from, ends the stretch, and returns `true` (the started adapter then replaces the adapter). No
/// span is made: callers use this only when none is wanted.
pub(crate) fn deliver_now<A: Adapter>(
    adapter: &A,
    name: &str,
    now: AtOnce<'_>,
    targets: &[Target],
    end: usize,
    progress: &mut Progress,
    results: &mut Results,
) -> bool {
    let Some(first) = targets.get(progress.end) else {
        return false;
    };
    let named = first.adapter();
    // Checked once: most fan-outs have no policies at all.
    let defaults = !now.policies.defaults.is_empty();
    let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
        while progress.end < end {
            let target = &targets[progress.end];
            if !std::ptr::eq(target.adapter(), named) {
                return;
            }
            // A raw config is left to the progress, whose delivery validates it once: here
            // it would be validated again whenever the delivery declines. (A target
            // that always waits is not asked about here, target by target: its
            // adapter declines it.)
            let Options::Typed(options) = target.options() else {
                return;
            };
            // A keyed delivery goes at once only through an empty lane, or at the front
            // of its own.
            if !matches!(now.keyed, Keyed::No) {
                match lane_at_once(now, target, progress.end) {
                    Lane::Go => {}
                    Lane::Wait => return,
                    Lane::Fail(kind) => {
                        progress.settle(results, target, Err(kind));
                        continue;
                    }
                }
            }
            let result = match downcast::<A::Options>(name, options) {
                // A paused endpoint or target waits (or fails) in the fan-out.
                Ok(options) if paused(now, name, options, target) => return,
                Ok(options) => {
                    let done = if target.resilience().is_none() && !defaults {
                        adapter.deliver_now(delivery(now, options))
                    } else {
                        deliver_guarded_now(adapter, name, now, target, options)
                    };
                    match done {
                        Some(result) => result,
                        None => return,
                    }
                }
                Err(error) => Err(ErrorKind::from(error)),
            };
            if !matches!(now.keyed, Keyed::No) {
                lane_after_at_once(now, target, progress.end, result.is_err());
            }
            progress.settle(results, target, result);
        }
    }));
    match caught {
        Ok(()) => false,
        Err(payload) => {
            let kind = panicked(name, payload.as_ref());
            if let Keyed::Turns(turns) = now.keyed {
                turns.finish(progress.end, true);
            }
            progress.settle(results, &targets[progress.end], Err(kind));
            true
        }
    }
}

/// Whether a delivery at once is under a pause.
#[inline]
fn paused(now: AtOnce<'_>, name: &str, options: &dyn TargetOptions, target: &Target) -> bool {
    let pauses = &now.policies.pauses;
    pauses.any() && pauses.of(name, options, target).is_some()
}

/// Whether a keyed delivery at once may go.
enum Lane {
    Go,
    /// It needs the fan-out, to wait for its turn.
    Wait,
    /// It fails without being made: its lane is blocked, or was full.
    Fail(ErrorKind),
}

/// Whether target `index` of a keyed dispatch may be delivered at once: through an
/// empty lane, or at the front of its own.
#[inline(never)]
fn lane_at_once(now: AtOnce<'_>, target: &Target, index: usize) -> Lane {
    let turn = match now.keyed {
        Keyed::No => return Lane::Go,
        Keyed::Free(key) => {
            let policies = now.policies;
            let free = policies.lanes.free(target, key, &policies.defaults);
            return if free { Lane::Go } else { Lane::Wait };
        }
        Keyed::Turns(turns) => match turns.get(index) {
            None => return Lane::Go,
            Some(Err(full)) => return Lane::Fail(full),
            Some(Ok(turn)) => turn,
        },
    };
    match turn.place() {
        Place::Front => Lane::Go,
        Place::Behind => Lane::Wait,
        Place::Blocked => {
            turn.release(true);
            Lane::Fail(ErrorKind::LaneBlocked)
        }
    }
}

/// Target `index` of a keyed dispatch was delivered at once, and `failed` or not: its
/// turn is given up, or (through an empty lane) a failure blocks the lane if its
/// target says so.
#[inline(never)]
fn lane_after_at_once(now: AtOnce<'_>, target: &Target, index: usize, failed: bool) {
    match now.keyed {
        Keyed::No => {}
        Keyed::Free(key) => {
            if failed {
                let policies = now.policies;
                policies.lanes.failed_free(target, key, &policies.defaults);
            }
        }
        Keyed::Turns(turns) => turns.finish(index, failed),
    }
}

/// A delivery at once with its options.
#[inline]
fn delivery<'a, O>(now: AtOnce<'a>, options: &'a O) -> Delivery<'a, O> {
    let mut delivery = Delivery::new(now.signal, options);
    delivery.caller = now.caller;
    delivery.hops = now.hops;
    delivery
}

/// [`deliver_now`]'s delivery to a target that may have policies (its own or the
/// dispatcher's): under them, if they need not wait; `None` if it cannot be made at
/// once.
// Never inlined: kept out of the loop of plain deliveries at once, which it would slow.
#[inline(never)]
fn deliver_guarded_now<A: Adapter>(
    adapter: &A,
    name: &str,
    now: AtOnce<'_>,
    target: &Target,
    options: &A::Options,
) -> Option<Result<Outcome, ErrorKind>> {
    let policies = now.policies;
    let attempt = || adapter.deliver_now(delivery(now, options));
    match Effective::of(target.resilience(), &policies.defaults) {
        None => attempt(),
        // A rate limit waits in the fan-out; and a delivery is not admitted only to be
        // undone when the adapter surely declines.
        Some(effective) if effective.rate_limit.is_some() || !adapter.may_deliver_now(options) => {
            None
        }
        Some(effective) => {
            let signal = (&**now.signal, now.expires);
            guarded_now(policies, effective, name, options, signal, attempt)
        }
    }
}

/// The error for a panic, logged.
fn panicked(name: &str, payload: &(dyn Any + Send)) -> ErrorKind {
    let message = panic_message(payload);
    tracing::error!(adapter = %name, panic = %message, "adapter panicked");
    ErrorKind::Panicked { message }
}

/// A target's options for an adapter: borrowed when typed, checked now when a config.
pub(crate) enum Resolved<'t, O> {
    Typed(&'t O),
    Validated(O),
}

impl<O> Resolved<'_, O> {
    pub(crate) fn get(&self) -> &O {
        match self {
            Self::Typed(options) => options,
            Self::Validated(options) => options,
        }
    }
}

/// `target`'s options for adapter `A` (registered as `name`).
#[inline]
pub(crate) fn resolve<'t, A: Adapter>(
    adapter: &A,
    name: &str,
    target: &'t Target,
) -> Result<Resolved<'t, A::Options>, TargetError> {
    match target.options() {
        Options::Typed(options) => downcast(name, options).map(Resolved::Typed),
        Options::Config(config) => adapter.validate(config).map(Resolved::Validated),
    }
}

/// Typed options as the options type `O` of the adapter registered as `name`.
#[inline]
fn downcast<'t, O: Any>(
    name: &str,
    options: &'t Arc<dyn TargetOptions>,
) -> Result<&'t O, TargetError> {
    (options.as_ref() as &dyn Any)
        .downcast_ref::<O>()
        .ok_or_else(|| TargetError::WrongOptions {
            adapter: name.to_owned(),
            expected: std::any::type_name::<O>(),
        })
}

/// The target's options for `A` (checked now if they are a raw config), then the
/// adapter's delivery, bounded by the adapter or by the dispatcher, under the target's
/// resilience policies when it has any.
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::manual_async_fn)]
fn attempt<'a, A: Adapter>(
    adapter: &'a A,
    name: &'a str,
    context: &'a DispatchContext,
    target: &'a Target,
    attempts: &'a Cell<u32>,
) -> impl Future<Output = Result<Outcome, ErrorKind>> + 'a {
    async move {
        let resolved = resolve(adapter, name, target)?;
        let options = resolved.get();
        // A paused endpoint or target holds the delivery, or fails it (boxed: most
        // deliveries never see a pause).
        let policies = &context.policies;
        if let Some(paused) = policies.pauses.of(name, options, target) {
            let while_paused = policies.while_paused(target);
            Box::pin(async move { paused.hold(while_paused).await }).await?;
        }
        // An adapter that bounds its own deliveries gets no second timer.
        let own = adapter.timeout(options);
        let limit = match own {
            Some(_) => None,
            None => Some(context.delivery_timeout),
        };
        match Effective::of(target.resilience(), &policies.defaults) {
            // Polled here, not through `bounded`, whose future would sit inside this one
            // with its own copy of the delivery: 72 bytes more per delivery.
            None => {
                // A delivery may wait (for its pool, a mailbox's room) after its fan-out
                // launched it: checked again here, before its adapter is called. (Under
                // policies, `guarded` checks it, with the target's max age.)
                if context.expired() {
                    return Err(ErrorKind::Expired);
                }
                let delivery = delivery(context.now(), options).with_attempts(attempts);
                delivery.report_attempts(1);
                let mut delivering = pin!(adapter.deliver(delivery));
                let mut timer = None;
                // Moved in, not borrowed: this future then keeps one place for each.
                poll_fn(move |cx| poll_bounded(delivering.as_mut(), &mut timer, limit, cx)).await
            }
            // Boxed: the policies' waits would otherwise grow every delivery's future.
            // Made in its box (see `delivery::boxed`).
            Some(effective) => {
                let budget = own.unwrap_or(context.delivery_timeout);
                // Made here, in this branch: borrowed by the attempt below, it then takes
                // no place in the unguarded delivery's future.
                let delivery = delivery(context.now(), options).with_attempts(attempts);
                super::boxed(|| {
                    guarded(
                        policies,
                        effective,
                        name,
                        options,
                        (&context.signal, context.expires),
                        budget,
                        || bounded(adapter, delivery, limit),
                    )
                })
                .await
            }
        }
    }
}

/// The adapter's delivery, cut off after `limit` when there is one.
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::manual_async_fn)]
fn bounded<'a, A: Adapter>(
    adapter: &'a A,
    delivery: Delivery<'a, A::Options>,
    limit: Option<Duration>,
) -> impl Future<Output = Result<Outcome, ErrorKind>> + 'a {
    async move {
        delivery.report_attempts(1);
        let mut delivering = pin!(adapter.deliver(delivery));
        let mut timer = None;
        poll_fn(move |cx| poll_bounded(delivering.as_mut(), &mut timer, limit, cx)).await
    }
}

/// Polls a delivery that may run for at most `limit` (`None`: it bounds itself). The
/// timer is made (boxed, so that it does not grow every delivery's future) only if a
/// poll leaves the delivery pending: most deliveries (a mailbox push) end on their
/// first poll, and then no clock is read.
fn poll_bounded<F: Future<Output = Result<Outcome, ErrorKind>>>(
    delivery: Pin<&mut F>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<Outcome, ErrorKind>> {
    if let Poll::Ready(result) = delivery.poll(cx) {
        return Poll::Ready(result);
    }
    let Some(limit) = limit else {
        return Poll::Pending;
    };
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    timer
        .as_mut()
        .poll(cx)
        .map(|()| Err(ErrorKind::Timeout(limit)))
}
