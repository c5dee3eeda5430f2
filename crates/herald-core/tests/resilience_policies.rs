//! The resilience policies on in-process targets, on a paused clock: breakers, dead
//! letters and redrive, dedupe, rate limits, concurrency caps (fixed and adaptive).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;
use herald_core::resilience::{
    Breaker, CircuitState, Concurrency, DeadLetter, DeadLetterQueue, Dedupe, Expiry, OpenCircuit,
    RateLimit, Redrive, ResetCircuit, Resilience, TakeDeadLetters,
};
use herald_core::{
    Adapter, Delivery, Dispatch, DispatchResult, Dispatcher, ErrorKind, Outcome, Placement,
    Rejection, SignalMessage, Stats, Target, TargetError, TargetOptions,
};
use herald_signal::Signal;
use serde_json::{Value, json};
use support::within;
use tokio::time::Instant;

/// How a [`Switch`] endpoint answers now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Up,
    /// A retryable failure (the endpoint is in trouble).
    Down,
    /// A non-retryable failure (the request was bad).
    Bad,
    /// Answers 503.
    Unavailable,
    /// Panics.
    Panic,
}

/// Endpoints that the test switches up and down, each counting what reaches it.
#[derive(Clone)]
struct Switch {
    mode: Arc<Mutex<Mode>>,
    reached: Arc<AtomicUsize>,
    /// When each delivery reached it.
    at: Arc<Mutex<Vec<Instant>>>,
    current: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    /// The latency of a delivery, from how many are in flight with it.
    latency: Arc<dyn Fn(usize) -> Duration + Send + Sync>,
    /// How many deliveries were made at once (by [`AtOnce`]).
    now: Arc<AtomicUsize>,
    /// Whether [`AtOnce`] declines deliveries at once, leaving them to the run.
    declines: Arc<AtomicBool>,
}

impl Switch {
    fn new() -> Self {
        Self::with_latency(|_| Duration::ZERO)
    }

    fn with_latency(latency: impl Fn(usize) -> Duration + Send + Sync + 'static) -> Self {
        Self {
            mode: Arc::new(Mutex::new(Mode::Up)),
            reached: Arc::default(),
            at: Arc::default(),
            current: Arc::default(),
            peak: Arc::default(),
            latency: Arc::new(latency),
            now: Arc::default(),
            declines: Arc::default(),
        }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn reached(&self) -> usize {
        self.reached.load(Ordering::SeqCst)
    }

    fn reached_at_once(&self) -> usize {
        self.now.load(Ordering::SeqCst)
    }

    /// How it answers now.
    fn answer(&self) -> Result<Outcome, ErrorKind> {
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Up => Ok(Outcome::Delivered),
            Mode::Down => Err(ErrorKind::custom_retryable("endpoint down")),
            Mode::Bad => Err(ErrorKind::custom("bad request")),
            Mode::Unavailable => Err(ErrorKind::HttpStatus {
                status: 503,
                body: String::new(),
            }),
            Mode::Panic => panic!("the switch panicked"),
        }
    }
}

#[derive(Debug)]
struct Endpoint {
    name: String,
}

impl TargetOptions for Endpoint {
    fn endpoint(&self) -> Option<std::borrow::Cow<'_, str>> {
        Some(format!("switch:{}", self.name).into())
    }
}

impl Adapter for Switch {
    type Options = Endpoint;

    fn validate(&self, config: &Value) -> Result<Endpoint, TargetError> {
        let name = config["name"].as_str().unwrap_or("a").to_owned();
        Ok(Endpoint { name })
    }

    async fn deliver(&self, _: Delivery<'_, Endpoint>) -> Result<Outcome, ErrorKind> {
        self.reached.fetch_add(1, Ordering::SeqCst);
        self.at.lock().unwrap().push(Instant::now());
        let now = self.current.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let latency = (self.latency)(now);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.current.fetch_sub(1, Ordering::SeqCst);
        self.answer()
    }
}

/// The same endpoints, on the dispatcher's arbiter, answering at once (unless told to
/// decline): the policies then run on the dispatch's path that makes no future.
#[derive(Clone)]
struct AtOnce(Switch);

impl Adapter for AtOnce {
    type Options = Endpoint;

    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &Value) -> Result<Endpoint, TargetError> {
        self.0.validate(config)
    }

    fn may_deliver_now(&self, _: &Endpoint) -> bool {
        true
    }

    fn deliver_now(&self, _: Delivery<'_, Endpoint>) -> Option<Result<Outcome, ErrorKind>> {
        if self.0.declines.load(Ordering::SeqCst) {
            return None;
        }
        self.0.reached.fetch_add(1, Ordering::SeqCst);
        self.0.now.fetch_add(1, Ordering::SeqCst);
        Some(self.0.answer())
    }

    async fn deliver(&self, delivery: Delivery<'_, Endpoint>) -> Result<Outcome, ErrorKind> {
        self.0.deliver(delivery).await
    }
}

/// A typed target (a raw config is validated by the run's delivery, never at once).
fn endpoint(name: &str) -> Target {
    let name = name.to_owned();
    Target::new("switch", Endpoint { name })
}

fn dispatcher(switch: &Switch, resilience: Resilience) -> Addr<Dispatcher> {
    let switch = switch.clone();
    Dispatcher::builder()
        .pool_size(0)
        .adapter("switch", move || switch.clone())
        .resilience(resilience)
        .start()
}

/// Two tests of `$body`: `$pool` with deliveries on the pool, `$at_once` with them made
/// at once.
macro_rules! on_each_path {
    ($body:ident, $pool:ident, $at_once:ident) => {
        #[actix_rt::test]
        async fn $pool() {
            $body(Path::Pool).await;
        }

        #[actix_rt::test]
        async fn $at_once() {
            $body(Path::AtOnce).await;
        }
    };
}

/// Which way deliveries to the `switch` endpoints go.
#[derive(Debug, Clone, Copy)]
enum Path {
    /// On the pool, each a future ([`Switch`]).
    Pool,
    /// At once, on the dispatch's path that makes no future ([`AtOnce`], no subscriber).
    AtOnce,
}

