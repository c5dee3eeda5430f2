//! Where adapters run. [`Placement::Local`] adapters are delivered inside the dispatch
//! on the dispatcher's arbiter; the others run as supervised actors, one per arbiter of
//! the dispatcher's pool, and the dispatcher reaches them with `Addr::send`.

mod arbiters;
mod deliver;
mod inline;
mod pool;

use std::borrow::Cow;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix::dev::RecipientRequest;
use actix::{Recipient, Supervisor};
use actix_rt::ArbiterHandle;

pub(crate) use arbiters::{ArbiterPool, Arbiters};
pub(crate) use deliver::{AtOnce, DispatchContext, Keyed, Reply};
pub(crate) use inline::Inline;
use inline::InlineAdapter;
use pool::AdapterActor;
pub(crate) use pool::{DeliverBatch, Job};

use crate::adapter::{Adapter, Placement};
use crate::error::panic_message;
use crate::telemetry::meter::DeliveryMeter;
use crate::{Target, TargetError};

/// Makes an adapter instance: once per actor or local adapter, and again after a panic.
pub(crate) type Factory<A> = dyn Fn() -> A + Send + Sync;

/// A running adapter's name, with the metrics its deliveries record under it: taken
/// when its dispatcher starts, on the starting thread, and shared by its actors.
#[derive(Debug)]
pub(crate) struct Named {
    name: Box<str>,
    meter: DeliveryMeter,
}

impl Named {
    fn new(name: &str) -> Arc<Self> {
        Arc::new(Self {
            name: name.into(),
            meter: DeliveryMeter::new(name),
        })
    }
}

impl std::ops::Deref for Named {
    type Target = str;

