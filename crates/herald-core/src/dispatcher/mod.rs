//! The dispatcher actor: takes `Dispatch` messages and fans each signal out.

mod builder;
mod handle;
mod sharded;

use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use actix::dev::{MessageResponse, OneshotSender};
use actix::{
    Actor, ActorContext, ActorFutureExt, AsyncContext, Context, Handler, MessageResult,
    ResponseActFuture, WrapFuture,
};
use actix_rt::Arbiter;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

pub use builder::DispatcherBuilder;
pub use handle::{DispatchExt, DispatchHandle};
pub use sharded::Sharded;

use crate::delivery::{ArbiterPool, Arbiters, StartedAdapter, boxed};
use crate::dispatch::{Admission, Counters, Detached, Overload, warn_failures};
use crate::fanout::{self, Answer, DoneAtOnce, FanOuts, Shared, Slots};
use crate::resilience::{
    CircuitState, OpenCircuit, PauseEndpoint, Policies, ResetCircuit, ResumeEndpoint, ResumeLanes,
};
use crate::telemetry::meter::{self, PolicySample};
use crate::{
    ActorId, CheckTargets, Dispatch, DispatchResult, ErrorKind, Shutdown, Stats, TargetProblem,
};

/// The actor that delivers signals: send it [`Dispatch`] messages.
///
/// Start one with [`Dispatcher::builder`] (or several behind one handle with
/// [`start_sharded`](DispatcherBuilder::start_sharded)). It runs adapters that do work
/// as supervised actors on a pool of arbiters, reached with `Addr::send`, and delivers
/// local targets (mailbox pushes) itself; at most `max_concurrency` deliveries in flight
/// per dispatch and `max_in_flight` in all; and answers with every target's result. It
/// also answers [`Stats`].
///
/// ```
/// use herald_core::{Dispatch, Dispatcher, Stats, Target};
/// use herald_signal::Signal;
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// let signal = Signal::new("user.created", serde_json::json!({})).unwrap();
/// dispatcher.send(Dispatch::new(signal, [Target::noop()])).await.unwrap().unwrap();
///
/// let stats = dispatcher.send(Stats).await.unwrap();
/// assert_eq!(stats.delivered, 1);
/// # });
/// ```
pub struct Dispatcher {
    inner: Rc<Shared>,
    /// Its mailbox's identity, under which its admission is registered.
    id: ActorId,
}

impl Dispatcher {
    /// Starts configuring a dispatcher.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder::default()
    }

    /// A dispatcher with `builder`'s settings. `own` is the arbiter it runs on when it
    /// was started on one of its own (a shard), to stop with the pool.
    fn new(
        builder: DispatcherBuilder,
        admission: Arc<Admission>,
        policies: Arc<Policies>,
        id: ActorId,
        own: Option<Arbiter>,
    ) -> Self {
        Admission::register(id, Arc::clone(&admission));
        let pool_size = builder.pool_size.unwrap_or(0);
        let pool = (pool_size > 0).then(|| Rc::new(ArbiterPool::new(pool_size)));
        let adapters: Vec<StartedAdapter> = builder
            .adapters
            .iter()
            .map(|(name, start)| start(name.clone(), pool.as_ref()))
            .collect();
        // Reservations are `u32`s (tokio's `acquire_many`), so the bound fits one.
        let max_in_flight = builder
            .max_in_flight
            .min(Semaphore::MAX_PERMITS)
            .min(u32::MAX as usize);
        let metrics_every = builder.metrics_every;
        let dispatcher = Self {
            inner: Rc::new(Shared {
                counters: Counters::new(adapters.iter().map(|a| &*a.name)),
                adapters,
                max_concurrency: builder.max_concurrency,
                telemetry: builder.telemetry,
                delivery_timeout: builder.delivery_timeout,
                max_signal_size: builder.max_signal_size,
                lifecycle: Rc::default(),
                admission,
                max_in_flight,
                overload: builder.overload,
                permits: Arc::new(Semaphore::new(max_in_flight)),
                policies,
                fan_outs: FanOuts::default(),
                arbiters: Arbiters { pool, own },
            }),
            id,
        };
        if meter::on() {
            sample_every(Rc::downgrade(&dispatcher.inner), metrics_every);
        }
        dispatcher
    }
}

/// Sets the sampled gauges every `every` while the dispatcher runs (a task of its
/// own, holding the dispatcher weakly: an actor's interval would keep it alive).
fn sample_every(inner: Weak<Shared>, every: std::time::Duration) {
    actix_rt::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            let policies = &inner.policies;
            let (circuits, endpoints) = policies.endpoints.circuit_counts();
            let lanes = policies.lanes.counts();
            let paused = policies.pauses.snapshot();
            policies.endpoints.meter.sample(&PolicySample {
                circuits: circuits.to_vec(),
                endpoints,
                lanes: lanes.lanes,
                lane_deliveries: lanes.queued,
                lanes_blocked: lanes.blocked,
                paused: paused.len(),
                paused_deliveries: paused.values().sum(),
            });
        }
    });
}