impl Path {
    /// A dispatcher with `switch` endpoints under `resilience`.
    fn start(self, switch: &Switch, resilience: Resilience) -> Addr<Dispatcher> {
        match self {
            Self::Pool => dispatcher(switch, resilience),
            Self::AtOnce => {
                let at_once = AtOnce(switch.clone());
                Dispatcher::builder()
                    .telemetry(false)
                    .adapter("switch", move || at_once.clone())
                    .resilience(resilience)
                    .start()
            }
        }
    }

    /// Asserts that every delivery that reached `switch` went this way.
    fn check(self, switch: &Switch) {
        let at_once = match self {
            Self::Pool => 0,
            Self::AtOnce => switch.reached(),
        };
        assert_eq!(switch.reached_at_once(), at_once, "{self:?}");
    }
}

async fn send(
    dispatcher: &Addr<Dispatcher>,
    signal: Signal,
    targets: Vec<Target>,
) -> DispatchResult {
    within("dispatch", dispatcher.send(Dispatch::new(signal, targets)))
        .await
        .expect("dispatcher running")
}

fn signal() -> Signal {
    Signal::new("order.placed", json!({"order": 7})).unwrap()
}

fn kind_of(result: &DispatchResult) -> Option<&'static str> {
    result
        .as_ref()
        .err()
        .map(|error| error.first().error.kind().name())
}

async fn endpoint_stats(
    dispatcher: &Addr<Dispatcher>,
    key: &str,
) -> herald_core::resilience::EndpointStats {
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    *stats
        .endpoints
        .get(key)
        .unwrap_or_else(|| panic!("no endpoint {key} in {:?}", stats.endpoints.keys()))
}

on_each_path!(
    breaker_opens_fails_fast_probes_and_closes,
    a_breaker_opens_fails_fast_probes_and_closes,
    a_breaker_opens_fails_fast_probes_and_closes_at_once
);

async fn breaker_opens_fails_fast_probes_and_closes(path: Path) {
    tokio::time::pause();
    let switch = Switch::new();
    let breaker = Breaker::new().failures(3).cooldown(Duration::from_secs(10));
    let dispatcher = path.start(&switch, Resilience::new().breaker(breaker));
    switch.set(Mode::Down);
    for _ in 0..3 {
        assert_eq!(
            kind_of(&send(&dispatcher, signal(), vec![endpoint("a")]).await),
            Some("custom")
        );
    }
    // Open: fails at once, nothing reaches the endpoint.
    for _ in 0..5 {
        let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
        assert_eq!(kind_of(&result), Some("circuit_open"));
        let error = result.unwrap_err();
        let refused = &error.first().error;
        assert!(refused.retryable());
        assert_eq!(refused.attempts(), 0, "no attempt was made: {refused}");
        assert!(
            refused.to_string().contains("before any attempt"),
            "{refused}"
        );
    }
    assert_eq!(switch.reached(), 3);
    let stats = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(stats.circuit, Some(CircuitState::Open));
    assert_eq!(
        (stats.opened, stats.short_circuited, stats.failed),
        (1, 5, 3)
    );

    // After the cooldown one probe goes through; it fails, and the circuit reopens.
    tokio::time::advance(Duration::from_secs(10)).await;
    assert_eq!(
        kind_of(&send(&dispatcher, signal(), vec![endpoint("a")]).await),
        Some("custom")
    );
    assert_eq!(switch.reached(), 4);
    assert_eq!(
        kind_of(&send(&dispatcher, signal(), vec![endpoint("a")]).await),
        Some("circuit_open")
    );
    assert_eq!(switch.reached(), 4);

    // The next probe succeeds and closes it.
    tokio::time::advance(Duration::from_secs(10)).await;
    switch.set(Mode::Up);
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap();
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap();
    assert_eq!(switch.reached(), 6);
    let stats = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(stats.circuit, Some(CircuitState::Closed));
    assert_eq!(stats.opened, 2);
    path.check(&switch);
}

#[actix_rt::test]
async fn bad_requests_never_open_a_breaker_and_endpoints_are_independent() {
    tokio::time::pause();
    let switch = Switch::new();
    let dispatcher = dispatcher(
        &switch,
        Resilience::new().breaker(Breaker::new().failures(2)),
    );
    switch.set(Mode::Bad);
    for _ in 0..10 {
        assert_eq!(
            kind_of(&send(&dispatcher, signal(), vec![endpoint("a")]).await),
            Some("custom")
        );
    }
    assert_eq!(switch.reached(), 10);
    assert_eq!(
        endpoint_stats(&dispatcher, "switch:a").await.circuit,
        Some(CircuitState::Closed)
    );

    switch.set(Mode::Down);
    for _ in 0..2 {
        send(&dispatcher, signal(), vec![endpoint("b")])
            .await
            .unwrap_err();
    }
    assert_eq!(
        kind_of(&send(&dispatcher, signal(), vec![endpoint("b")]).await),
        Some("circuit_open")
    );
    // `a` is still closed: its delivery reaches the endpoint.
    switch.set(Mode::Up);
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap();
    assert_eq!(
        endpoint_stats(&dispatcher, "switch:b").await.circuit,
        Some(CircuitState::Open)
    );
}

/// Collects the signals it gets.
struct Collector(Arc<Mutex<Vec<Signal>>>);

impl Actor for Collector {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Collector {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.0.lock().unwrap().push((**message.signal()).clone());
        Ok(())
    }
}

