//! Starting an adapter's actors, and sending them work.

use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;

use actix::{Addr, Recipient, Supervisor};
use actix_rt::ArbiterHandle;
use futures_util::future::LocalBoxFuture;

use super::actor::{AdapterActor, DeliverBatch, DispatchContext, Reply, Slot};
use super::{Adapter, Placement};
use crate::target::Options;
use crate::{Target, TargetError};

/// An adapter as registered on the builder, before it runs.
pub(crate) trait Registration: Send + Sync {
    /// Starts the adapter's actors: one on the current arbiter for a local adapter (or
    /// when there is no pool), else one per pool arbiter.
    fn start(&self, name: Cow<'static, str>, arbiters: &[ArbiterHandle]) -> AdapterPool;
}

/// Registers an adapter made by `factory`, which runs once per actor (and again on
/// every restart).
pub(crate) fn registration<A, F>(factory: F) -> Box<dyn Registration>
where
    A: Adapter,
    F: Fn() -> A + Send + Sync + 'static,
{
    Box::new(Registered::<A> {
        factory: Arc::new(factory),
    })
}

struct Registered<A> {
    factory: Arc<dyn Fn() -> A + Send + Sync>,
}

impl<A: Adapter> Registration for Registered<A> {
    fn start(&self, name: Cow<'static, str>, arbiters: &[ArbiterHandle]) -> AdapterPool {
        if A::PLACEMENT == Placement::Local || arbiters.is_empty() {
            let slot = Slot::new(name.clone(), Arc::clone(&self.factory));
            let shared = Rc::clone(&slot);
            let actor = Supervisor::start(move |_| AdapterActor::new(shared));
            return AdapterPool {
                checker: checker(&name, Arc::clone(&self.factory)),
                name,
                kind: A::KIND,
                workers: vec![actor.clone().recipient()],
                next: Cell::new(0),
                inline: Some(Box::new(InlineAdapter { slot, actor })),
            };
        }
        let workers = arbiters
            .iter()
            .map(|arbiter| {
                let name = name.clone();
                let factory = Arc::clone(&self.factory);
                Supervisor::start_in_arbiter(arbiter, move |_| {
                    AdapterActor::new(Slot::new(name, factory))
                })
                .recipient()
            })
            .collect();
        AdapterPool {
            checker: checker(&name, Arc::clone(&self.factory)),
            name,
            kind: A::KIND,
            workers,
            next: Cell::new(0),
            inline: None,
        }
    }
}

/// Runs deliveries of an adapter whose actor lives on the dispatcher's arbiter, inside
/// the dispatch itself: no message, no task, no answer channel.
pub(crate) trait Inline {
    fn deliver<'a>(
        &'a self,
        context: &'a DispatchContext,
        index: usize,
        target: &'a Target,
    ) -> LocalBoxFuture<'a, Reply>;
}

struct InlineAdapter<A: Adapter> {
    slot: Rc<Slot<A>>,
    actor: Addr<AdapterActor<A>>,
}

impl<A: Adapter> Inline for InlineAdapter<A> {
    fn deliver<'a>(
        &'a self,
        context: &'a DispatchContext,
        index: usize,
        target: &'a Target,
    ) -> LocalBoxFuture<'a, Reply> {
        Box::pin(async move {
            self.slot
                .worker(&self.actor)
                .deliver(context, index, target)
                .await
        })
    }
}

/// The running actors of one adapter.
pub(crate) struct AdapterPool {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: &'static str,
    workers: Vec<Recipient<DeliverBatch>>,
    next: Cell<usize>,
    inline: Option<Box<dyn Inline>>,
    /// Checks a target's options as a delivery would, without delivering.
    checker: Checker,
}

/// Checks one target's options for one adapter.
type Checker = Box<dyn Fn(&Target) -> Result<(), TargetError>>;

/// Checks a target's options for adapter `A`, with an instance made for checking on
/// the first check that needs one (a raw config).
fn checker<A: Adapter>(name: &str, factory: Arc<dyn Fn() -> A + Send + Sync>) -> Checker {
    let name = name.to_string();
    let adapter: std::cell::OnceCell<A> = std::cell::OnceCell::new();
    Box::new(move |target: &Target| match target.options() {
        Options::Typed(options) => (options.as_ref() as &dyn Any)
            .downcast_ref::<A::Options>()
            .map(|_| ())
            .ok_or_else(|| TargetError::WrongOptions {
                adapter: name.clone(),
                expected: std::any::type_name::<A::Options>(),
            }),
        Options::Config(config) => adapter
            .get_or_init(|| factory())
            .validate(config)
            .map(|_| ()),
    })
}

impl AdapterPool {
    /// Checks `target`'s options as a delivery would.
    pub(crate) fn check(&self, target: &Target) -> Result<(), TargetError> {
        (self.checker)(target)
    }

    /// The inline runner, when the adapter's actor is on the dispatcher's arbiter.
    pub(crate) fn inline(&self) -> Option<&dyn Inline> {
        self.inline.as_deref()
    }

    /// Sends a batch to the pool's actors in turn.
    pub(crate) fn send(&self, batch: DeliverBatch) {
        let index = self.next.get();
        self.next.set((index + 1) % self.workers.len());
        // A closed mailbox drops the batch; each job then reports itself as lost.
        self.workers[index].do_send(batch);
    }
}

impl fmt::Debug for AdapterPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterPool")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("workers", &self.workers.len())
            .field("inline", &self.inline.is_some())
            .finish()
    }
}
