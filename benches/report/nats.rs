//! The NATS scenarios, against a local nats-server the report starts itself (found or
//! fetched as the tests do, by `herald-testkit`; when there is none, these rows are left
//! out and the report says why): Herald's `nats` adapter and bridge against raw
//! async-nats doing the same work.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use async_nats::jetstream;
use futures_util::StreamExt;
use herald::prelude::*;
use herald::resilience::Resilience;
use herald_nats::{Bridge, DeadLetterStore, Durable, NatsDispatcherExt, NatsOptions, NatsTarget};
use tokio::sync::Notify;

use crate::{Scale, builder, dispatch, measure, signal};

pub(crate) use herald_testkit::nats::NatsServer as Server;

/// A client of `server`.
async fn connect(server: &Server) -> herald_nats::Client {
    NatsOptions::new([server.url()])
        .connect()
        .await
        .expect("connect to the bench's nats-server")
}

/// Counts what it gets, and wakes its waiter at the expected count.
struct Counter {
    count: Arc<AtomicUsize>,
    expected: Arc<AtomicUsize>,
    done: Arc<Notify>,
}

impl Actor for Counter {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Counter {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let count = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if count == self.expected.load(Ordering::SeqCst) {
            self.done.notify_one();
        }
        Ok(())
    }
}

/// A counter on an arbiter of its own, and a way to wait for `n` more.
struct Counting {
    addr: Addr<Counter>,
    count: Arc<AtomicUsize>,
    expected: Arc<AtomicUsize>,
    done: Arc<Notify>,
    _arbiter: crate::peers::Receivers,
}

impl Counting {
    fn start() -> Self {
        let receivers = crate::peers::Receivers::new();
        let (count, expected, done) = (
            Arc::default(),
            Arc::new(AtomicUsize::new(usize::MAX)),
            Arc::new(Notify::new()),
        );
        let counter = Counter {
            count: Arc::clone(&count),
            expected: Arc::clone(&expected),
            done: Arc::clone(&done),
        };
        let addr = Counter::start_in_arbiter(&receivers.handle(), |ctx| {
            ctx.set_mailbox_capacity(1 << 20);
            counter
        });
        Self {
            addr,
            count,
            expected,
            done,
            _arbiter: receivers,
        }
    }

    /// Expects `n` from now on.
    fn expect(&self, n: usize) {
        self.count.store(0, Ordering::SeqCst);
        self.expected.store(n, Ordering::SeqCst);
    }

    /// Waits for the expected count; armed when made, so that a count reached before
    /// it is first polled is not missed.
    fn wait(&self) -> impl std::future::Future<Output = ()> + '_ {
        let mut notified = Box::pin(self.done.notified());
        notified.as_mut().enable();
        async move {
            if tokio::time::timeout(Duration::from_secs(120), notified)
                .await
                .is_err()
            {
                panic!(
                    "{} of {} messages counted in 120 s",
                    self.count.load(Ordering::SeqCst),
                    self.expected.load(Ordering::SeqCst)
                );
            }
        }
    }
}

/// 10,000 one-target dispatches' worth of `nats` publishes (one dispatch of 10,000
/// targets, 64 in flight), then a flush, against raw async-nats publishing the same
/// headers and bytes, 64 in flight, then a flush; each on its own client.
pub(crate) async fn publish(scale: &Scale, server: &Server) -> (f64, f64) {
    let n = scale.of(10_000, 200);
    let herald_client = connect(server).await;
    let raw = connect(server).await;
    let dispatcher = builder()
        .max_in_flight(n)
        .nats(herald_client.clone())
        .start();
    let signal = signal();
    let targets = vec![Target::from(NatsTarget::to("bench.publish").expect("subject")); n];
    let (headers, payload) = herald_nats::encode(&signal, herald_nats::BodyMode::Structured);
    measure(
        scale,
        || {
            let all = Dispatch::new(Arc::clone(&signal), targets.clone()).max_concurrency(64);
            let client = herald_client.clone();
            let dispatcher = dispatcher.clone();
            async move {
                dispatch(&dispatcher, all).await;
                client.flush().await.expect("flush");
            }
        },
        || {
            let raw = raw.clone();
            let (headers, payload) = (headers.clone(), payload.clone());
            async move {
                futures_util::stream::iter(0..n)
                    .map(|_| {
                        raw.publish_with_headers("bench.publish", headers.clone(), payload.clone())
                    })
                    .buffer_unordered(64)
                    .for_each(|sent| async move { sent.expect("published") })
                    .await;
                raw.flush().await.expect("flush");
            }
        },
    )
    .await
}

