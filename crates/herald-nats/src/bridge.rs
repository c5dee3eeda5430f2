//! The bridge: NATS subjects in, local dispatches out.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix::Addr;
use async_nats::Client;
use std::future::poll_fn;
use std::task::Poll;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use herald_core::{Dispatch, Dispatcher, IntoTargets, Target};
use herald_signal::{Filter, Signal};
use tracing::Instrument;

use crate::codec::decode;
use crate::confirm::server_has_read;
use crate::connect::NatsError;
use crate::guard::InRuntime;
use crate::subject::check_filter;
use crate::supervise::ClientHandle;
use crate::tally::{Arrivals, BRIDGE_MESSAGES, BRIDGE_RESUBSCRIBED, Tally};
use crate::trace::arrival_span;

/// Subscribes to a subject (wildcards allowed: `*` one token, `>` the rest), optionally
/// in a queue group, and dispatches each signal that arrives to local targets.
///
/// - Both body modes are read ([`decode`](crate::decode)).
/// - A malformed message (not a signal, too large) is counted, reported in telemetry
///   (`WARN` on `herald::nats`), and — when the bridge has a dead letter — dispatched
///   there as a `herald.nats.malformed` signal; the bridge keeps going. Nothing panics.
/// - At most `max_in_flight` dispatches run at once (default 256). The subscription is
///   read all the time: past that bound a message waits, up to `max_pending_bytes`
///   (default 64 MiB) in all; past that it is dropped and counted
///   ([`BridgeStats::dropped`], a `WARN`). Core NATS keeps no backlog for a subscriber
///   anyway: the server cuts off one that falls far behind.
/// - On a [`SupervisedClient`](crate::SupervisedClient), a client whose connection task
///   died is replaced and the bridge subscribes again ([`BridgeStats::resubscribed`]);
///   messages sent in the gap are lost (core NATS is at-most-once) and cannot be
///   counted. On a plain [`Client`] the bridge stops then, reported.
/// - Each dispatch runs under a `herald.arrive` span carrying the signal's trace
///   context (see `docs/DISTRIBUTED.md`).
///
/// ```no_run
/// # async fn run(client: async_nats::Client, dispatcher: actix::Addr<herald_core::Dispatcher>) -> Result<(), herald_nats::NatsError> {
/// use herald_core::Target;
/// use herald_nats::Bridge;
///
/// let bridge = Bridge::new(client, "orders.>", dispatcher, [Target::logger()])
///     .queue_group("orders-workers")
///     .start()
///     .await?;
/// # drop(bridge); Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a bridge does nothing until started"]
pub struct Bridge {
    client: ClientHandle,
    subject: String,
    queue: Option<String>,
    dispatcher: Addr<Dispatcher>,
    targets: Arc<[Target]>,
    max_in_flight: usize,
    max_message_size: usize,
    max_pending_bytes: usize,
    dead_letter: Option<Target>,
    /// All must match for a signal to be dispatched.
    filters: Vec<Filter>,
}

/// What a running bridge has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BridgeStats {
    /// Messages taken from the subscription.
    pub received: u64,
    /// Dispatches whose every target succeeded.
    pub dispatched: u64,
    /// Dispatches with a failed target (each failure is in telemetry).
    pub failed: u64,
    /// Messages that were not signals.
    pub malformed: u64,
    /// Signals its [filters](Bridge::filter) left out: taken and not dispatched.
    pub filtered: u64,
    /// Messages dropped unread because the bridge already held `max_pending_bytes`
    /// waiting for room (a slow consumer).
    pub dropped: u64,
    /// Bytes of messages waiting for room now.
    pub pending_bytes: u64,
    /// Times the bridge subscribed again: on a replaced client, or after the server
    /// ended its subscription.
    pub resubscribed: u64,
}

/// A bridge's counts, each also a metric (feature `metrics`).
#[derive(Debug)]
struct Counters {
    received: Tally,
    dispatched: Tally,
    failed: Tally,
    malformed: Tally,
    filtered: Tally,
    dropped: Tally,
    pending_bytes: AtomicU64,
    resubscribed: Tally,
    arrivals: Arrivals,
}