#[actix_rt::test]
async fn circuit_transitions_arrive_as_signals_and_telemetry() {
    tokio::time::pause();
    let written = support::Log::default();
    let subscriber = written.subscriber();
    let _guard = tracing::subscriber::set_default(subscriber);

    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(seen.clone()).start();
    let switch = Switch::new();
    let adapter = switch.clone();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .adapter("switch", move || adapter.clone())
        .resilience(
            Resilience::new().breaker(Breaker::new().failures(1).cooldown(Duration::from_secs(5))),
        )
        .circuit_signals([Target::pid(collector.recipient())])
        .start();
    switch.set(Mode::Down);
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap_err();
    tokio::time::advance(Duration::from_secs(5)).await;
    switch.set(Mode::Up);
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap();
    within("three transitions", async {
        while seen.lock().unwrap().len() < 3 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let seen = seen.lock().unwrap();
    let types: Vec<&str> = seen.iter().map(Signal::ty).collect();
    assert_eq!(
        types,
        [
            "herald.circuit.opened",
            "herald.circuit.half_opened",
            "herald.circuit.closed"
        ]
    );
    let data = seen[0].data().and_then(|d| d.as_json()).unwrap();
    assert_eq!(data["endpoint"], "switch:a");
    assert_eq!(data["failures"], 1);
    let log = written.text();
    assert!(log.contains("circuit opened"), "{log}");
    assert!(
        log.contains("state=\"half_open\"") || log.contains("state=half_open"),
        "{log}"
    );
}

on_each_path!(
    failed_deliveries_reach_the_dead_letter,
    finally_failed_deliveries_reach_the_dead_letter_once_with_their_failure,
    finally_failed_deliveries_reach_the_dead_letter_once_with_their_failure_at_once
);

async fn failed_deliveries_reach_the_dead_letter(path: Path) {
    tokio::time::pause();
    let switch = Switch::new();
    let queue = DeadLetterQueue::default().start();
    let dead_letter: Target = Target::pid(queue.clone().recipient()).sync().into();
    let dispatcher = path.start(&switch, Resilience::new().dead_letter(dead_letter));
    switch.set(Mode::Down);
    let mut ids = Vec::new();
    for _ in 0..3 {
        let signal = signal();
        ids.push(signal.id().to_owned());
        let error = send(&dispatcher, signal, vec![endpoint("a"), Target::noop()])
            .await
            .unwrap_err();
        assert_eq!(error.failures().len(), 1);
        let failure = &error.first().error;
        let dead_letter = failure.dead_letter().expect("dead-lettered");
        assert!(dead_letter.delivered(), "{failure}");
        assert!(
            failure.to_string().contains("dead-lettered to pid(sync"),
            "{failure}"
        );
    }
    let letters = within("take", queue.send(TakeDeadLetters)).await.unwrap();
    assert_eq!(letters.len(), 3);
    for (letter, id) in letters.iter().zip(&ids) {
        assert_eq!(letter.original().id(), id);
        assert_eq!(letter.kind(), "custom");
        assert_eq!(letter.adapter(), "switch");
        assert_eq!(letter.attempts(), 1);
        assert_eq!(letter.message(), "endpoint down");
        assert!(letter.original().extension("heralderrorkind").is_none());
    }
    // Nothing else was dead-lettered: the noop target succeeded.
    assert!(
        within("take", queue.send(TakeDeadLetters))
            .await
            .unwrap()
            .is_empty()
    );
    path.check(&switch);
}

on_each_path!(
    short_circuited_dead_letter_counts_no_attempt,
    a_short_circuited_delivery_is_dead_lettered_with_no_attempt,
    a_short_circuited_delivery_is_dead_lettered_with_no_attempt_at_once
);

async fn short_circuited_dead_letter_counts_no_attempt(path: Path) {
    tokio::time::pause();
    let switch = Switch::new();
    let queue = DeadLetterQueue::default().start();
    let dead_letter: Target = Target::pid(queue.clone().recipient()).sync().into();
    let resilience = Resilience::new()
        .breaker(Breaker::new().failures(1))
        .dead_letter(dead_letter);
    let dispatcher = path.start(&switch, resilience);
    switch.set(Mode::Down);
    for _ in 0..2 {
        send(&dispatcher, signal(), vec![endpoint("a")])
            .await
            .unwrap_err();
    }
    assert_eq!(switch.reached(), 1, "the second was refused by the circuit");
    let letters = within("take", queue.send(TakeDeadLetters)).await.unwrap();
    let attempts: Vec<_> = letters.iter().map(|l| (l.kind(), l.attempts())).collect();
    // Read back from each letter's `heraldattempts` (absent, it would read as 1).
    assert_eq!(attempts, [("custom", 1), ("circuit_open", 0)]);
    path.check(&switch);
}

on_each_path!(
    failing_dead_letter_is_reported,
    a_failing_dead_letter_is_reported_and_does_not_loop,
    a_failing_dead_letter_is_reported_and_does_not_loop_at_once
);

async fn failing_dead_letter_is_reported(path: Path) {
    tokio::time::pause();
    let switch = Switch::new();
    switch.set(Mode::Down);
    // The dead letter is the failing endpoint itself.
    let dispatcher = path.start(&switch, Resilience::new().dead_letter(endpoint("dlq")));
    let error = send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap_err();
    let dead_letter = error.first().error.dead_letter().expect("tried");
    assert!(!dead_letter.delivered());
    assert!(error.to_string().contains("dead letter to"), "{error}");
    // One delivery and one dead letter, no more.
    assert_eq!(switch.reached(), 2);
    // A dispatch may turn dead letters off.
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), [endpoint("a")]).no_dead_letter()),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(error.first().error.dead_letter().is_none());
    assert_eq!(switch.reached(), 3);
    path.check(&switch);
}

#[actix_rt::test]
async fn redrive_delivers_dead_letters_to_the_recovered_endpoint() {
    tokio::time::pause();
    let switch = Switch::new();
    let queue = DeadLetterQueue::default().start();
    let target = endpoint("a").with_resilience(
        Resilience::new().dead_letter(Target::pid(queue.clone().recipient()).sync()),
    );
    let dispatcher = dispatcher(&switch, Resilience::new());
    switch.set(Mode::Down);
    for _ in 0..4 {
        send(&dispatcher, signal(), vec![target.clone()])
            .await
            .unwrap_err();
    }
    assert_eq!(switch.reached(), 4);
    // Still down: the redrive fails and keeps them.
    let report = within(
        "redrive",
        queue.send(Redrive::new(dispatcher.clone(), vec![target.clone()])),
    )
    .await
    .unwrap();
    assert_eq!((report.redriven, report.failed), (0, 4));
    switch.set(Mode::Up);
    let report = within(
        "redrive",
        queue.send(Redrive::new(dispatcher.clone(), vec![target.clone()])),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.redriven, report.failed, report.unmatched),
        (4, 0, 0)
    );
    assert_eq!(switch.reached(), 12);
    assert!(
        within("take", queue.send(TakeDeadLetters))
            .await
            .unwrap()
            .is_empty()
    );
}

