//! The NATS scenarios, against a local nats-server the report starts itself (found or
//! fetched as the tests do, by `herald-testkit`; when there is none, these rows are left
//! out and the report says why): Herald's `nats` adapter and bridge against raw
//! async-nats doing the same work.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use futures_util::StreamExt;
use herald::prelude::*;
use herald_nats::{Bridge, Durable, NatsDispatcherExt, NatsOptions, NatsTarget};
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

/// Durable delivery: 10,000 signals put in a JetStream stream (file storage) by the
/// `nats` adapter, then delivered by a durable consumer to a counting actor; against
/// the core bridge doing the same delivery with no persistence. One run each (a
/// stream is made per run).
pub(crate) async fn durable(scale: &Scale, server: &Server) -> (f64, f64) {
    let n = scale.of(10_000, 200);
    let client = connect(server).await;
    let dispatcher = builder().max_in_flight(n).nats(client.clone()).start();
    let counting = Counting::start();
    let target = [Target::pid(counting.addr.clone().recipient())];
    let signal = signal();

    // The consumer on a client of its own (see docs/DISTRIBUTED.md, "Known issues").
    let consuming = connect(server).await;
    let durable = Durable::open(&consuming, "BENCH", &["bench.durable.>"])
        .await
        .expect("stream");
    let start = Instant::now();
    counting.expect(n);
    let done = counting.wait();
    let _consumer = durable
        .consumer("bench", dispatcher.clone(), target.clone())
        .start()
        .await
        .expect("consumer");
    let stored = vec![Target::from(Durable::target("bench.durable.x").expect("subject")); n];
    let signals: Vec<Signal> = (0..n)
        .map(|_| Signal::new("bench.durable", serde_json::json!({})).expect("signal"))
        .collect();
    for chunk in signals.chunks(64) {
        let sends = chunk
            .iter()
            .zip(&stored)
            .map(|(s, t)| dispatch(&dispatcher, Dispatch::new(s.clone(), [t.clone()])));
        futures_util::future::join_all(sends).await;
    }
    done.await;
    let durable_time = start.elapsed().as_secs_f64();

    let listener = connect(server).await;
    let _bridge = Bridge::new(listener.clone(), "bench.core", dispatcher.clone(), target)
        .start()
        .await
        .expect("bridge");
    let (headers, payload) = herald_nats::encode(&signal, herald_nats::BodyMode::Structured);
    // A publisher of its own, as in the bridge scenario.
    let client = connect(server).await;
    let start = Instant::now();
    counting.expect(n);
    let done = counting.wait();
    for _ in 0..n {
        client
            .publish_with_headers("bench.core", headers.clone(), payload.clone())
            .await
            .expect("published");
    }
    client.flush().await.expect("flush");
    done.await;
    (durable_time, start.elapsed().as_secs_f64())
}
