//! The state each endpoint's policies keep, shared by every arbiter and shard of one
//! dispatcher, and what `Stats` shows of it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dashmap::DashMap;
use herald_signal::Signal;
use tokio::time::Instant;

use super::Effective;
use super::breaker::{Circuit, CircuitState, Revived, Transition};
use super::concurrency::Gate;
use super::dedupe::Window;
use super::guard::endpoint_key;
use super::rate::{Limiter, RateLimit};
use super::{Breaker, lock};
use crate::Target;
use crate::target::Options;
use crate::telemetry::meter::PolicyMeter;

/// One endpoint's policy state, as [`Stats`](crate::Stats) shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndpointStats {
    /// Where its circuit is; `None` when no breaker watches it.
    pub circuit: Option<CircuitState>,
    /// Retryable failures in a row counted against it (closed circuit).
    pub consecutive_failures: u32,
    /// Times its circuit opened.
    pub opened: u64,
    /// Deliveries that reached it and succeeded (or were answered, for the breaker).
    pub succeeded: u64,
    /// Deliveries that reached it and failed.
    pub failed: u64,
    /// Deliveries failed at once by its open circuit.
    pub short_circuited: u64,
    /// Deliveries failed by its rate limit.
    pub rate_limited: u64,
    /// Deliveries in flight to it under a concurrency cap.
    pub in_flight: usize,
    /// Its concurrency cap now (the adaptive one's current value); `None` when
    /// uncapped.
    pub concurrency_limit: Option<usize>,
    /// How long its deliveries took, retries included; `None` before the first ended.
    pub latency: Option<Latency>,
}

/// How long one endpoint's deliveries took, from the adapter's start to its outcome
/// (retries and backoff included), as [`EndpointStats`] shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// Deliveries timed.
    pub count: u64,
    /// Their mean, since the endpoint was first kept.
    pub mean: Duration,
    /// A moving average weighting the latest delivery by 1/8 (as TCP's smoothed
    /// round-trip time): what the endpoint does now.
    pub recent: Duration,
    /// The longest.
    pub max: Duration,
}

/// The endpoints' state, and the dedupe window.
///
/// At most `capacity` endpoints are kept. A new one past that takes the place of an
/// idle one, chosen by CLOCK (second chance): the hand passes over endpoints used since
/// it last came by (clearing the mark) and over pinned ones — a circuit that is not
/// closed or has counted failures, a rate limit not yet replenished, deliveries in
/// flight — whose state would be lost. When the hand meets only pinned endpoints, the
/// new one is refused (the delivery fails as `Overloaded`, counted in `Stats`) rather
/// than forgetting state an endpoint still needs.
#[derive(Debug)]
pub(crate) struct Endpoints {
    /// Hashed with foldhash (seeded per process), not SipHash: a lookup on every
    /// delivery under a policy, of keys the application chose.
    map: DashMap<Arc<str>, Arc<Endpoint>, foldhash::fast::RandomState>,
    /// The keys in CLOCK order: the hand is the front. Touched only to add a key.
    ring: Mutex<VecDeque<Arc<str>>>,
    capacity: usize,
    /// New endpoints refused because every kept one was pinned.
    refused: AtomicU64,
    pub(crate) window: Window,
    duplicates: AtomicU64,
    /// Where circuit transitions go as signals, when the application asked for them.
    signals: Option<CircuitSignals>,
    /// The policies' metrics (feature `metrics`).
    pub(crate) meter: PolicyMeter,
}

struct CircuitSignals {
    targets: Arc<[Target]>,
    announce: OnceLock<Announce>,
}

impl std::fmt::Debug for CircuitSignals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitSignals")
            .field("targets", &self.targets)
            .finish_non_exhaustive()
    }
}

/// Sends a circuit signal to its targets without waiting: through the dispatcher the
/// endpoints were attached to, held weakly so that they do not keep it alive.
pub(crate) type Announce = Box<dyn Fn(Signal, Arc<[Target]>) + Send + Sync>;

