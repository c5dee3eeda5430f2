//! The bridge: NATS subjects in, local dispatches out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::Addr;
use async_nats::Client;
use std::future::poll_fn;
use std::task::Poll;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use herald_core::{Dispatch, Dispatcher, IntoTargets, Target};
use herald_signal::Signal;
use tracing::Instrument;

use crate::codec::decode;
use crate::confirm::server_has_read;
use crate::connect::NatsError;
use crate::guard::InRuntime;
use crate::subject::check_filter;
use crate::trace::arrival_span;

/// Subscribes to a subject (wildcards allowed: `*` one token, `>` the rest), optionally
/// in a queue group, and dispatches each signal that arrives to local targets.
///
/// - Both body modes are read ([`decode`](crate::decode)).
/// - A malformed message (not a signal, too large) is counted, reported in telemetry
///   (`WARN` on `herald::nats`), and — when the bridge has a dead letter — dispatched
///   there as a `herald.nats.malformed` signal; the bridge keeps going. Nothing panics.
/// - At most `max_in_flight` dispatches run at once (default 256): past that the
///   bridge stops reading, so the backlog waits in NATS and in the client's bounded
///   subscription buffer, not in this process's memory.
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
    client: Client,
    subject: String,
    queue: Option<String>,
    dispatcher: Addr<Dispatcher>,
    targets: Arc<[Target]>,
    max_in_flight: usize,
    max_message_size: usize,
    dead_letter: Option<Target>,
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
}

#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    dispatched: AtomicU64,
    failed: AtomicU64,
    malformed: AtomicU64,
}

/// A running bridge: stops when dropped (or with [`stop`](Self::stop)).
#[derive(Debug)]
pub struct RunningBridge {
    counters: Arc<Counters>,
    task: actix_rt::task::JoinHandle<()>,
}

impl Bridge {
    /// A bridge from `subject` to `targets`, dispatched through `dispatcher`.
    pub fn new(
        client: Client,
        subject: impl Into<String>,
        dispatcher: Addr<Dispatcher>,
        targets: impl IntoTargets,
    ) -> Self {
        Self {
            client,
            subject: subject.into(),
            queue: None,
            dispatcher,
            targets: targets.into_targets(),
            max_in_flight: 256,
            max_message_size: 4 * 1024 * 1024,
            dead_letter: None,
        }
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
        let subscriber = match &self.queue {
            Some(group) => {
                self.client
                    .queue_subscribe(self.subject.clone(), group.clone())
                    .await
            }
            None => self.client.subscribe(self.subject.clone()).await,
        }
        .map_err(|error| NatsError::Subscribe(error.to_string()))?;
        // Started means listening: a message published from anywhere after this
        // returns reaches the bridge.
        server_has_read(&self.client).await?;
        let counters = Arc::new(Counters::default());
        let task = actix_rt::spawn(run(self, subscriber, Arc::clone(&counters)));
        Ok(RunningBridge { counters, task })
    }
}

async fn run(bridge: Bridge, subscriber: async_nats::Subscriber, counters: Arc<Counters>) {
    let mut subscriber = InRuntime::new(subscriber);
    // The dispatches in flight, at most `max_in_flight`: polled here, in the bridge's
    // own task, rather than a task each.
    let mut running = FuturesUnordered::new();
    loop {
        let next = poll_fn(|cx| {
            while let Poll::Ready(Some(())) = running.poll_next_unpin(cx) {}
            if running.len() >= bridge.max_in_flight {
                return Poll::Pending;
            }
            subscriber.get_mut().poll_next_unpin(cx)
        })
        .await;
        let Some(message) = next else {
            break;
        };
        counters.received.fetch_add(1, Ordering::Relaxed);
        let subject = message.subject.as_str();
        let signal = match decode(
            message.headers.as_ref(),
            &message.payload,
            bridge.max_message_size,
        ) {
            Ok(signal) => signal,
            Err(error) => {
                counters.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "herald::nats", subject, %error, "malformed message on a bridged subject");
                if let Some(target) = &bridge.dead_letter {
                    report_malformed(&bridge.dispatcher, target, subject, &error.to_string());
                }
                continue;
            }
        };
        let span = arrival_span(&signal, subject);
        let dispatch = span.in_scope(|| Dispatch::new(signal, Arc::clone(&bridge.targets)));
        let sent = bridge.dispatcher.send(dispatch);
        let counters = &counters;
        running.push(
            async move {
                match sent.await {
                    Ok(Ok(_)) => {
                        counters.dispatched.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(error)) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(target: "herald::nats", %error, "bridged dispatch had failures");
                    }
                    Err(error) => {
                        counters.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(target: "herald::nats", %error, "dispatcher unreachable from the bridge");
                    }
                }
            }
            .instrument(span),
        );
    }
    // The subscription ended (the client closed): let what was taken finish.
    tracing::warn!(target: "herald::nats", subject = bridge.subject, "bridge stopped: its subscription ended (client closed)");
    while running.next().await.is_some() {}
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
            received: self.counters.received.load(Ordering::Relaxed),
            dispatched: self.counters.dispatched.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            malformed: self.counters.malformed.load(Ordering::Relaxed),
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