impl Counters {
    fn new(subject: &str) -> Self {
        let messages =
            |result| Tally::new(BRIDGE_MESSAGES, &[("bridge", subject), ("result", result)]);
        Self {
            received: messages("received"),
            dispatched: messages("dispatched"),
            failed: messages("failed"),
            malformed: messages("malformed"),
            filtered: messages("filtered"),
            dropped: messages("dropped"),
            pending_bytes: AtomicU64::new(0),
            resubscribed: Tally::new(BRIDGE_RESUBSCRIBED, &[("bridge", subject)]),
            arrivals: Arrivals::new(subject, None),
        }
    }
}

/// A running bridge: stops when dropped (or with [`stop`](Self::stop)).
#[derive(Debug)]
pub struct RunningBridge {
    counters: Arc<Counters>,
    task: actix_rt::task::JoinHandle<()>,
}

impl Bridge {
    /// The default bound on messages held waiting for room: 64 MiB.
    pub const DEFAULT_MAX_PENDING_BYTES: usize = 64 * 1024 * 1024;

    /// A bridge from `subject` to `targets`, dispatched through `dispatcher`, on
    /// `client`: a [`Client`], or a [`SupervisedClient`](crate::SupervisedClient) whose
    /// replacement the bridge subscribes on again.
    pub fn new(
        client: impl Into<ClientHandle>,
        subject: impl Into<String>,
        dispatcher: Addr<Dispatcher>,
        targets: impl IntoTargets,
    ) -> Self {
        Self {
            client: client.into(),
            subject: subject.into(),
            queue: None,
            dispatcher,
            targets: targets.into_targets(),
            max_in_flight: 256,
            max_message_size: 4 * 1024 * 1024,
            max_pending_bytes: Self::DEFAULT_MAX_PENDING_BYTES,
            dead_letter: None,
            filters: Vec::new(),
        }
    }

    /// Dispatches only the signals `filter` matches (a CloudEvents Subscriptions API
    /// filter over any attribute, extensions included; see [`Filter`]); the others are
    /// taken and counted (`BridgeStats::filtered`). Several filters must all match.
    pub fn filter(mut self, filter: Filter) -> Self {
        self.filters.push(filter);
        self
    }

    /// Joins queue group `group`: of the bridges in one group, each message goes to
    /// one.
    pub fn queue_group(mut self, group: impl Into<String>) -> Self {
        self.queue = Some(group.into());
        self
    }

    /// At most `max` dispatches at once (at least 1). Default is 256.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// At most `bytes` of messages held waiting for room when `max_in_flight`
    /// dispatches run (default 64 MiB, as nats.go). Past it, a message is dropped
    /// and counted (`BridgeStats::dropped`, a `WARN` on the first and every 1,000th).
    pub fn max_pending_bytes(mut self, bytes: usize) -> Self {
        self.max_pending_bytes = bytes;
        self
    }

    /// The largest message taken, in bytes. Default is 4 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Where malformed messages are reported as `herald.nats.malformed` signals.
    pub fn dead_letter(mut self, target: impl Into<Target>) -> Self {
        self.dead_letter = Some(target.into());
        self
    }

    /// Subscribes and starts taking messages, on the current arbiter. Returns once the
    /// server has registered the subscription (one request round trip), so a message
    /// published from any connection after this returns reaches the bridge.
    ///
    /// # Errors
    ///
    /// A subject that is not a valid filter, or a subscription the server refused or
    /// did not confirm within 10 s.
    pub async fn start(self) -> Result<RunningBridge, NatsError> {
        check_filter(&self.subject).map_err(|e| NatsError::Subscribe(e.to_string()))?;
        let client = self.client.client();
        let subscriber = self.subscribe(&client).await?;
        // Started means listening: a message published from anywhere after this
        // returns reaches the bridge.
        server_has_read(&client).await?;
        let counters = Arc::new(Counters::new(&self.subject));
        let task = actix_rt::spawn(run(self, client, subscriber, Arc::clone(&counters)));
        Ok(RunningBridge { counters, task })
    }