/// One endpoint.
#[derive(Debug, Default)]
pub(crate) struct Endpoint {
    /// Used since the CLOCK hand last passed.
    referenced: AtomicBool,
    /// Deliveries admitted under its policies and not yet ended.
    active: AtomicUsize,
    circuit: Mutex<Watched>,
    limiter: Mutex<Option<Limiter>>,
    pub(crate) gate: Arc<Gate>,
    opened: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    short_circuited: AtomicU64,
    rate_limited: AtomicU64,
    /// Latency in microseconds: deliveries timed, their sum, the moving average, the
    /// longest.
    timed: AtomicU64,
    total_us: AtomicU64,
    recent_us: AtomicU64,
    max_us: AtomicU64,
}

/// A circuit, and the breaker last used on it (for `Stats`: `None` when no breaker
/// watches the endpoint).
#[derive(Debug, Default)]
struct Watched {
    state: Circuit,
    watched: Option<Breaker>,
}

/// Pinned endpoints the hand may pass for one new endpoint before refusing it: the
/// search stays short when nearly every endpoint is pinned (it goes on from there next
/// time), and a miss is then all but certain to mean the map is full of pinned ones.
const PINNED_PASSES: usize = 256;

impl Endpoints {
    pub(crate) fn new(
        capacity: usize,
        dedupe_capacity: usize,
        signals: Option<Arc<[Target]>>,
        meter: PolicyMeter,
    ) -> Self {
        Self {
            map: DashMap::default(),
            ring: Mutex::default(),
            capacity: capacity.max(1),
            refused: AtomicU64::new(0),
            window: Window::new(dedupe_capacity),
            duplicates: AtomicU64::new(0),
            signals: signals.map(|targets| CircuitSignals {
                targets,
                announce: OnceLock::new(),
            }),
            meter,
        }
    }

    /// Whether circuit transitions are announced as signals.
    pub(crate) fn announces(&self) -> bool {
        self.signals.is_some()
    }

    /// Tells the endpoints how to send their circuit signals (through the first
    /// dispatcher started, for shards).
    pub(crate) fn attach(&self, announce: Announce) {
        if let Some(signals) = &self.signals {
            let _ = signals.announce.set(announce);
        }
    }

    /// The endpoint named `key`, made on first use; `None` when it is new and every
    /// kept endpoint is pinned.
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Endpoint>> {
        self.find(key, true)
    }

    /// The endpoint named `key` for a delivery only observed (timed and counted, under
    /// no policy that needs its state): as [`get`](Self::get), but a map full of pinned
    /// endpoints just leaves it unobserved — it is neither refused nor counted as such.
    fn observed(&self, key: &str) -> Option<Arc<Endpoint>> {
        self.find(key, false)
    }