on_each_path!(
    dedupe_skips_a_taken_signal,
    dedupe_skips_a_signal_the_target_took_until_the_window_ends,
    dedupe_skips_a_signal_the_target_took_until_the_window_ends_at_once
);

async fn dedupe_skips_a_taken_signal(path: Path) {
    tokio::time::pause();
    let switch = Switch::new();
    let dedupe = Dedupe::new(Duration::from_secs(60));
    let dispatcher = path.start(&switch, Resilience::new().dedupe(dedupe));
    let first = signal();
    let report = send(&dispatcher, first.clone(), vec![endpoint("a")])
        .await
        .unwrap();
    assert_eq!(report.outcomes(), [Outcome::Delivered]);
    let report = send(
        &dispatcher,
        first.clone(),
        vec![endpoint("a"), endpoint("b")],
    )
    .await
    .unwrap();
    assert_eq!(report.outcomes(), [Outcome::Duplicate, Outcome::Delivered]);
    assert_eq!(switch.reached(), 2);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.duplicates, 1);

    // A failed delivery is not remembered.
    let other = signal();
    switch.set(Mode::Down);
    send(&dispatcher, other.clone(), vec![endpoint("a")])
        .await
        .unwrap_err();
    switch.set(Mode::Up);
    let report = send(&dispatcher, other, vec![endpoint("a")]).await.unwrap();
    assert_eq!(report.outcomes(), [Outcome::Delivered]);

    // After the window it is delivered again.
    tokio::time::advance(Duration::from_secs(60)).await;
    let report = send(&dispatcher, first, vec![endpoint("a")]).await.unwrap();
    assert_eq!(report.outcomes(), [Outcome::Delivered]);
    path.check(&switch);
}

/// 50 dispatches of one signal at once to a slow endpoint: the first delivery holds the
/// id, the others wait for its outcome and end as duplicates; the endpoint is reached
/// once.
#[actix_rt::test]
async fn concurrent_duplicates_wait_for_the_one_in_flight() {
    tokio::time::pause();
    let switch = Switch::with_latency(|_| Duration::from_millis(200));
    let dedupe = Dedupe::new(Duration::from_secs(60));
    let dispatcher = dispatcher(&switch, Resilience::new().dedupe(dedupe));
    let one = signal();
    let sends = (0..50).map(|_| send(&dispatcher, one.clone(), vec![endpoint("a")]));
    let reports = within("every dispatch", futures_util::future::join_all(sends)).await;
    let mut outcomes: Vec<_> = reports
        .into_iter()
        .map(|report| report.unwrap().outcomes()[0].clone())
        .collect();
    outcomes.sort_by_key(|outcome| *outcome == Outcome::Duplicate);
    assert_eq!(outcomes[0], Outcome::Delivered);
    assert!(
        outcomes[1..].iter().all(|o| *o == Outcome::Duplicate),
        "{outcomes:?}"
    );
    assert_eq!(switch.reached(), 1);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.duplicates, 49);
}

/// When the delivery in flight fails, one of those waiting goes next (not all of them),
/// and the rest are duplicates of its success.
#[actix_rt::test]
async fn a_failed_delivery_in_flight_lets_one_waiting_go() {
    tokio::time::pause();
    let switch = Switch::with_latency(|_| Duration::from_millis(200));
    switch.set(Mode::Down);
    let dedupe = Dedupe::new(Duration::from_secs(60));
    let dispatcher = dispatcher(&switch, Resilience::new().dedupe(dedupe));
    let one = signal();
    let recover = {
        let switch = switch.clone();
        // After the first answer (at 200 ms), before the second (at 400 ms).
        async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            switch.set(Mode::Up);
        }
    };
    let sends = (0..20).map(|_| send(&dispatcher, one.clone(), vec![endpoint("a")]));
    let (reports, ()) = within(
        "every dispatch",
        futures_util::future::join(futures_util::future::join_all(sends), recover),
    )
    .await;
    let failed = reports.iter().filter(|report| report.is_err()).count();
    let outcomes: Vec<_> = reports
        .iter()
        .filter_map(|report| report.as_ref().ok())
        .map(|report| report.outcomes()[0].clone())
        .collect();
    assert_eq!(failed, 1);
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Outcome::Delivered)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(outcomes.len(), 19);
    assert_eq!(switch.reached(), 2);
}

/// `signal()` expiring `from_now` seconds from now (negative: in the past).
fn expiring(from_now: i64) -> Signal {
    let now = herald_signal::Utc::now();
    let by = Duration::from_secs(from_now.unsigned_abs());
    let at = if from_now < 0 { now - by } else { now + by };
    signal().to_builder().expirytime(at).build().unwrap()
}

on_each_path!(
    expired_signals,
    a_signal_past_its_expirytime_reaches_no_target,
    a_signal_past_its_expirytime_reaches_no_target_at_once
);

async fn expired_signals(path: Path) {
    let switch = Switch::new();
    let dispatcher = path.start(&switch, Resilience::new());
    let targets = vec![endpoint("a"), endpoint("b")];
    let error = send(&dispatcher, expiring(-1), targets.clone())
        .await
        .unwrap_err();
    assert_eq!(error.failures().len(), 2);
    for failure in error.failures() {
        assert_eq!(failure.error.kind().name(), "expired");
        assert!(!failure.error.retryable());
        assert_eq!(failure.error.attempts(), 0);
    }
    assert_eq!(switch.reached(), 0);

    let report = send(&dispatcher, expiring(3600), targets).await.unwrap();
    assert_eq!(report.outcomes(), [Outcome::Delivered, Outcome::Delivered]);
    path.check(&switch);
}

