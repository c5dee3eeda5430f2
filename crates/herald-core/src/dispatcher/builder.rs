//! Configuring and starting a dispatcher.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr, Arbiter, AsyncContext, Context};

use super::{Dispatcher, Sharded};
use crate::adapters::{
    ConsoleAdapter, LoggerAdapter, NamedAdapter, NoopAdapter, PidAdapter, PubSubAdapter, name,
};
use crate::bus::{Attach, BusAdapter};
use crate::delivery::{Registration, registration};
use crate::dispatch::{Admission, Inlet, Overload};
use crate::resilience::{Endpoints, Lanes, Pauses, Policies, Resilience};
use crate::telemetry::meter::PolicyMeter;
use crate::{ActorId, Adapter, Bus, Dispatch, IntoTargets, PubSub, Registry, Target};

/// Configures a [`Dispatcher`]; made by [`Dispatcher::builder`].
///
/// ```
/// use herald_core::{Dispatcher, Overload};
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder()
///     .max_concurrency(16)
///     .max_in_flight(50_000)
///     .on_overload(Overload::Fail)
///     .pool_size(2)
///     .start();
/// # let _ = dispatcher;
/// # });
/// ```
#[must_use = "a builder does nothing until `start` is called"]
#[derive(Clone)]
pub struct DispatcherBuilder {
    pub(crate) max_concurrency: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) overload: Overload,
    /// `None`: [`DispatcherBuilder::default_pool_size`] for one dispatcher, 0 per shard.
    pub(crate) pool_size: Option<usize>,
    pub(crate) telemetry: bool,
    pub(crate) delivery_timeout: Duration,
    pub(crate) max_signal_size: usize,
    pub(crate) mailbox_capacity: usize,
    pub(crate) adapters: BTreeMap<Cow<'static, str>, Registration>,
    pub(crate) registry: Registry,
    pub(crate) pubsub: PubSub,
    pub(crate) buses: HashMap<String, Addr<Bus>>,
    pub(crate) resilience: Resilience,
    pub(crate) dedupe_capacity: usize,
    pub(crate) max_endpoints: usize,
    pub(crate) max_lanes: usize,
    pub(crate) max_lane_depth: usize,
    pub(crate) circuit_signals: Option<Arc<[Target]>>,
    pub(crate) endpoint_labels: usize,
    pub(crate) metrics_every: Duration,
    #[cfg(feature = "http")]
    pub(crate) http: crate::http::HttpSettings,
}

impl Default for DispatcherBuilder {
    fn default() -> Self {
        let mut builder = Self {
            max_concurrency: 8,
            max_in_flight: 10_000,
            overload: Overload::Wait,
            pool_size: None,
            telemetry: true,
            delivery_timeout: DispatcherBuilder::DEFAULT_DELIVERY_TIMEOUT,
            max_signal_size: DispatcherBuilder::DEFAULT_MAX_SIGNAL_SIZE,
            mailbox_capacity: 1024,
            adapters: BTreeMap::new(),
            registry: Registry::new(),
            pubsub: PubSub::new(),
            buses: HashMap::new(),
            resilience: Resilience::default(),
            dedupe_capacity: DispatcherBuilder::DEFAULT_DEDUPE_CAPACITY,
            max_endpoints: DispatcherBuilder::DEFAULT_MAX_ENDPOINTS,
            max_lanes: Lanes::MAX_LANES,
            max_lane_depth: Lanes::MAX_DEPTH,
            circuit_signals: None,
            endpoint_labels: 0,
            metrics_every: DispatcherBuilder::DEFAULT_METRICS_EVERY,
            #[cfg(feature = "http")]
            http: crate::http::HttpSettings::default(),
        };
        builder.insert(name::PID, registration(|| PidAdapter));
        builder.insert(name::LOGGER, registration(|| LoggerAdapter));
        builder.insert(name::CONSOLE, registration(|| ConsoleAdapter));
        builder.insert(name::NOOP, registration(|| NoopAdapter));
        builder
    }
}