    fn find(&self, key: &str, refuse: bool) -> Option<Arc<Endpoint>> {
        if let Some(endpoint) = self.map.get(key) {
            endpoint.touch();
            return Some(Arc::clone(&endpoint));
        }
        let mut ring = lock(&self.ring);
        if let Some(endpoint) = self.map.get(key) {
            // Made by another thread meanwhile.
            return Some(Arc::clone(&endpoint));
        }
        if self.map.len() >= self.capacity && !self.evict_one(&mut ring) {
            if !refuse {
                return None;
            }
            let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    target: "herald::endpoints",
                    capacity = self.capacity,
                    refused,
                    "endpoint map is full of pinned endpoints: new endpoint refused"
                );
            }
            return None;
        }
        let key: Arc<str> = key.into();
        let endpoint = Arc::new(Endpoint::default());
        self.map.insert(Arc::clone(&key), Arc::clone(&endpoint));
        ring.push_back(key);
        Some(endpoint)
    }

    /// Forgets one idle endpoint, by CLOCK; `false` when the hand met only pinned ones.
    fn evict_one(&self, ring: &mut VecDeque<Arc<str>>) -> bool {
        let mut pinned = 0;
        // Every pass either clears a mark (paid for by the use that set it), passes a
        // pinned endpoint (bounded), or ends: amortised O(1).
        while pinned < PINNED_PASSES.min(ring.len()) {
            let Some(key) = ring.pop_front() else {
                return false;
            };
            let removed = self.map.remove_if(&key, |_, endpoint| {
                !endpoint.pinned() && !endpoint.untouch()
            });
            if removed.is_some() {
                return true;
            }
            match self.map.get(&key) {
                None => continue,
                Some(endpoint) if endpoint.pinned() => pinned += 1,
                Some(_) => {}
            }
            ring.push_back(key);
        }
        false
    }

    /// New endpoints refused because every kept one was pinned.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub(crate) fn duplicate(&self) {
        self.duplicates.fetch_add(1, Ordering::Relaxed);
        self.meter.duplicate();
    }

    /// Endpoints per circuit state (every state, zeros too), and how many are kept.
    pub(crate) fn circuit_counts(&self) -> ([(CircuitState, usize); 4], usize) {
        let mut counts = [
            (CircuitState::Closed, 0),
            (CircuitState::HalfOpen, 0),
            (CircuitState::Open, 0),
            (CircuitState::Disabled, 0),
        ];
        for entry in self.map.iter() {
            if let Some(state) = entry.value().circuit_state()
                && let Some((_, count)) = counts.iter_mut().find(|(s, _)| *s == state)
            {
                *count += 1;
            }
        }
        (counts, self.map.len())
    }

    pub(crate) fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Records a delivery by a pool adapter (`http`, `webhook`, `nats`, custom ones):
    /// its latency, and — when no breaker, rate limit or cap counted it already — its
    /// outcome. Targets whose options are a raw config are not observed: their endpoint
    /// is known only to their adapter's validation.
    pub(crate) fn observe(
        &self,
        adapter: &str,
        target: &Target,
        defaults: &super::Resilience,
        took: Duration,
        ok: bool,
    ) {
        let Options::Typed(options) = target.options() else {
            return;
        };
        let effective = Effective::of(target.resilience(), defaults);
        let named = effective.as_ref().and_then(|effective| effective.endpoint);
        let key = endpoint_key(adapter, options.as_ref(), named);
        let Some(endpoint) = self.observed(&key) else {
            return;
        };
        if !effective.is_some_and(|effective| effective.per_endpoint()) {
            endpoint.count(ok);
        }
        endpoint.time(took);
    }

    /// Every endpoint's state.
    pub(crate) fn snapshot(&self) -> BTreeMap<String, EndpointStats> {
        self.map
            .iter()
            .map(|entry| (entry.key().to_string(), entry.value().stats()))
            .collect()
    }

    /// Closes `key`'s circuit ([`ResetCircuit`]): its state before, `None` when no
    /// state is kept for it.
    pub(crate) fn reset_circuit(&self, key: &str) -> Option<CircuitState> {
        let endpoint = self.map.get(key).map(|e| Arc::clone(&e))?;
        let (before, transition, watched) = endpoint.operate(Circuit::reset);
        if let Some(transition) = transition {
            self.report(key, transition, &watched.unwrap_or_default());
        }
        Some(before)
    }

    /// Holds `key`'s circuit open for `duration` ([`OpenCircuit`]): its state before,
    /// `None` when the map has no room for a new endpoint.
    pub(crate) fn open_circuit(&self, key: &str, duration: Duration) -> Option<CircuitState> {
        let endpoint = self.get(key)?;
        let duration = duration.min(OpenCircuit::LONGEST);
        let until = Instant::now() + duration;
        let (before, transition, watched) = endpoint.operate(|circuit| circuit.hold_open(until));
        if let Some(transition) = transition {
            let held = watched.unwrap_or_default().cooldown(duration);
            self.report(key, transition, &held);
        }
        Some(before)
    }

    /// Reports a circuit's transition: a telemetry event, and a signal to the
    /// application's circuit targets when it asked for them (two when a disabled
    /// endpoint came back: the circuit closed, and the endpoint recovered or was
    /// enabled).
    pub(crate) fn report(&self, endpoint: &str, transition: Transition, breaker: &Breaker) {
        self.meter.transition(endpoint, transition.to);
        let state = transition.to.name();
        let failures = transition.failures;
        match transition.to {
            CircuitState::Open => tracing::warn!(
                target: "herald::circuit",
                endpoint,
                state,
                failures,
                cooldown_ms = breaker.cooldown_value().as_millis() as u64,
                "circuit opened"
            ),
            CircuitState::Disabled if transition.again => tracing::info!(
                target: "herald::circuit",
                endpoint,
                state,
                "disabled endpoint's probe failed"
            ),
            CircuitState::Disabled => tracing::warn!(
                target: "herald::circuit",
                endpoint,
                state,
                probe_every_ms = breaker.probe_every_value().as_millis() as u64,
                "endpoint disabled after failing for long: probed at a low rate"
            ),
            _ => tracing::info!(target: "herald::circuit", endpoint, state, "circuit {state}"),
        }
        let ty = match transition.to {
            CircuitState::Open => "herald.circuit.opened",
            CircuitState::HalfOpen => "herald.circuit.half_opened",
            CircuitState::Closed => "herald.circuit.closed",
            CircuitState::Disabled => "herald.endpoint.disabled",
        };
        let cooldown = match transition.to {
            CircuitState::Disabled => breaker.probe_every_value(),
            _ => breaker.cooldown_value(),
        };
        if !transition.again {
            self.announce(ty, endpoint, state, failures, cooldown);
        }
        if let Some(revived) = transition.revived {
            let (ty, how) = match revived {
                Revived::Recovered => ("herald.endpoint.recovered", "a probe succeeded"),
                Revived::Enabled => ("herald.endpoint.enabled", "an operator reset it"),
            };
            tracing::info!(target: "herald::circuit", endpoint, "disabled endpoint back: {how}");
            self.announce(ty, endpoint, state, failures, breaker.cooldown_value());
        }
    }

    /// Sends a circuit or endpoint signal of type `ty` to the application's targets,
    /// if it asked for them.
    fn announce(&self, ty: &str, endpoint: &str, state: &str, failures: u32, cooldown: Duration) {
        let Some(signals) = &self.signals else {
            return;
        };
        let Some(announce) = signals.announce.get() else {
            return;
        };
        let data = serde_json::json!({
            "endpoint": endpoint,
            "state": state,
            "failures": failures,
            "cooldown_ms": cooldown.as_millis() as u64,
        });
        match Signal::builder(ty).source("herald").data(data).build() {
            Ok(signal) => announce(signal, Arc::clone(&signals.targets)),
            Err(error) => tracing::error!(%error, "circuit signal could not be built"),
        }
    }
}

