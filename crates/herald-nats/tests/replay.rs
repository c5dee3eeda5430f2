//! Replay from a durable stream, against a real nats-server: a window by sequence or
//! time, a type pattern, duplicates counted by the target's dedupe, and a replay that
//! resumes where one stopped without delivering anything twice.

mod support;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use herald_core::resilience::{Dedupe, Resilience};
use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Durable, NatsDispatcherExt, ReplayReport};
use herald_signal::Signal;
use support::{Answer, NatsServer, start_collector, within};

fn numbered(n: u64) -> Signal {
    let ty = if n.is_multiple_of(2) {
        "order.placed"
    } else {
        "user.created"
    };
    Signal::builder(ty)
        .source("/shop")
        .data(serde_json::json!({ "n": n }))
        .build()
        .unwrap()
}

fn n_of(signal: &Signal) -> u64 {
    signal
        .data()
        .and_then(|data| data.as_json())
        .and_then(|data| data["n"].as_u64())
        .unwrap()
}

/// Stores signals `range` in the stream, each acknowledged.
async fn store(publisher: &actix::Addr<Dispatcher>, range: std::ops::Range<u64>) {
    let target = Target::from(Durable::target("kept.all").unwrap());
    let sends = futures_util::stream::iter(range)
        .map(|n| publisher.send(Dispatch::new(numbered(n), [target.clone()])))
        .buffered(32);
    for result in within("store", sends.collect::<Vec<_>>()).await {
        result.unwrap().unwrap();
    }
}

#[actix_rt::test]
async fn a_replay_delivers_a_window_in_order_filtered_by_type() {
    let server = NatsServer::start();
    let client = server.client().await;
    let durable = within("open", Durable::open(&client, "KEPT", &["kept.>"]))
        .await
        .unwrap();
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    store(&publisher, 0..50).await;
    let local = Dispatcher::builder().start();
    let (collector, seen) = start_collector(Answer::Accept);
    let target = Target::pid(collector.recipient()).sync();

    let report = within(
        "replay all orders",
        durable
            .replay(local.clone(), [target.clone()])
            .types("order.*")
            .unwrap()
            .max_in_flight(8)
            .run(),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.read, report.delivered, report.skipped),
        (50, 25, 25)
    );
    assert_eq!(
        (report.failed, report.duplicates, report.malformed),
        (0, 0, 0)
    );
    assert_eq!((report.next_sequence, report.stopped.clone()), (51, None));
    let order: Vec<u64> = seen.lock().unwrap().iter().map(n_of).collect();
    assert_eq!(order, (0..50).step_by(2).collect::<Vec<_>>());

    // A window by sequence.
    seen.lock().unwrap().clear();
    let report = within(
        "replay 10..=20",
        durable
            .replay(local.clone(), [target.clone()])
            .from_sequence(10)
            .until_sequence(20)
            .run(),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.read, report.delivered, report.next_sequence),
        (11, 11, 21)
    );
    let order: Vec<u64> = seen.lock().unwrap().iter().map(n_of).collect();
    assert_eq!(order, (9..20).collect::<Vec<_>>());

    // A window by time: only what was stored after `mid`.
    let mid = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store(&publisher, 50..60).await;
    seen.lock().unwrap().clear();
    let report = within(
        "replay since",
        durable
            .replay(local.clone(), [target.clone()])
            .since(mid)
            .run(),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.read, report.delivered, report.next_sequence),
        (10, 10, 61)
    );

    // An empty window ends at once.
    let report = within(
        "replay past the end",
        durable.replay(local, [target]).from_sequence(1_000).run(),
    )
    .await
    .unwrap();
    assert_eq!((report.read, report.next_sequence), (0, 1_000));
}

#[actix_rt::test]
async fn a_replay_counts_what_the_targets_dedupe_drops_and_resumes_where_it_stopped() {
    let server = NatsServer::start();
    let client = server.client().await;
    let durable = within("open", Durable::open(&client, "KEPT", &["kept.>"]))
        .await
        .unwrap();
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    store(&publisher, 0..40).await;
    let local = Dispatcher::builder().start();
    let (collector, seen) = start_collector(Answer::Accept);
    let target = Target::from(Target::pid(collector.recipient()).sync())
        .with_resilience(Resilience::new().dedupe(Dedupe::new(Duration::from_secs(600))));

    // Stopped after sequence 15, with progress every 5 signals.
    let progress = Rc::new(RefCell::new(Vec::new()));
    let seen_progress = Rc::clone(&progress);
    let first = within(
        "first part",
        durable
            .replay(local.clone(), [target.clone()])
            .until_sequence(15)
            .on_progress(5, move |report: &ReplayReport| {
                seen_progress.borrow_mut().push(report.read)
            })
            .run(),
    )
    .await
    .unwrap();
    assert_eq!(
        (first.read, first.delivered, first.next_sequence),
        (15, 15, 16)
    );
    assert_eq!(*progress.borrow(), vec![5, 10, 15, 15]);

    // Resumed from its watermark: the rest, nothing twice.
    let rest = within(
        "the rest",
        durable
            .replay(local.clone(), [target.clone()])
            .from_sequence(first.next_sequence)
            .run(),
    )
    .await
    .unwrap();
    assert_eq!((rest.read, rest.delivered, rest.duplicates), (25, 25, 0));
    let mut got: Vec<u64> = seen.lock().unwrap().iter().map(n_of).collect();
    got.sort_unstable();
    assert_eq!(got, (0..40).collect::<Vec<_>>());

    // All again: the target's dedupe had them all.
    let again = within("again", durable.replay(local, [target]).run())
        .await
        .unwrap();
    assert_eq!((again.read, again.delivered, again.duplicates), (40, 0, 40));
    assert_eq!(seen.lock().unwrap().len(), 40);
}

#[actix_rt::test]
async fn a_replay_refuses_a_bad_pattern_and_a_stream_that_is_gone() {
    let server = NatsServer::start();
    let client = server.client().await;
    let durable = within("open", Durable::open(&client, "GONE", &["gone.>"]))
        .await
        .unwrap();
    let local = Dispatcher::builder().start();
    assert!(
        durable
            .replay(local.clone(), [Target::logger()])
            .types("a..b")
            .is_err()
    );
    async_nats::jetstream::new(client)
        .delete_stream("GONE")
        .await
        .unwrap();
    let run = within("replay", durable.replay(local, [Target::logger()]).run()).await;
    assert!(run.is_err());
}
