//! Ordering keys in process: one key's deliveries to one endpoint one at a time, in
//! admission order, whichever path they take (at once, awaited, on the pool); other
//! keys and targets that ignore keys stay parallel. (Against a real HTTP receiver:
//! `tests/http/ordered_by_key.rs`.)

mod support;

use std::time::Duration;

use futures_util::future::join_all;
use herald_core::resilience::Resilience;
use herald_core::{Dispatch, DispatchExt, Dispatcher, Stats, Target};
use herald_signal::Signal;
use serde_json::json;
use support::{Answer, Inbox, Probe, within};

/// A dispatcher with the probe adapter, and a target it takes 200 ms over.
fn slow(probe: &Probe) -> (actix::Addr<Dispatcher>, Target) {
    let dispatcher = Dispatcher::builder()
        .adapter("probe", probe.factory())
        .start();
    let target = Target::custom("probe", json!({"delay_ms": 200}));
    (dispatcher, target)
}

async fn all(dispatcher: &actix::Addr<Dispatcher>, dispatches: Vec<Dispatch>) {
    let sent: Vec<_> = dispatches
        .into_iter()
        .map(|d| dispatcher.dispatch(d))
        .collect();
    for result in within("the dispatches", join_all(sent)).await {
        result.expect("delivered");
    }
}

#[actix_rt::test]
async fn one_key_is_one_at_a_time_and_two_keys_run_side_by_side() {
    let probe = Probe::default();
    let (dispatcher, target) = slow(&probe);
    let keyed = |key: &str| Dispatch::new(support::signal(), [target.clone()]).ordering_key(key);
    all(&dispatcher, (0..4).map(|_| keyed("a")).collect()).await;
    assert_eq!(Probe::get(&probe.deliveries), 4);
    assert_eq!(Probe::get(&probe.peak), 1, "one key, one at a time");

    all(&dispatcher, vec![keyed("a"), keyed("b")]).await;
    assert_eq!(Probe::get(&probe.peak), 2, "two keys in parallel");
}

#[actix_rt::test]
async fn a_signals_partitionkey_is_its_key_and_a_target_may_ignore_it() {
    let probe = Probe::default();
    let (dispatcher, target) = slow(&probe);
    let signal = || {
        Signal::builder("t")
            .extension(herald_signal::PARTITIONKEY, "tenant-1")
            .build()
            .unwrap()
    };
    all(
        &dispatcher,
        (0..3)
            .map(|_| Dispatch::new(signal(), [target.clone()]))
            .collect(),
    )
    .await;
    assert_eq!(Probe::get(&probe.peak), 1, "the partitionkey orders them");

    let unordered = target.with_resilience(Resilience::new().no_ordering());
    all(
        &dispatcher,
        (0..2)
            .map(|_| Dispatch::new(signal(), [unordered.clone()]))
            .collect(),
    )
    .await;
    assert_eq!(Probe::get(&probe.peak), 2, "`no_ordering` ignores the key");
}

/// A delivery that could be made at once waits while an earlier one with its key holds
/// its endpoint's lane; another key's goes at once.
#[actix_rt::test]
async fn a_delivery_at_once_waits_behind_its_key() {
    tokio::time::pause();
    let (hanging, at_hanging) = Inbox::start(Answer::Hang);
    let (accepting, at_accepting) = Inbox::start(Answer::Accept);
    let dispatcher = Dispatcher::builder()
        .telemetry(false)
        .delivery_timeout(Duration::from_secs(5))
        .start();
    // Two actors named as one endpoint: one lane per key.
    let endpoint = Resilience::new().endpoint("partner");
    let first =
        Target::from(Target::pid(hanging.recipient()).sync()).with_resilience(endpoint.clone());
    let second = Target::from(Target::pid(accepting.recipient())).with_resilience(endpoint.clone());
    let keyed = |target: &Target, key: &str| {
        dispatcher.dispatch(Dispatch::new(support::signal(), [target.clone()]).ordering_key(key))
    };
    let held = actix_rt::spawn(keyed(&first, "k"));
    support::until_count("the hanging delivery", &at_hanging, 1).await;
    let behind = actix_rt::spawn(keyed(&second, "k"));
    // Another key is not held.
    within("another key", keyed(&second, "j")).await.unwrap();
    assert_eq!(Probe::get(&at_accepting), 1);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.lanes, stats.lane_deliveries), (1, 2), "{stats:?}");

    // The first times out; then the second goes.
    tokio::time::advance(Duration::from_secs(6)).await;
    let held = within("the first", held).await.unwrap();
    assert_eq!(held.unwrap_err().first().error.kind().name(), "timeout");
    within("the second", behind).await.unwrap().unwrap();
    assert_eq!(Probe::get(&at_accepting), 2);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.lanes, stats.lane_deliveries), (0, 0));
}

/// A delivery made at once through an empty lane that fails under `block` blocks the
/// lane as one made through a turn does.
#[actix_rt::test]
async fn a_failure_at_once_blocks_its_lane() {
    let (rejecting, at_rejecting) = Inbox::start(Answer::Reject);
    let dispatcher = Dispatcher::builder().telemetry(false).start();
    let target = Target::from(Target::pid(rejecting.recipient()).sync())
        .with_resilience(Resilience::new().ordering(herald_core::resilience::Ordering::block()));
    let keyed = |key: &str| {
        dispatcher.dispatch(Dispatch::new(support::signal(), [target.clone()]).ordering_key(key))
    };
    let kind =
        |result: herald_core::DispatchResult| result.unwrap_err().first().error.kind().name();
    assert_eq!(kind(within("first", keyed("k")).await), "rejected");
    assert_eq!(kind(within("second", keyed("k")).await), "lane_blocked");
    assert_eq!(kind(within("other key", keyed("j")).await), "rejected");
    assert_eq!(
        Probe::get(&at_rejecting),
        2,
        "nothing sent through a blocked lane"
    );
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.lanes_blocked, 2);
    let resume = herald_core::resilience::ResumeLanes::all();
    assert_eq!(within("resume", dispatcher.send(resume)).await.unwrap(), 2);
    assert_eq!(kind(within("resumed", keyed("k")).await), "rejected");
}