impl Endpoint {
    /// A delivery under its policies began.
    pub(crate) fn begin(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// A delivery under its policies ended.
    pub(crate) fn end(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Marks it used (written only when it was not, to keep the line shared).
    fn touch(&self) {
        if !self.referenced.load(Ordering::Relaxed) {
            self.referenced.store(true, Ordering::Relaxed);
        }
    }

    /// Clears the mark; whether it was set.
    fn untouch(&self) -> bool {
        self.referenced.swap(false, Ordering::Relaxed)
    }

    /// Whether forgetting it would lose something: deliveries in flight, a circuit that
    /// is not closed or has counted failures, a rate limit not yet replenished.
    fn pinned(&self) -> bool {
        if self.active.load(Ordering::Relaxed) > 0 || self.gate.in_flight() > 0 {
            return true;
        }
        let circuit = lock(&self.circuit);
        if circuit.state.state() != CircuitState::Closed || circuit.state.failures() > 0 {
            return true;
        }
        drop(circuit);
        lock(&self.limiter)
            .as_ref()
            .is_some_and(|limiter| !limiter.replenished())
    }

    pub(crate) fn admit(
        &self,
        breaker: &Breaker,
        now: Instant,
    ) -> (super::breaker::Admit, Option<Transition>) {
        let mut circuit = lock(&self.circuit);
        circuit.watched = Some(*breaker);
        circuit.state.admit(breaker, now)
    }

    pub(crate) fn record(
        &self,
        breaker: &Breaker,
        probe: bool,
        failed: bool,
        now: Instant,
    ) -> Option<Transition> {
        let transition = lock(&self.circuit)
            .state
            .record(breaker, probe, failed, now);
        if transition.is_some_and(|t| matches!(t.to, CircuitState::Open | CircuitState::Disabled)) {
            self.opened.fetch_add(1, Ordering::Relaxed);
        }
        transition
    }

    /// Applies an operator's `change` to the circuit: its state before, the
    /// transition if any, and the breaker last used on it.
    fn operate(
        &self,
        change: impl FnOnce(&mut Circuit) -> Option<Transition>,
    ) -> (CircuitState, Option<Transition>, Option<Breaker>) {
        let mut circuit = lock(&self.circuit);
        let before = circuit.state.state();
        let transition = change(&mut circuit.state);
        (before, transition, circuit.watched)
    }

    /// Gives back a probe that made no attempt.
    pub(crate) fn release_probe(&self) {
        lock(&self.circuit).state.release_probe();
    }

    /// Takes a turn under `policy` now (`None`), or says how long until one is free.
    /// The limiter is made on first use, and again when the policy changed.
    pub(crate) fn rate_check(&self, policy: &RateLimit) -> Option<std::time::Duration> {
        let mut kept = lock(&self.limiter);
        match &mut *kept {
            Some(limiter) if limiter.policy == *policy => limiter.check(),
            _ => kept.insert(Limiter::new(*policy)).check(),
        }
    }

    pub(crate) fn count(&self, ok: bool) {
        let counter = if ok { &self.succeeded } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Times one delivery.
    fn time(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let first = self.timed.fetch_add(1, Ordering::Relaxed) == 0;
        self.total_us.fetch_add(micros, Ordering::Relaxed);
        self.max_us.fetch_max(micros, Ordering::Relaxed);
        // Racing updates may lose one sample's weight: it is a summary, not a ledger.
        let _ = self
            .recent_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |recent| {
                Some(match first {
                    true => micros,
                    false => recent - recent / 8 + micros / 8,
                })
            });
    }

    fn latency(&self) -> Option<Latency> {
        let count = self.timed.load(Ordering::Relaxed);
        (count > 0).then(|| Latency {
            count,
            mean: Duration::from_micros(self.total_us.load(Ordering::Relaxed) / count),
            recent: Duration::from_micros(self.recent_us.load(Ordering::Relaxed)),
            max: Duration::from_micros(self.max_us.load(Ordering::Relaxed)),
        })
    }

    pub(crate) fn short_circuited(&self) {
        self.short_circuited.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Its circuit's state, when a breaker watches it.
    fn circuit_state(&self) -> Option<CircuitState> {
        let circuit = lock(&self.circuit);
        circuit.watched.map(|_| circuit.state.state())
    }

    fn stats(&self) -> EndpointStats {
        let circuit = lock(&self.circuit);
        let breaker = circuit.watched;
        let circuit = &circuit.state;
        let (limit, in_flight) = self.gate.snapshot();
        EndpointStats {
            circuit: breaker.map(|_| circuit.state()),
            consecutive_failures: circuit.failures(),
            opened: self.opened.load(Ordering::Relaxed),
            succeeded: self.succeeded.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            short_circuited: self.short_circuited.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            in_flight,
            concurrency_limit: limit,
            latency: self.latency(),
        }
    }
}

/// Closes an endpoint's circuit at once, whatever its state (an operator's reset, as
/// jido's `reset`): its failures are forgotten and deliveries go again. Answered with
/// the state it had, or `None` when the dispatcher keeps no state for that endpoint
/// (the key is as [`Stats::endpoints`](crate::StatsSnapshot::endpoints) lists it).
/// Announced like any transition (telemetry, and a `herald.circuit.closed` signal when
/// circuit signals are on). Any shard of a [`Sharded`](crate::Sharded) dispatcher
/// answers for all: they share their endpoints.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "Option<CircuitState>")]
pub struct ResetCircuit {
    /// The endpoint's key.
    pub endpoint: String,
}

/// Opens an endpoint's circuit for `duration` (at most [`LONGEST`](Self::LONGEST)),
/// whatever its state: an operator's hold, say during a receiver's maintenance. Its
/// breaker then probes as after any cooldown. Only deliveries under a
/// [`Breaker`] are held back (without one, nothing reads the circuit). Answered with the
/// state it had, or `None` when the endpoint map is full of endpoints in use and has no
/// room for this one. Announced like any transition.
#[derive(Debug, Clone, actix::Message)]
#[rtype(result = "Option<CircuitState>")]
pub struct OpenCircuit {
    /// The endpoint's key.
    pub endpoint: String,
    /// How long it stays open.
    pub duration: Duration,
}

impl OpenCircuit {
    /// The longest hold: a day (then an operator opens it again).
    pub const LONGEST: Duration = Duration::from_secs(86_400);
}