    async fn subscribe(&self, client: &Client) -> Result<async_nats::Subscriber, NatsError> {
        match &self.queue {
            Some(group) => {
                client
                    .queue_subscribe(self.subject.clone(), group.clone())
                    .await
            }
            None => client.subscribe(self.subject.clone()).await,
        }
        .map_err(|error| NatsError::Subscribe(error.to_string()))
    }
}

/// The bridge's life: its subscriptions one after another, each read until it ends;
/// then a replaced client (or the same one, if the server ended the subscription) is
/// subscribed on again, with backoff; a plain client's loss ends the bridge.
async fn run(
    bridge: Bridge,
    mut client: Client,
    subscriber: async_nats::Subscriber,
    counters: Arc<Counters>,
) {
    let mut reading = Reading::new(&bridge, &counters);
    reading.read(subscriber).await;
    let mut wait = RESUBSCRIBE.0;
    loop {
        let Some(next) = bridge.client.after_loss(&client).await else {
            break;
        };
        client = next;
        match bridge.subscribe(&client).await {
            Ok(subscriber) => {
                counters.resubscribed.add(1);
                tracing::warn!(target: "herald::nats", subject = bridge.subject, "bridge subscribed again");
                if reading.read(subscriber).await {
                    wait = RESUBSCRIBE.0;
                    continue;
                }
            }
            Err(error) => {
                tracing::warn!(target: "herald::nats", subject = bridge.subject, %error, "bridge could not subscribe again");
            }
        }
        // Nothing came (or no subscription): not at once again.
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(RESUBSCRIBE.1);
    }
    // The client closed: let what was taken finish.
    tracing::warn!(target: "herald::nats", subject = bridge.subject, "bridge stopped: its subscription ended (client closed)");
    reading.finish().await;
}

/// The shortest and longest wait before subscribing again.
const RESUBSCRIBE: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

/// The dispatches in flight, at most `max_in_flight`, polled in the bridge's own task
/// rather than a task each; and the messages waiting for room, at most
/// `max_pending_bytes`. The subscription is always read, so the client's buffer (bounded
/// only by message count) stays empty: the bytes are bounded here.
struct Reading<'b> {
    bridge: &'b Bridge,
    counters: &'b Counters,
    running: FuturesUnordered<tracing::instrument::Instrumented<BoxFuture<'b, ()>>>,
    pending: VecDeque<async_nats::Message>,
    pending_bytes: usize,
}

impl<'b> Reading<'b> {
    fn new(bridge: &'b Bridge, counters: &'b Counters) -> Self {
        Self {
            bridge,
            counters,
            running: FuturesUnordered::new(),
            pending: VecDeque::new(),
            pending_bytes: 0,
        }
    }

    /// Reads `subscriber` until it ends; whether any message came.
    async fn read(&mut self, subscriber: async_nats::Subscriber) -> bool {
        let mut subscriber = InRuntime::new(subscriber);
        let mut any = false;
        loop {
            let next = poll_fn(|cx| {
                self.settle(cx);
                subscriber.get_mut().poll_next_unpin(cx)
            })
            .await;
            let Some(message) = next else {
                return any;
            };
            any = true;
            self.counters.received.add(1);
            if self.running.len() < self.bridge.max_in_flight && self.pending.is_empty() {
                self.launch(message);
            } else {
                self.hold(message);
            }
        }
    }

    /// Polls the dispatches in flight, and launches what waits while there is room
    /// (polling the launched ones in turn).
    fn settle(&mut self, cx: &mut std::task::Context<'_>) {
        loop {
            while let Poll::Ready(Some(())) = self.running.poll_next_unpin(cx) {}
            let mut launched = false;
            while self.running.len() < self.bridge.max_in_flight
                && let Some(message) = self.pending.pop_front()
            {
                self.pending_bytes -= message.length;
                self.launch(message);
                launched = true;
            }
            if !launched {
                break;
            }
        }
        let pending = self.pending_bytes as u64;
        self.counters
            .pending_bytes
            .store(pending, Ordering::Relaxed);
    }

