//! The actor every adapter runs in, and the batch message the dispatcher sends it.

use std::any::Any;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::panic::AssertUnwindSafe;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use actix::{Actor, Addr, AsyncContext, Context, Handler, Message, Supervised};
use futures_util::FutureExt;
use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};
use herald_signal::Signal;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Sleep;
use tracing::{Instrument, Span};

use super::{Adapter, Delivery};
use crate::error::panic_message;
use crate::target::Options;
use crate::telemetry;
use crate::{ActorId, DeliveryError, ErrorKind, Outcome, Target, TargetError};

/// One target's result, sent back to the dispatch that asked for it.
pub(crate) type Reply = (usize, Result<Outcome, DeliveryError>);

/// What every delivery of one dispatch shares.
#[derive(Debug, Clone)]
pub(crate) struct DispatchContext {
    pub(crate) signal: Arc<Signal>,
    pub(crate) caller: Option<ActorId>,
    /// The dispatch span, parent of every delivery span (`Span::none()` when telemetry
    /// is off).
    pub(crate) span: Span,
    pub(crate) telemetry: bool,
    /// The bound on a delivery whose adapter states none of its own.
    pub(crate) delivery_timeout: Duration,
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

    fn complete(mut self, reply: Reply) {
        if let Some(replies) = self.replies.take() {
            // The dispatch may have stopped waiting (deadline); then nobody needs this.
            let _ = replies.send(reply);
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(replies) = self.replies.take() {
            let error = self.target.error(ErrorKind::AdapterStopped);
            let _ = replies.send((self.index, Err(error)));
        }
    }
}

/// Deliver one signal to several targets of the same adapter.
#[derive(Debug)]
pub(crate) struct DeliverBatch {
    pub(crate) context: Arc<DispatchContext>,
    /// Where the answers go. Closed by the dispatch when it stops waiting (deadline):
    /// outstanding deliveries are then dropped.
    pub(crate) replies: UnboundedSender<Reply>,
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

/// One adapter instance and how to make a fresh one: shared by its actor and, for an
/// actor on the dispatcher's own arbiter, by the dispatcher that runs its deliveries
/// inline.
pub(crate) struct Slot<A> {
    name: Cow<'static, str>,
    adapter: RefCell<Rc<A>>,
    factory: Arc<dyn Fn() -> A + Send + Sync>,
}

impl<A: Adapter> Slot<A> {
    pub(crate) fn new(
        name: Cow<'static, str>,
        factory: Arc<dyn Fn() -> A + Send + Sync>,
    ) -> Rc<Self> {
        Rc::new(Self {
            name,
            adapter: RefCell::new(Rc::new(factory())),
            factory,
        })
    }

