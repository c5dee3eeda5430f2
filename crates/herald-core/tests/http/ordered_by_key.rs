//! Ordering keys against a real actix-web receiver on 127.0.0.1 whose latencies and
//! failures vary by request: per key, the receiver takes signals in the order they were
//! dispatched (zero inversions), with retries holding their lane, final failures
//! skipped, or blocking the lane until it is resumed; across shards too.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use futures_util::future::join_all;
use herald_core::http::RetryPolicy;
use herald_core::resilience::{Ordering, Resilience, ResumeLanes};
use herald_core::{Dispatch, DispatchExt, Dispatcher, ErrorKind, Stats, Target};
use herald_signal::Signal;

use crate::support::within;

const KEYS: u64 = 100;
const PER_KEY: u64 = 200;

/// A receiver that sleeps 0–3 ms per request, answers 503 to one first attempt in
/// eight, and always 500 to the signals `poison` picks; it records what it accepted,
/// in order.
struct Receiver {
    url: String,
    accepted: Arc<Mutex<Vec<(u64, u64)>>>,
    handle: actix_web::dev::ServerHandle,
}

#[derive(Default)]
struct Seen {
    attempts: Mutex<HashMap<(u64, u64), u32>>,
    accepted: Arc<Mutex<Vec<(u64, u64)>>>,
}

fn poison(seq: u64) -> bool {
    seq % 40 == 39
}

fn roll(key: u64, seq: u64, attempt: u32) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one((key, seq, attempt))
}

async fn take(seen: web::Data<Seen>, body: web::Bytes) -> HttpResponse {
    let value: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
    let data = value.get("data").unwrap_or(&value);
    let (key, seq) = (data["key"].as_u64().unwrap(), data["seq"].as_u64().unwrap());
    let attempt = {
        let mut attempts = seen.attempts.lock().unwrap();
        let count = attempts.entry((key, seq)).or_default();
        *count += 1;
        *count
    };
    let roll = roll(key, seq, attempt);
    tokio::time::sleep(Duration::from_micros(roll % 3_000)).await;
    if poison(seq) {
        return HttpResponse::InternalServerError().finish();
    }
    if attempt == 1 && roll.is_multiple_of(8) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    seen.accepted.lock().unwrap().push((key, seq));
    HttpResponse::Ok().finish()
}

impl Receiver {
    fn start() -> Self {
        let seen = web::Data::new(Seen::default());
        let accepted = Arc::clone(&seen.accepted);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(seen.clone())
                .default_service(web::to(take))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("bind a loopback port");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            accepted,
            handle,
        }
    }

    fn accepted(&self) -> Vec<(u64, u64)> {
        self.accepted.lock().unwrap().clone()
    }
}

fn target(receiver: &Receiver, ordering: Ordering) -> Target {
    let retry = RetryPolicy::new(3, Duration::from_millis(1), Duration::from_millis(2)).unwrap();
    Target::from(Target::http(&receiver.url).unwrap().retry(retry))
        .with_resilience(Resilience::new().ordering(ordering))
}

/// A mailbox that holds every dispatch: `Addr::send` past actix's bound retries in
/// whatever order the sends are polled, and the order under test is the order sent.
fn builder() -> herald_core::DispatcherBuilder {
    let all = (KEYS * PER_KEY) as usize;
    Dispatcher::builder()
        .mailbox_capacity(all)
        .max_in_flight(4_096)
}

fn signal(key: u64, seq: u64) -> Signal {
    Signal::new("order.step", serde_json::json!({"key": key, "seq": seq})).unwrap()
}

/// Per key, how many signals arrived after one dispatched later than them.
fn inversions(accepted: &[(u64, u64)]) -> usize {
    let mut last: HashMap<u64, u64> = HashMap::new();
    let mut inversions = 0;
    for &(key, seq) in accepted {
        if let Some(&before) = last.get(&key)
            && before > seq
        {
            inversions += 1;
        }
        let entry = last.entry(key).or_insert(seq);
        *entry = (*entry).max(seq);
    }
    inversions
}

/// Dispatches every key's signals in turn (key 0 seq 0, key 1 seq 0, …), all at once.
async fn dispatch_all(dispatcher: &impl DispatchExt, target: &Target) -> Vec<Result<(), String>> {
    let mut sent = Vec::new();
    for seq in 0..PER_KEY {
        for key in 0..KEYS {
            let dispatch =
                Dispatch::new(signal(key, seq), [target.clone()]).ordering_key(key.to_string());
            sent.push(dispatcher.dispatch(dispatch));
        }
    }
    let results = within("every keyed dispatch", join_all(sent)).await;
    results
        .into_iter()
        .map(|result| {
            result
                .map(drop)
                .map_err(|e| e.first().error.kind().name().to_owned())
        })
        .collect()
}

