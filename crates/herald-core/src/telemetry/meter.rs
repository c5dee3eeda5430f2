//! Recording [`crate::metrics`] through the `metrics` facade (feature `metrics`).
//!
//! Handles are taken once, when a dispatcher, an adapter or a policy table starts,
//! and kept: recording is then an atomic add behind the exporter's handle, with no key
//! hashed. Without the feature, every type here is empty and every method does nothing,
//! so callers need no `cfg` of their own.

#[cfg(feature = "metrics")]
pub(crate) use on::*;

#[cfg(not(feature = "metrics"))]
pub(crate) use off::*;

/// An endpoint circuit's state as the [`CIRCUIT_STATE`](crate::metrics::CIRCUIT_STATE)
/// gauge reads it.
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
fn state_value(state: crate::resilience::CircuitState) -> f64 {
    use crate::resilience::CircuitState;
    match state {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
        CircuitState::Disabled => 3.0,
    }
}

#[cfg(feature = "metrics")]
mod on {
    use std::cell::RefCell;
    use std::collections::HashSet;
    use std::sync::{Mutex, Once};

    use metrics::{Counter, Gauge, Histogram, Unit, counter, gauge, histogram};
    use tokio::time::Instant;

    use crate::metrics::*;
    use crate::resilience::CircuitState;