impl DispatcherBuilder {
    /// How many (target, signal id) pairs the dedupe window keeps by default.
    pub const DEFAULT_DEDUPE_CAPACITY: usize = 100_000;
    /// The default number of endpoints whose policy state is kept.
    pub const DEFAULT_MAX_ENDPOINTS: usize = 10_000;
    /// The most endpoints [`endpoint_labels`](Self::endpoint_labels) may label.
    pub const MAX_ENDPOINT_LABELS: usize = 1_000;
    /// How often sampled gauges are set by default.
    pub const DEFAULT_METRICS_EVERY: Duration = Duration::from_secs(1);

    /// The default bound on one delivery whose adapter states none of its own.
    pub const DEFAULT_DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

    /// Sets the longest one delivery may take when its adapter states no bound of its
    /// own ([`Adapter::timeout`]), custom adapters included; a delivery still running
    /// then fails with [`ErrorKind::Timeout`](crate::ErrorKind::Timeout) and gives its
    /// in-flight slot back. Built-in adapters bound themselves by their targets'
    /// timeouts. Values below 1 ms count as 1 ms, above a day as a day. Default is 30
    /// seconds.
    pub fn delivery_timeout(mut self, timeout: Duration) -> Self {
        self.delivery_timeout =
            timeout.clamp(Duration::from_millis(1), Duration::from_secs(86_400));
        self
    }

    /// The default largest signal a dispatcher takes: 4 MiB encoded.
    pub const DEFAULT_MAX_SIGNAL_SIZE: usize = 4 << 20;

    /// Sets the largest signal a dispatch may carry, measured once per dispatch on its
    /// JSON encoding (the CloudEvents JSON event format); a larger one fails every
    /// target with [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) before any is
    /// tried. The default, 4 MiB, is above what webhook receivers and brokers commonly
    /// take per event (NATS: 1 MiB by default), and keeps one fan-out of a huge payload
    /// from holding the memory of many. Measuring costs nothing for a signal clearly
    /// under the limit (a bound noted when it was built); only one near or above it is
    /// counted exactly. Default is 4 MiB.
    pub fn max_signal_size(mut self, bytes: usize) -> Self {
        self.max_signal_size = bytes;
        self
    }

    /// Sets the egress policy under which this dispatcher's `http` and `webhook`
    /// adapters read raw configs (`Target::custom("webhook", config)`). Targets read
    /// with [`Target::from_config`] carry the policy they were read with; targets built
    /// in code carry none unless given one. Default is [`Egress::default`]: public
    /// addresses only.
    ///
    /// [`Egress::default`]: crate::egress::Egress
    #[cfg(feature = "http")]
    pub fn egress(mut self, policy: crate::egress::Egress) -> Self {
        self.http.egress = policy;
        self
    }

    /// Sets how this dispatcher's HTTP connections resolve host names; what it answers
    /// is checked against each target's egress policy. Default is
    /// [`SystemResolver`](crate::http::SystemResolver).
    #[cfg(feature = "http")]
    pub fn resolver(mut self, resolver: impl crate::http::Resolve) -> Self {
        self.http.resolver = Arc::new(resolver);
        self
    }

    /// Sets the TLS settings (extra root certificates, a client certificate for mutual
    /// TLS) of this dispatcher's HTTP targets that have none of their own. Default is
    /// the bundled Mozilla roots and no client certificate.
    #[cfg(feature = "http")]
    pub fn tls(mut self, tls: crate::http::Tls) -> Self {
        self.http.tls = Some(tls);
        self
    }

