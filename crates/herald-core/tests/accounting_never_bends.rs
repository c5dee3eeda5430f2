//! Every target is accounted for, whatever happens to the run, the counters stay
//! bounded, and "in flight" means deliveries in flight.

mod support;

use std::fmt;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Adapter, Delivery, Dispatch, DispatchExt, Dispatcher, ErrorKind, Outcome, Overload, Stats,
    Target, TargetOptions,
};
use serde_json::json;
use support::{Probe, dispatch, signal, until_count, within};

#[actix_rt::test]
async fn a_dropped_run_fails_every_target_with_its_own_index() {
    let probe = Probe::default();
    let arbiter = Arbiter::new();
    let factory = probe.factory();
    let (sender, receiver) = tokio::sync::oneshot::channel();
    arbiter.spawn(async move {
        let dispatcher = Dispatcher::builder().adapter("probe", factory).start();
        let slow = || Target::custom("probe", json!({"delay_ms": 3_600_000}));
        let handle = dispatcher.dispatch_async(Dispatch::new(signal(), [slow(), slow(), slow()]));
        let _ = sender.send(handle);
    });
    let handle = within("handle", receiver).await.unwrap();
    until_count("deliveries started", &probe.current, 3).await;
    arbiter.stop();

    let error = within("handle resolves", handle).await.unwrap_err();
    let indices: Vec<usize> = error.failures().iter().map(|f| f.index).collect();
    assert_eq!(indices, [0, 1, 2]);
    for failure in error.failures() {
        assert!(matches!(failure.error.kind(), ErrorKind::Shutdown));
        assert_eq!(failure.error.adapter(), "probe");
    }
}

/// Runs share one task per dispatcher: thousands of them at once each still answer
/// with their own targets' results.
#[actix_rt::test]
async fn two_thousand_runs_at_once_each_answer_for_their_own_targets() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let runs = (0..2_000).map(|i| {
        let fails = i % 3 == 0;
        let targets = [
            Target::custom("probe", json!({})),
            Target::custom("probe", json!({ "fail": fails })),
        ];
        let sent = dispatcher.send(Dispatch::new(signal(), targets));
        async move { (fails, sent.await.expect("dispatcher running")) }
    });
    let results = within("every run", futures_util::future::join_all(runs)).await;
    for (fails, result) in results {
        match result {
            Ok(report) => {
                assert!(!fails);
                assert_eq!(report.outcomes().len(), 2);
            }
            Err(error) => {
                assert!(fails, "{error}");
                let failed: Vec<usize> = error.failures().iter().map(|f| f.index).collect();
                assert_eq!(failed, [1]);
                assert_eq!(error.delivered().len(), 1);
            }
        }
    }
    assert_eq!(Probe::get(&probe.deliveries), 4_000);
}

#[actix_rt::test]
async fn stats_stay_bounded_under_a_hundred_thousand_unknown_adapter_names() {
    let dispatcher = Dispatcher::builder().telemetry(false).start();
    for batch in 0..10 {
        let targets: Vec<Target> = (0..10_000)
            .map(|i| Target::custom(format!("unknown-{batch}-{i}"), json!({})))
            .collect();
        let error = dispatch(&dispatcher, targets).await.unwrap_err();
        assert_eq!(error.failures().len(), 10_000);
    }
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.unknown_adapter, 100_000);
    assert_eq!(stats.failed, 100_000);
    assert!(
        stats.per_adapter.len() <= 10,
        "{:?}",
        stats.per_adapter.keys()
    );
}

/// Options whose description panics.
struct Treacherous;

impl fmt::Debug for Treacherous {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("debug panicked")
    }
}

impl TargetOptions for Treacherous {
    fn describe(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("describe panicked")
    }
}

struct Failing;

impl Adapter for Failing {
    type Options = Treacherous;

    async fn deliver(&self, _: Delivery<'_, Treacherous>) -> Result<Outcome, ErrorKind> {
        Err(ErrorKind::custom("always fails"))
    }
}

#[actix_rt::test]
async fn a_panicking_describe_does_not_stop_the_dispatcher() {
    let dispatcher = Dispatcher::builder().adapter("failing", || Failing).start();
    for _ in 0..3 {
        let targets = [Target::new("failing", Treacherous), Target::noop()];
        let error = dispatch(&dispatcher, targets).await.unwrap_err();
        assert_eq!(error.failures().len(), 1);
        assert!(error.first().error.target().contains("<describe panicked>"));
    }
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.delivered, stats.failed), (3, 3));
}

