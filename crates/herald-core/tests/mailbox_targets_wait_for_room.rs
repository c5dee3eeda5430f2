//! `pid`, `named` and `pubsub` deliveries wait for room in a full mailbox (the default
//! mode), or fail at once (`best_effort`), whatever way the targets were cloned.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Dispatch, Dispatcher, ErrorKind, Outcome, PubSub, Registry, Stats, Target, TargetOptions,
};
use support::{Busy, signal, until_count, within};

const MS: Duration = Duration::from_millis(1);

fn dispatcher() -> Addr<Dispatcher> {
    Dispatcher::builder().max_concurrency(64).start()
}

/// Delivered and failed counts of one dispatch, checked to add up to its targets.
fn tally(result: herald_core::DispatchResult, targets: usize) -> (usize, Vec<ErrorKind>) {
    match result {
        Ok(report) => {
            assert_eq!(report.len(), targets);
            (targets, Vec::new())
        }
        Err(error) => {
            assert_eq!(error.total(), targets, "every target is accounted for");
            let kinds = error
                .into_failures()
                .into_iter()
                .map(|failure| failure.error.into_kind())
                .collect::<Vec<_>>();
            (targets - kinds.len(), kinds)
        }
    }
}

#[actix_rt::test]
async fn a_thousand_clones_of_one_pid_target_all_arrive() {
    tokio::time::pause();
    let (busy, received) = Busy::start(MS);
    let target: Target = Target::pid(busy.recipient()).into();
    let targets = vec![target; 1000];
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap();
    assert_eq!(tally(result, 1000).0, 1000);
    until_count("all handled", &received, 1000).await;
}

#[actix_rt::test]
async fn five_thousand_single_target_dispatches_to_a_busy_actor_all_arrive() {
    tokio::time::pause();
    let (busy, received) = Busy::start(MS);
    let target: Target = Target::pid(busy.recipient()).into();
    let dispatcher = dispatcher();
    let sends: Vec<_> = (0..5000)
        .map(|_| dispatcher.send(Dispatch::new(signal(), [target.clone()])))
        .collect();
    for send in sends {
        let result = within("dispatch", send).await.unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
    until_count("all handled", &received, 5000).await;
}

#[actix_rt::test]
async fn best_effort_reports_the_full_mailbox_and_accounts_for_every_target() {
    let (busy, received) = Busy::start(Duration::from_secs(3600));
    let target: Target = Target::pid(busy.recipient()).best_effort().into();
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), vec![target; 100])),
    )
    .await
    .unwrap();
    let (delivered, failed) = tally(result, 100);
    assert!((16..100).contains(&delivered), "{delivered} delivered");
    assert!(
        failed
            .iter()
            .all(|kind| matches!(kind, ErrorKind::MailboxFull))
    );
    // The first message is being handled, the others wait in the mailbox.
    assert!(received.load(Ordering::SeqCst) <= 1);
}

#[actix_rt::test]
async fn a_blocked_actor_fails_with_mailbox_full_after_the_timeout() {
    tokio::time::pause();
    let (busy, _) = Busy::start(Duration::from_secs(3600));
    let timeout = Duration::from_millis(250);
    let target: Target = Target::pid(busy.recipient()).timeout(timeout).into();
    let started = tokio::time::Instant::now();
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), vec![target; 40])),
    )
    .await
    .unwrap();
    let (delivered, failed) = tally(result, 40);
    assert!((16..40).contains(&delivered), "{delivered} delivered");
    assert!(
        failed
            .iter()
            .all(|kind| matches!(kind, ErrorKind::MailboxFull))
    );
    let waited = started.elapsed();
    assert!(
        waited >= timeout && waited < timeout + Duration::from_millis(20),
        "gave up after {waited:?}"
    );
}

#[actix_rt::test]
async fn an_actor_that_stops_while_deliveries_wait_for_room_fails_them_as_not_alive() {
    // Blocked for an hour on an arbiter of its own, which the test then stops.
    let arbiter = Arbiter::new();
    let received = Arc::new(AtomicUsize::new(0));
    let busy = {
        let received = Arc::clone(&received);
        Busy::start_in_arbiter(&arbiter.handle(), move |_| Busy {
            received,
            per_message: Duration::from_secs(3600),
        })
    };
    let hour = Duration::from_secs(3600);
    let target: Target = Target::pid(busy.recipient()).timeout(hour).into();
    let dispatcher = dispatcher();
    let dispatch = dispatcher.send(Dispatch::new(signal(), vec![target; 40]));
    let dispatch = actix_rt::spawn(dispatch);
    until_count("the actor took one", &received, 1).await;
    // Some deliveries are waiting for room (the mailbox holds 16) when the actor stops.
    within("deliveries waiting", async {
        while dispatcher.send(Stats).await.unwrap().in_flight == 0 {
            actix_rt::task::yield_now().await;
        }
    })
    .await;
    arbiter.stop();
    let result = within("dispatch", dispatch).await.unwrap().unwrap();
    let (delivered, failed) = tally(result, 40);
    assert!((1..40).contains(&delivered), "{delivered} delivered");
    assert!(
        failed
            .iter()
            .all(|kind| matches!(kind, ErrorKind::NotAlive)),
        "{failed:?}"
    );
}