    /// Describes every metric to the installed recorder, once per process.
    fn describe() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            use metrics::{describe_counter, describe_gauge, describe_histogram};
            describe_counter!(DISPATCHES, "Dispatches handled");
            describe_histogram!(
                DISPATCH_DURATION,
                Unit::Seconds,
                "Dispatch admission to answer"
            );
            describe_histogram!(DISPATCH_TARGETS, Unit::Count, "Targets per dispatch");
            describe_counter!(DISPATCHES_REFUSED, "Dispatches refused whole");
            describe_counter!(DELIVERIES, "Target deliveries ended");
            describe_histogram!(DELIVERY_DURATION, Unit::Seconds, "Delivery duration");
            describe_counter!(DELIVERY_ATTEMPTS, "Delivery attempts made");
            describe_counter!(DELIVERY_RETRIES, "Delivery attempts after the first");
            describe_gauge!(DELIVERIES_IN_FLIGHT, "Deliveries under way");
            describe_counter!(DUPLICATES, "Deliveries skipped as duplicates");
            describe_counter!(RATE_LIMITED, "Deliveries a rate limit refused");
            describe_counter!(SHORT_CIRCUITED, "Deliveries an open circuit refused");
            describe_counter!(CIRCUIT_TRANSITIONS, "Circuit transitions, by state entered");
            describe_gauge!(CIRCUITS, "Endpoints whose circuit is in each state");
            describe_gauge!(CIRCUIT_STATE, "0 closed, 1 half open, 2 open, 3 disabled");
            describe_gauge!(ENDPOINTS, "Endpoints whose state is kept");
            describe_counter!(DEAD_LETTERS, "Dead letters made");
            describe_counter!(DEAD_LETTERS_DROPPED, "Dead letters dropped by a full queue");
            describe_counter!(DEAD_LETTERS_REDRIVEN, "Dead letters redriven");
            describe_gauge!(DEAD_LETTER_QUEUE_DEPTH, "Dead letters held by queues");
            describe_gauge!(LANES, "Ordering lanes kept");
            describe_gauge!(LANE_DELIVERIES, "Deliveries in ordering lanes");
            describe_gauge!(LANES_BLOCKED, "Ordering lanes blocked by a failure");
            describe_gauge!(PAUSED, "Paused endpoints and targets");
            describe_gauge!(PAUSED_DELIVERIES, "Deliveries held by pauses");
            describe_counter!(OTEL_SENT_MESSAGES, "Messages sent (OpenTelemetry)");
            describe_histogram!(
                OTEL_OPERATION_DURATION,
                Unit::Seconds,
                "Send duration (OpenTelemetry)"
            );
        });
    }

    /// Whether the metrics are recorded.
    #[inline(always)]
    pub(crate) const fn on() -> bool {
        true
    }

    /// When a delivery began (without the feature, nothing: it would be kept across
    /// every delivery's awaits).
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Timer(Instant);

    impl Timer {
        pub(crate) fn start() -> Self {
            Self(Instant::now())
        }
    }

    /// A dispatch was refused whole (rare enough, or overloaded enough, that its key is
    /// looked up each time).
    pub(crate) fn refused() {
        counter!(DISPATCHES_REFUSED).increment(1);
    }

    /// One adapter's delivery counters, by outcome: taken on the outcome's first
    /// delivery (a short list; a fan-out's deliveries mostly share one outcome).
    #[derive(Debug)]
    struct Outcomes {
        adapter: String,
        taken: RefCell<Vec<(&'static str, bool, Counter, Counter)>>,
    }

    impl Outcomes {
        fn new(adapter: &str) -> Self {
            Self {
                adapter: adapter.to_owned(),
                taken: RefCell::new(Vec::new()),
            }
        }

        /// Counts `count` deliveries that ended as `outcome` (`ok` or not).
        fn count(&self, outcome: &'static str, ok: bool, count: u64) {
            let mut taken = self.taken.borrow_mut();
            let found = taken
                .iter()
                .position(|(name, was_ok, ..)| *name == outcome && *was_ok == ok);
            let index = found.unwrap_or_else(|| {
                let adapter = self.adapter.clone();
                let status = if ok { "ok" } else { "error" };
                let ours = counter!(
                    DELIVERIES,
                    "adapter" => adapter.clone(),
                    "status" => status,
                    "outcome" => outcome,
                );
                let otel = if ok {
                    counter!(
                        OTEL_SENT_MESSAGES,
                        "messaging.system" => "herald",
                        "messaging.operation.name" => "send",
                        "messaging.destination.name" => adapter,
                    )
                } else {
                    counter!(
                        OTEL_SENT_MESSAGES,
                        "messaging.system" => "herald",
                        "messaging.operation.name" => "send",
                        "messaging.destination.name" => adapter,
                        "error.type" => outcome,
                    )
                };
                taken.push((outcome, ok, ours, otel));
                taken.len() - 1
            });
            let (_, _, ours, otel) = &taken[index];
            ours.increment(count);
            otel.increment(count);
        }
    }

    /// A dispatcher's metrics, kept beside its `Stats` counters (on its arbiter).
    #[derive(Debug)]
    pub(crate) struct DispatcherMeter {
        dispatches: Counter,
        duration: Histogram,
        targets: Histogram,
        in_flight: Gauge,
        dead_kept: Counter,
        dead_failed: Counter,
        /// Indexed like the dispatcher's adapters.
        adapters: Box<[Outcomes]>,
        unknown: Outcomes,
    }

    impl DispatcherMeter {
        pub(crate) fn new<'a>(adapters: impl Iterator<Item = &'a str>) -> Self {
            describe();
            Self {
                dispatches: counter!(DISPATCHES),
                duration: histogram!(DISPATCH_DURATION),
                targets: histogram!(DISPATCH_TARGETS),
                in_flight: gauge!(DELIVERIES_IN_FLIGHT),
                dead_kept: counter!(DEAD_LETTERS, "result" => "kept"),
                dead_failed: counter!(DEAD_LETTERS, "result" => "failed"),
                adapters: adapters.map(Outcomes::new).collect(),
                unknown: Outcomes::new(UNKNOWN_ADAPTER),
            }
        }

        pub(crate) fn dispatch_started(&self) {
            self.dispatches.increment(1);
        }

        /// `finish`, timed: a dispatch of `targets` targets begins now, and is
        /// answered when it is called.
        pub(crate) fn timed<R>(
            &self,
            targets: usize,
            finish: impl FnOnce(R) + 'static,
        ) -> impl FnOnce(R) + 'static {
            let (duration, sizes) = (self.duration.clone(), self.targets.clone());
            let started = Instant::now();
            move |result| {
                duration.record(started.elapsed().as_secs_f64());
                sizes.record(targets as f64);
                finish(result)
            }
        }

        pub(crate) fn in_flight(&self, started: u64, ended: u64) {
            if started > 0 {
                self.in_flight.increment(started as f64);
            }
            if ended > 0 {
                self.in_flight.decrement(ended as f64);
            }
        }

        /// `count` deliveries by adapter `adapter` (`None`: unknown) ended as
        /// `outcome`, `ok` or not.
        pub(crate) fn delivered(
            &self,
            adapter: Option<usize>,
            outcome: &'static str,
            ok: bool,
            count: u64,
        ) {
            let outcomes = adapter
                .and_then(|index| self.adapters.get(index))
                .unwrap_or(&self.unknown);
            outcomes.count(outcome, ok, count);
        }

        pub(crate) fn dead_letter(&self, kept: bool) {
            match kept {
                true => self.dead_kept.increment(1),
                false => self.dead_failed.increment(1),
            }
        }
    }

    /// One adapter's delivery timing, on whichever arbiter delivers.
    #[derive(Debug)]
    pub(crate) struct DeliveryMeter {
        duration: Histogram,
        otel_duration: Histogram,
        attempts: Counter,
        retries: Counter,
    }

    impl DeliveryMeter {
        pub(crate) fn new(adapter: &str) -> Self {
            describe();
            let adapter = adapter.to_owned();
            Self {
                duration: histogram!(DELIVERY_DURATION, "adapter" => adapter.clone()),
                otel_duration: histogram!(
                    OTEL_OPERATION_DURATION,
                    "messaging.system" => "herald",
                    "messaging.operation.name" => "send",
                    "messaging.destination.name" => adapter.clone(),
                ),
                attempts: counter!(DELIVERY_ATTEMPTS, "adapter" => adapter.clone()),
                retries: counter!(DELIVERY_RETRIES, "adapter" => adapter),
            }
        }

        /// A delivery timed by `timer` ended with `result`; `attempts` is what a
        /// success took (a failure's are in its error).
        pub(crate) fn delivered(
            &self,
            timer: Timer,
            result: &Result<crate::Outcome, crate::DeliveryError>,
            attempts: u32,
        ) {
            let attempts = match result {
                Ok(_) => attempts,
                Err(error) => error.attempts(),
            };
            let seconds = timer.0.elapsed().as_secs_f64();
            self.duration.record(seconds);
            self.otel_duration.record(seconds);
            self.attempts.increment(u64::from(attempts));
            self.retries
                .increment(u64::from(attempts.saturating_sub(1)));
        }
    }

    /// The policies' metrics, shared by a dispatcher's shards.
    #[derive(Debug)]
    pub(crate) struct PolicyMeter {
        duplicates: Counter,
        rate_limited: Counter,
        short_circuited: Counter,
        labels: EndpointLabels,
    }

    impl PolicyMeter {
        pub(crate) fn new(endpoint_labels: usize) -> Self {
            describe();
            Self {
                duplicates: counter!(DUPLICATES),
                rate_limited: counter!(RATE_LIMITED),
                short_circuited: counter!(SHORT_CIRCUITED),
                labels: EndpointLabels::new(endpoint_labels),
            }
        }

        pub(crate) fn duplicate(&self) {
            self.duplicates.increment(1);
        }

        pub(crate) fn rate_limited(&self) {
            self.rate_limited.increment(1);
        }

        pub(crate) fn short_circuited(&self) {
            self.short_circuited.increment(1);
        }

        /// `endpoint`'s circuit entered `state` (rare: the key is looked up each time).
        pub(crate) fn transition(&self, endpoint: &str, state: CircuitState) {
            let name = state.name();
            match self.labels.of(endpoint) {
                Some(label) => {
                    counter!(CIRCUIT_TRANSITIONS, "state" => name, "endpoint" => label.clone())
                        .increment(1);
                    gauge!(CIRCUIT_STATE, "endpoint" => label).set(super::state_value(state));
                }
                None => counter!(CIRCUIT_TRANSITIONS, "state" => name).increment(1),
            }
        }

        /// Sets the gauges that sample the policies' state.
        pub(crate) fn sample(&self, sample: &PolicySample) {
            for (state, count) in &sample.circuits {
                gauge!(CIRCUITS, "state" => state.name()).set(*count as f64);
            }
            gauge!(ENDPOINTS).set(sample.endpoints as f64);
            gauge!(LANES).set(sample.lanes as f64);
            gauge!(LANE_DELIVERIES).set(sample.lane_deliveries as f64);
            gauge!(LANES_BLOCKED).set(sample.lanes_blocked as f64);
            gauge!(PAUSED).set(sample.paused as f64);
            gauge!(PAUSED_DELIVERIES).set(sample.paused_deliveries as f64);
        }
    }

    /// Which endpoints get their own `endpoint` label: the first `limit` distinct ones
    /// seen, for the life of the process; the rest share [`OTHER_ENDPOINTS`]. None
    /// unless the application opted in.
    #[derive(Debug)]
    struct EndpointLabels {
        limit: usize,
        seen: Mutex<HashSet<String>>,
    }

    impl EndpointLabels {
        fn new(limit: usize) -> Self {
            Self {
                limit,
                seen: Mutex::new(HashSet::new()),
            }
        }

        fn of(&self, endpoint: &str) -> Option<String> {
            if self.limit == 0 {
                return None;
            }
            let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
            if seen.contains(endpoint) {
                return Some(endpoint.to_owned());
            }
            if seen.len() < self.limit {
                seen.insert(endpoint.to_owned());
                return Some(endpoint.to_owned());
            }
            Some(OTHER_ENDPOINTS.to_owned())
        }
    }

    /// A dead-letter queue's metrics.
    #[derive(Debug)]
    pub(crate) struct QueueMeter {
        depth: Gauge,
        dropped: Counter,
        redriven_ok: Counter,
        redriven_failed: Counter,
    }

    impl QueueMeter {
        pub(crate) fn new() -> Self {
            describe();
            Self {
                depth: gauge!(DEAD_LETTER_QUEUE_DEPTH),
                dropped: counter!(DEAD_LETTERS_DROPPED),
                redriven_ok: counter!(DEAD_LETTERS_REDRIVEN, "result" => "ok"),
                redriven_failed: counter!(DEAD_LETTERS_REDRIVEN, "result" => "error"),
            }
        }

        /// The queue took `added` dead letters and let go of `removed`.
        pub(crate) fn depth(&self, added: usize, removed: usize) {
            if added > 0 {
                self.depth.increment(added as f64);
            }
            if removed > 0 {
                self.depth.decrement(removed as f64);
            }
        }

        pub(crate) fn dropped(&self) {
            self.dropped.increment(1);
        }

        pub(crate) fn redriven(&self, ok: u64, failed: u64) {
            self.redriven_ok.increment(ok);
            self.redriven_failed.increment(failed);
        }
    }

    use super::PolicySample;
}

