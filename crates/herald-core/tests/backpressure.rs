//! The global in-flight bound: dispatches wait for room, or fail fast when told to.

mod support;

use std::time::Duration;

use herald_core::{Dispatch, DispatchExt, Dispatcher, ErrorKind, Overload, Stats, Target};
use serde_json::json;
use support::{Probe, signal, within};

#[actix_rt::test]
async fn over_the_bound_a_fail_fast_dispatcher_reports_overloaded() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_in_flight(2)
        .on_overload(Overload::Fail)
        .adapter("probe", probe.factory())
        .start();
    let slow = || Target::custom("probe", json!({"delay_ms": 100}));
    let first = dispatcher.send(Dispatch::new(signal(), [slow(), slow()]));
    let second = dispatcher.send(Dispatch::new(signal(), [slow(), Target::noop()]));
    let (first, second) = within("both", futures_util::future::join(first, second)).await;
    first.unwrap().unwrap();
    let error = second.unwrap().unwrap_err();
    assert_eq!(error.failures().len(), 2);
    assert!(
        error
            .failures()
            .iter()
            .all(|f| matches!(f.error.kind(), ErrorKind::Overloaded))
    );
    assert!(error.first().error.retryable());

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.dispatched, stats.delivered, stats.failed), (2, 2, 2));
}

#[actix_rt::test]
async fn over_the_bound_a_waiting_dispatcher_runs_dispatches_in_turn() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_in_flight(2)
        .adapter("probe", probe.factory())
        .start();
    let slow = || Target::custom("probe", json!({"delay_ms": 100}));
    let start = tokio::time::Instant::now();
    let runs: Vec<_> = (0..3)
        .map(|_| dispatcher.send(Dispatch::new(signal(), [slow(), slow()])))
        .collect();
    for result in within("all", futures_util::future::join_all(runs)).await {
        result.unwrap().unwrap();
    }
    assert_eq!(
        Probe::get(&probe.peak),
        2,
        "never more than the bound in flight"
    );
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed <= Duration::from_millis(303),
        "{elapsed:?}"
    );
}

#[actix_rt::test]
async fn detached_dispatch_runs_and_its_result_can_be_awaited_or_ignored() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    // Ignored: still runs (counted below).
    drop(dispatcher.dispatch_async(Dispatch::new(
        signal(),
        [Target::custom("probe", json!({}))],
    )));
    // Awaited: its failures come back.
    let handle = dispatcher.dispatch_async(Dispatch::new(
        signal(),
        [
            Target::custom("probe", json!({"fail": true})),
            Target::noop(),
        ],
    ));
    let error = within("detached", handle).await.unwrap_err();
    assert_eq!(error.first().index, 0);

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.dispatched, 2);
    // The ignored dispatch ran before the awaited one finished (one mailbox, in order,
    // and the probe is one actor per arbiter); wait for both deliveries to be counted.
    let delivered = within("probe deliveries", async {
        while Probe::get(&probe.deliveries) < 2 {
            tokio::task::yield_now().await;
        }
        Probe::get(&probe.deliveries)
    })
    .await;
    assert_eq!(delivered, 2);
}

#[actix_rt::test]
async fn detached_dispatch_never_waits_a_full_mailbox_is_overloaded() {
    let dispatcher = Dispatcher::builder().mailbox_capacity(1).start();
    // Let the dispatcher start (and apply its mailbox capacity).
    within("stats", dispatcher.send(Stats)).await.unwrap();
    // Nothing runs between these calls: the first fills the mailbox, the second finds
    // it full and answers at once.
    let first = dispatcher.dispatch_async(Dispatch::new(signal(), [Target::noop()]));
    let second =
        dispatcher.dispatch_async(Dispatch::new(signal(), [Target::noop(), Target::noop()]));
    let error = within("second", second).await.unwrap_err();
    assert_eq!(error.failures().len(), 2);
    assert!(
        error
            .failures()
            .iter()
            .all(|f| matches!(f.error.kind(), ErrorKind::Overloaded))
    );
    within("first", first).await.unwrap();
}