#[actix_rt::test]
async fn in_flight_slots_follow_deliveries() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        // The pool adapters on this arbiter, under its paused clock.
        .pool_size(0)
        .adapter("probe", probe.factory())
        .max_in_flight(3)
        .on_overload(Overload::Fail)
        .start();
    let after = |ms: u64| Target::custom("probe", json!({"delay_ms": ms}));
    // Takes all three slots, then gives the fast target's back when it ends.
    let first = dispatcher.dispatch_async(Dispatch::new(
        signal(),
        [after(10), after(10_000), after(10_000)],
    ));
    until_count("fast target done", &probe.deliveries, 1).await;
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.in_flight, 2);

    // The freed slot admits another dispatch instead of an overload.
    let second = within(
        "second",
        dispatcher.send(Dispatch::new(signal(), [after(10)])),
    )
    .await
    .unwrap();
    assert!(second.is_ok(), "{second:?}");
    within("first", first).await.unwrap();
    assert_eq!(Probe::get(&probe.deliveries), 4);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.in_flight, 0);
}

#[actix_rt::test]
async fn a_delivery_that_never_ends_times_out_and_frees_its_slot() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        // The pool adapters on this arbiter, under its paused clock.
        .pool_size(0)
        .adapter("probe", probe.factory())
        .delivery_timeout(Duration::from_secs(2))
        .max_in_flight(2)
        .start();
    let hang = || Target::custom("probe", json!({"delay_ms": 3_600_000}));
    let started = tokio::time::Instant::now();
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), [hang(), hang()])),
    )
    .await
    .unwrap()
    .unwrap_err();
    // Within tokio's timer resolution (1 ms).
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(2) && waited <= Duration::from_millis(2002));
    for failure in error.failures() {
        assert!(
            matches!(failure.error.kind(), ErrorKind::Timeout(t) if *t == Duration::from_secs(2))
        );
    }
    // Both slots came back: the dispatcher keeps serving.
    within(
        "next dispatch",
        dispatcher.send(Dispatch::new(signal(), [Target::noop(), Target::noop()])),
    )
    .await
    .unwrap()
    .unwrap();
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.in_flight, 0);
}

/// Targets delivered at once and targets that must wait, mixed in one dispatch: the
/// ones at once are made in the handler, the rest in the run, and every index and
/// counter is accounted once.
#[actix_rt::test]
async fn at_once_and_waiting_deliveries_mix_in_one_dispatch() {
    let (inbox, received) = support::Inbox::start(support::Answer::Accept);
    let dispatcher = Dispatcher::builder().start();
    let targets: Vec<Target> = vec![
        Target::noop(),
        Target::pid(inbox.clone().recipient()).into(),
        Target::pid(inbox.clone().recipient()).sync().into(),
        Target::noop(),
        Target::custom("nope", json!({})),
        Target::pid(inbox.clone().recipient()).into(),
    ];
    let error = dispatch(&dispatcher, targets).await.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 4);
    let delivered: Vec<usize> = error.delivered().iter().map(|(index, _)| *index).collect();
    assert_eq!(delivered, [0, 1, 2, 3, 5]);
    until_count("inbox received", &received, 3).await;
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.dispatched, stats.delivered, stats.failed), (1, 5, 1));
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.unknown_adapter, 1);
}

/// A local adapter whose deliveries each wait for a permit of one gate.
struct Gated {
    gate: std::sync::Arc<tokio::sync::Semaphore>,
    waiting: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    through: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

#[derive(Debug)]
struct GateOptions;

impl TargetOptions for GateOptions {}

impl Adapter for Gated {
    type Options = GateOptions;
    const PLACEMENT: herald_core::Placement = herald_core::Placement::Local;

    async fn deliver(&self, _: Delivery<'_, GateOptions>) -> Result<Outcome, ErrorKind> {
        use std::sync::atomic::Ordering::SeqCst;
        self.waiting.fetch_add(1, SeqCst);
        self.gate
            .acquire()
            .await
            .expect("the gate stays open")
            .forget();
        self.through.fetch_add(1, SeqCst);
        Ok(Outcome::Delivered)
    }
}

#[actix_rt::test]
async fn deliveries_woken_together_are_all_settled_while_more_are_launched() {
    tokio::time::pause();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    let waiting = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let through = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let adapter = {
        let (gate, waiting, through) = (gate.clone(), waiting.clone(), through.clone());
        move || Gated {
            gate: gate.clone(),
            waiting: waiting.clone(),
            through: through.clone(),
        }
    };
    let dispatcher = Dispatcher::builder()
        // No bound that could end a lost delivery before the test's own.
        .delivery_timeout(Duration::from_secs(3600))
        .adapter("gated", adapter)
        .start();
    let targets: Vec<Target> = (0..3).map(|_| Target::new("gated", GateOptions)).collect();
    let running = dispatcher.dispatch_async(Dispatch::new(signal(), targets).max_concurrency(2));
    until_count("two deliveries at the gate", &waiting, 2).await;

    // Both wake at once; settling the first launches the third, and the second must
    // still be settled.
    gate.add_permits(2);
    until_count("both through the gate", &through, 2).await;
    until_count("the third at the gate", &waiting, 3).await;
    gate.add_permits(1);
    let report = within("the dispatch", running).await.unwrap();
    assert_eq!(report.outcomes(), vec![Outcome::Delivered; 3]);
}