#[cfg(not(feature = "metrics"))]
mod off {
    use super::PolicySample;
    use crate::resilience::CircuitState;

    #[inline(always)]
    pub(crate) const fn on() -> bool {
        false
    }

    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Timer;

    impl Timer {
        #[inline(always)]
        pub(crate) fn start() -> Self {
            Self
        }
    }

    #[inline(always)]
    pub(crate) fn refused() {}

    #[derive(Debug)]
    pub(crate) struct DispatcherMeter;

    impl DispatcherMeter {
        #[inline(always)]
        pub(crate) fn new<'a>(_: impl Iterator<Item = &'a str>) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn dispatch_started(&self) {}
        #[inline(always)]
        pub(crate) fn timed<F>(&self, _: usize, finish: F) -> F {
            finish
        }
        #[inline(always)]
        pub(crate) fn in_flight(&self, _: u64, _: u64) {}
        #[inline(always)]
        pub(crate) fn delivered(&self, _: Option<usize>, _: &'static str, _: bool, _: u64) {}
        #[inline(always)]
        pub(crate) fn dead_letter(&self, _: bool) {}
    }

    #[derive(Debug)]
    pub(crate) struct DeliveryMeter;

    impl DeliveryMeter {
        #[inline(always)]
        pub(crate) fn new(_: &str) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn delivered(
            &self,
            _: Timer,
            _: &Result<crate::Outcome, crate::DeliveryError>,
            _: u32,
        ) {
        }
    }