on_each_path!(
    max_age,
    a_max_age_expires_signals_older_than_it,
    a_max_age_expires_signals_older_than_it_at_once
);

async fn max_age(path: Path) {
    let switch = Switch::new();
    let expiry = Expiry::new().max_age(Duration::from_secs(60));
    let dispatcher = path.start(&switch, Resilience::new().expiry(expiry));
    let now = herald_signal::Utc::now();
    let made_before = |age| signal().to_builder().time(now - age).build().unwrap();
    let result = send(
        &dispatcher,
        made_before(Duration::from_secs(120)),
        vec![endpoint("a")],
    )
    .await;
    assert_eq!(kind_of(&result), Some("expired"));
    assert_eq!(switch.reached(), 0);
    // A target that turns the default off takes it.
    let own = endpoint("a").with_resilience(Resilience::new().no_expiry());
    send(
        &dispatcher,
        made_before(Duration::from_secs(120)),
        vec![own],
    )
    .await
    .unwrap();
    let fresh = made_before(Duration::ZERO);
    send(&dispatcher, fresh, vec![endpoint("a")]).await.unwrap();
    assert_eq!(switch.reached(), 2);
    path.check(&switch);
}

/// An expired delivery is dead-lettered only when its target's `Expiry` asks; the dead
/// letter itself does not expire, and a redrive of it is checked again.
#[actix_rt::test]
async fn expired_deliveries_are_dead_lettered_only_when_asked() {
    let switch = Switch::new();
    let queue = DeadLetterQueue::default().start();
    let letters = Target::pid(queue.clone().recipient()).sync();
    let dispatcher = dispatcher(&switch, Resilience::new().dead_letter(letters));
    let plain = endpoint("a");
    let kept =
        endpoint("b").with_resilience(Resilience::new().expiry(Expiry::new().dead_letter(true)));
    let expired = expiring(-1);
    let error = send(&dispatcher, expired.clone(), vec![plain, kept.clone()])
        .await
        .unwrap_err();
    assert!(error.failures()[0].error.dead_letter().is_none());
    assert!(
        error.failures()[1]
            .error
            .dead_letter()
            .is_some_and(|d| d.result().is_ok())
    );

    let taken = within("take", queue.send(TakeDeadLetters)).await.unwrap();
    assert_eq!(taken.len(), 1);
    let letter = &taken[0];
    assert_eq!(letter.kind(), "expired");
    assert_eq!(letter.original().expirytime(), expired.expirytime());

    // The signal the queue got carries the expiry aside, not as its own.
    let wrapped = DeadLetter::wrap(&expired, &error.failures()[1].error, &kept).unwrap();
    assert_eq!(wrapped.expirytime(), None);
    assert!(
        wrapped
            .extension(herald_core::resilience::ERROR_EXPIRYTIME)
            .is_some()
    );
    let read = DeadLetter::from_signal(&wrapped).unwrap();
    assert_eq!(read.original().expirytime(), expired.expirytime());

    let redrive = letter.redrive(&[kept]).unwrap();
    let result = within("redrive", dispatcher.send(redrive)).await.unwrap();
    assert_eq!(kind_of(&result), Some("expired"));
    assert_eq!(switch.reached(), 0);
}

/// An operator holds a healthy endpoint's circuit open, then resets an open one.
#[actix_rt::test]
async fn operators_open_and_reset_circuits() {
    tokio::time::pause();
    let switch = Switch::new();
    let breaker = Breaker::new().failures(2).cooldown(Duration::from_secs(30));
    let dispatcher = dispatcher(&switch, Resilience::new().breaker(breaker));

    // Held open for a minute: nothing reaches it, then it probes and closes.
    let hold = OpenCircuit {
        endpoint: "switch:a".to_owned(),
        duration: Duration::from_secs(60),
    };
    let before = within("hold", dispatcher.send(hold)).await.unwrap();
    assert_eq!(before, Some(CircuitState::Closed));
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("circuit_open"));
    assert_eq!(switch.reached(), 0);
    let open = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(open.circuit, Some(CircuitState::Open));
    tokio::time::advance(Duration::from_secs(60)).await;
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap();
    assert_eq!(switch.reached(), 1);

    // Opened by failures, reset by hand: deliveries go at once.
    switch.set(Mode::Down);
    for _ in 0..2 {
        send(&dispatcher, signal(), vec![endpoint("a")])
            .await
            .unwrap_err();
    }
    switch.set(Mode::Up);
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("circuit_open"));
    let reset = |name: &str| ResetCircuit {
        endpoint: name.to_owned(),
    };
    let before = within("reset", dispatcher.send(reset("switch:a"))).await;
    assert_eq!(before.unwrap(), Some(CircuitState::Open));
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .unwrap();
    let closed = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(closed.circuit, Some(CircuitState::Closed));
    // An endpoint with no state: nothing to reset.
    let unknown = within("reset", dispatcher.send(reset("switch:nobody")));
    assert_eq!(unknown.await.unwrap(), None);
}

on_each_path!(
    panic_under_a_breaker,
    a_panic_under_a_breaker_does_not_count,
    a_panic_under_a_breaker_does_not_count_at_once
);

/// A delivery that panics under a breaker fails its target as `Panicked` and, as the
/// breaker's rules say, does not count: the circuit stays closed, and a half-open
/// probe whose delivery panicked is given back. The same on either path.
async fn panic_under_a_breaker(path: Path) {
    tokio::time::pause();
    let switch = Switch::new();
    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_secs(10))
        .probes(1);
    let dispatcher = path.start(&switch, Resilience::new().breaker(breaker));
    let panicked = |result: DispatchResult| {
        let error = result.unwrap_err();
        assert!(
            error
                .failures()
                .iter()
                .all(|failure| failure.error.kind().name() == "panicked"),
            "{error}"
        );
        error.failures().len()
    };
    switch.set(Mode::Panic);
    let result = send(&dispatcher, signal(), vec![endpoint("a"), endpoint("b")]).await;
    assert_eq!(panicked(result), 2);
    let stats = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(stats.circuit, Some(CircuitState::Closed));
    assert_eq!((stats.succeeded, stats.failed), (0, 0));

    // Opened by a real failure; after the cooldown the probe's delivery panics, and
    // the probe is given back for the next delivery, which closes the circuit.
    switch.set(Mode::Down);
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("custom"));
    tokio::time::advance(Duration::from_secs(10)).await;
    switch.set(Mode::Panic);
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(panicked(result), 1);
    switch.set(Mode::Up);
    send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .expect("the probe was given back");
    let stats = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(stats.circuit, Some(CircuitState::Closed));
    assert_eq!((stats.opened, stats.succeeded, stats.failed), (1, 1, 1));
    assert_eq!(switch.reached(), 5);
    path.check(&switch);
}

