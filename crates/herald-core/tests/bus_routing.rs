//! The bus: routes by type pattern to each subscription's own targets, and never waits
//! for a subscriber's delivery.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;
use herald_core::resilience::{DeadLetterQueue, Resilience, TakeDeadLetters};
use herald_core::{
    Bus, Dispatch, Dispatcher, ErrorKind, Outcome, PatternError, Stats, StatsSnapshot, Subscribe,
    Target, Unsubscribe,
};
use serde_json::json;
use support::{Answer, Inbox, Probe, within};

fn typed(ty: &str) -> herald_signal::Signal {
    herald_signal::Signal::new(ty, json!({})).unwrap()
}

async fn subscribe(
    bus: &Addr<Bus>,
    pattern: &str,
    targets: impl herald_core::IntoTargets,
) -> herald_core::SubscriptionId {
    let subscription = Subscribe::new(pattern, targets).unwrap();
    within("subscribe", bus.send(subscription)).await.unwrap()
}

async fn publish(dispatcher: &Addr<Dispatcher>, ty: &str) -> Outcome {
    let report = within(
        "publish",
        dispatcher.send(Dispatch::new(typed(ty), [Target::bus("main").unwrap()])),
    )
    .await
    .unwrap()
    .unwrap();
    report.outcomes()[0].clone()
}