    /// Keeps `message` until there is room, or drops it past `max_pending_bytes`.
    fn hold(&mut self, message: async_nats::Message) {
        if self.pending_bytes + message.length > self.bridge.max_pending_bytes {
            let dropped = self.counters.dropped.add(1) + 1;
            if dropped % 1_000 == 1 {
                tracing::warn!(
                    target: "herald::nats",
                    subject = self.bridge.subject,
                    dropped,
                    max_pending_bytes = self.bridge.max_pending_bytes,
                    "bridge is a slow consumer: messages dropped"
                );
            }
            return;
        }
        self.pending_bytes += message.length;
        // A copy of its own: the client reads into large shared buffers, and a held
        // slice would keep all of its buffer.
        let mut message = message;
        message.payload = bytes::Bytes::copy_from_slice(&message.payload);
        self.pending.push_back(message);
    }

    /// Starts the dispatch of `message` (or reports it malformed).
    fn launch(&mut self, message: async_nats::Message) {
        let bridge = self.bridge;
        let counters = self.counters;
        let processing = counters.arrivals.arrived();
        let subject = message.subject.as_str();
        let signal = match decode(
            message.headers.as_ref(),
            &message.payload,
            bridge.max_message_size,
        ) {
            Ok(signal) => signal,
            Err(error) => {
                counters.malformed.add(1);
                tracing::warn!(target: "herald::nats", subject, %error, "malformed message on a bridged subject");
                if let Some(target) = &bridge.dead_letter {
                    report_malformed(&bridge.dispatcher, target, subject, &error.to_string());
                }
                return;
            }
        };
        if !bridge.filters.iter().all(|filter| filter.matches(&signal)) {
            counters.filtered.add(1);
            return;
        }
        let span = arrival_span(&signal, subject, bridge.queue.as_deref());
        let dispatch = span.in_scope(|| Dispatch::new(signal, Arc::clone(&bridge.targets)));
        let sent = bridge.dispatcher.send(dispatch);
        let dispatched: BoxFuture<'b, ()> = Box::pin(async move {
            let _processing = processing;
            match sent.await {
                Ok(Ok(_)) => {
                    counters.dispatched.add(1);
                }
                // Each failed delivery is already a `WARN` event of the dispatcher's.
                Ok(Err(_)) => {
                    counters.failed.add(1);
                }
                Err(error) => {
                    counters.failed.add(1);
                    tracing::warn!(target: "herald::nats", %error, "dispatcher unreachable from the bridge");
                }
            }
        });
        self.running.push(dispatched.instrument(span));
    }

    /// Lets what was taken finish (what waits for room is dropped, counted).
    async fn finish(&mut self) {
        let waiting = self.pending.len() as u64;
        self.counters.dropped.add(waiting);
        self.pending.clear();
        while self.running.next().await.is_some() {}
    }
}

/// A `herald.nats.malformed` signal for a message that was not a signal.
fn report_malformed(dispatcher: &Addr<Dispatcher>, target: &Target, subject: &str, error: &str) {
    let data = serde_json::json!({ "subject": subject, "error": error });
    match Signal::builder("herald.nats.malformed")
        .source("herald")
        .data(data)
        .build()
    {
        Ok(signal) => {
            use herald_core::DispatchExt;
            drop(dispatcher.dispatch_async(Dispatch::new(signal, [target.clone()])));
        }
        Err(error) => tracing::error!(%error, "malformed-message report could not be built"),
    }
}

impl RunningBridge {
    /// What the bridge has done so far.
    pub fn stats(&self) -> BridgeStats {
        BridgeStats {
            received: self.counters.received.get(),
            dispatched: self.counters.dispatched.get(),
            failed: self.counters.failed.get(),
            malformed: self.counters.malformed.get(),
            filtered: self.counters.filtered.get(),
            dropped: self.counters.dropped.get(),
            pending_bytes: self.counters.pending_bytes.load(Ordering::Relaxed),
            resubscribed: self.counters.resubscribed.get(),
        }
    }

    /// Whether it still takes messages: it stops when its client is closed (logged),
    /// or when told to.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops taking messages (dispatches already started run to their end).
    pub fn stop(self) {}
}

impl Drop for RunningBridge {
    fn drop(&mut self) {
        self.task.abort();
    }
}