    /// What deliveries need: the current adapter instance, and the actor to restart if
    /// one panics.
    pub(crate) fn worker<'w>(&'w self, actor: &'w Addr<AdapterActor<A>>) -> Worker<'w, A> {
        Worker {
            name: &self.name,
            adapter: Rc::clone(&self.adapter.borrow()),
            myself: actor,
        }
    }
}

/// Runs one adapter instance on one arbiter.
pub(crate) struct AdapterActor<A: Adapter> {
    slot: Rc<Slot<A>>,
}

impl<A: Adapter> AdapterActor<A> {
    pub(crate) fn new(slot: Rc<Slot<A>>) -> Self {
        Self { slot }
    }
}

impl<A: Adapter> Actor for AdapterActor<A> {
    type Context = Context<Self>;
}

impl<A: Adapter> Supervised for AdapterActor<A> {
    fn restarting(&mut self, _: &mut Context<Self>) {
        tracing::warn!(adapter = %self.slot.name, "restarting adapter after a panic");
        *self.slot.adapter.borrow_mut() = Rc::new((self.slot.factory)());
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
        let slot = Rc::clone(&self.slot);
        let myself = ctx.address();
        // Detached from the actor: a restart (after another delivery's panic) must not
        // cancel deliveries already under way.
        actix_rt::spawn(async move { slot.worker(&myself).run(batch).await });
    }
}

/// Polls a delivery that may run for at most `limit`. The timer is made (boxed, so that
/// it does not grow every delivery's future) only if a poll leaves the delivery
/// pending: most deliveries (a mailbox push) end on their first poll, and then no clock
/// is read.
fn poll_bounded<F: Future<Output = Result<Outcome, ErrorKind>>>(
    delivery: Pin<&mut F>,
    timer: &mut Option<Pin<Box<Sleep>>>,
    limit: Duration,
    cx: &mut std::task::Context<'_>,
) -> Poll<Result<Outcome, ErrorKind>> {
    if let Poll::Ready(result) = delivery.poll(cx) {
        return Poll::Ready(result);
    }
    let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    timer
        .as_mut()
        .poll(cx)
        .map(|()| Err(ErrorKind::Timeout(limit)))
}

/// What deliveries need from their actor.
pub(crate) struct Worker<'w, A: Adapter> {
    name: &'w Cow<'static, str>,
    adapter: Rc<A>,
    myself: &'w Addr<AdapterActor<A>>,
}

impl<A: Adapter> Worker<'_, A> {
    async fn run(self, batch: DeliverBatch) {
        let DeliverBatch {
            context,
            replies,
            jobs,
        } = batch;
        let work = async {
            let mut deliveries: FuturesUnordered<_> = jobs
                .into_iter()
                .map(|job| async {
                    let reply = self.deliver(&context, job.index, &job.target).await;
                    job.complete(reply);
                })
                .collect();
            while deliveries.next().await.is_some() {}
        };
        // Stop (dropping what is left, which reports nothing further) once the dispatch
        // no longer waits for answers.
        let abandoned = replies.closed();
        if let Either::Right(_) = select(pin!(work), pin!(abandoned)).await {
            tracing::debug!(adapter = %self.name, "dispatch stopped waiting; deliveries dropped");
        }
    }

    /// Delivers to one target: checks its options, runs the adapter under
    /// `catch_unwind` inside the delivery span, and returns the target's reply.
    pub(crate) async fn deliver(
        &self,
        context: &DispatchContext,
        index: usize,
        target: &Target,
    ) -> Reply {
        // Delivery spans hang under the dispatch span; when no subscriber wants that
        // one, none is made and no clock is read.
        let traced = context.telemetry && !context.span.is_disabled();
        let span = if traced {
            telemetry::delivery_span(&context.span, target, A::KIND, &context.signal)
        } else {
            Span::none()
        };
        let timer = telemetry::Timer::start(traced);
        let attempts = Cell::new(1);
        let attempt = AssertUnwindSafe(self.attempt(context, target, &attempts));
        let result = match attempt.catch_unwind().instrument(span.clone()).await {
            Ok(result) => result,
            Err(payload) => self.panicked(payload),
        };
        let result = result.map_err(|kind| target.error(kind).with_attempts(attempts.get()));
        if traced {
            span.record("attempts", attempts.get());
            telemetry::record(&span, &result, timer.elapsed());
        }
        (index, result)
    }

    async fn attempt(
        &self,
        context: &DispatchContext,
        target: &Target,
        attempts: &Cell<u32>,
    ) -> Result<Outcome, ErrorKind> {
        let validated;
        let options = match target.options() {
            Options::Typed(options) => (options.as_ref() as &dyn Any)
                .downcast_ref::<A::Options>()
                .ok_or_else(|| TargetError::WrongOptions {
                    adapter: self.name.to_string(),
                    expected: std::any::type_name::<A::Options>(),
                })?,
            Options::Config(config) => {
                validated = self.adapter.validate(config)?;
                &validated
            }
        };
        let mut delivery = Delivery::new(&context.signal, options).with_attempts(attempts);
        delivery.caller = context.caller;
        if self.adapter.timeout(options).is_some() {
            // The adapter bounds its own deliveries: no second timer.
            return self.adapter.deliver(delivery).await;
        }
        let limit = context.delivery_timeout;
        let mut delivering = pin!(self.adapter.deliver(delivery));
        let mut timer = None;
        poll_fn(|cx| poll_bounded(delivering.as_mut(), &mut timer, limit, cx)).await
    }

    fn panicked(&self, payload: Box<dyn Any + Send>) -> Result<Outcome, ErrorKind> {
        let message = panic_message(payload.as_ref());
        tracing::error!(adapter = %self.name, panic = %message, "adapter panicked");
        self.myself.do_send(Restart);
        Err(ErrorKind::Panicked { message })
    }
}