fn check(receiver: &Receiver, results: &[Result<(), String>]) {
    let accepted = receiver.accepted();
    assert_eq!(inversions(&accepted), 0, "per-key order at the receiver");
    let poisoned = (0..PER_KEY).filter(|seq| poison(*seq)).count() as u64;
    assert_eq!(
        accepted.len() as u64,
        KEYS * (PER_KEY - poisoned),
        "each good one once"
    );
    let failed: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert_eq!(
        failed.len() as u64,
        KEYS * poisoned,
        "final failures skipped"
    );
    assert!(
        failed.iter().all(|kind| *kind == "http_status"),
        "{failed:?}"
    );
}

#[actix_rt::test]
async fn one_key_arrives_in_order_under_retries_and_failures() {
    let receiver = Receiver::start();
    let dispatcher = builder().start();
    let results = dispatch_all(&dispatcher, &target(&receiver, Ordering::skip())).await;
    check(&receiver, &results);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(
        (stats.lanes, stats.lane_deliveries),
        (0, 0),
        "lanes are let go"
    );
    receiver.handle.stop(false).await;
}

#[actix_rt::test]
async fn one_key_arrives_in_order_across_shards() {
    let receiver = Receiver::start();
    let dispatcher = builder().start_sharded(2);
    // Every shard started (its mailbox bound set on its own arbiter) before the sends.
    within("the shards", dispatcher.stats()).await.unwrap();
    let results = dispatch_all(&dispatcher, &target(&receiver, Ordering::skip())).await;
    check(&receiver, &results);
    receiver.handle.stop(false).await;
}

#[actix_rt::test]
async fn without_a_key_the_same_load_is_not_kept_in_order() {
    // The control: what the keyed tests measure is there to measure.
    let receiver = Receiver::start();
    let dispatcher = builder().start();
    let target = target(&receiver, Ordering::skip());
    let mut sent = Vec::new();
    for seq in 0..PER_KEY {
        for key in 0..KEYS {
            sent.push(dispatcher.dispatch(Dispatch::new(signal(key, seq), [target.clone()])));
        }
    }
    within("every dispatch", join_all(sent)).await;
    assert!(
        inversions(&receiver.accepted()) > 0,
        "unkeyed deliveries overtake"
    );
    receiver.handle.stop(false).await;
}

#[actix_rt::test]
async fn a_blocked_lane_fails_what_follows_until_resumed() {
    let receiver = Receiver::start();
    let dispatcher = Dispatcher::builder().start();
    let target = target(&receiver, Ordering::block());
    let skipping = self::target(&receiver, Ordering::skip());
    let keyed = |key: u64, seq: u64| {
        let target = if key == 7 { &target } else { &skipping };
        Dispatch::new(signal(key, seq), [target.clone()]).ordering_key(key.to_string())
    };
    // Seq 39 always fails: key 7's lane (under `block`) stops there; key 8's (under
    // `skip`) goes on.
    let sent: Vec<_> = (37..42)
        .flat_map(|seq| [keyed(7, seq), keyed(8, seq)])
        .map(|dispatch| dispatcher.dispatch(dispatch))
        .collect();
    let results = within("the dispatches", join_all(sent)).await;
    let kinds: Vec<&str> = results
        .iter()
        .map(|r| {
            r.as_ref()
                .map_or_else(|e| e.first().error.kind().name(), |_| "ok")
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ok",
            "ok",
            "ok",
            "ok", // 37, 38
            "http_status",
            "http_status", // 39: key 7 blocks, key 8 skips
            "lane_blocked",
            "ok",
            "lane_blocked",
            "ok", // 40, 41
        ]
    );
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.lanes, stats.lanes_blocked), (1, 1));
    assert!(!ErrorKind::LaneBlocked.retryable());

    // Resumed, the lane goes on.
    let resume = ResumeLanes::lane(target.clone(), "7");
    assert_eq!(within("resume", dispatcher.send(resume)).await.unwrap(), 1);
    within("after resume", dispatcher.dispatch(keyed(7, 42)))
        .await
        .expect("the lane goes on");
    let seven: Vec<u64> = receiver
        .accepted()
        .into_iter()
        .filter_map(|(key, seq)| (key == 7).then_some(seq))
        .collect();
    assert_eq!(seven, [37, 38, 42]);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!((stats.lanes, stats.lanes_blocked), (0, 0));
    receiver.handle.stop(false).await;
}