    #[derive(Debug)]
    pub(crate) struct PolicyMeter;

    impl PolicyMeter {
        #[inline(always)]
        pub(crate) fn new(_: usize) -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn duplicate(&self) {}
        #[inline(always)]
        pub(crate) fn rate_limited(&self) {}
        #[inline(always)]
        pub(crate) fn short_circuited(&self) {}
        #[inline(always)]
        pub(crate) fn transition(&self, _: &str, _: CircuitState) {}
        #[inline(always)]
        pub(crate) fn sample(&self, _: &PolicySample) {}
    }

    #[derive(Debug)]
    pub(crate) struct QueueMeter;

    impl QueueMeter {
        #[inline(always)]
        pub(crate) fn new() -> Self {
            Self
        }
        #[inline(always)]
        pub(crate) fn depth(&self, _: usize, _: usize) {}
        #[inline(always)]
        pub(crate) fn dropped(&self) {}
        #[inline(always)]
        pub(crate) fn redriven(&self, _: u64, _: u64) {}
    }
}

/// The policies' state the gauges sample, read as `Stats` reads it.
#[derive(Debug, Default)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) struct PolicySample {
    /// Endpoints per circuit state (every state, zeros included).
    pub(crate) circuits: Vec<(crate::resilience::CircuitState, usize)>,
    pub(crate) endpoints: usize,
    pub(crate) lanes: usize,
    pub(crate) lane_deliveries: usize,
    pub(crate) lanes_blocked: usize,
    pub(crate) paused: usize,
    pub(crate) paused_deliveries: usize,
}
