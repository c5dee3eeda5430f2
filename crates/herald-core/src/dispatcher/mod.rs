//! The dispatcher actor: takes `Dispatch` messages and fans each signal out.

mod builder;
mod dispatch;
mod fanout;
mod report;
mod stats;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use std::task::Poll;

use actix::dev::{MessageResponse, OneshotSender};
use actix::{
    Actor, ActorFutureExt, Addr, AsyncContext, Context, Handler, MessageResult, WrapFuture,
};
use actix_rt::{Arbiter, ArbiterHandle};
use futures_util::future::LocalBoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

pub use builder::{DispatcherBuilder, Overload};
pub use dispatch::{Dispatch, DispatchExt, DispatchHandle};

pub use report::{DispatchError, DispatchReport, DispatchResult, TargetFailure};
pub use stats::{AdapterStats, Stats, StatsSnapshot};

use crate::adapter::AdapterPool;
use crate::bus::{Attach, Bus};
use dispatch::Detached;
use stats::Counters;

/// The actor that delivers signals: send it [`Dispatch`] messages.
///
/// Start one with [`Dispatcher::builder`]. It runs every adapter as a supervised actor —
/// on its own arbiter, delivering inline in the dispatch, or on a pool of arbiters that
/// it sends batches to — at most `max_concurrency` deliveries in flight per dispatch and
/// `max_in_flight` in all, and answers with every target's result. It also answers
/// [`Stats`].
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
    inner: Rc<Inner>,
    arbiters: Vec<Arbiter>,
    mailbox_capacity: usize,
    buses: Vec<Addr<Bus>>,
}

/// What the dispatcher and its running dispatches share (all on its arbiter).
pub(crate) struct Inner {
    pub(crate) pools: HashMap<Cow<'static, str>, AdapterPool>,
    pub(crate) max_concurrency: usize,
    pub(crate) telemetry: bool,
    pub(crate) counters: Counters,
    max_in_flight: usize,
    overload: Overload,
    permits: Arc<Semaphore>,
}

impl Inner {
    /// Every adapter name, sorted, for "unknown adapter" errors.
    pub(crate) fn known_adapters(&self) -> Vec<String> {
        let mut names: Vec<String> = self.pools.keys().map(|name| name.to_string()).collect();
        names.sort();
        names
    }
}

impl Dispatcher {
    /// Starts configuring a dispatcher.
    pub fn builder() -> DispatcherBuilder {
        DispatcherBuilder::default()
    }

    fn new(builder: DispatcherBuilder) -> Self {
        let arbiters: Vec<Arbiter> = (0..builder.pool_size).map(|_| Arbiter::new()).collect();
        let handles: Vec<ArbiterHandle> = arbiters.iter().map(Arbiter::handle).collect();
        let pools = builder
            .adapters
            .iter()
            .map(|(name, registration)| (name.clone(), registration.start(name.clone(), &handles)))
            .collect();
        // Reservations are `u32`s (tokio's `acquire_many`), so the bound fits one.
        let max_in_flight = builder
            .max_in_flight
            .min(Semaphore::MAX_PERMITS)
            .min(u32::MAX as usize);
        Self {
            inner: Rc::new(Inner {
                pools,
                max_concurrency: builder.max_concurrency,
                telemetry: builder.telemetry,
                counters: Counters::default(),
                max_in_flight,
                overload: builder.overload,
                permits: Arc::new(Semaphore::new(max_in_flight)),
            }),
            arbiters,
            mailbox_capacity: builder.mailbox_capacity,
            buses: builder.buses.into_values().collect(),
        }
    }

    /// Admits a dispatch and starts it: polled once here, it is often done at once
    /// (every delivery a mailbox push); only an unfinished one is spawned.
    fn begin(&mut self, dispatch: Dispatch, ctx: &mut Context<Self>) -> Started {
        let mut run = self.admit(dispatch, ctx);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match run.as_mut().poll(&mut cx) {
            Poll::Ready(result) => Started::Done(result),
            Poll::Pending => Started::Running(run),
        }
    }

