//! Several dispatchers behind one handle: keyed dispatches stay on one shard and in
//! order, unkeyed ones go round, shards run on threads of their own, and the handle
//! adds up stats and shuts every shard down.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Adapter, Delivery, Dispatch, DispatchExt, Dispatcher, ErrorKind, Outcome, Placement, Rejection,
    SignalMessage, Stats, Target, TargetOptions,
};
use serde_json::json;
use support::{signal, within};

async fn dispatched_per_shard(sharded: &herald_core::Sharded) -> Vec<u64> {
    let mut counts = Vec::new();
    for shard in sharded.shards() {
        counts.push(within("stats", shard.send(Stats)).await.unwrap().dispatched);
    }
    counts
}

#[actix_rt::test]
async fn unkeyed_dispatches_go_to_the_shards_in_turn() {
    let sharded = Dispatcher::builder().start_sharded(4);
    for _ in 0..100 {
        within(
            "dispatch",
            sharded.send(Dispatch::new(signal(), [Target::noop()])),
        )
        .await
        .unwrap()
        .unwrap();
    }
    assert_eq!(dispatched_per_shard(&sharded).await, [25, 25, 25, 25]);
    let total = within("stats", sharded.stats()).await.unwrap();
    assert_eq!((total.dispatched, total.delivered), (100, 100));
    assert_eq!(total.per_adapter["noop"].delivered, 100);
}

#[actix_rt::test]
async fn keyed_dispatches_stay_on_one_shard() {
    let sharded = Dispatcher::builder().start_sharded(4);
    for _ in 0..40 {
        let dispatch = Dispatch::new(signal(), [Target::noop()]).key("order-17");
        let handle = sharded.dispatch_async(dispatch);
        within("dispatch", handle).await.unwrap();
    }
    let mut counts = dispatched_per_shard(&sharded).await;
    counts.sort_unstable();
    assert_eq!(counts, [0, 0, 0, 40]);
}

/// Records the sequence numbers it receives.
struct Recorder(Arc<Mutex<Vec<u64>>>);

impl Actor for Recorder {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Recorder {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let n = msg
            .signal()
            .data()
            .and_then(|d| d.as_json())
            .and_then(|d| d["n"].as_u64());
        self.0.lock().unwrap().push(n.unwrap_or(u64::MAX));
        Ok(())
    }
}

#[actix_rt::test]
async fn dispatches_with_one_key_arrive_in_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder(Arc::clone(&seen)).start();
    let sharded = Dispatcher::builder().start_sharded(3);
    let mut handles = Vec::new();
    for n in 0..200u64 {
        let signal = herald_signal::Signal::new("seq", json!({ "n": n })).unwrap();
        let target = Target::pid(recorder.clone().recipient());
        handles.push(sharded.dispatch_async(Dispatch::new(signal, [target]).key("one stream")));
    }
    for handle in handles {
        within("dispatch", handle).await.unwrap();
    }
    within(
        "recorder drained",
        recorder.send(SignalMessage::new(signal().into())),
    )
    .await
    .unwrap()
    .unwrap();
    let seen = seen.lock().unwrap();
    let expected: Vec<u64> = (0..200).collect();
    assert_eq!(&seen[..200], &expected[..]);
}

/// Notes the thread each delivery runs on.
struct Where(Arc<Mutex<HashSet<ThreadId>>>);

#[derive(Debug)]
struct Here;
impl TargetOptions for Here {}

impl Adapter for Where {
    type Options = Here;
    const PLACEMENT: Placement = Placement::Local;

    async fn deliver(&self, _: Delivery<'_, Here>) -> Result<Outcome, ErrorKind> {
        self.0.lock().unwrap().insert(std::thread::current().id());
        Ok(Outcome::Delivered)
    }
}

#[actix_rt::test]
async fn each_shard_runs_on_a_thread_of_its_own() {
    let threads = Arc::new(Mutex::new(HashSet::new()));
    let shared = Arc::clone(&threads);
    let sharded = Dispatcher::builder()
        .adapter("where", move || Where(Arc::clone(&shared)))
        .start_sharded(2);
    for _ in 0..10 {
        let dispatch = Dispatch::new(signal(), [Target::new("where", Here)]);
        within("dispatch", sharded.send(dispatch))
            .await
            .unwrap()
            .unwrap();
    }
    let threads = threads.lock().unwrap();
    assert_eq!(threads.len(), 2);
    assert!(!threads.contains(&std::thread::current().id()));
}

#[actix_rt::test]
async fn shutdown_reaches_every_shard() {
    let sharded = Dispatcher::builder().start_sharded(3);
    within("shutdown", sharded.shutdown(Duration::from_secs(1)))
        .await
        .unwrap();
    for _ in 0..3 {
        let handle = sharded.dispatch_async(Dispatch::new(signal(), [Target::noop()]));
        let error = within("refused", handle).await.unwrap_err();
        assert!(matches!(error.first().error.kind(), ErrorKind::Shutdown));
    }
}

#[actix_rt::test]
async fn a_detached_dispatch_right_after_start_is_admitted() {
    for _ in 0..20 {
        let sharded = Dispatcher::builder().start_sharded(2);
        let handles: Vec<_> = (0..2)
            .map(|_| sharded.dispatch_async(Dispatch::new(signal(), [Target::noop()])))
            .collect();
        for handle in handles {
            within("admitted", handle).await.unwrap();
        }
    }
}

#[actix_rt::test]
async fn every_shard_reaches_the_same_named_actors() {
    let registry = herald_core::Registry::new();
    let (inbox, received) = support::Inbox::start(support::Answer::Accept);
    registry.register("audit", inbox.recipient()).unwrap();
    let sharded = Dispatcher::builder().registry(registry).start_sharded(3);
    for _ in 0..9 {
        let target = Target::named("audit").unwrap().sync();
        within("dispatch", sharded.send(Dispatch::new(signal(), [target])))
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(received.load(std::sync::atomic::Ordering::SeqCst), 9);
    for shard in sharded.shards() {
        let stats = within("stats", shard.send(Stats)).await.unwrap();
        assert_eq!(stats.per_adapter["named"].delivered, 3);
    }
}
