//! Adapters as supervised actors on the dispatcher's pool of arbiters, and the batch
//! message the dispatcher sends them with `Addr::send`.

use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Actor, ActorContext, Addr, AsyncContext, Context, Handler, Message, Supervised};
use futures_util::future::{Either, select};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::mpsc::Sender;
use tokio::time::Instant;

use super::deliver::{DispatchContext, Reply, deliver};
use super::{Factory, Named};
use crate::adapter::Adapter;
use crate::{ErrorKind, Target};

/// One target to deliver to. Dropped without [`Job::complete`] — the adapter's actor
/// stopped, or its arbiter went away — it reports [`ErrorKind::AdapterStopped`], so a
/// delivery is never lost silently.
#[derive(Debug)]
pub(crate) struct Job {
    index: usize,
    target: Target,
    replies: Option<Sender<Reply>>,
}

impl Job {
    /// A job answering on `replies`, a channel with room for every delivery the
    /// dispatch has in flight (each job answers once), so answering never waits.
    pub(crate) fn new(index: usize, target: Target, replies: Sender<Reply>) -> Self {
        Self {
            index,
            target,
            replies: Some(replies),
        }
    }

    fn complete(mut self, reply: Reply) {
        if let Some(replies) = self.replies.take() {
            answer(&replies, reply);
        }
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(replies) = self.replies.take() {
            let error = self.target.error(ErrorKind::AdapterStopped);
            answer(&replies, (self.index, Err(error)));
        }
    }
}

fn answer(replies: &Sender<Reply>, reply: Reply) {
    // Closed: the dispatch stopped waiting (deadline), and nobody needs this. Full
    // cannot happen (see `Job::new`); were it to, the dispatch's deadline or shutdown
    // would still account for the target.
    if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = replies.try_send(reply) {
        tracing::error!("a delivery's answer found its dispatch's channel full");
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

/// One adapter instance on one arbiter.
pub(crate) struct AdapterActor<A: Adapter> {
    name: Arc<Named>,
    adapter: Rc<A>,
    factory: Arc<Factory<A>>,
}

impl<A: Adapter> AdapterActor<A> {
    pub(crate) fn new(name: Arc<Named>, factory: Arc<Factory<A>>) -> Self {
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
        if let Some(fresh) = super::make(&self.name, &*self.factory) {
            self.adapter = Rc::new(fresh);
        }
    }
}

impl<A: Adapter> Handler<Restart> for AdapterActor<A> {
    type Result = ();

    fn handle(&mut self, _: Restart, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}

impl<A: Adapter> Handler<DeliverBatch> for AdapterActor<A> {
    type Result = ();

    fn handle(&mut self, batch: DeliverBatch, ctx: &mut Context<Self>) {
        let adapter = Rc::clone(&self.adapter);
        let name = Arc::clone(&self.name);
        let myself = ctx.address();
        // Detached from the actor: a restart (after another delivery's panic) must not
        // cancel deliveries already under way.
        actix_rt::spawn(async move { deliver_batch(&*adapter, &name, &myself, batch).await });
    }
}

/// Delivers a batch concurrently, until done or until its dispatch stops waiting.
async fn deliver_batch<A: Adapter>(
    adapter: &A,
    name: &Named,
    myself: &Addr<AdapterActor<A>>,
    batch: DeliverBatch,
) {
    let DeliverBatch { context, jobs } = batch;
    let Some(replies) = jobs.first().and_then(|job| job.replies.clone()) else {
        return;
    };
    let work = async {
        let mut deliveries: FuturesUnordered<_> = jobs
            .into_iter()
            .map(|job| async {
                let restart = || myself.do_send(Restart);
                let started = Instant::now();
                let reply = deliver(adapter, name, &context, job.index, &job.target, restart);
                let reply = reply.await;
                let policies = &context.policies;
                let ok = reply.1.is_ok();
                let took = started.elapsed();
                policies
                    .endpoints
                    .observe(name, &job.target, &policies.defaults, took, ok);
                job.complete(reply);
            })
            .collect();
        while deliveries.next().await.is_some() {}
    };
    // Stop (dropping what is left, which reports nothing further) once the dispatch no
    // longer waits for answers.
    let abandoned = replies.closed();
    if let Either::Right(_) = select(pin!(work), pin!(abandoned)).await {
        tracing::debug!(adapter = %name, "dispatch stopped waiting; deliveries dropped");
    }
}
