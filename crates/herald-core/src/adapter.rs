//! The adapter trait: how a target kind is delivered to.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use herald_signal::Signal;
use serde_json::Value;

/// Where an adapter's deliveries run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Placement {
    /// On the dispatcher's own arbiter, inside the dispatch: for adapters whose delivery
    /// is a mailbox push or a table lookup, where another thread would only add a hop.
    /// The dispatcher supervises the instance: a panic replaces it with a fresh one.
    Local,
    /// As a supervised actor on each arbiter of the dispatcher's pool, reached with
    /// `Addr::send` (one message per adapter per launch of targets): for adapters that
    /// do real work (I/O, encoding, signing) and gain from more cores. A panic restarts
    /// the actor with a fresh instance. With a pool of size 0 the one actor runs on the
    /// dispatcher's arbiter.
    #[default]
    Pool,
}

use crate::{ActorId, ErrorKind, Outcome, TargetError, TargetOptions};

/// Delivers signals to one kind of target.
///
/// Herald runs each adapter as a supervised actix actor on every arbiter of the
/// dispatcher's pool (or, for [`Placement::Local`] adapters, inside the dispatch), and
/// replaces the instance if a delivery panics. Deliveries run concurrently: `deliver`
/// takes `&self`, and its future may hold non-`Send` state (it stays on its arbiter's
/// thread).
///
/// A custom adapter in full:
///
/// ```
/// use herald_core::{Adapter, Delivery, ErrorKind, Outcome, Target, TargetError, TargetOptions};
/// use serde_json::Value;
///
/// #[derive(Debug)]
/// struct ShoutOptions { loud: bool }
/// impl TargetOptions for ShoutOptions {}
///
/// struct Shout;
///
/// impl Adapter for Shout {
///     type Options = ShoutOptions;
///
///     fn validate(&self, config: &Value) -> Result<ShoutOptions, TargetError> {
///         match config.get("loud") {
///             None => Ok(ShoutOptions { loud: false }),
///             Some(Value::Bool(loud)) => Ok(ShoutOptions { loud: *loud }),
///             Some(_) => Err(TargetError::invalid_field("loud", "must be true or false")),
///         }
///     }
///
///     async fn deliver(&self, delivery: Delivery<'_, ShoutOptions>) -> Result<Outcome, ErrorKind> {
///         let ty = delivery.signal.ty();
///         if ty.is_empty() {
///             return Err(ErrorKind::custom("nothing to shout"));
///         }
///         let text = if delivery.options.loud { ty.to_uppercase() } else { ty.to_owned() };
///         println!("{text}!");
///         Ok(Outcome::Delivered)
///     }
/// }
///
/// # actix::System::new().block_on(async {
/// let dispatcher = herald_core::Dispatcher::builder()
///     .adapter("shout", || Shout)
///     .start();
/// let signal = herald_signal::Signal::new("user.created", serde_json::json!({})).unwrap();
/// let target = Target::custom("shout", serde_json::json!({"loud": true}));
/// dispatcher.send(herald_core::Dispatch::new(signal, [target])).await.unwrap().unwrap();
/// # });
/// ```
pub trait Adapter: 'static {
    /// The checked options of one target.
    type Options: TargetOptions;

    /// What telemetry reports as `target.kind`. Default is `"custom"`.
    const KIND: &'static str = "custom";

    /// Where deliveries run. Default is [`Placement::Pool`].
    const PLACEMENT: Placement = Placement::Pool;

    /// Checks a raw target config (a [`Target::custom`](crate::Target::custom), or a
    /// target read from data) and returns its options. Called once per target per
    /// dispatch. Default rejects every config: the adapter takes typed options only.
    fn validate(&self, config: &Value) -> Result<Self::Options, TargetError> {
        let _ = config;
        Err(TargetError::Invalid(
            "this adapter takes typed options only, not a config".to_owned(),
        ))
    }

    /// The longest one delivery to a target with these options can take by the
    /// adapter's own rules: its timeouts, retries and waits between them. An adapter
    /// that states it promises its deliveries end by then, and the dispatcher arms no
    /// timer of its own for them. Default is `None`: the dispatcher cuts each delivery
    /// off with [`ErrorKind::Timeout`] after its
    /// [`delivery_timeout`](crate::DispatcherBuilder::delivery_timeout).
    fn timeout(&self, options: &Self::Options) -> Option<Duration> {
        let _ = options;
        None
    }

    /// Delivers at once, when that needs no waiting (a push into a mailbox with room, a
    /// table lookup): `Some(result)`; or `None`, having done nothing, to have
    /// [`deliver`](Adapter::deliver) called instead. The dispatcher tries this first for
    /// [`Placement::Local`] adapters when no subscriber wants delivery spans, which
    /// spares the delivery a future; under the target's resilience policies too, unless
    /// one of them has to wait (a rate limit always does). Not for a target given as a
    /// raw config ([`Target::custom`](crate::Target::custom)), which is validated once,
    /// by the delivery `deliver` makes, nor for options that say every delivery waits
    /// ([`TargetOptions::waits`](crate::TargetOptions::waits)). Default is `None`.
    fn deliver_now(
        &self,
        delivery: Delivery<'_, Self::Options>,
    ) -> Option<Result<Outcome, ErrorKind>> {
        let _ = delivery;
        None
    }

    /// Whether [`deliver_now`](Adapter::deliver_now) can deliver to a target with these
    /// options. Asked only for a target under resilience policies, whose admission a
    /// declining `deliver_now` would waste (the fan-out admits the delivery again): return
    /// `false` where `deliver_now` surely declines (a call that waits for an answer).
    /// Default is `false`: under policies, the adapter's deliveries go through
    /// [`deliver`](Adapter::deliver). Without policies `deliver_now` is tried whatever
    /// this says.
    fn may_deliver_now(&self, options: &Self::Options) -> bool {
        let _ = options;
        false
    }

    /// Delivers one signal to one target.
    ///
    /// Every delivery is bounded in time: by the adapter itself when it states
    /// [`Adapter::timeout`], else by the dispatcher, which drops a future that has not
    /// finished by its delivery timeout and reports [`ErrorKind::Timeout`].
    ///
    /// The delivery runs inside its telemetry span (`herald.deliver`), so the adapter's
    /// own events hang under it. An adapter that retries says how many attempts it
    /// made with [`Delivery::report_attempts`]; the span records them once it ends.
    fn deliver(
        &self,
        delivery: Delivery<'_, Self::Options>,
    ) -> impl Future<Output = Result<Outcome, ErrorKind>>;
}

