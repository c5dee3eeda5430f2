//! The dispatcher's mailbox bound holds from the first message, for detached
//! dispatches and for bus publishes, and every refusal is visible.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Bus, BusError, Dispatch, DispatchExt, Dispatcher, ErrorKind, Overload, Publish, Stats,
    Subscribe, Target,
};
use serde_json::json;
use support::{Log, Probe, signal, within};

#[actix_rt::test]
async fn ten_thousand_detached_dispatches_right_after_start_are_bounded() {
    let capacity = 64;
    let dispatcher = Dispatcher::builder().mailbox_capacity(capacity).start();
    // No yield between start and the burst: the bound holds before the actor runs.
    let handles: Vec<_> = (0..10_000)
        .map(|_| dispatcher.dispatch_async(Dispatch::new(signal(), [Target::noop()])))
        .collect();
    let (mut accepted, mut refused) = (0, 0);
    for handle in handles {
        match within("handle", handle).await {
            Ok(_) => accepted += 1,
            Err(error) => {
                assert_eq!(error.total(), 1);
                assert!(matches!(error.first().error.kind(), ErrorKind::Overloaded));
                refused += 1;
            }
        }
    }
    assert_eq!(accepted + refused, 10_000);
    assert_eq!(accepted, capacity, "the whole queue, and not one more");
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.dispatched, accepted as u64);
    assert_eq!(stats.refused, refused as u64);
}

#[actix_rt::test]
async fn detached_dispatches_from_ten_thousand_address_clones_are_bounded_too() {
    let capacity = 32;
    let dispatcher = Dispatcher::builder().mailbox_capacity(capacity).start();
    // Each clone is a fresh actix sender, with room of its own past actix's bound.
    let handles: Vec<_> = (0..10_000)
        .map(|_| {
            let clone = dispatcher.clone();
            clone.dispatch_async(Dispatch::new(signal(), [Target::noop()]))
        })
        .collect();
    let mut accepted = 0;
    for handle in handles {
        if within("handle", handle).await.is_ok() {
            accepted += 1;
        }
    }
    assert_eq!(accepted, capacity);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.refused, 10_000 - capacity as u64);
}

#[actix_rt::test]
async fn a_bus_publishes_right_after_start() {
    let bus = Bus::new().start();
    within(
        "subscribe",
        bus.send(Subscribe::new("user.*", [Target::noop()]).unwrap()),
    )
    .await
    .unwrap();
    let dispatcher = Dispatcher::builder().bus("main", bus.clone()).start();
    let matched = within("publish", bus.send(Publish::new(signal_of("user.created"))))
        .await
        .unwrap();
    assert_eq!(matched, Ok(1));
    drop(dispatcher);
}

#[actix_rt::test]
async fn bus_publishes_while_the_dispatcher_waits_for_room_are_bounded_and_counted() {
    tokio::time::pause();
    let probe = Probe::default();
    let bus = Bus::new().start();
    let capacity = 8;
    let dispatcher = Dispatcher::builder()
        // The pool adapters on this arbiter, under its paused clock.
        .pool_size(0)
        .adapter("probe", probe.factory())
        .max_in_flight(1)
        .on_overload(Overload::Wait)
        .mailbox_capacity(capacity)
        .bus("main", bus.clone())
        .start();
    let slow = || Target::custom("probe", json!({"delay_ms": 1000}));
    within(
        "subscribe",
        bus.send(Subscribe::new("load.**", [slow()]).unwrap()),
    )
    .await
    .unwrap();
    // One dispatch takes the only slot; the next makes the dispatcher wait for room.
    let _first = dispatcher.dispatch_async(Dispatch::new(signal(), [slow()]));
    let _second = dispatcher.dispatch_async(Dispatch::new(signal(), [slow()]));

    let (mut routed, mut refused) = (0, 0);
    for _ in 0..1000 {
        match within("publish", bus.send(Publish::new(signal_of("load.test")))).await {
            Ok(Ok(1)) => routed += 1,
            Ok(Err(BusError::Overloaded)) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(routed + refused, 1000);
    assert!(
        routed <= capacity,
        "{routed} publishes queued past the bound"
    );
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.refused, refused as u64);
}

#[actix_rt::test]
async fn a_bus_given_to_two_dispatchers_delivers_through_the_first_alive() {
    let first_probe = Probe::default();
    let second_probe = Probe::default();
    let bus = Bus::new().start();
    within(
        "subscribe",
        bus.send(Subscribe::new("**", [Target::custom("probe", json!({}))]).unwrap()),
    )
    .await
    .unwrap();
    let first = Dispatcher::builder()
        .adapter("probe", first_probe.factory())
        .bus("main", bus.clone())
        .start();
    let second = Dispatcher::builder()
        .adapter("probe", second_probe.factory())
        .bus("main", bus.clone())
        .start();

    let via_second = Dispatch::new(signal(), [Target::bus("main").unwrap()]);
    within("publish", second.send(via_second))
        .await
        .unwrap()
        .unwrap();
    support::until_count("first delivers", &first_probe.deliveries, 1).await;
    assert_eq!(second_probe.deliveries.load(Ordering::SeqCst), 0);

    within(
        "stop first",
        first.send(herald_core::Shutdown::new(Duration::ZERO)),
    )
    .await
    .unwrap();
    let via_second = Dispatch::new(signal(), [Target::bus("main").unwrap()]);
    within("publish", second.send(via_second))
        .await
        .unwrap()
        .unwrap();
    support::until_count("second takes over", &second_probe.deliveries, 1).await;
}

fn signal_of(ty: &str) -> herald_signal::Signal {
    herald_signal::Signal::new(ty, json!({})).unwrap()
}

#[actix_rt::test]
async fn a_refused_detached_dispatch_leaves_a_warning() {
    let written = Log::default();
    let subscriber = written.subscriber();
    let dispatcher = Dispatcher::builder().mailbox_capacity(1).start();
    let (first, second) = tracing::subscriber::with_default(subscriber, || {
        let dispatch = || Dispatch::new(signal(), [Target::noop()]);
        (
            dispatcher.dispatch_async(dispatch()),
            dispatcher.dispatch_async(dispatch()),
        )
    });
    within("first", first).await.unwrap();
    within("second", second).await.unwrap_err();
    let text = String::from_utf8(written.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("WARN"), "{text}");
    assert!(text.contains("dispatcher is overloaded"), "{text}");
}
