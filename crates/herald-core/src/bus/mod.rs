//! The signal bus: subscriptions by type pattern, each with its own targets.

mod adapter;
mod pattern;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use actix::{Actor, Context, Handler, Message, MessageResult};
use herald_signal::{Filter, Signal};
use thiserror::Error;
use tracing::Span;

pub(crate) use adapter::BusAdapter;
pub use pattern::{Pattern, PatternError, PatternSet};

use crate::dispatch::{Inlet, Refused};
use crate::{Dispatch, IntoTargets, Target};

/// Identifies one subscription on one bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(u64);

/// A bus: subscriptions, each a type [`Pattern`] and its own targets (any adapter).
///
/// Start it, subscribe, and give it to a dispatcher by name with
/// [`DispatcherBuilder::bus`](crate::DispatcherBuilder::bus); `bus` targets then publish
/// to it. A publish matches the signal's type against every pattern (through a trie, not
/// a scan) and hands the matching targets to the dispatcher as a detached dispatch: it
/// never waits for a subscriber's delivery, so a slow subscriber cannot hold back the
/// next publish. Delivery failures reach telemetry and the dispatcher's [`Stats`].
///
/// Each publish takes one of the dispatcher's admission permits (as many as its
/// [mailbox capacity](crate::DispatcherBuilder::mailbox_capacity)) until the dispatcher
/// takes it up, so publishing can never queue more than that: past it a publish fails
/// with [`BusError::Overloaded`], counted in [`Stats`]'s `refused` and reported as a
/// `WARN` event. A bus given to several dispatchers delivers through the first that is
/// still running.
///
/// [`Stats`]: crate::Stats
///
/// ```
/// use actix::prelude::*;
/// use herald_core::{Bus, Dispatch, Dispatcher, Subscribe, Target};
///
/// # actix::System::new().block_on(async {
/// let bus = Bus::new().start();
/// let dispatcher = Dispatcher::builder().bus("main", bus.clone()).start();
/// bus.send(Subscribe::new("audit.**", [Target::logger()])?).await?;
///
/// let signal = herald_signal::Signal::new("audit.user.login", serde_json::json!({}))?;
/// dispatcher.send(Dispatch::new(signal, [Target::bus("main")?])).await??;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Default)]
pub struct Bus {
    trie: PatternSet<SubscriptionId>,
    subscriptions: HashMap<SubscriptionId, Subscription>,
    next_id: u64,
    /// The dispatchers it was given to, in order; it delivers through the first alive.
    dispatchers: Vec<Inlet>,
}

struct Subscription {
    pattern: Pattern,
    /// All must match, beside the pattern.
    filters: Box<[Filter]>,
    targets: Arc<[Target]>,
}

impl Bus {
    /// The longest signal type a bus routes, in bytes. Matching is linear in the type's
    /// length; the bound keeps one publish from holding the bus for long.
    pub const MAX_TYPE_LEN: usize = 1024;

    /// The most buses a signal goes through in a row (a subscription whose targets
    /// include a `bus` target hands it on). Past it a publish fails with
    /// [`BusError::Loop`]: a subscription that leads back to a bus it came from would
    /// otherwise route the signal for ever.
    pub const MAX_HOPS: u8 = 8;

    /// A bus with no subscriptions.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Actor for Bus {
    type Context = Context<Self>;
}

impl fmt::Debug for Bus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bus")
            .field("subscriptions", &self.subscriptions.len())
            .field("dispatchers", &self.dispatchers.len())
            .finish()
    }
}

/// Adds a subscription to a [`Bus`]; answered with its [`SubscriptionId`].
#[derive(Debug)]
#[must_use = "a subscription does nothing until it is sent to a bus"]
pub struct Subscribe {
    pattern: Pattern,
    filters: Vec<Filter>,
    targets: Arc<[Target]>,
}

impl Subscribe {
    /// A subscription of `targets` to the signal types `pattern` matches.
    ///
    /// # Errors
    ///
    /// A [`PatternError`] for an invalid pattern.
    pub fn new(pattern: &str, targets: impl IntoTargets) -> Result<Self, PatternError> {
        Ok(Self {
            pattern: Pattern::parse(pattern)?,
            filters: Vec::new(),
            targets: targets.into_targets(),
        })
    }

    /// Also requires `filter` to match (a CloudEvents Subscriptions API filter over
    /// any attribute, extensions included; see [`Filter`]). Several filters must all
    /// match.
    ///
    /// ```
    /// use herald_core::{Subscribe, Target};
    /// use herald_signal::Filter;
    ///
    /// let filter = Filter::from_json(&serde_json::json!({"exact": {"tenant": "acme"}}))?;
    /// let subscribe = Subscribe::new("order.**", [Target::noop()])?.filter(filter);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }
}

impl Message for Subscribe {
    type Result = SubscriptionId;
}

impl Handler<Subscribe> for Bus {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, subscribe: Subscribe, _: &mut Context<Self>) -> Self::Result {
        self.next_id += 1;
        let id = SubscriptionId(self.next_id);
        self.trie.insert(&subscribe.pattern, id);
        self.subscriptions.insert(
            id,
            Subscription {
                pattern: subscribe.pattern,
                filters: subscribe.filters.into(),
                targets: subscribe.targets,
            },
        );
        MessageResult(id)
    }
}

