//! Durable delivery on JetStream, against a real nats-server: a target that always
//! fails gets exactly `max_deliver` attempts, then its dead letter; a republished
//! signal is stored once. (A consumer process killed mid-stream: `durable_crash.rs`.)

mod support;

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use herald_core::http::RetryPolicy;
use herald_core::resilience::{DeadLetter, DeadLetterQueue, TakeDeadLetters};
use herald_core::{
    Adapter, Delivery, Dispatch, Dispatcher, ErrorKind, Outcome, Target, TargetOptions,
};
use herald_nats::{Durable, NatsDispatcherExt, Retention, StreamSettings};
use support::{Answer, NatsServer, signal, start_collector, within};

async fn publish_all(dispatcher: &actix::Addr<Dispatcher>, subject: &str, n: u64) -> Vec<String> {
    let target = Target::from(Durable::target(subject).unwrap());
    let signals: Vec<_> = (0..n).map(signal).collect();
    let ids = signals.iter().map(|s| s.id().to_owned()).collect();
    let sends = futures_util::stream::iter(signals)
        .map(|s| dispatcher.send(Dispatch::new(s, [target.clone()])))
        .buffer_unordered(64);
    let results: Vec<_> = within("publish", sends.collect()).await;
    for result in results {
        result.unwrap().unwrap();
    }
    ids
}

/// Always fails, retryably, counting attempts.
#[derive(Clone, Default)]
struct Broken(Arc<AtomicUsize>);

#[derive(Debug)]
struct Nothing;
impl TargetOptions for Nothing {}

impl Adapter for Broken {
    type Options = Nothing;

    fn validate(&self, _: &serde_json::Value) -> Result<Nothing, herald_core::TargetError> {
        Ok(Nothing)
    }

    async fn deliver(&self, _: Delivery<'_, Nothing>) -> Result<Outcome, ErrorKind> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Err(ErrorKind::custom_retryable("down for good"))
    }
}

#[actix_rt::test]
async fn a_target_that_always_fails_gets_max_deliver_attempts_then_its_dead_letter() {
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    let broken = Broken::default();
    let attempts = broken.0.clone();
    let local = Dispatcher::builder()
        .pool_size(0)
        .adapter("broken", move || broken.clone())
        .start();
    let durable = Durable::open(&client, "FAILING", &["failing.>"])
        .await
        .unwrap();
    let ids = publish_all(&publisher, "failing.x", 3).await;
    let queue = actix::Actor::start(DeadLetterQueue::default());
    let _consumer = durable
        .consumer(
            "w",
            local,
            [Target::custom("broken", serde_json::json!({}))],
        )
        .max_deliver(4)
        .backoff(RetryPolicy::new(4, Duration::from_millis(10), Duration::from_millis(20)).unwrap())
        .dead_letter(Target::pid(queue.clone().recipient()).sync())
        .start()
        .await
        .unwrap();
    let letters = within("three dead letters", async {
        let mut letters: Vec<DeadLetter> = Vec::new();
        while letters.len() < 3 {
            letters.extend(queue.send(TakeDeadLetters).await.unwrap());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        letters
    })
    .await;
    // Settle: nothing more is attempted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        3 * 4,
        "exactly max_deliver attempts each"
    );
    let mut got: Vec<&str> = letters.iter().map(|l| l.original().id()).collect();
    got.sort_unstable();
    let mut want: Vec<&str> = ids.iter().map(String::as_str).collect();
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(
        letters
            .iter()
            .all(|l| l.kind() == "custom" && l.adapter() == "broken")
    );
}