/// Begins a dispatch and hands its result to `finish`: now, or when its fan-out ends.
/// After a [`Shutdown`] it fails at once. A dispatch whose targets can all be delivered
/// at once is done right here (see [`fanout::at_once`]); any other fan-outs beside the
/// dispatcher's other fan-outs (see `fanout::driver`). A fan-out that is dropped unfinished still
/// answers, every target failing with `Shutdown` (`Panicked` if a panic dropped it).
fn begin(
    inner: &Rc<Shared>,
    dispatch: Dispatch,
    ctx: &mut Context<Dispatcher>,
    finish: impl FnOnce(DispatchResult) + 'static,
) {
    if inner.lifecycle.closing() {
        inner.admission.refuse();
        return finish(dispatch.fail_all(|| ErrorKind::Shutdown));
    }
    inner.counters.dispatch_started();
    let finish = inner.counters.meter().timed(dispatch.targets.len(), finish);
    let key = dispatch.ordering();
    let head = match fanout::at_once(inner, &dispatch, key) {
        Ok(result) => return finish(result),
        Err(head) => head,
    };
    // A keyed dispatch takes its turns in its targets' lanes now, in admission order.
    let mut dispatch = dispatch;
    if let Some(key) = key {
        let policies = &inner.policies;
        let turns = policies
            .lanes
            .join(&dispatch.targets, key, head.done(), &policies.defaults);
        dispatch.set_turns(turns);
    }
    let slots = slots(inner, &dispatch, &head, ctx);
    let running = inner.lifecycle.enter();
    let answer = Answer::new(Arc::clone(&dispatch.targets), finish);
    // Made in its box (see `delivery::boxed`).
    let fan_out =
        boxed(|| fanout::fan_out(Rc::clone(inner), dispatch, slots, head, running, answer));
    inner.fan_outs.start(fan_out);
}

/// Reserves in-flight slots for what is left of a dispatch.
///
/// A dispatch reserves as many as it can use at once; when they are not free it waits
/// (blocking the dispatcher's mailbox, so memory stays bounded) or fails.
fn slots(
    inner: &Shared,
    dispatch: &Dispatch,
    head: &DoneAtOnce,
    ctx: &mut Context<Dispatcher>,
) -> Slots {
    let concurrency = dispatch
        .max_concurrency_limit()
        .map_or(inner.max_concurrency, std::num::NonZeroUsize::get);
    let wanted = (dispatch.targets.len() - head.done())
        .min(concurrency)
        .min(inner.max_in_flight) as u32;
    match Arc::clone(&inner.permits).try_acquire_many_owned(wanted) {
        Ok(permit) => Slots::Held(permit),
        Err(_) if inner.overload == Overload::Fail => Slots::Refused,
        Err(_) => {
            let (sender, receiver) = oneshot::channel::<OwnedSemaphorePermit>();
            let permits = Arc::clone(&inner.permits);
            let acquire = async move {
                if let Ok(permit) = permits.acquire_many_owned(wanted).await {
                    let _ = sender.send(permit);
                }
            };
            ctx.wait(actix::fut::wrap_future::<_, Dispatcher>(acquire));
            Slots::Awaited(receiver)
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;
}

impl Drop for Dispatcher {
    fn drop(&mut self) {
        Admission::unregister(self.id);
    }
}

/// How a [`Dispatcher`] answers a [`Dispatch`]: at once when the dispatch finishes on
/// the spot (every delivery made at once), else when its fan-out completes. Await it through
/// `Addr::send` like any actix response.
///
/// The dispatch begins here, where the answer's destination is known, so that a fan-out is
/// made with it (and nothing larger than the dispatch is moved on the way).
pub struct DispatchResponse {
    inner: Rc<Shared>,
    dispatch: Dispatch,
}

impl fmt::Debug for DispatchResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatchResponse")
            .field("dispatch", &self.dispatch)
            .finish_non_exhaustive()
    }
}

impl MessageResponse<Dispatcher, Dispatch> for DispatchResponse {
    fn handle(self, ctx: &mut Context<Dispatcher>, tx: Option<OneshotSender<DispatchResult>>) {
        let signal = Arc::clone(&self.dispatch.signal);
        begin(&self.inner, self.dispatch, ctx, move |result| {
            warn_failures(&signal, &result);
            if let Some(tx) = tx {
                let _ = tx.send(result);
            }
        });
    }
}