    fn deref(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// An adapter as registered on the builder, before it runs: starts it locally, or as
/// one actor per arbiter of the pool (one on the current arbiter when there is no
/// pool).
pub(crate) type Registration =
    Arc<dyn Fn(Cow<'static, str>, Option<&Rc<ArbiterPool>>) -> StartedAdapter + Send + Sync>;

/// Registers an adapter made by `factory`.
pub(crate) fn registration<A, F>(factory: F) -> Registration
where
    A: Adapter,
    F: Fn() -> A + Send + Sync + 'static,
{
    let factory: Arc<Factory<A>> = Arc::new(factory);
    Arc::new(move |name, arbiters| start(name, arbiters, &factory))
}

fn start<A: Adapter>(
    name: Cow<'static, str>,
    arbiters: Option<&Rc<ArbiterPool>>,
    factory: &Arc<Factory<A>>,
) -> StartedAdapter {
    let named = Named::new(&name);
    let placed = if A::PLACEMENT == Placement::Local {
        Via::Inline(Box::new(InlineAdapter::new(named, Arc::clone(factory))))
    } else {
        let start_on = {
            let (named, factory) = (Arc::clone(&named), Arc::clone(factory));
            move |arbiter: &ArbiterHandle| {
                let (named, factory) = (Arc::clone(&named), Arc::clone(&factory));
                Supervisor::start_in_arbiter(arbiter, move |_| AdapterActor::new(named, factory))
                    .recipient()
            }
        };
        match arbiters {
            Some(arbiters) => {
                let actors = (0..arbiters.len())
                    .map(|i| start_on(&arbiters.handle(i)))
                    .collect();
                let restart = (Rc::clone(arbiters), Box::new(start_on) as StartOn);
                Via::Pool(Pool::new(actors, Some(restart)))
            }
            None => {
                let factory = Arc::clone(factory);
                let actor = Supervisor::start(move |_| AdapterActor::new(named, factory));
                Via::Pool(Pool::new(vec![actor.recipient()], None))
            }
        }
    };
    StartedAdapter {
        checker: checker(&name, Arc::clone(factory)),
        name,
        kind: A::KIND,
        placed,
    }
}

/// One running adapter.
pub(crate) struct StartedAdapter {
    pub(crate) name: Cow<'static, str>,
    pub(crate) kind: &'static str,
    placed: Via,
    /// Checks a target's options as a delivery would, without delivering.
    checker: Checker,
}

/// How a started adapter's deliveries are made.
pub(crate) enum Via {
    /// Inside the dispatch.
    Inline(Box<dyn Inline>),
    /// By the pool's actors.
    Pool(Pool),
}

/// A pool adapter's actors, one per arbiter.
pub(crate) struct Pool {
    actors: RefCell<Vec<Recipient<DeliverBatch>>>,
    /// The actor the next batch goes to.
    next: Cell<usize>,
    /// The pool's arbiters, and how to start the actor again on one when its arbiter
    /// was lost. `None` for the actor on the dispatcher's own arbiter, which lives as
    /// long as the dispatcher does.
    restart: Option<(Rc<ArbiterPool>, StartOn)>,
}

/// Starts a pool adapter's actor on an arbiter.
type StartOn = Box<dyn Fn(&ArbiterHandle) -> Recipient<DeliverBatch>>;

impl Pool {
    fn new(
        actors: Vec<Recipient<DeliverBatch>>,
        restart: Option<(Rc<ArbiterPool>, StartOn)>,
    ) -> Self {
        Self {
            actors: RefCell::new(actors),
            next: Cell::new(0),
            restart,
        }
    }

    /// Sends a batch to the actors in turn; an actor whose arbiter was lost is started
    /// again first, on a fresh arbiter (see [`ArbiterPool::live`]). The request resolves
    /// once the actor has taken the batch; if its mailbox is closed, the batch is
    /// dropped and each job reports itself lost.
    pub(crate) fn send(&self, batch: DeliverBatch) -> RecipientRequest<DeliverBatch> {
        let mut actors = self.actors.borrow_mut();
        let index = self.next.get();
        self.next.set((index + 1) % actors.len());
        if !actors[index].connected()
            && let Some((arbiters, start_on)) = &self.restart
            && let Some(arbiter) = arbiters.live(index)
        {
            actors[index] = start_on(&arbiter);
        }
        actors[index].send(batch)
    }
}

/// A fresh adapter instance for a restart; `None`, logged, if the factory panics (the
/// caller then keeps the instance it has).
fn make<A>(name: &str, factory: &Factory<A>) -> Option<A> {
    std::panic::catch_unwind(AssertUnwindSafe(factory))
        .inspect_err(|payload| {
            let message = panic_message(payload.as_ref());
            let kept = "adapter factory panicked; keeping the old instance";
            tracing::error!(adapter = %name, panic = %message, "{kept}");
        })
        .ok()
}

/// Checks one target's options for one adapter.
type Checker = Box<dyn Fn(&Target) -> Result<(), TargetError>>;

/// Checks a target's options for adapter `A`, with an instance made for checking on
/// the first check that needs one (a raw config).
fn checker<A: Adapter>(name: &str, factory: Arc<Factory<A>>) -> Checker {
    let name = name.to_string();
    let adapter: OnceCell<A> = OnceCell::new();
    Box::new(move |target: &Target| {
        deliver::resolve(adapter.get_or_init(|| factory()), &name, target).map(drop)
    })
}

impl StartedAdapter {
    /// Checks `target`'s options as a delivery would. A panic in the adapter's
    /// `validate` (or its factory) is the target's problem, not the dispatcher's.
    pub(crate) fn check(&self, target: &Target) -> Result<(), TargetError> {
        let checked = std::panic::catch_unwind(AssertUnwindSafe(|| (self.checker)(target)));
        checked.unwrap_or_else(|payload| {
            let message = panic_message(payload.as_ref());
            tracing::error!(adapter = %self.name, panic = %message, "adapter panicked in validate");
            Err(TargetError::Invalid(format!(
                "adapter `{}` panicked checking it: {message}",
                self.name
            )))
        })
    }

    /// How its deliveries are made.
    pub(crate) fn placed(&self) -> &Via {
        &self.placed
    }
}

impl fmt::Debug for StartedAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actors = match &self.placed {
            Via::Inline(_) => 0,
            Via::Pool(pool) => pool.actors.borrow().len(),
        };
        f.debug_struct("StartedAdapter")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("actors", &actors)
            .finish()
    }
}

/// The future `make` returns, made in a box allocated first. `Box::pin(make())` makes
/// the future on the stack and then copies all of it into the box: for a delivery's
/// future ~450 bytes, a tenth of a sync delivery's `memcpy`. Written into a box that
/// already exists, the future is made in place (its first state is only its
/// arguments).
#[inline(always)]
pub(crate) fn boxed<F: Future>(make: impl FnOnce() -> F) -> Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}