/// A delivery cut off by the dispatch's deadline while its attempt was under way counts
/// as a failed attempt: the endpoint did not answer in time.
#[actix_rt::test]
async fn a_delivery_cut_off_by_the_deadline_counts_as_failed() {
    tokio::time::pause();
    let switch = Switch::with_latency(|_| Duration::from_secs(60));
    let breaker = Breaker::new().failures(1).cooldown(Duration::from_secs(10));
    let dispatcher = Path::Pool.start(&switch, Resilience::new().breaker(breaker));
    let dispatch = Dispatch::new(signal(), [endpoint("a")]).deadline(Duration::from_secs(1));
    let result = within("dispatch", dispatcher.send(dispatch)).await.unwrap();
    assert_eq!(kind_of(&result), Some("deadline_exceeded"));
    // The cut-off delivery's end is recorded as the pool drops its future.
    within("the circuit opens", async {
        while endpoint_stats(&dispatcher, "switch:a").await.opened == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("circuit_open"));
    assert_eq!(switch.reached(), 1);
}

/// A half-open circuit's probe, taken at once by a delivery the adapter then declines
/// to make at once, is given back: the same delivery made in the run takes it, and its
/// success closes the circuit.
#[actix_rt::test]
async fn a_probe_declined_at_once_is_taken_again_in_the_run() {
    tokio::time::pause();
    let switch = Switch::new();
    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_secs(10))
        .probes(1);
    let dispatcher = Path::AtOnce.start(&switch, Resilience::new().breaker(breaker));
    switch.set(Mode::Down);
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("custom"));
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("circuit_open"));

    tokio::time::advance(Duration::from_secs(10)).await;
    switch.set(Mode::Up);
    switch.declines.store(true, Ordering::SeqCst);
    let report = send(&dispatcher, signal(), vec![endpoint("a")])
        .await
        .expect("the probe was given back");
    assert_eq!(report.outcomes(), [Outcome::Delivered]);
    assert_eq!((switch.reached(), switch.reached_at_once()), (2, 1));
    let stats = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(stats.circuit, Some(CircuitState::Closed));
    assert_eq!(
        (
            stats.opened,
            stats.succeeded,
            stats.failed,
            stats.short_circuited
        ),
        (1, 1, 1, 1)
    );
}

/// A rate limit's turn, once taken, cannot be given back: a target under one is
/// delivered in the run even when its adapter could deliver at once, and the limit
/// holds.
#[actix_rt::test]
async fn a_rate_limited_target_takes_its_turn_in_the_run() {
    tokio::time::pause();
    let switch = Switch::new();
    let limit = RateLimit::per_second(1).unwrap().fail_fast();
    let dispatcher = Path::AtOnce.start(&switch, Resilience::new().rate_limit(limit));
    send(&dispatcher, signal(), vec![endpoint("a"), Target::noop()])
        .await
        .unwrap();
    let result = send(&dispatcher, signal(), vec![endpoint("a")]).await;
    assert_eq!(kind_of(&result), Some("rate_limited"));
    assert_eq!((switch.reached(), switch.reached_at_once()), (1, 0));
}

#[actix_rt::test]
async fn a_rate_limit_spaces_deliveries_and_can_fail_fast() {
    tokio::time::pause();
    let switch = Switch::new();
    let limit = RateLimit::per_second(10).unwrap().burst(2).unwrap();
    let dispatcher = dispatcher(&switch, Resilience::new().rate_limit(limit));
    let start = Instant::now();
    let sends: Vec<_> = (0..50)
        .map(|_| dispatcher.send(Dispatch::new(signal(), [endpoint("a")])))
        .collect();
    for result in within("50 dispatches", futures_util::future::join_all(sends)).await {
        result.unwrap().unwrap();
    }
    let at = switch.at.lock().unwrap().clone();
    assert_eq!(at.len(), 50);
    for second in 0..5u64 {
        let from = start + Duration::from_secs(second);
        let to = from + Duration::from_secs(1);
        let count = at.iter().filter(|t| **t >= from && **t < to).count();
        assert!(count <= 10 + 2, "second {second} saw {count}");
    }
    assert!(at.last().unwrap().duration_since(start) >= Duration::from_millis(4_700));

    let fail = RateLimit::per_second(1).unwrap().fail_fast();
    let strict = endpoint("b").with_resilience(Resilience::new().rate_limit(fail));
    send(&dispatcher, signal(), vec![strict.clone()])
        .await
        .unwrap();
    let result = send(&dispatcher, signal(), vec![strict]).await;
    assert_eq!(kind_of(&result), Some("rate_limited"));
    assert_eq!(result.unwrap_err().first().error.attempts(), 0);
    assert_eq!(
        endpoint_stats(&dispatcher, "switch:b").await.rate_limited,
        1
    );
}

#[actix_rt::test]
async fn a_capped_slow_endpoint_does_not_delay_a_fast_one() {
    tokio::time::pause();
    let slow = Switch::with_latency(|_| Duration::from_secs(5));
    let fast = Switch::new();
    let (s, f) = (slow.clone(), fast.clone());
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_in_flight(8)
        .adapter("slow", move || s.clone())
        .adapter("fast", move || f.clone())
        .start();
    let capped = Target::custom("slow", json!({"name": "s"}))
        .with_resilience(Resilience::new().concurrency(Concurrency::max(2).unwrap()));
    let slow_sends: Vec<_> = (0..6)
        .map(|_| dispatcher.send(Dispatch::new(signal(), [capped.clone()])))
        .collect();
    let slow_all = actix_rt::spawn(futures_util::future::join_all(slow_sends));
    tokio::task::yield_now().await;
    let start = Instant::now();
    let report = within(
        "fast",
        dispatcher.send(Dispatch::new(signal(), [Target::custom("fast", json!({}))])),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.outcomes(), [Outcome::Delivered]);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "the fast endpoint waited"
    );
    for result in within("slow", slow_all).await.unwrap() {
        result.unwrap().unwrap();
    }
    assert_eq!(slow.peak.load(Ordering::SeqCst), 2);
    assert_eq!(slow.reached(), 6);
}