/// An adapter with a name of its own, so that its targets are built from its options
/// type and cannot name another adapter: register it with
/// [`DispatcherBuilder::register`](crate::DispatcherBuilder::register) and build its
/// targets with [`Target::to`](crate::Target::to). (String names remain, for targets
/// read from data.)
///
/// ```
/// use herald_core::{Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, NamedAdapter, Outcome, Target, TargetOptions};
///
/// #[derive(Debug)]
/// struct Channel(String);
/// impl TargetOptions for Channel {}
///
/// struct Slack;
/// impl Adapter for Slack {
///     type Options = Channel;
///     async fn deliver(&self, _: Delivery<'_, Channel>) -> Result<Outcome, ErrorKind> {
///         Ok(Outcome::Delivered)
///     }
/// }
/// impl NamedAdapter for Slack {
///     const NAME: &'static str = "slack";
/// }
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().register(|| Slack).start();
/// let target = Target::to::<Slack>(Channel("#ops".into()));
/// assert_eq!(target.adapter(), "slack");
/// let signal = herald_signal::Signal::new("t", serde_json::json!({})).unwrap();
/// dispatcher.send(Dispatch::new(signal, target)).await.unwrap().unwrap();
/// # });
/// ```
pub trait NamedAdapter: Adapter {
    /// The name the adapter is registered under, and its targets name.
    const NAME: &'static str;
}

/// What an adapter gets for one delivery. `Copy` whatever the options' type: it holds
/// them by reference.
#[derive(Debug)]
#[non_exhaustive]
pub struct Delivery<'a, O> {
    /// The signal, shared by every target of the dispatch.
    pub signal: &'a Arc<Signal>,
    /// This target's options.
    pub options: &'a O,
    /// The actor that dispatched, when it said who it is (see
    /// [`Dispatch::caller`](crate::Dispatch::caller)).
    pub caller: Option<ActorId>,
    /// How many buses the signal went through to reach this delivery.
    pub(crate) hops: u8,
    attempts: Option<&'a Cell<u32>>,
}

// By hand: derived, they would ask `O: Clone`, though only a reference to `O` is held.
impl<O> Clone for Delivery<'_, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<O> Copy for Delivery<'_, O> {}

impl<'a, O> Delivery<'a, O> {
    /// A delivery of `signal` with `options`, for calling an adapter directly (in tests).
    pub fn new(signal: &'a Arc<Signal>, options: &'a O) -> Self {
        Self {
            signal,
            options,
            caller: None,
            hops: 0,
            attempts: None,
        }
    }

    pub(crate) fn with_attempts(mut self, attempts: &'a Cell<u32>) -> Self {
        self.attempts = Some(attempts);
        self
    }

    /// Reports how many attempts the delivery has made so far (an adapter that retries
    /// calls this before each attempt). It appears in the delivery's error and in its
    /// span's `attempts` field. Default is 1.
    pub fn report_attempts(&self, attempts: u32) {
        if let Some(cell) = self.attempts {
            cell.set(attempts);
        }
    }

    /// The same delivery, made by `caller`.
    pub fn with_caller(mut self, caller: ActorId) -> Self {
        self.caller = Some(caller);
        self
    }
}