#[actix_rt::test]
async fn a_consumer_deleted_on_the_server_says_it_stopped() {
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    let durable = Durable::open(&client, "GONE", &["gone.>"]).await.unwrap();
    let (collector, seen) = start_collector(Answer::Accept);
    let local = Dispatcher::builder().start();
    let consumer = within(
        "start",
        durable
            .consumer("worker", local, [Target::pid(collector.recipient())])
            .start(),
    )
    .await
    .unwrap();
    publish_all(&publisher, "gone.a", 1).await;
    support::until_seen("the first signal", &seen, 1).await;
    assert!(consumer.is_running());

    let stream = async_nats::jetstream::new(client)
        .get_stream("GONE")
        .await
        .unwrap();
    within("delete", stream.delete_consumer("worker"))
        .await
        .unwrap();
    within("the consumer stops", async {
        while consumer.is_running() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(consumer.stats().acked, 1);
}

#[actix_rt::test]
async fn republishing_a_signal_inside_the_duplicate_window_stores_it_once() {
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    let _durable = Durable::open(&client, "ONCE", &["once.>"]).await.unwrap();
    let target = Target::from(Durable::target("once.a").unwrap());
    let sent = signal(1);
    for _ in 0..3 {
        within(
            "publish",
            publisher.send(Dispatch::new(sent.clone(), [target.clone()])),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let mut stream = async_nats::jetstream::new(client)
        .get_stream("ONCE")
        .await
        .unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

#[actix_rt::test]
async fn a_message_whose_dead_letter_fails_stays_in_the_stream() {
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    let broken = Broken::default();
    let local = Dispatcher::builder()
        .adapter("broken", move || broken.clone())
        .start();
    // A work queue: a terminated message is removed from the stream.
    let settings = StreamSettings::new().retention(Retention::WorkQueue);
    let durable = Durable::open_with(&client, "QUEUE", &["queue.>"], &settings)
        .await
        .unwrap();
    let (refusing, _) = start_collector(Answer::Reject);
    let consumer = durable
        .consumer(
            "w",
            local,
            [Target::custom("broken", serde_json::json!({}))],
        )
        .max_deliver(1)
        .dead_letter(Target::pid(refusing.recipient()).sync())
        .start()
        .await
        .unwrap();
    publish_all(&publisher, "queue.x", 1).await;
    within("given up", async {
        while consumer.stats().given_up == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let mut stream = async_nats::jetstream::new(client)
        .get_stream("QUEUE")
        .await
        .unwrap();
    let info = within("info", stream.info()).await.unwrap();
    assert_eq!(info.state.messages, 1, "kept, not terminated");
}

/// A stored signal past its `expirytime` is terminated, not delivered and not
/// redelivered; a fresh one behind it is delivered.
#[actix_rt::test]
async fn an_expired_signal_is_terminated_not_delivered() {
    let server = NatsServer::start();
    let client = server.client().await;
    // A work queue: a terminated message is removed from the stream.
    let settings = StreamSettings::new().retention(Retention::WorkQueue);
    let durable = Durable::open_with(&client, "EXPIRY", &["expiry.>"], &settings)
        .await
        .unwrap();
    let (collector, seen) = start_collector(Answer::Accept);
    let consumer = durable
        .consumer(
            "w",
            Dispatcher::builder().start(),
            [Target::pid(collector.recipient()).sync()],
        )
        .start()
        .await
        .unwrap();
    let now = herald_signal::Utc::now();
    let expired = signal(1)
        .to_builder()
        .expirytime(now - Duration::from_secs(1))
        .build()
        .unwrap();
    let fresh = signal(2)
        .to_builder()
        .expirytime(now + Duration::from_secs(3600))
        .build()
        .unwrap();
    // Published raw: Herald's own publisher would not send an expired signal.
    let jetstream = async_nats::jetstream::new(client.clone());
    for signal in [expired, fresh.clone()] {
        let ack = within(
            "publish",
            jetstream.publish("expiry.x", signal.to_json().into()),
        )
        .await
        .unwrap();
        within("ack", ack.into_future()).await.unwrap();
    }
    within("both settled", async {
        while consumer.stats().expired + consumer.stats().acked < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let stats = consumer.stats();
    assert_eq!((stats.expired, stats.acked, stats.retried), (1, 1, 0));
    let ids: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id().to_owned())
        .collect();
    assert_eq!(ids, [fresh.id()]);
    let mut stream = async_nats::jetstream::new(client)
        .get_stream("EXPIRY")
        .await
        .unwrap();
    let info = within("info", stream.info()).await.unwrap();
    assert_eq!(info.state.messages, 0, "the expired one was terminated");
}

/// A delivery held longer than `ack_wait` (here by a paused endpoint) is kept alive
/// with the stream: not redelivered meanwhile, so delivered once at resume.
#[actix_rt::test]
async fn a_delivery_held_past_ack_wait_is_not_redelivered() {
    use herald_core::resilience::{PauseEndpoint, ResumeEndpoint};
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    let local = Dispatcher::builder().start();
    let durable = Durable::open(&client, "HELD", &["held.>"]).await.unwrap();
    publish_all(&publisher, "held.x", 3).await;
    let (collector, seen) = start_collector(Answer::Accept);
    let target: Target = Target::pid(collector.recipient()).into();
    let pause = PauseEndpoint::endpoint_of(&target);
    within("pause", local.send(pause)).await.unwrap();
    let consumer = durable
        .consumer("w", local.clone(), [target.clone()])
        .ack_wait(Duration::from_secs(1))
        .start()
        .await
        .unwrap();
    within("all three held", async {
        loop {
            let stats = local.send(herald_core::Stats).await.unwrap();
            if stats.paused.values().sum::<usize>() == 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    // Past two ack waits: without keep-alives each would be redelivered, and held again.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let stats = local.send(herald_core::Stats).await.unwrap();
    assert_eq!(
        stats.paused.values().sum::<usize>(),
        3,
        "no second copy held"
    );
    let resumed = within("resume", local.send(ResumeEndpoint::endpoint_of(&target)))
        .await
        .unwrap();
    assert_eq!(resumed, Some(3));
    within("all acked", async {
        while consumer.stats().acked < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(seen.lock().unwrap().len(), 3, "each delivered once");
    assert_eq!(consumer.stats().retried, 0);
}

/// Fails the first attempt of every fifth signal (retryably), records what it took.
#[derive(Clone, Default)]
struct Flaky {
    tried: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    took: Arc<std::sync::Mutex<Vec<(String, u64)>>>,
}

impl Adapter for Flaky {
    type Options = Nothing;

    fn validate(&self, _: &serde_json::Value) -> Result<Nothing, herald_core::TargetError> {
        Ok(Nothing)
    }

    async fn deliver(&self, delivery: Delivery<'_, Nothing>) -> Result<Outcome, ErrorKind> {
        let signal = delivery.signal;
        let n = signal.data().and_then(|d| d.as_json()).unwrap()["n"]
            .as_u64()
            .unwrap();
        let key = signal
            .extension(herald_signal::PARTITIONKEY)
            .unwrap()
            .to_string();
        let first = self.tried.lock().unwrap().insert(signal.id().to_owned());
        if first && n.is_multiple_of(5) {
            return Err(ErrorKind::custom_retryable("first attempt fails"));
        }
        self.took.lock().unwrap().push((key, n));
        Ok(Outcome::Delivered)
    }
}

/// Signals with a `partitionkey` reach the consumer's target in stream order per key,
/// retries included: a failed one is retried in place, the later ones of its key wait.
#[actix_rt::test]
async fn a_keys_order_holds_across_retries_in_durable_mode() {
    let server = NatsServer::start();
    let client = server.client().await;
    let publisher = Dispatcher::builder().nats(client.clone()).start();
    let flaky = Flaky::default();
    let took = flaky.took.clone();
    let local = Dispatcher::builder()
        .pool_size(0)
        .adapter("flaky", move || flaky.clone())
        .start();
    let durable = Durable::open(&client, "KEYED", &["keyed.>"]).await.unwrap();
    let target = Target::from(Durable::target("keyed.x").unwrap());
    // Published one at a time, so that the stream's order is the order sent.
    for n in 0..60 {
        let key = format!("k{}", n % 3);
        let keyed = signal(n)
            .to_builder()
            .extension(herald_signal::PARTITIONKEY, key)
            .build()
            .unwrap();
        within(
            "publish",
            publisher.send(Dispatch::new(keyed, [target.clone()])),
        )
        .await
        .unwrap()
        .unwrap();
    }
    let consumer = durable
        .consumer("w", local, [Target::custom("flaky", serde_json::json!({}))])
        .backoff(RetryPolicy::new(5, Duration::from_millis(5), Duration::from_millis(10)).unwrap())
        .start()
        .await
        .unwrap();
    within("all acked", async {
        while consumer.stats().acked < 60 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let took = took.lock().unwrap().clone();
    assert_eq!(took.len(), 60, "each once");
    for key in ["k0", "k1", "k2"] {
        let order: Vec<u64> = took
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, n)| *n)
            .collect();
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(order, sorted, "{key} in order");
    }
    assert_eq!(consumer.stats().retried, 12, "every fifth retried once");
}