/// Removes a subscription from a [`Bus`]; answered with whether it existed.
#[derive(Debug, Clone, Copy)]
pub struct Unsubscribe(pub SubscriptionId);

impl Message for Unsubscribe {
    type Result = bool;
}

impl Handler<Unsubscribe> for Bus {
    type Result = bool;

    fn handle(&mut self, Unsubscribe(id): Unsubscribe, _: &mut Context<Self>) -> bool {
        match self.subscriptions.remove(&id) {
            Some(subscription) => self.trie.remove(&subscription.pattern, id),
            None => false,
        }
    }
}

/// Why a bus could not route a signal.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BusError {
    /// The bus was never given to a running dispatcher, or that dispatcher stopped.
    #[error("the bus has no running dispatcher")]
    NoDispatcher,
    /// The dispatcher's admission queue is full: the signal was not routed.
    #[error("the bus's dispatcher is overloaded")]
    Overloaded,
    /// The signal's type is longer than a bus routes
    /// ([`Bus::MAX_TYPE_LEN`](crate::Bus::MAX_TYPE_LEN) bytes).
    #[error("signal type of {len} bytes is too long to route")]
    TypeTooLong {
        /// The type's length in bytes.
        len: usize,
    },
    /// The signal already went through [`Bus::MAX_HOPS`](crate::Bus::MAX_HOPS) buses
    /// in a row: subscriptions route it in a loop.
    #[error(
        "signal already routed through {hops} buses in a row: a subscription leads back to a bus"
    )]
    Loop {
        /// The buses it went through.
        hops: u8,
    },
}

/// Routes a signal through a [`Bus`]; answered with how many subscriptions matched.
/// (`bus` targets send this; it can also be sent directly.)
#[derive(Debug)]
pub struct Publish {
    signal: Arc<Signal>,
    span: Span,
    /// The buses the signal went through before this one.
    hops: u8,
}

impl Publish {
    /// Publishes `signal`; the current span becomes the parent of its deliveries.
    pub fn new(signal: impl Into<Arc<Signal>>) -> Self {
        Self {
            signal: signal.into(),
            span: Span::current(),
            hops: 0,
        }
    }

    /// The same publish, of a signal that went through `hops` buses already.
    pub(crate) fn after(mut self, hops: u8) -> Self {
        self.hops = hops;
        self
    }
}

impl Message for Publish {
    type Result = Result<usize, BusError>;
}

impl Handler<Publish> for Bus {
    type Result = Result<usize, BusError>;

    fn handle(&mut self, publish: Publish, _: &mut Context<Self>) -> Self::Result {
        // The first dispatcher still running; those that stopped are forgotten.
        let inlet = loop {
            let inlet = self.dispatchers.first().ok_or(BusError::NoDispatcher)?;
            if inlet.alive() {
                break inlet;
            }
            drop(self.dispatchers.remove(0));
        };
        let len = publish.signal.ty().len();
        if len > Self::MAX_TYPE_LEN {
            return Err(BusError::TypeTooLong { len });
        }
        if publish.hops >= Self::MAX_HOPS {
            return Err(BusError::Loop { hops: publish.hops });
        }
        let signal = &publish.signal;
        let matched: Vec<&Subscription> = self
            .trie
            .matches(signal.ty())
            .iter()
            .filter_map(|id| self.subscriptions.get(id))
            .filter(|subscription| subscription.filters.iter().all(|f| f.matches(signal)))
            .collect();
        let targets: Vec<Target> = matched
            .iter()
            .flat_map(|subscription| subscription.targets.iter().cloned())
            .collect();
        let matched = matched.len();
        if targets.is_empty() {
            return Ok(matched);
        }
        let mut dispatch = publish
            .span
            .in_scope(|| Dispatch::new(publish.signal, targets));
        dispatch.set_hops(publish.hops.saturating_add(1));
        // Detached, under an admission permit: the publish never waits for a
        // subscriber's delivery, and never queues past the dispatcher's bound.
        match inlet.send(dispatch) {
            Ok(()) => Ok(matched),
            Err((Refused::Gone, _)) => Err(BusError::NoDispatcher),
            Err((Refused::Full, dispatch)) => {
                tracing::warn!(
                    cloudevents.event_type = dispatch.signal().ty(),
                    signal.id = dispatch.signal().id(),
                    targets = dispatch.targets().len(),
                    "bus publish refused: the dispatcher's admission queue is full"
                );
                Err(BusError::Overloaded)
            }
        }
    }
}

/// Gives a bus a dispatcher that delivers to its subscribers, under that dispatcher's
/// admission.
#[derive(Debug)]
pub(crate) struct Attach(pub(crate) Inlet);

impl Message for Attach {
    type Result = ();
}

impl Handler<Attach> for Bus {
    type Result = ();

    fn handle(&mut self, attach: Attach, _: &mut Context<Self>) {
        if !self.dispatchers.is_empty() {
            tracing::debug!("bus given to another dispatcher; it delivers through the first alive");
        }
        self.dispatchers.push(attach.0);
    }
}