    /// Admits a dispatch under the in-flight bound and returns its run.
    ///
    /// A dispatch reserves as many in-flight slots as it can use at once; when they are
    /// not free it waits (blocking this mailbox, so memory stays bounded) or fails.
    fn admit(
        &mut self,
        dispatch: Dispatch,
        ctx: &mut Context<Self>,
    ) -> LocalBoxFuture<'static, DispatchResult> {
        self.inner.counters.dispatch_started();
        let inner = Rc::clone(&self.inner);
        let concurrency = dispatch.max_concurrency.unwrap_or(inner.max_concurrency);
        let wanted = dispatch
            .targets
            .len()
            .min(concurrency)
            .min(inner.max_in_flight) as u32;
        match Arc::clone(&inner.permits).try_acquire_many_owned(wanted) {
            Ok(permit) => Box::pin(fanout::run(inner, dispatch, Some(permit))),
            Err(_) if inner.overload == Overload::Fail => {
                Box::pin(fanout::run(inner, dispatch, None))
            }
            Err(_) => {
                let (sender, receiver) = oneshot::channel::<OwnedSemaphorePermit>();
                let permits = Arc::clone(&inner.permits);
                let acquire = async move {
                    if let Ok(permit) = permits.acquire_many_owned(wanted).await {
                        let _ = sender.send(permit);
                    }
                };
                ctx.wait(acquire.into_actor(self).map(|(), _, _| ()));
                Box::pin(async move {
                    let permit = receiver.await.ok();
                    fanout::run(inner, dispatch, permit).await
                })
            }
        }
    }
}

impl Actor for Dispatcher {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
        for bus in &self.buses {
            bus.do_send(Attach(ctx.address().downgrade()));
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        for arbiter in &self.arbiters {
            arbiter.stop();
        }
    }
}

/// A dispatch after its first poll.
enum Started {
    Done(DispatchResult),
    Running(LocalBoxFuture<'static, DispatchResult>),
}

impl Started {
    /// Hands the result to `finish` now, or when the spawned rest of the run ends.
    fn finish(self, finish: impl FnOnce(DispatchResult) + 'static) {
        match self {
            Self::Done(result) => finish(result),
            Self::Running(run) => {
                actix_rt::spawn(async move { finish(run.await) });
            }
        }
    }
}

/// How a [`Dispatcher`] answers a [`Dispatch`]: at once when the dispatch finished on
/// the spot (every delivery a mailbox push), else when it completes. Await it through
/// `Addr::send` like any actix response.
#[derive(Debug)]
pub struct DispatchResponse(StartedDebug);

/// `Started` behind a `Debug`-able wrapper (futures are not `Debug`).
struct StartedDebug(Started);

impl fmt::Debug for StartedDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Started::Done(_) => "Done",
            Started::Running(_) => "Running",
        })
    }
}

impl MessageResponse<Dispatcher, Dispatch> for DispatchResponse {
    fn handle(self, _: &mut Context<Dispatcher>, tx: Option<OneshotSender<DispatchResult>>) {
        self.0.0.finish(move |result| {
            if let Some(tx) = tx {
                let _ = tx.send(result);
            }
        });
    }
}

impl Handler<Dispatch> for Dispatcher {
    type Result = DispatchResponse;

    fn handle(&mut self, dispatch: Dispatch, ctx: &mut Context<Self>) -> Self::Result {
        DispatchResponse(StartedDebug(self.begin(dispatch, ctx)))
    }
}

impl Handler<Detached> for Dispatcher {
    type Result = ();

    fn handle(&mut self, mut detached: Detached, ctx: &mut Context<Self>) {
        let (dispatch, reply) = detached.take();
        let signal = Arc::clone(&dispatch.signal);
        self.begin(dispatch, ctx).finish(move |result| {
            if let Err(error) = &result {
                tracing::warn!(
                    signal.r#type = signal.ty(),
                    signal.id = signal.id(),
                    failed = error.failures().len(),
                    error = %error,
                    "detached dispatch had failures"
                );
            }
            let _ = reply.send(result);
        });
    }
}

impl Handler<Stats> for Dispatcher {
    type Result = MessageResult<Stats>;

    fn handle(&mut self, _: Stats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.inner.counters.snapshot())
    }
}

impl fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dispatcher")
            .field("adapters", &self.inner.known_adapters())
            .field("max_concurrency", &self.inner.max_concurrency)
            .field("max_in_flight", &self.inner.max_in_flight)
            .field("overload", &self.inner.overload)
            .field("pool_size", &self.arbiters.len())
            .finish_non_exhaustive()
    }
}
