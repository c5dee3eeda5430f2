//! Adapters on the dispatcher's own arbiter, delivered inside the dispatch: no
//! message, no task, no answer channel. The dispatcher supervises the instance.

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;
use std::sync::Arc;

use futures_util::future::LocalBoxFuture;

use super::deliver::{AtOnce, DispatchContext, Progress, Reply, deliver, deliver_now};
use super::{Factory, Named};
use crate::Target;
use crate::adapter::Adapter;
use crate::dispatch::Results;

/// Delivers one kind of local adapter inside the dispatch.
pub(crate) trait Inline {
    /// Delivers targets `range` at once while they can be, in order, into `results`
    /// (see [`deliver_now`]): how far it got.
    fn deliver_now(
        &self,
        now: AtOnce<'_>,
        targets: &[Target],
        range: Range<usize>,
        results: &mut Results,
    ) -> Progress;

    fn deliver<'a>(
        &'a self,
        context: &'a DispatchContext,
        index: usize,
        target: &'a Target,
    ) -> LocalBoxFuture<'a, Reply>;
}

/// One local adapter instance, and how to make a fresh one after a panic.
pub(crate) struct InlineAdapter<A> {
    name: Arc<Named>,
    adapter: RefCell<Rc<A>>,
    factory: Arc<Factory<A>>,
}

impl<A: Adapter> InlineAdapter<A> {
    pub(crate) fn new(name: Arc<Named>, factory: Arc<Factory<A>>) -> Self {
        Self {
            name,
            adapter: RefCell::new(Rc::new(factory())),
            factory,
        }
    }
}

impl<A: Adapter> InlineAdapter<A> {
    /// Replaces the instance after a panic (keeps it if the factory panics too).
    fn restart(&self) {
        tracing::warn!(adapter = %self.name, "restarting adapter after a panic");
        if let Some(fresh) = super::make(&self.name, &*self.factory) {
            *self.adapter.borrow_mut() = Rc::new(fresh);
        }
    }
}

impl<A: Adapter> Inline for InlineAdapter<A> {
    fn deliver_now(
        &self,
        now: AtOnce<'_>,
        targets: &[Target],
        range: Range<usize>,
        results: &mut Results,
    ) -> Progress {
        let mut progress = Progress::at(range.start);
        loop {
            // Borrowed, not cloned: nothing here waits, and the borrow ends before a
            // restart replaces the instance.
            let adapter = self.adapter.borrow();
            let panicked = deliver_now(
                &**adapter,
                &self.name,
                now,
                targets,
                range.end,
                &mut progress,
                results,
            );
            drop(adapter);
            if !panicked {
                return progress;
            }
            // A panic failed its target; the rest go on with a fresh instance.
            self.restart();
        }
    }

    fn deliver<'a>(
        &'a self,
        context: &'a DispatchContext,
        index: usize,
        target: &'a Target,
    ) -> LocalBoxFuture<'a, Reply> {
        // Deliveries under way keep the instance they started with; a panic replaces
        // it for the deliveries after.
        let adapter = Rc::clone(&self.adapter.borrow());
        super::boxed(|| {
            deliver(adapter, &self.name, context, index, target, || {
                self.restart();
            })
        })
    }
}