#[actix_rt::test]
async fn named_targets_wait_for_room_like_pid_targets() {
    tokio::time::pause();
    let registry = Registry::new();
    let (busy, received) = Busy::start(MS);
    registry.register("busy", busy.recipient()).unwrap();
    let dispatcher = Dispatcher::builder()
        .max_concurrency(64)
        .registry(registry.clone())
        .start();
    let target: Target = Target::named("busy").unwrap().into();
    let result = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), vec![target; 1000])),
    )
    .await
    .unwrap();
    assert_eq!(tally(result, 1000).0, 1000);
    until_count("all handled", &received, 1000).await;
}

#[actix_rt::test]
async fn named_targets_see_a_full_mailbox() {
    tokio::time::pause();
    let registry = Registry::new();
    let (busy, _) = Busy::start(Duration::from_secs(3600));
    registry.register("blocked", busy.recipient()).unwrap();
    let dispatcher = Dispatcher::builder()
        .max_concurrency(64)
        .registry(registry)
        .start();

    let best_effort: Target = Target::named("blocked").unwrap().best_effort().into();
    let result = within(
        "best effort",
        dispatcher.send(Dispatch::new(signal(), vec![best_effort; 40])),
    )
    .await
    .unwrap();
    let (delivered, failed) = tally(result, 40);
    assert!((16..40).contains(&delivered), "{delivered} delivered");
    assert!(
        failed
            .iter()
            .all(|kind| matches!(kind, ErrorKind::MailboxFull))
    );

    let waiting: Target = Target::named("blocked")
        .unwrap()
        .timeout(Duration::from_millis(100))
        .into();
    let result = within(
        "waiting",
        dispatcher.send(Dispatch::new(signal(), vec![waiting; 5])),
    )
    .await
    .unwrap();
    // The actor took its first message out, which made room for one more at most.
    let (_, failed) = tally(result, 5);
    assert!(failed.len() >= 4, "{failed:?}");
    assert!(
        failed
            .iter()
            .all(|kind| matches!(kind, ErrorKind::MailboxFull))
    );
}

#[actix_rt::test]
async fn pubsub_waits_for_a_full_subscriber_or_counts_it_full() {
    tokio::time::pause();
    let pubsub = PubSub::new();
    let (slow, received) = Busy::start(MS);
    let (blocked, _) = Busy::start(Duration::from_secs(3600));
    pubsub.subscribe("orders", slow.recipient()).unwrap();
    pubsub.subscribe("orders", blocked.recipient()).unwrap();
    let dispatcher = Dispatcher::builder().pubsub(pubsub).start();

    let target = Target::pubsub("orders")
        .unwrap()
        .timeout(Duration::from_millis(200));
    let mut full_seen = 0;
    for _ in 0..40 {
        let report = within(
            "broadcast",
            dispatcher.send(Dispatch::new(signal(), [target.clone()])),
        )
        .await
        .unwrap()
        .unwrap();
        let Outcome::Broadcast {
            delivered,
            full,
            gone,
        } = report.outcomes()[0]
        else {
            panic!("{report:?}")
        };
        assert_eq!(delivered + full, 2);
        assert_eq!(gone, 0);
        full_seen += full;
    }
    // The slow subscriber got every signal; the blocked one filled up and was counted.
    until_count("slow subscriber got all", &received, 40).await;
    assert!(full_seen > 0 && full_seen < 40, "{full_seen} full");

    let best_effort = Target::pubsub("orders").unwrap().best_effort();
    let report = within(
        "best effort",
        dispatcher.send(Dispatch::new(signal(), [best_effort])),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(matches!(
        report.outcomes()[0],
        Outcome::Broadcast { full: 1, .. }
    ));
}

#[test]
fn modes_read_from_data() {
    for (mode, expected) in [
        ("async", herald_core::Mode::Async),
        ("best_effort", herald_core::Mode::BestEffort),
        ("sync", herald_core::Mode::Sync),
    ] {
        let target =
            Target::from_config(serde_json::json!({"adapter": "named", "name": "a", "mode": mode}))
                .unwrap();
        let options = target.options_as::<herald_core::NamedTarget>().unwrap();
        assert_eq!(options.delivery_mode(), expected);
        let _ = options.describe_to_string();
    }
    let error =
        Target::from_config(serde_json::json!({"adapter": "pubsub", "topic": "t", "mode": "sync"}))
            .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `mode` must be one of async, best_effort"
    );
}

trait DescribeToString {
    fn describe_to_string(&self) -> String;
}

impl<T: TargetOptions> DescribeToString for T {
    fn describe_to_string(&self) -> String {
        struct D<'a, T>(&'a T);
        impl<T: TargetOptions> std::fmt::Display for D<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.describe(f)
            }
        }
        D(self).to_string()
    }
}
