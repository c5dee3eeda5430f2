//! The actor every adapter runs in, and the batch message the dispatcher sends it.

use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, Supervised};
use futures_util::FutureExt;
use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};
use herald_signal::Signal;
use tokio::sync::mpsc::UnboundedSender;
use tracing::{Instrument, Span};

use super::{Adapter, Delivery};
use crate::error::panic_message;
use crate::target::Options;
use crate::telemetry;
use crate::{ActorId, DeliveryError, ErrorKind, Outcome, Target, TargetError};

/// One target's result, sent back to the dispatch that asked for it.
pub(crate) type Reply = (usize, Result<Outcome, DeliveryError>);

/// What every delivery of one dispatch shares.
#[derive(Debug)]
pub(crate) struct DispatchContext {
    pub(crate) signal: Arc<Signal>,
    pub(crate) caller: Option<ActorId>,
    /// The dispatch span, parent of every delivery span (`Span::none()` when telemetry
    /// is off).
    pub(crate) span: Span,
    pub(crate) telemetry: bool,
    /// Closed by the dispatch when it stops waiting (deadline): outstanding deliveries
    /// are then dropped.
    pub(crate) replies: UnboundedSender<Reply>,
}

/// One target to deliver to. Dropped without [`Job::complete`] — the adapter's actor
/// stopped, or its arbiter went away — it reports [`ErrorKind::AdapterStopped`], so a
/// delivery is never lost silently.
#[derive(Debug)]
pub(crate) struct Job {
    index: usize,
    target: Target,
    replies: Option<UnboundedSender<Reply>>,
}

impl Job {
    pub(crate) fn new(index: usize, target: Target, replies: UnboundedSender<Reply>) -> Self {
        Self {
            index,
            target,
            replies: Some(replies),
        }
    }

    fn complete(mut self, result: Result<Outcome, DeliveryError>) {
        if let Some(replies) = self.replies.take() {
            // The dispatch may have stopped waiting (deadline); then nobody needs this.
            let _ = replies.send((self.index, result));
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(replies) = self.replies.take() {
            let error = DeliveryError::new(
                self.target.adapter_name().clone(),
                self.target.describe().to_string(),
                ErrorKind::AdapterStopped,
            );
            let _ = replies.send((self.index, Err(error)));
        }
    }
}

/// Deliver one signal to several targets of the same adapter.
#[derive(Debug)]
pub(crate) struct DeliverBatch {
    pub(crate) context: Arc<DispatchContext>,
    pub(crate) jobs: Vec<Job>,
}

impl Message for DeliverBatch {
    type Result = ();
}

/// Stops the actor so that its supervisor restarts it with a fresh adapter.
#[derive(Debug)]
struct Restart;

impl Message for Restart {
    type Result = ();
}

/// Runs one adapter instance on one arbiter.
pub(crate) struct AdapterActor<A: Adapter> {
    name: Cow<'static, str>,
    adapter: Rc<A>,
    factory: Arc<dyn Fn() -> A + Send + Sync>,
}

impl<A: Adapter> AdapterActor<A> {
    pub(crate) fn new(name: Cow<'static, str>, factory: Arc<dyn Fn() -> A + Send + Sync>) -> Self {
        Self {
            name,
            adapter: Rc::new(factory()),
            factory,
        }
    }
}

impl<A: Adapter> Actor for AdapterActor<A> {
    type Context = Context<Self>;
}

impl<A: Adapter> Supervised for AdapterActor<A> {
    fn restarting(&mut self, _: &mut Context<Self>) {
        tracing::warn!(adapter = %self.name, "restarting adapter after a panic");
        self.adapter = Rc::new((self.factory)());
    }
}

impl<A: Adapter> Handler<Restart> for AdapterActor<A> {
    type Result = ();

    fn handle(&mut self, _: Restart, ctx: &mut Context<Self>) {
        use actix::ActorContext;
        ctx.stop();
    }
}

impl<A: Adapter> Handler<DeliverBatch> for AdapterActor<A> {
    type Result = ();

    fn handle(&mut self, batch: DeliverBatch, ctx: &mut Context<Self>) {
        let worker = Worker {
            name: self.name.clone(),
            adapter: Rc::clone(&self.adapter),
            myself: ctx.address(),
        };
        // Detached from the actor: a restart (after another delivery's panic) must not
        // cancel deliveries already under way.
        actix_rt::spawn(worker.run(batch));
    }
}

/// What the deliveries of one batch need from their actor.
struct Worker<A: Adapter> {
    name: Cow<'static, str>,
    adapter: Rc<A>,
    myself: Addr<AdapterActor<A>>,
}

impl<A: Adapter> Worker<A> {
    async fn run(self, batch: DeliverBatch) {
        let DeliverBatch { context, jobs } = batch;
        let work = async {
            let mut deliveries: FuturesUnordered<_> = jobs
                .into_iter()
                .map(|job| self.deliver(&context, job))
                .collect();
            while deliveries.next().await.is_some() {}
        };
        // Stop (dropping what is left, which reports nothing further) once the dispatch
        // no longer waits for answers.
        let abandoned = context.replies.closed();
        if let Either::Right(_) = select(pin!(work), pin!(abandoned)).await {
            tracing::debug!(adapter = %self.name, "dispatch stopped waiting; deliveries dropped");
        }
    }

    async fn deliver(&self, context: &DispatchContext, job: Job) {
        let span = if context.telemetry {
            telemetry::delivery_span(&context.span, &job.target, A::KIND, &context.signal)
        } else {
            Span::none()
        };
        let timer = telemetry::Timer::start(context.telemetry);
        let attempts = Cell::new(1);
        let attempt = AssertUnwindSafe(self.attempt(context, &job.target, &attempts));
        let result = match attempt.catch_unwind().instrument(span.clone()).await {
            Ok(result) => result,
            Err(payload) => self.panicked(payload),
        };
        let result = result.map_err(|kind| {
            DeliveryError::new(self.name.clone(), job.target.describe().to_string(), kind)
                .with_attempts(attempts.get())
        });
        span.record("attempts", attempts.get());
        if context.telemetry {
            telemetry::record(&span, &result, timer.elapsed());
        }
        job.complete(result);
    }

    async fn attempt(
        &self,
        context: &DispatchContext,
        target: &Target,
        attempts: &Cell<u32>,
    ) -> Result<Outcome, ErrorKind> {
        {
            let validated;
            let options = match target.options() {
                Options::Typed(options) => (options.as_ref() as &dyn Any)
                    .downcast_ref::<A::Options>()
                    .ok_or_else(|| TargetError::WrongOptions {
                        adapter: self.name.to_string(),
                        options: std::any::type_name_of_val(options.as_ref()),
                    })?,
                Options::Config(config) => {
                    validated = self.adapter.validate(config)?;
                    &validated
                }
            };
            let mut delivery = Delivery::new(&context.signal, options).with_attempts(attempts);
            delivery.caller = context.caller;
            self.adapter.deliver(delivery).await
        }
    }

    fn panicked(&self, payload: Box<dyn Any + Send>) -> Result<Outcome, ErrorKind> {
        let message = panic_message(payload.as_ref());
        tracing::error!(adapter = %self.name, panic = %message, "adapter panicked");
        self.myself.do_send(Restart);
        Err(ErrorKind::Panicked { message })
    }
}