/// The dispatcher's stats once one delivery has failed (bus subscribers' deliveries
/// run detached, so their failures show there).
async fn once_failed(dispatcher: &Addr<Dispatcher>, what: &str) -> StatsSnapshot {
    within(what, async {
        loop {
            let stats = dispatcher.send(Stats).await.unwrap();
            if stats.failed == 1 {
                return stats;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
}

#[actix_rt::test]
async fn signals_reach_the_subscriptions_whose_pattern_matches() {
    let bus = Bus::new().start();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .bus("main", bus.clone())
        .start();
    let (audit, audit_count) = Inbox::start(Answer::Accept);
    let (updates, updates_count) = Inbox::start(Answer::Accept);
    let (exact, exact_count) = Inbox::start(Answer::Accept);
    let audit_id = subscribe(&bus, "audit.**", [Target::pid(audit.recipient())]).await;
    subscribe(&bus, "user.*.updated", [Target::pid(updates.recipient())]).await;
    subscribe(&bus, "user.created", [Target::pid(exact.recipient())]).await;

    for (ty, subscriptions) in [
        ("audit", 1),
        ("audit.user", 1),
        ("audit.user.login", 1),
        ("user.a.updated", 1),
        ("user.a.b.updated", 0),
        ("user.created", 1),
    ] {
        assert_eq!(
            publish(&dispatcher, ty).await,
            Outcome::Routed { subscriptions },
            "{ty}"
        );
    }

    within("deliveries", async {
        while audit_count.load(Ordering::SeqCst) < 3
            || updates_count.load(Ordering::SeqCst) < 1
            || exact_count.load(Ordering::SeqCst) < 1
        {
            tokio::task::yield_now().await;
        }
    })
    .await;

    assert!(
        within("unsubscribe", bus.send(Unsubscribe(audit_id)))
            .await
            .unwrap()
    );
    assert_eq!(
        publish(&dispatcher, "audit.user").await,
        Outcome::Routed { subscriptions: 0 }
    );
    assert_eq!(audit_count.load(Ordering::SeqCst), 3);
    assert_eq!(updates_count.load(Ordering::SeqCst), 1);
    assert_eq!(exact_count.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn a_slow_subscriber_does_not_delay_the_next_publish() {
    tokio::time::pause();
    let probe = Probe::default();
    let bus = Bus::new().start();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .bus("main", bus.clone())
        .adapter("probe", probe.factory())
        .start();
    let (fast, fast_count) = Inbox::start(Answer::Accept);
    // Every `job.*` signal goes to a subscriber that takes an hour, and to a fast one.
    let slow = Target::custom("probe", json!({"delay_ms": 3_600_000}));
    subscribe(&bus, "job.*", [slow]).await;
    subscribe(&bus, "job.*", [Target::pid(fast.recipient()).sync()]).await;

    let start = tokio::time::Instant::now();
    assert_eq!(
        publish(&dispatcher, "job.first").await,
        Outcome::Routed { subscriptions: 2 }
    );
    assert_eq!(
        publish(&dispatcher, "job.second").await,
        Outcome::Routed { subscriptions: 2 }
    );
    within("fast subscriber got both", async {
        while fast_count.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "waited {:?} on the slow subscriber",
        start.elapsed()
    );
    assert_eq!(
        probe.current.load(Ordering::SeqCst),
        2,
        "both slow deliveries still under way"
    );
}

#[actix_rt::test]
async fn subscriber_failures_reach_the_dispatcher_stats() {
    let probe = Probe::default();
    let bus = Bus::new().start();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .bus("main", bus.clone())
        .adapter("probe", probe.factory())
        .start();
    subscribe(&bus, "**", [Target::custom("probe", json!({"fail": true}))]).await;
    publish(&dispatcher, "anything").await;
    let stats = once_failed(&dispatcher, "failure counted").await;
    assert_eq!(stats.per_adapter["probe"].failed, 1);
    assert_eq!(stats.per_adapter["bus"].delivered, 1);
}

#[actix_rt::test]
async fn a_subscription_that_routes_back_to_its_bus_ends_after_max_hops() {
    let bus = Bus::new().start();
    let letters = DeadLetterQueue::default().start();
    let dead_letter = Target::pid(letters.clone().recipient()).sync();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .bus("main", bus.clone())
        .resilience(Resilience::new().dead_letter(dead_letter))
        .start();
    let (inbox, received) = Inbox::start(Answer::Accept);
    // Each pass through the bus reaches the inbox and publishes to the bus again.
    subscribe(
        &bus,
        "loop",
        (Target::pid(inbox.recipient()), Target::bus("main").unwrap()),
    )
    .await;
    publish(&dispatcher, "loop").await;
    let stats = once_failed(&dispatcher, "the loop refused").await;
    let hops = usize::from(Bus::MAX_HOPS);
    // The first publish and the loop's own, until the one past the limit.
    assert_eq!(stats.per_adapter["bus"].delivered, hops as u64);
    assert_eq!(stats.per_adapter["bus"].failed, 1);
    within("every pass handled", async {
        while received.load(Ordering::SeqCst) < hops {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(received.load(Ordering::SeqCst), hops);
    // The refused publish says why.
    let letters = within("dead letters", async {
        loop {
            let taken = letters.send(TakeDeadLetters).await.unwrap();
            if !taken.is_empty() {
                return taken;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].adapter(), "bus");
    assert!(
        letters[0]
            .message()
            .contains("routed through 8 buses in a row"),
        "{}",
        letters[0].message()
    );
}

#[actix_rt::test]
async fn an_unknown_bus_is_bus_not_found() {
    let dispatcher = Dispatcher::builder().pool_size(0).start();
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(typed("x"), [Target::bus("nowhere").unwrap()])),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(matches!(error.first().error.kind(), ErrorKind::BusNotFound));
    assert_eq!(
        error.first().error.to_string(),
        "bus delivery to bus(nowhere) failed: bus not found"
    );
}

#[test]
fn invalid_patterns_are_rejected_when_subscribing() {
    for bad in ["", "a..b", "a.**.**", "a*"] {
        assert!(
            Subscribe::new(bad, Vec::<Target>::new()).is_err(),
            "{bad:?}"
        );
    }
    assert!(matches!(
        Subscribe::new("a.**.**", Vec::<Target>::new()).unwrap_err(),
        PatternError::RepeatedMany { .. }
    ));
    assert!(Target::bus("").is_err());
}

/// A subscription's filters (the CloudEvents Subscriptions API's dialects) must all
/// match, beside its pattern.
#[actix_rt::test]
async fn filters_narrow_a_subscription_to_what_they_match() {
    use herald_signal::Filter;
    let bus = Bus::new().start();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .bus("main", bus.clone())
        .start();
    let (acme, acme_count) = Inbox::start(Answer::Accept);
    let tenant = Filter::from_json(&json!({"exact": {"tenant": "acme"}})).unwrap();
    let not_test = Filter::from_json(&json!({"not": {"suffix": {"source": "/test"}}})).unwrap();
    let subscription = Subscribe::new("order.**", [Target::pid(acme.recipient())])
        .unwrap()
        .filter(tenant)
        .filter(not_test);
    within("subscribe", bus.send(subscription)).await.unwrap();
    let order = |tenant: &str, source: &str| {
        herald_signal::Signal::builder("order.placed")
            .source(source)
            .extension("tenant", tenant)
            .build()
            .unwrap()
    };
    for (signal, subscriptions) in [
        (order("acme", "/shop"), 1),
        (order("other", "/shop"), 0),
        (order("acme", "/shop/test"), 0),
    ] {
        let sent = dispatcher.send(Dispatch::new(signal, [Target::bus("main").unwrap()]));
        let report = within("publish", sent).await.unwrap().unwrap();
        assert_eq!(report.outcomes()[0], Outcome::Routed { subscriptions });
    }
    support::until_count("the matching one", &acme_count, 1).await;
}