    /// Sets how many targets of one dispatch may be in flight at once; values below 1
    /// count as 1. Default is 8.
    pub fn max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = limit.max(1);
        self
    }

    /// Sets how many deliveries may be in flight across all dispatches; values below 1
    /// count as 1. Default is 10,000.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = limit.max(1);
        self
    }

    /// Sets what happens at the in-flight bound. Default is [`Overload::Wait`].
    pub fn on_overload(mut self, overload: Overload) -> Self {
        self.overload = overload;
        self
    }

    /// Sets how many extra arbiters (threads) [`Placement::Pool`] adapters run on, one
    /// supervised actor per adapter per arbiter. With `0` they run as one actor each on
    /// the dispatcher's own arbiter. Default is
    /// [`default_pool_size`](Self::default_pool_size) for a dispatcher started with
    /// [`start`](Self::start), and 0 for each shard of
    /// [`start_sharded`](Self::start_sharded) (the shards spread over the cores).
    ///
    /// More than [`MAX_THREADS`](Self::MAX_THREADS) count as that many.
    ///
    /// [`Placement::Pool`]: crate::Placement::Pool
    pub fn pool_size(mut self, arbiters: usize) -> Self {
        self.pool_size = Some(arbiters.min(Self::MAX_THREADS));
        self
    }

    /// The most arbiters (threads) a pool, or a sharded dispatcher's shards, may have:
    /// 1,024. Far more than cores to use; a mistyped size then costs threads, not the
    /// process.
    pub const MAX_THREADS: usize = 1024;

    /// The default pool size: one arbiter per core the process may run on
    /// ([`std::thread::available_parallelism`], which honours CPU affinity and cgroup
    /// quotas) less the one the dispatcher runs on, and at least one. Every core then
    /// has one busy thread; a larger pool only adds switching (measured in
    /// `docs/PERFORMANCE.md`).
    pub fn default_pool_size() -> usize {
        std::thread::available_parallelism().map_or(1, |cores| cores.get().saturating_sub(1).max(1))
    }

    /// Turns `tracing` spans for dispatches and deliveries on or off. Default is on.
    pub fn telemetry(mut self, on: bool) -> Self {
        self.telemetry = on;
        self
    }

    /// Sets how many messages the dispatcher's mailbox holds before senders wait or are
    /// refused. The bound is in place before the dispatcher handles its first message.
    /// Detached dispatches ([`dispatch_async`](crate::DispatchExt::dispatch_async)) and
    /// bus publishes take one of this many admission permits each, whichever address
    /// clone sends them, and are refused past it. `Addr::send` waits on actix's own
    /// bound, which actix counts per sender (each `Addr` clone may add one message past
    /// it); `Addr::do_send` ignores every bound and is best avoided. Default is 1024.
    pub fn mailbox_capacity(mut self, capacity: usize) -> Self {
        self.mailbox_capacity = capacity.max(1);
        self
    }

    /// Registers an adapter under `name`, made by `factory` once per pool arbiter (and
    /// again whenever a panic restarts it). A name registered again replaces the
    /// earlier adapter, built-ins included.
    pub fn adapter<A, F>(mut self, name: impl Into<Cow<'static, str>>, factory: F) -> Self
    where
        A: Adapter,
        F: Fn() -> A + Send + Sync + 'static,
    {
        self.insert(name, registration(factory));
        self
    }

    /// Registers a [`NamedAdapter`](crate::NamedAdapter) under its own name; build its
    /// targets with [`Target::to`](crate::Target::to), which takes its options type, so
    /// they cannot name another adapter. Otherwise as [`adapter`](Self::adapter).
    pub fn register<A, F>(self, factory: F) -> Self
    where
        A: crate::NamedAdapter,
        F: Fn() -> A + Send + Sync + 'static,
    {
        self.adapter(A::NAME, factory)
    }

    /// Sets the registry `named` targets resolve names through. Default is a new, empty
    /// one (keep a clone to register actors in it).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = registry;
        self
    }

    /// Sets the topic hub `pubsub` targets broadcast through. Default is a new, empty
    /// one (keep a clone to subscribe actors to it).
    pub fn pubsub(mut self, pubsub: PubSub) -> Self {
        self.pubsub = pubsub;
        self
    }

    /// Sets the resilience policies every target gets unless it sets its own (field by
    /// field; see [`resilience`](crate::resilience)): breakers, dedupe, rate limits,
    /// concurrency caps, the dead letter. Default is none: a policy changes what a
    /// delivery does (an open breaker fails deliveries that might have succeeded), so
    /// each is the application's choice.
    ///
    /// ```
    /// use herald_core::Dispatcher;
    /// use herald_core::resilience::{Breaker, Resilience};
    ///
    /// # actix::System::new().block_on(async {
    /// let dispatcher = Dispatcher::builder()
    ///     .resilience(Resilience::new().breaker(Breaker::default()))
    ///     .start();
    /// # let _ = dispatcher;
    /// # });
    /// ```
    pub fn resilience(mut self, resilience: Resilience) -> Self {
        self.resilience = resilience;
        self
    }

    /// Sets how many (target, signal id) pairs the dedupe window keeps at most, for
    /// every target with a [`Dedupe`](crate::resilience::Dedupe) policy together
    /// (about 60 bytes each); past it the oldest go first. At least 1. Default is
    /// 100,000.
    pub fn dedupe_capacity(mut self, capacity: usize) -> Self {
        self.dedupe_capacity = capacity.max(1);
        self
    }

    /// Sets how many endpoints' policy state (circuit, rate limit, concurrency cap) is
    /// kept at most, for every target under such a policy together (a few hundred
    /// bytes each). Past it, a new endpoint takes the place of an idle one (CLOCK);
    /// endpoints whose state would be lost — an open or failing circuit, a rate limit
    /// not yet replenished, deliveries in flight — are never forgotten, and when every
    /// kept endpoint is such, the new one's delivery fails as
    /// [`Overloaded`](crate::ErrorKind::Overloaded), counted in
    /// [`StatsSnapshot::endpoints_refused`](crate::StatsSnapshot::endpoints_refused).
    /// At least 1. Default is 10,000.
    pub fn max_endpoints(mut self, endpoints: usize) -> Self {
        self.max_endpoints = endpoints.max(1);
        self
    }

    /// Sets how many ordering lanes (one per ordering key and endpoint with deliveries
    /// waiting or blocked; see [`Dispatch::ordering_key`](crate::Dispatch::ordering_key))
    /// are kept at most, for all shards together (about 100 bytes each). A keyed
    /// delivery that needs a new lane past it fails as
    /// [`Overloaded`](crate::ErrorKind::Overloaded). At least 1. Default is 100,000.
    pub fn max_lanes(mut self, lanes: usize) -> Self {
        self.max_lanes = lanes.max(1);
        self
    }

    /// Sets how many deliveries one ordering lane holds at most (the one under way and
    /// those waiting behind it); one past it fails as
    /// [`Overloaded`](crate::ErrorKind::Overloaded). (The in-flight bound,
    /// [`max_in_flight`](Self::max_in_flight), usually holds a fast producer back
    /// first.) At least 1. Default is 10,000.
    pub fn max_lane_depth(mut self, depth: usize) -> Self {
        self.max_lane_depth = depth.max(1);
        self
    }

    /// Dispatches a signal to `targets` at every circuit breaker transition:
    /// `herald.circuit.opened`, `herald.circuit.half_opened` and
    /// `herald.circuit.closed`, and for a breaker that disables endpoints
    /// ([`Breaker::disable_after`](crate::resilience::Breaker::disable_after))
    /// `herald.endpoint.disabled`, `herald.endpoint.recovered` and
    /// `herald.endpoint.enabled`; with source `herald` and data
    /// `{"endpoint", "state", "failures", "cooldown_ms"}`, so that operators can alert
    /// on them. Sent detached, like [`dispatch_async`](crate::DispatchExt::dispatch_async).
    /// Default is none (transitions still reach telemetry).
    pub fn circuit_signals(mut self, targets: impl IntoTargets) -> Self {
        self.circuit_signals = Some(targets.into_targets());
        self
    }

    /// Labels circuit metrics with their endpoint (feature `metrics`), for the first
    /// `limit` distinct endpoints seen in the life of the process; the rest share the
    /// label [`OTHER_ENDPOINTS`](crate::metrics::OTHER_ENDPOINTS). An endpoint is the
    /// name a target's [`Resilience::endpoint`](crate::resilience::Resilience::endpoint)
    /// gives it, else its (redacted) origin: with tenants' targets these are their
    /// values, which is why the bound is the application's to choose. At most
    /// [`MAX_ENDPOINT_LABELS`](Self::MAX_ENDPOINT_LABELS). Default is 0: no metric has
    /// an `endpoint` label.
    pub fn endpoint_labels(mut self, limit: usize) -> Self {
        self.endpoint_labels = limit.min(Self::MAX_ENDPOINT_LABELS);
        self
    }

    /// How often the gauges that sample state (`herald_lanes`, `herald_circuits`, …;
    /// feature `metrics`) are set: at least a millisecond. Default is one second.
    pub fn metrics_every(mut self, every: Duration) -> Self {
        self.metrics_every = every.max(Duration::from_millis(1));
        self
    }

    /// Gives the dispatcher a bus under `name`, for `bus` targets; the bus delivers its
    /// subscriptions' targets through this dispatcher, from the moment
    /// [`start`](Self::start) returns. A bus given to several dispatchers delivers
    /// through the first of them still running; the others publish to it. A name given
    /// again replaces the earlier bus. Default is no buses.
    pub fn bus(mut self, name: impl Into<String>, bus: Addr<Bus>) -> Self {
        self.buses.insert(name.into(), bus);
        self
    }

    fn insert(&mut self, name: impl Into<Cow<'static, str>>, registration: Registration) {
        self.adapters.insert(name.into(), registration);
    }

    /// Starts the adapters' arbiters and actors and the dispatcher on the current
    /// arbiter. Its mailbox bound is set, and its buses know it, before this returns.
    ///
    /// # Panics
    ///
    /// Outside a running actix `System` (start one with `actix::System::new()` or
    /// `#[actix::main]`), as every actix actor does.
    pub fn start(mut self) -> Addr<Dispatcher> {
        let pool_size = self.pool_size.unwrap_or_else(Self::default_pool_size);
        self.pool_size = Some(pool_size);
        let policies = self.policies();
        self.start_on(None, policies)
    }

    /// The policies of dispatchers started from here, with fresh endpoint state.
    fn policies(&self) -> Arc<Policies> {
        Arc::new(Policies {
            defaults: self.resilience.clone(),
            endpoints: Endpoints::new(
                self.max_endpoints,
                self.dedupe_capacity,
                self.circuit_signals.clone(),
                PolicyMeter::new(self.endpoint_labels),
            ),
            lanes: Arc::new(Lanes::new(self.max_lanes, self.max_lane_depth)),
            pauses: Pauses::default(),
        })
    }

    /// Starts `shards` dispatchers, each on an arbiter (thread) of its own, behind one
    /// [`Sharded`] handle that sends each [`Dispatch`](crate::Dispatch) to one of them:
    /// by its [`key`](crate::Dispatch::key) when it has one (so dispatches with one key
    /// keep their order), else in turn. Every shard has this builder's settings, its
    /// adapters, registry, topics and buses; limits (`max_in_flight`, the mailbox
    /// capacity) hold per shard. `shards` is at least 1 and at most
    /// [`MAX_THREADS`](Self::MAX_THREADS).
    ///
    /// ```
    /// use herald_core::{Dispatch, Dispatcher, Target};
    ///
    /// # actix::System::new().block_on(async {
    /// let dispatcher = Dispatcher::builder().start_sharded(2);
    /// let signal = herald_signal::Signal::new("user.created", serde_json::json!({})).unwrap();
    /// dispatcher.send(Dispatch::new(signal, [Target::noop()])).await.unwrap().unwrap();
    /// assert_eq!(dispatcher.shards().len(), 2);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a running actix `System`.
    pub fn start_sharded(mut self, shards: usize) -> Sharded {
        self.pool_size = Some(self.pool_size.unwrap_or(0));
        // One endpoint state for all: a breaker sees every shard's failures.
        let policies = self.policies();
        let shards = (0..shards.clamp(1, Self::MAX_THREADS))
            .map(|_| {
                self.clone()
                    .start_on(Some(Arbiter::new()), Arc::clone(&policies))
            })
            .collect();
        Sharded::new(shards)
    }

    /// Starts the dispatcher on `arbiter` (which it then owns, and stops when it is
    /// done), or on the current one.
    fn start_on(mut self, arbiter: Option<Arbiter>, policies: Arc<Policies>) -> Addr<Dispatcher> {
        // Routing adapters need the registry, hub and buses as configured; an adapter
        // the user registered under the same name wins.
        let registry = self.registry.clone();
        let pubsub = self.pubsub.clone();
        let buses = Arc::new(self.buses.clone());
        let routing = [
            (
                name::NAMED,
                registration(move || NamedAdapter(registry.clone())),
            ),
            (
                name::PUBSUB,
                registration(move || PubSubAdapter(pubsub.clone())),
            ),
            (
                name::BUS,
                registration(move || BusAdapter(Arc::clone(&buses))),
            ),
        ];
        for (name, registration) in routing {
            self.adapters.entry(name.into()).or_insert(registration);
        }
        #[cfg(feature = "http")]
        for (name, webhook) in [(name::HTTP, false), (name::WEBHOOK, true)] {
            let settings = self.http.clone();
            self.adapters.entry(name.into()).or_insert_with(|| {
                registration(move || {
                    crate::http::HttpAdapter::with_settings(webhook, settings.clone())
                })
            });
        }
        let admission = Admission::new(self.mailbox_capacity);
        let capacity = self.mailbox_capacity;
        let buses: Vec<Addr<Bus>> = self.buses.values().cloned().collect();
        let attached = Arc::clone(&admission);
        let create = move |ctx: &mut Context<Dispatcher>, own: Option<Arbiter>| {
            ctx.set_mailbox_capacity(capacity);
            let address = ctx.address();
            if policies.endpoints.announces() {
                let inlet = Inlet::new(address.downgrade().recipient(), Arc::clone(&attached));
                policies.endpoints.attach(Box::new(move |signal, targets| {
                    announce(&inlet, Dispatch::new(signal, targets));
                }));
            }
            Dispatcher::new(self, attached, policies, ActorId::of(&address), own)
        };
        let dispatcher = match arbiter {
            None => Dispatcher::create(|ctx| create(ctx, None)),
            Some(arbiter) => {
                let handle = arbiter.handle();
                let dispatcher =
                    Dispatcher::start_in_arbiter(&handle, move |ctx| create(ctx, Some(arbiter)));
                // The dispatcher is made on its arbiter later; its admission must be
                // found from the moment its address is.
                Admission::register(ActorId::of(&dispatcher), Arc::clone(&admission));
                dispatcher
            }
        };
        for bus in buses {
            // Queued before anything the caller sends the bus next, so a publish right
            // after `start` already finds the dispatcher.
            bus.do_send(Attach(Inlet::new(
                dispatcher.downgrade().recipient(),
                Arc::clone(&admission),
            )));
        }
        dispatcher
    }
}