/// 10,000 signals published raw; Herald's bridge takes them and dispatches each to an
/// async `pid` target (a counting actor), against a raw subscription that decodes each
/// and `try_send`s it to the same actor. Timed from the first publish until the actor
/// has counted all.
pub(crate) async fn bridge(scale: &Scale, server: &Server) -> (f64, f64) {
    let n = scale.of(10_000, 200);
    let publisher = connect(server).await;
    let listener = connect(server).await;
    let dispatcher = builder().max_in_flight(1_024).start();
    let counting = Counting::start();
    // The raw subscription first: the bridge's `start` returns once the server has
    // read everything the listener sent, this subscription included. (`flush` only
    // writes to the socket; a publish from another connection can overtake it.)
    let mut raw = listener.subscribe("bench.raw").await.expect("subscribe");
    let _bridge = Bridge::new(
        listener.clone(),
        "bench.herald",
        dispatcher,
        [Target::pid(counting.addr.clone().recipient())],
    )
    .start()
    .await
    .expect("bridge");
    let recipient = counting.addr.clone().recipient::<SignalMessage>();
    let forwarding = actix_rt::spawn(async move {
        while let Some(message) = raw.next().await {
            let signal = herald_nats::decode(message.headers.as_ref(), &message.payload, 4 << 20)
                .expect("a signal");
            recipient
                .try_send(SignalMessage::new(Arc::new(signal)))
                .expect("room");
        }
        drop(raw);
    });
    let signal = signal();
    let (headers, payload) = herald_nats::encode(&signal, herald_nats::BodyMode::Structured);
    let run = |subject: &'static str| {
        let (publisher, headers, payload, counting) = (
            publisher.clone(),
            headers.clone(),
            payload.clone(),
            &counting,
        );
        async move {
            counting.expect(n);
            let done = counting.wait();
            for _ in 0..n {
                publisher
                    .publish_with_headers(subject, headers.clone(), payload.clone())
                    .await
                    .expect("published");
            }
            publisher.flush().await.expect("flush");
            done.await;
        }
    };
    let result = measure(scale, || run("bench.herald"), || run("bench.raw")).await;
    forwarding.abort();
    let _ = forwarding.await;
    result
}

/// 64 at a time, `n` fresh signals (a stream's duplicate window would drop a second
/// run's copies) through `send`.
async fn in_sixty_fours<F, Fut>(n: usize, send: F)
where
    F: Fn(Signal) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let signals =
        (0..n).map(|_| Signal::new("bench.durable", serde_json::json!({})).expect("signal"));
    futures_util::stream::iter(signals)
        .map(send)
        .buffer_unordered(64)
        .for_each(|()| async {})
        .await;
}

/// A stream of file storage over `subject`, made afresh.
async fn fresh_stream(
    client: &herald_nats::Client,
    name: &str,
    subject: &str,
) -> jetstream::stream::Stream {
    let jetstream = jetstream::new(client.clone());
    let _ = jetstream.delete_stream(name).await;
    jetstream
        .create_stream(jetstream::stream::Config {
            name: name.to_owned(),
            subjects: vec![subject.to_owned()],
            ..Default::default()
        })
        .await
        .expect("stream")
}