impl Handler<Dispatch> for Dispatcher {
    type Result = DispatchResponse;

    fn handle(&mut self, dispatch: Dispatch, _: &mut Context<Self>) -> Self::Result {
        DispatchResponse {
            inner: Rc::clone(&self.inner),
            dispatch,
        }
    }
}

impl Handler<Detached> for Dispatcher {
    type Result = ();

    fn handle(&mut self, mut detached: Detached, ctx: &mut Context<Self>) {
        let Some((dispatch, reply)) = detached.take() else {
            return;
        };
        let signal = Arc::clone(&dispatch.signal);
        begin(&self.inner, dispatch, ctx, move |result| {
            warn_failures(&signal, &result);
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        });
    }
}

impl Handler<Shutdown> for Dispatcher {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, shutdown: Shutdown, _: &mut Context<Self>) -> Self::Result {
        let lifecycle = Rc::clone(&self.inner.lifecycle);
        lifecycle.close(&shutdown);
        tracing::info!(grace = ?shutdown.grace, "dispatcher shutting down");
        Box::pin(
            async move { lifecycle.idle().await }
                .into_actor(self)
                .map(|(), _, ctx| ctx.stop()),
        )
    }
}

impl Handler<CheckTargets> for Dispatcher {
    type Result = Result<(), Vec<TargetProblem>>;

    fn handle(&mut self, check: CheckTargets, _: &mut Context<Self>) -> Self::Result {
        let problems: Vec<TargetProblem> = check
            .targets
            .iter()
            .enumerate()
            .filter_map(|(index, target)| {
                let checked = match self.inner.adapter(target.adapter()) {
                    Some((_, pool)) => pool.check(target),
                    None => Err(crate::TargetError::UnknownAdapter {
                        name: target.adapter().to_owned(),
                        known: self.inner.known_adapters(),
                    }),
                };
                checked.err().map(|error| TargetProblem::new(index, error))
            })
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

impl Handler<ResetCircuit> for Dispatcher {
    type Result = Option<CircuitState>;

    fn handle(&mut self, reset: ResetCircuit, _: &mut Context<Self>) -> Self::Result {
        self.inner.policies.endpoints.reset_circuit(&reset.endpoint)
    }
}

impl Handler<ResumeLanes> for Dispatcher {
    type Result = usize;

    fn handle(&mut self, resume: ResumeLanes, _: &mut Context<Self>) -> Self::Result {
        let only = resume.only.as_ref().map(|(t, key)| (t, key.as_str()));
        self.inner.policies.lanes.resume(only)
    }
}

impl Handler<PauseEndpoint> for Dispatcher {
    type Result = Option<bool>;

    fn handle(&mut self, pause: PauseEndpoint, _: &mut Context<Self>) -> Self::Result {
        self.inner.policies.pauses.pause(pause)
    }
}

impl Handler<ResumeEndpoint> for Dispatcher {
    type Result = Option<usize>;

    fn handle(&mut self, resume: ResumeEndpoint, _: &mut Context<Self>) -> Self::Result {
        self.inner.policies.pauses.resume(&resume)
    }
}

impl Handler<OpenCircuit> for Dispatcher {
    type Result = Option<CircuitState>;

    fn handle(&mut self, open: OpenCircuit, _: &mut Context<Self>) -> Self::Result {
        let endpoints = &self.inner.policies.endpoints;
        endpoints.open_circuit(&open.endpoint, open.duration)
    }
}

impl Handler<Stats> for Dispatcher {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        let names = self.inner.adapters.iter().map(|pool| &*pool.name);
        let mut stats = self
            .inner
            .counters
            .snapshot(names, &self.inner.admission.refused);
        let endpoints = &self.inner.policies.endpoints;
        stats.duplicates = endpoints.duplicates();
        stats.endpoints = endpoints.snapshot();
        stats.endpoints_refused = endpoints.refused();
        let lanes = self.inner.policies.lanes.counts();
        stats.lanes = lanes.lanes;
        stats.lane_deliveries = lanes.queued;
        stats.lanes_blocked = lanes.blocked;
        stats.paused = self.inner.policies.pauses.snapshot();
        MessageResult(stats)
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("adapters", &self.inner.known_adapters())
            .field("max_concurrency", &self.inner.max_concurrency)
            .field("max_in_flight", &self.inner.max_in_flight)
            .field("overload", &self.inner.overload)
            .field(
                "pool_size",
                &self
                    .inner
                    .arbiters
                    .pool
                    .as_ref()
                    .map_or(0, |pool| pool.len()),
            )
            .finish_non_exhaustive()
    }
}
