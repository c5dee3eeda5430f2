//! Parallel delivery under the concurrency limit, measured on tokio's paused clock.

mod support;

use std::time::Duration;

use herald_core::{Dispatch, Dispatcher, Target};
use serde_json::json;
use support::{Probe, signal, within};
use tokio::time::Instant;

fn slow_targets(count: usize, delay_ms: u64) -> Vec<Target> {
    (0..count)
        .map(|_| Target::custom("probe", json!({"delay_ms": delay_ms})))
        .collect()
}

async fn virtual_time(concurrency: usize) -> Duration {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .max_concurrency(concurrency)
        .adapter("probe", probe.factory())
        .start();
    let start = Instant::now();
    within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), slow_targets(10, 100))),
    )
    .await
    .unwrap()
    .unwrap();
    start.elapsed()
}

/// Tokio's timer has a resolution of 1 ms: a sleep ends on the first tick at or after
/// its deadline, so each round of sleeps may end up to 1 ms late, even on the paused
/// clock. `rounds` rounds of `round_ms` take this long, exactly as on a real clock.
fn assert_rounds(elapsed: Duration, rounds: u64, round_ms: u64) {
    let least = Duration::from_millis(rounds * round_ms);
    let most = Duration::from_millis(rounds * (round_ms + 1));
    assert!(
        least <= elapsed && elapsed <= most,
        "{elapsed:?} is not {rounds} rounds of {round_ms} ms"
    );
}

#[actix_rt::test]
async fn ten_slow_targets_at_concurrency_8_take_two_rounds() {
    assert_rounds(virtual_time(8).await, 2, 100);
}

#[actix_rt::test]
async fn ten_slow_targets_at_concurrency_10_take_one_round() {
    assert_rounds(virtual_time(10).await, 1, 100);
}

#[actix_rt::test]
async fn per_call_limit_caps_deliveries_in_flight() {
    tokio::time::pause();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .adapter("probe", probe.factory())
        .start();
    let dispatch = Dispatch::new(signal(), slow_targets(100, 10)).max_concurrency(2);
    let start = Instant::now();
    within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(support::Probe::get(&probe.deliveries), 100);
    assert_eq!(
        support::Probe::get(&probe.peak),
        2,
        "never more than 2 in flight"
    );
    assert_rounds(start.elapsed(), 50, 10);
}

#[actix_rt::test]
async fn limit_holds_across_a_pool_of_arbiters() {
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(2)
        .adapter("probe", probe.factory())
        .start();
    let dispatch = Dispatch::new(signal(), slow_targets(40, 2)).max_concurrency(3);
    within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(support::Probe::get(&probe.deliveries), 40);
    assert!(support::Probe::get(&probe.peak) <= 3);
    assert_eq!(
        support::Probe::get(&probe.made),
        2,
        "one adapter per arbiter"
    );
}