/// Durable delivery: 10,000 fresh signals stored in a JetStream stream (file storage)
/// by the `nats` adapter (JetStream, 64 in flight), delivered by a durable consumer to
/// an async `pid` target (a counting actor); against raw async-nats doing the same
/// work: publish with a message id and wait for the stream's ack (64 in flight), a
/// durable pull consumer (64 unacknowledged at most) that decodes each message,
/// `try_send`s it to the same actor and acks it. Timed from the first publish until
/// the actor has counted all; each side's consumer runs throughout.
pub(crate) async fn durable(scale: &Scale, server: &Server) -> (f64, f64) {
    let n = scale.of(10_000, 200);
    let counting = Counting::start();
    let publishing = connect(server).await;
    let dispatcher = builder().max_in_flight(n).nats(publishing.clone()).start();
    // Each consumer on a client of its own (see docs/DISTRIBUTED.md, "Known issues").
    let consuming = connect(server).await;
    fresh_stream(&consuming, "BENCH_HERALD", "bench.herald.>").await;
    let durable = Durable::open(&consuming, "BENCH_HERALD", &["bench.herald.>"])
        .await
        .expect("stream");
    let target = [Target::pid(counting.addr.clone().recipient())];
    let _consumer = durable
        .consumer("bench", dispatcher.clone(), target)
        .start()
        .await
        .expect("consumer");
    let stored = Target::from(Durable::target("bench.herald.x").expect("subject"));

    let raw = connect(server).await;
    let raw_js = jetstream::new(raw.clone());
    let raw_consuming = connect(server).await;
    let stream = fresh_stream(&raw_consuming, "BENCH_RAW", "bench.raw.>").await;
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::Config {
            durable_name: Some("bench".to_owned()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 64,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(64)
        .messages()
        .await
        .expect("messages");
    let recipient = counting.addr.clone().recipient::<SignalMessage>();
    let raw_consumer = actix_rt::spawn(async move {
        while let Some(message) = messages.next().await {
            let message = message.expect("a message");
            let signal = herald_nats::decode(message.headers.as_ref(), &message.payload, 4 << 20)
                .expect("a signal");
            recipient
                .try_send(SignalMessage::new(Arc::new(signal)))
                .expect("room");
            message.ack().await.expect("ack");
        }
    });

    let result = measure(
        scale,
        || {
            let (dispatcher, stored, counting) = (dispatcher.clone(), stored.clone(), &counting);
            async move {
                counting.expect(n);
                let done = counting.wait();
                in_sixty_fours(n, |signal| {
                    dispatch(&dispatcher, Dispatch::new(signal, [stored.clone()]))
                })
                .await;
                done.await;
            }
        },
        || {
            let (raw_js, counting) = (raw_js.clone(), &counting);
            async move {
                counting.expect(n);
                let done = counting.wait();
                in_sixty_fours(n, |signal| {
                    let raw_js = raw_js.clone();
                    async move {
                        let (mut headers, payload) =
                            herald_nats::encode(&signal, herald_nats::BodyMode::Structured);
                        headers.insert("Nats-Msg-Id", signal.id());
                        let ack = raw_js
                            .publish_with_headers("bench.raw.x", headers, payload)
                            .await
                            .expect("published");
                        ack.await.expect("stored");
                    }
                })
                .await;
                done.await;
            }
        },
    )
    .await;
    raw_consumer.abort();
    let _ = raw_consumer.await;
    result
}

/// Replay: 10,000 signals kept in a stream, read from its start by
/// [`Durable::replay`] and dispatched to an async `pid` target (a counting actor),
/// 64 in flight; against a raw ordered consumer reading the same messages, decoding
/// each and `try_send`ing it to the same actor. Timed from the start until the actor
/// has counted all.
pub(crate) async fn replay(scale: &Scale, server: &Server) -> (f64, f64) {
    let n = scale.of(10_000, 200);
    let counting = Counting::start();
    let client = connect(server).await;
    let mut stream = fresh_stream(&client, "BENCH_REPLAY", "bench.replay.>").await;
    let js = jetstream::new(client.clone());
    in_sixty_fours(n, |signal| {
        let js = js.clone();
        async move {
            let (headers, payload) =
                herald_nats::encode(&signal, herald_nats::BodyMode::Structured);
            let ack = js
                .publish_with_headers("bench.replay.x", headers, payload)
                .await
                .expect("published");
            ack.await.expect("stored");
        }
    })
    .await;
    let last = stream.info().await.expect("info").state.last_sequence;
    let durable = Durable::open(&client, "BENCH_REPLAY", &["bench.replay.>"])
        .await
        .expect("stream");
    let dispatcher = builder().max_in_flight(n).start();
    let target = Target::from(Target::pid(counting.addr.clone().recipient()));
    let recipient = counting.addr.clone().recipient::<SignalMessage>();
    measure(
        scale,
        || {
            let (durable, dispatcher, target, counting) =
                (&durable, dispatcher.clone(), target.clone(), &counting);
            async move {
                counting.expect(n);
                let done = counting.wait();
                let report = durable
                    .replay(dispatcher, [target])
                    .run()
                    .await
                    .expect("replay");
                assert_eq!(report.delivered, n as u64);
                done.await;
            }
        },
        || {
            let (stream, recipient, counting) = (&stream, recipient.clone(), &counting);
            async move {
                counting.expect(n);
                let done = counting.wait();
                let consumer = stream
                    .create_consumer(jetstream::consumer::pull::OrderedConfig::default())
                    .await
                    .expect("consumer");
                let mut messages = consumer.messages().await.expect("messages");
                while let Some(message) = messages.next().await {
                    let message = message.expect("a message");
                    let signal =
                        herald_nats::decode(message.headers.as_ref(), &message.payload, 4 << 20)
                            .expect("a signal");
                    recipient
                        .try_send(SignalMessage::new(Arc::new(signal)))
                        .expect("room");
                    if message.info().expect("info").stream_sequence == last {
                        break;
                    }
                }
                done.await;
            }
        },
    )
    .await
}

/// Refuses everything it gets: a target that always fails, at once.
struct Refusing;

impl Actor for Refusing {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Refusing {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        Err(Rejection::new("no"))
    }
}

/// A durable dead letter per failed delivery: 1,000 fresh signals dispatched (64 in
/// flight) to a sync `pid` target that refuses, each dead-lettered into a
/// [`DeadLetterStore`] (reported once the stream acked it); against the same refused
/// sync sends, each followed by the dead letter made by hand (the signal with the
/// failure's extension attributes), encoded, and published with ack into a stream of
/// the same settings.
pub(crate) async fn dead_letter(scale: &Scale, server: &Server) -> (f64, f64) {
    let n = scale.of(1_000, 100);
    let client = connect(server).await;
    fresh_stream(&client, "BENCH_DLQ", "herald.dlq.BENCH_DLQ.>").await;
    let store = DeadLetterStore::open(&client, "BENCH_DLQ", &herald_nats::StreamSettings::new())
        .await
        .expect("store");
    let dispatcher = builder()
        .max_in_flight(n)
        .resilience(Resilience::new().dead_letter(store.target()))
        .start();
    let refusing = Refusing.start();
    let target = Target::from(Target::pid(refusing.clone().recipient()).sync());
    let raw = connect(server).await;
    fresh_stream(&raw, "BENCH_DLQ_RAW", "bench.dlq.>").await;
    let raw_js = jetstream::new(raw.clone());
    let fingerprint = target.fingerprint().to_string();
    let subject = format!("bench.dlq.{fingerprint}.rejected");
    let recipient = refusing.recipient::<SignalMessage>();
    measure(
        scale,
        || {
            let (dispatcher, target) = (&dispatcher, &target);
            in_sixty_fours(n, move |signal| async move {
                let failed = dispatcher
                    .send(Dispatch::new(signal, [target.clone()]))
                    .await
                    .expect("dispatcher running")
                    .expect_err("refused");
                let dead_letter = failed.first().error.dead_letter().expect("dead-lettered");
                assert!(dead_letter.delivered());
            })
        },
        || {
            let (raw_js, recipient, subject, fingerprint) =
                (&raw_js, &recipient, &subject, &fingerprint);
            in_sixty_fours(n, move |signal| async move {
                let signal = Arc::new(signal);
                let refused = recipient
                    .send(SignalMessage::new(Arc::clone(&signal)))
                    .await;
                let reason = refused.expect("running").expect_err("refused");
                let letter = signal
                    .to_builder()
                    .extension("heralderrorkind", "rejected")
                    .extension("heralderrordest", "pid")
                    .extension("heralddestid", fingerprint.as_str())
                    .extension("heralderroradapter", "pid")
                    .extension("heralderrordata", reason.to_string())
                    .extension("heraldattempts", 1)
                    .build()
                    .expect("a dead letter");
                let (mut headers, payload) =
                    herald_nats::encode(&letter, herald_nats::BodyMode::Structured);
                headers.insert("Nats-Msg-Id", uuid::Uuid::now_v7().to_string().as_str());
                let ack = raw_js
                    .publish_with_headers(subject.clone(), headers, payload)
                    .await
                    .expect("published");
                ack.await.expect("stored");
            })
        },
    )
    .await
}