#[actix_rt::test]
async fn adaptive_concurrency_settles_where_latency_rises_and_backs_off_on_503() {
    tokio::time::pause();
    // 10 ms up to 4 at once, 20 ms above.
    let switch = Switch::with_latency(|now| Duration::from_millis(if now <= 4 { 10 } else { 20 }));
    let adaptive = Concurrency::adaptive(64).unwrap();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_in_flight(1_000)
        .adapter("switch", {
            let switch = switch.clone();
            move || switch.clone()
        })
        .resilience(Resilience::new().concurrency(adaptive))
        .start();
    let load = |count: usize| {
        let sends: Vec<_> = (0..count)
            .map(|_| dispatcher.send(Dispatch::new(signal(), [endpoint("a")])))
            .collect();
        futures_util::future::join_all(sends)
    };
    for result in within("load", load(3_000)).await {
        let _ = result.unwrap();
    }
    let limit = endpoint_stats(&dispatcher, "switch:a")
        .await
        .concurrency_limit
        .unwrap();
    assert!((3..=6).contains(&limit), "settled at {limit}");
    assert!(switch.peak.load(Ordering::SeqCst) <= 7);

    switch.set(Mode::Unavailable);
    for result in within("load", load(200)).await {
        let _ = result.unwrap();
    }
    let limit = endpoint_stats(&dispatcher, "switch:a")
        .await
        .concurrency_limit
        .unwrap();
    assert_eq!(limit, 1, "backed off");
}

