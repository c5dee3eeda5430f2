//! Starting an adapter's actors on the dispatcher's arbiters.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::Arc;

use actix::{Recipient, Supervisor};
use actix_rt::ArbiterHandle;

use super::Adapter;
use super::actor::{AdapterActor, DeliverBatch};

/// An adapter as registered on the builder, before it runs.
pub(crate) trait Registration: Send + Sync {
    /// Starts one actor per arbiter (or one on the current arbiter when there are none).
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
        let start = |arbiter: Option<&ArbiterHandle>| -> Recipient<DeliverBatch> {
            let name = name.clone();
            let factory = Arc::clone(&self.factory);
            let make = move |_: &mut _| AdapterActor::new(name, factory);
            match arbiter {
                Some(arbiter) => Supervisor::start_in_arbiter(arbiter, make).recipient(),
                None => Supervisor::start(make).recipient(),
            }
        };
        let workers = if arbiters.is_empty() {
            vec![start(None)]
        } else {
            arbiters
                .iter()
                .map(|arbiter| start(Some(arbiter)))
                .collect()
        };
        AdapterPool {
            kind: A::KIND,
            workers,
            next: Cell::new(0),
        }
    }
}

/// The running actors of one adapter; batches go to them in turn.
#[derive(Debug)]
pub(crate) struct AdapterPool {
    pub(crate) kind: &'static str,
    workers: Vec<Recipient<DeliverBatch>>,
    next: Cell<usize>,
}

impl AdapterPool {
    pub(crate) fn send(&self, batch: DeliverBatch) {
        let index = self.next.get();
        self.next.set((index + 1) % self.workers.len());
        // A closed mailbox drops the batch; each job then reports itself as lost.
        self.workers[index].do_send(batch);
    }
}