/// Sends a circuit signal's dispatch; a refusal is logged, as a detached dispatch's is.
fn announce(inlet: &Inlet, dispatch: Dispatch) {
    if let Err((refused, dispatch)) = inlet.send(dispatch) {
        let signal = dispatch.signal();
        tracing::warn!(
            ?refused,
            cloudevents.event_type = signal.ty(),
            "circuit signal not sent"
        );
    }
}

impl fmt::Debug for DispatcherBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DispatcherBuilder")
            .field("max_concurrency", &self.max_concurrency)
            .field("max_in_flight", &self.max_in_flight)
            .field("overload", &self.overload)
            .field("pool_size", &self.pool_size)
            .field("telemetry", &self.telemetry)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("max_signal_size", &self.max_signal_size)
            .field("mailbox_capacity", &self.mailbox_capacity)
            .field("adapters", &self.adapters.keys().collect::<Vec<_>>())
            .field("buses", &self.buses.keys().collect::<Vec<_>>())
            .field("resilience", &self.resilience)
            .field("dedupe_capacity", &self.dedupe_capacity)
            .field("max_endpoints", &self.max_endpoints)
            .field("endpoint_labels", &self.endpoint_labels)
            .field("metrics_every", &self.metrics_every)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_size_beyond_the_bound_counts_as_the_bound() {
        let builder = DispatcherBuilder::default().pool_size(usize::MAX);
        assert_eq!(builder.pool_size, Some(DispatcherBuilder::MAX_THREADS));
        let builder = DispatcherBuilder::default().pool_size(3);
        assert_eq!(builder.pool_size, Some(3));
    }
}