#[actix_rt::test]
async fn policies_read_from_data_name_their_fields() {
    let target: Target = serde_json::from_value(json!({
        "adapter": "webhook2",
        "name": "x",
        "resilience": {
            "breaker": {"failures": 3, "cooldown_ms": 1000, "disable_after_ms": 86400000},
            "dedupe": {"ttl_ms": 5000},
            "expiry": {"max_age_ms": 60000, "dead_letter": true},
            "rate_limit": {"per_second": 5, "burst": 2, "on_limit": "fail"},
            "concurrency": {"max": 4, "adaptive": true},
            "ordering": {"on_failure": "block"},
            "dead_letter": {"adapter": "logger", "level": "error"},
            "endpoint": "partner-api"
        }
    }))
    .unwrap();
    let policies = target.resilience().unwrap();
    assert_eq!(
        policies
            .breaker_setting()
            .unwrap()
            .unwrap()
            .failure_threshold(),
        3
    );
    assert_eq!(
        policies.dead_letter_setting().unwrap().unwrap().adapter(),
        "logger"
    );
    // Written back and read again, it is the same.
    let config = target.to_config(herald_core::Secrets::Redact).unwrap();
    assert_eq!(config["resilience"]["rate_limit"]["on_limit"], "fail");
    assert_eq!(
        config["resilience"]["expiry"],
        json!({"max_age_ms": 60000, "dead_letter": true})
    );
    assert_eq!(
        config["resilience"]["ordering"],
        json!({"on_failure": "block"})
    );
    assert!(policies.ordering_setting().unwrap().unwrap().blocks());
    assert_eq!(
        config["resilience"]["breaker"]["probe_every_ms"], 600_000,
        "a disabling breaker writes its probe interval"
    );
    let again = Target::from_config(config.clone()).unwrap();
    assert_eq!(
        again.to_config(herald_core::Secrets::Redact).unwrap(),
        config
    );

    let cases = [
        (
            json!({"breaker": {"failures": 0}}),
            "field `resilience.breaker.failures` must be a whole number from 1",
        ),
        (
            json!({"rate_limit": {"burst": 2}}),
            "missing field `resilience.rate_limit.per_second`",
        ),
        (
            json!({"rate_limit": {"per_second": 1, "on_limit": "drop"}}),
            "field `resilience.rate_limit.on_limit` must be one of wait, fail",
        ),
        (
            json!({"concurrency": {"max": 2, "speed": 1}}),
            "unknown field `resilience.concurrency.speed`; expected one of: max, adaptive",
        ),
        (
            json!({"expiry": {"max_age_ms": 1000, "dead_letters": true}}),
            "unknown field `resilience.expiry.dead_letters`; expected one of: max_age_ms, dead_letter",
        ),
        (
            json!({"expiry": {"dead_letter": "yes"}}),
            "field `resilience.expiry.dead_letter` must be true or false",
        ),
        (
            json!({"dedupe": true}),
            "field `resilience.dedupe` must be an object, or false for off",
        ),
        (
            json!({"dead_letter": {"adapter": "logger", "level": "loud"}}),
            "field `resilience.dead_letter.level` must be one of debug, info, warn, error",
        ),
        (
            json!({"retry": {}}),
            "unknown field `resilience.retry`; expected one of: breaker, dedupe, expiry, rate_limit, concurrency, ordering, while_paused, dead_letter, endpoint",
        ),
        (
            json!({"ordering": {"on_failure": "retry"}}),
            "field `resilience.ordering.on_failure` must be one of skip, block",
        ),
        (json!(3), "field `resilience` must be an object"),
    ];
    for (resilience, message) in cases {
        let error =
            Target::from_config(json!({"adapter": "noop", "resilience": resilience})).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
    // `false` turns a default off.
    let off =
        Target::from_config(json!({"adapter": "noop", "resilience": {"breaker": false}})).unwrap();
    assert_eq!(off.resilience().unwrap().breaker_setting(), Some(None));
    let unordered =
        Target::from_config(json!({"adapter": "noop", "resilience": {"ordering": false}})).unwrap();
    assert_eq!(
        unordered.resilience().unwrap().ordering_setting(),
        Some(None)
    );
}

/// Targets delivered at once go in runs of one adapter; a target in the middle of such
/// a run with a policy of its own still goes through it (and the ones around it are
/// still delivered once each).
#[actix_rt::test]
async fn a_policy_on_one_target_among_targets_delivered_at_once_still_applies() {
    let (a, at_a) = support::Inbox::start(support::Answer::Accept);
    let (b, at_b) = support::Inbox::start(support::Answer::Accept);
    let dispatcher = Dispatcher::builder().telemetry(false).start();
    let deduped = Target::from(Target::pid(b.recipient()))
        .with_resilience(Resilience::new().dedupe(Dedupe::new(Duration::from_secs(60))));
    let targets = [
        Target::pid(a.clone().recipient()).into(),
        deduped.clone(),
        deduped,
        Target::pid(a.recipient()).into(),
    ];
    let report = within(
        "dispatch",
        dispatcher.send(Dispatch::new(support::signal(), targets)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        report.outcomes(),
        [
            Outcome::Delivered,
            Outcome::Delivered,
            Outcome::Duplicate,
            Outcome::Delivered
        ]
    );
    support::until_count("a's two", &at_a, 2).await;
    support::until_count("b's one", &at_b, 1).await;
    assert_eq!(at_b.load(Ordering::SeqCst), 1);
}

/// A `pid` target's endpoint is its actor: targets of one actor (cloned, built again,
/// in another mode) share one endpoint, and another actor has its own.
#[actix_rt::test]
async fn pid_targets_of_one_actor_share_its_endpoint() {
    let (a, at_a) = support::Inbox::start(support::Answer::Accept);
    let (b, at_b) = support::Inbox::start(support::Answer::Accept);
    let dispatcher = Dispatcher::builder()
        .telemetry(false)
        .resilience(Resilience::new().breaker(Breaker::default()))
        .start();
    let first = Target::from(Target::pid(a.clone().recipient()));
    let targets = vec![
        first.clone(),
        first,
        Target::pid(a.recipient()).sync().into(),
        Target::pid(b.recipient()).into(),
    ];
    for _ in 0..2 {
        send(&dispatcher, signal(), targets.clone()).await.unwrap();
    }
    support::until_count("a's six", &at_a, 6).await;
    support::until_count("b's two", &at_b, 2).await;
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    let mut succeeded: Vec<u64> = stats.endpoints.values().map(|e| e.succeeded).collect();
    succeeded.sort_unstable();
    assert_eq!(succeeded, [2, 6], "{:?}", stats.endpoints);
    assert!(
        stats.endpoints.keys().all(|key| key.starts_with("actor:")),
        "{:?}",
        stats.endpoints.keys()
    );
}

/// An endpoint failing past `disable_after` is disabled, probed every `probe_every`
/// only, and recovers when a probe succeeds; disabled again, an operator's reset
/// enables it. Each step is announced. On the paused clock.
#[actix_rt::test]
async fn an_endpoint_failing_for_long_is_disabled_probed_slowly_and_recovers() {
    tokio::time::pause();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let collector = Collector(seen.clone()).start();
    let switch = Switch::new();
    let adapter = switch.clone();
    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_secs(10))
        .disable_after(Duration::from_secs(25))
        .probe_every(Duration::from_secs(600));
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .adapter("switch", move || adapter.clone())
        .resilience(Resilience::new().breaker(breaker))
        .circuit_signals([Target::pid(collector.recipient())])
        .start();
    let deliver = || send(&dispatcher, signal(), vec![endpoint("a")]);
    switch.set(Mode::Down);
    // Opens at 0 s; failed probes at 10 s and 20 s reopen it; the probe at 30 s fails
    // past the 25 s: disabled.
    deliver().await.unwrap_err();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(10)).await;
        deliver().await.unwrap_err();
    }
    assert_eq!(switch.reached(), 4);
    let stats = endpoint_stats(&dispatcher, "switch:a").await;
    assert_eq!(stats.circuit, Some(CircuitState::Disabled));
    // Disabled: nothing reaches it between probes, ten minutes apart.
    tokio::time::advance(Duration::from_secs(300)).await;
    let refused = deliver().await;
    assert_eq!(kind_of(&refused), Some("circuit_open"));
    assert_eq!(switch.reached(), 4);
    tokio::time::advance(Duration::from_secs(300)).await;
    deliver().await.unwrap_err();
    assert_eq!(switch.reached(), 5, "one probe after ten minutes");
    assert_eq!(
        endpoint_stats(&dispatcher, "switch:a").await.circuit,
        Some(CircuitState::Disabled)
    );
    // It answers again: the next probe recovers it.
    switch.set(Mode::Up);
    tokio::time::advance(Duration::from_secs(600)).await;
    deliver().await.unwrap();
    deliver().await.unwrap();
    assert_eq!(
        endpoint_stats(&dispatcher, "switch:a").await.circuit,
        Some(CircuitState::Closed)
    );

    // Disabled again, then enabled by an operator.
    switch.set(Mode::Down);
    deliver().await.unwrap_err();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(10)).await;
        deliver().await.unwrap_err();
    }
    let reset = ResetCircuit {
        endpoint: "switch:a".to_owned(),
    };
    let before = within("reset", dispatcher.send(reset)).await.unwrap();
    assert_eq!(before, Some(CircuitState::Disabled));
    within("the announcements", async {
        loop {
            let done = seen
                .lock()
                .unwrap()
                .iter()
                .any(|s: &Signal| s.ty() == "herald.endpoint.enabled");
            if done {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    let types: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.ty().to_owned())
        .collect();
    let endpoint_types: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|ty| ty.starts_with("herald.endpoint."))
        .collect();
    assert_eq!(
        endpoint_types,
        [
            "herald.endpoint.disabled",
            "herald.endpoint.recovered",
            "herald.endpoint.disabled",
            "herald.endpoint.enabled"
        ],
        "{types:?}"
    );
}
