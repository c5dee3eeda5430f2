//! Durable at-least-once delivery on JetStream: signals persisted in a stream, then
//! delivered by a durable consumer to local targets, acknowledged only once delivered.

use std::collections::{HashMap, VecDeque};
use std::num::NonZeroU64;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use actix::Addr;
use async_nats::Client;
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::{self, AckKind};
use futures_util::StreamExt;
use herald_core::http::{RetryPolicy, random};
use herald_core::resilience::DeadLetter;
use herald_core::{
    Dispatch, DispatchExt, Dispatcher, ErrorKind, IntoTargets, Target, TargetError, TargetFailure,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tracing::Instrument;

use crate::adapter::NatsTarget;
use crate::codec::{STORED_LIMIT, decode};
use crate::connect::NatsError;
use crate::guard::InRuntime;
use crate::stream::StreamSettings;
use crate::subject::check_filter;
use crate::supervise::{ClientHandle, same};
use crate::tally::{Arrivals, CONSUMER_MESSAGES, CONSUMER_REDELIVERED, CONSUMER_RESTARTED, Tally};
use crate::trace::arrival_span;

/// A JetStream stream that keeps signals until a durable consumer has delivered them.
///
/// Publish with a `nats` target made by [`target`](Self::target) (JetStream, message id
/// = signal id, so the stream's duplicate window drops a republished copy); consume
/// with [`consumer`](Self::consumer).
#[derive(Debug, Clone)]
pub struct Durable {
    client: ClientHandle,
    stream: String,
}

impl Durable {
    /// Opens (or makes) stream `name` over `subjects` with the default
    /// [`StreamSettings`]: one replica, in files, kept until a limit removes it, a
    /// duplicate window of two minutes. On a [`SupervisedClient`](crate::SupervisedClient),
    /// its consumers go on on a client that replaced a dead one.
    ///
    /// # Errors
    ///
    /// A name or subject the server refuses, or a stream of that name with another
    /// configuration.
    pub async fn open(
        client: impl Into<ClientHandle>,
        name: &str,
        subjects: &[&str],
    ) -> Result<Self, NatsError> {
        Self::open_with(client, name, subjects, &StreamSettings::default()).await
    }

    /// As [`open`](Self::open), with the stream's replicas, storage, retention and
    /// limits chosen (an existing stream is opened as it is).
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open); also more replicas than the cluster has servers.
    pub async fn open_with(
        client: impl Into<ClientHandle>,
        name: &str,
        subjects: &[&str],
        settings: &StreamSettings,
    ) -> Result<Self, NatsError> {
        for subject in subjects {
            check_filter(subject).map_err(|error| NatsError::JetStream(error.to_string()))?;
        }
        let client = client.into();
        jetstream::new(client.client())
            .get_or_create_stream(settings.config(name, subjects))
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))?;
        Ok(Self {
            client,
            stream: name.to_owned(),
        })
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    pub(crate) async fn stream(&self) -> Result<jetstream::stream::Stream, NatsError> {
        jetstream::new(self.client.client())
            .get_stream(&self.stream)
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))
    }

    /// A `nats` target that publishes to `subject` in this stream and succeeds once the
    /// stream has stored the signal.
    ///
    /// # Errors
    ///
    /// A subject that cannot be published to.
    pub fn target(subject: &str) -> Result<NatsTarget, TargetError> {
        Ok(NatsTarget::to(subject)?.jetstream())
    }

    /// A durable consumer named `name` that delivers this stream's signals to
    /// `targets` through `dispatcher`.
    pub fn consumer(
        &self,
        name: &str,
        dispatcher: Addr<Dispatcher>,
        targets: impl IntoTargets,
    ) -> DurableConsumer {
        DurableConsumer {
            durable: self.clone(),
            name: name.to_owned(),
            filter: None,
            dispatcher,
            targets: targets.into_targets(),
            max_deliver: 5,
            ack_wait: Duration::from_secs(30),
            backoff: RetryPolicy::new(5, Duration::from_millis(500), Duration::from_secs(30))
                .unwrap_or_default(),
            dead_letter: None,
            max_in_flight: 64,
        }
    }
}

/// A durable consumer, before it starts. Several processes starting a consumer of one
/// name share its messages; one that dies leaves its unacknowledged messages to the
/// others after `ack_wait`.
#[derive(Debug)]
#[must_use = "a consumer does nothing until started"]
pub struct DurableConsumer {
    durable: Durable,
    name: String,
    filter: Option<String>,
    dispatcher: Addr<Dispatcher>,
    targets: Arc<[Target]>,
    max_deliver: i64,
    ack_wait: Duration,
    backoff: RetryPolicy,
    dead_letter: Option<Target>,
    max_in_flight: usize,
}

/// What a running consumer has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Messages delivered to every target and acknowledged.
    pub acked: u64,
    /// Messages handed back for a later retry (`nak` with a delay).
    pub retried: u64,
    /// Messages given up on (after `max_deliver` attempts, or a failure no retry
    /// fixes), each failed target's signal dead-lettered when there is a dead letter.
    pub given_up: u64,
    /// Messages that were not signals (terminated).
    pub malformed: u64,
    /// Messages whose signal had expired (its `expirytime`, or every failed target's
    /// max age): terminated, not redelivered; not dead-lettered by the consumer (a
    /// target's own `Expiry` may have).
    pub expired: u64,
    /// Messages the stream delivered again (after a `nak`, or an `ack_wait` that ran
    /// out, e.g. across a restart).
    pub redelivered: u64,
    /// Times the consumer was made again on a client that replaced a dead one (a
    /// [`SupervisedClient`](crate::SupervisedClient)); what it held unacknowledged is
    /// redelivered by the stream after `ack_wait`.
    pub restarted: u64,
}

/// A consumer's counts, each also a metric (feature `metrics`).
#[derive(Debug)]
struct Counters {
    acked: Tally,
    retried: Tally,
    given_up: Tally,
    malformed: Tally,
    expired: Tally,
    redelivered: Tally,
    restarted: Tally,
    arrivals: Arrivals,
}

impl Counters {
    fn new(consumer: &DurableConsumer) -> Self {
        let name = consumer.name.as_str();
        let messages =
            |result| Tally::new(CONSUMER_MESSAGES, &[("consumer", name), ("result", result)]);
        Self {
            acked: messages("acked"),
            retried: messages("retried"),
            given_up: messages("given_up"),
            malformed: messages("malformed"),
            expired: messages("expired"),
            redelivered: Tally::new(CONSUMER_REDELIVERED, &[("consumer", name)]),
            restarted: Tally::new(CONSUMER_RESTARTED, &[("consumer", name)]),
            arrivals: Arrivals::new(&consumer.durable.stream, Some(name)),
        }
    }
}

/// A running consumer. Dropping it stops it at once, without acknowledging what it
/// holds: as a crash would, so the stream redelivers those after `ack_wait`.
#[derive(Debug)]
pub struct RunningConsumer {
    counters: Arc<Counters>,
    task: actix_rt::task::JoinHandle<()>,
}

impl RunningConsumer {
    /// What the consumer has done so far.
    pub fn stats(&self) -> ConsumerStats {
        ConsumerStats {
            acked: self.counters.acked.get(),
            retried: self.counters.retried.get(),
            given_up: self.counters.given_up.get(),
            malformed: self.counters.malformed.get(),
            expired: self.counters.expired.get(),
            redelivered: self.counters.redelivered.get(),
            restarted: self.counters.restarted.get(),
        }
    }

    /// Whether it still takes messages. It stops only when its message stream ends
    /// for good (logged as an error): the consumer was deleted on the server, a plain
    /// client's connection task died, the supervised client was closed; or it was told
    /// to stop.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for RunningConsumer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl DurableConsumer {
    /// Takes only the stream's subjects matching `filter`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.filter = Some(filter.into());
        self
    }

    /// Attempts per message before it is given up on (at least 1). Default is 5.
    pub fn max_deliver(mut self, attempts: u32) -> Self {
        self.max_deliver = i64::from(attempts.max(1));
        self
    }

    /// How long a delivered message may stay unacknowledged before the stream hands it
    /// to another consumer (at least 1 s). Default is 30 seconds.
    pub fn ack_wait(mut self, wait: Duration) -> Self {
        self.ack_wait = wait.max(Duration::from_secs(1));
        self
    }

    /// The wait before each retry (`nak` with this delay). Default: 0.5 s doubling to
    /// 30 s, with jitter.
    pub fn backoff(mut self, backoff: RetryPolicy) -> Self {
        self.backoff = backoff;
        self
    }

    /// Where each failed target's signal goes when a message is given up on (a
    /// [`DeadLetterStore`](crate::DeadLetterStore) keeps them on JetStream). The
    /// message is terminated only once every dead letter was taken; when one fails,
    /// it stays in the stream unacknowledged, logged as an error, for a replay.
    pub fn dead_letter(mut self, target: impl Into<Target>) -> Self {
        self.dead_letter = Some(target.into());
        self
    }

    /// At most `max` messages in delivery at once (at least 1). Default is 64.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max.max(1);
        self
    }

    /// Makes (or finds) the durable consumer and starts delivering, on the current
    /// arbiter.
    ///
    /// # Errors
    ///
    /// A consumer the server refuses (e.g. one of that name with another
    /// configuration).
    pub async fn start(self) -> Result<RunningConsumer, NatsError> {
        let client = self.durable.client.client();
        let messages = self.messages(&client).await?;
        let counters = Arc::new(Counters::new(&self));
        let task = actix_rt::spawn(consume(
            Arc::new(self),
            client,
            messages,
            Arc::clone(&counters),
        ));
        Ok(RunningConsumer { counters, task })
    }

    /// Makes (or finds) the durable consumer on `client` and pulls its messages.
    async fn messages(&self, client: &Client) -> Result<pull::Stream, NatsError> {
        let stream = jetstream::new(client.clone())
            .get_stream(&self.durable.stream)
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))?;
        let config = pull::Config {
            durable_name: Some(self.name.clone()),
            ack_policy: AckPolicy::Explicit,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            max_ack_pending: self.max_in_flight as i64,
            filter_subject: self.filter.clone().unwrap_or_default(),
            ..pull::Config::default()
        };
        let consumer = stream
            .get_or_create_consumer(&self.name, config)
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))?;
        // Pulls sized to what may be in flight (the server holds no more unacknowledged
        // anyway), renewed every 10 s with a heartbeat every 5: should the client's
        // count of what a pull still owes go wrong, a new pull comes within seconds,
        // not after async-nats' default 30.
        consumer
            .stream()
            .max_messages_per_batch(self.max_in_flight)
            .expires(Duration::from_secs(10))
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await
            .map_err(|error| NatsError::JetStream(error.to_string()))
    }

    /// The messages again after they ended on `client`: on the client that replaced it
    /// when its connection task died (with backoff until the consumer is made there);
    /// `None` when the client still works (the consumer was deleted) or is plain.
    async fn after_loss(&self, client: &mut Client) -> Option<pull::Stream> {
        let next = self.durable.client.after_loss(client).await?;
        if same(&next, client) {
            return None;
        }
        *client = next;
        let mut wait = RESTART.0;
        loop {
            match self.messages(client).await {
                Ok(messages) => return Some(messages),
                Err(error) => {
                    tracing::warn!(target: "herald::nats", consumer = self.name, %error, ?wait, "durable consumer could not start again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RESTART.1);
                    *client = self.durable.client.after_loss(client).await?;
                }
            }
        }
    }
}

/// The shortest and longest wait before a consumer is made again on a new client.
const RESTART: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(5));

async fn consume(
    consumer: Arc<DurableConsumer>,
    mut client: Client,
    messages: pull::Stream,
    counters: Arc<Counters>,
) {
    let mut messages = InRuntime::new(messages);
    let permits = Arc::new(Semaphore::new(consumer.max_in_flight));
    // Deliveries are this task's children: when it is dropped (the consumer stopped, or
    // its node went down) they stop with it, unacknowledged, and the stream hands their
    // messages to another consumer after `ack_wait`.
    let mut running = tokio::task::JoinSet::new();
    let mut lanes = Lanes::default();
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel::<NonZeroU64>();
    let mut tick = tokio::time::interval(consumer.ack_wait / 2);
    // A message is taken only with a permit in hand, and the permit is awaited beside
    // the lanes' events: held messages are kept alive while the consumer is full.
    let mut permit: Option<OwnedSemaphorePermit> = None;
    let mut acquiring = Box::pin(Arc::clone(&permits).acquire_owned());
    loop {
        loop {
            let event = std::future::poll_fn(|cx| {
                if let Poll::Ready(Some(key)) = finished.poll_recv(cx) {
                    return Poll::Ready(Event::Done(key));
                }
                if tick.poll_tick(cx).is_ready() {
                    return Poll::Ready(Event::Tick);
                }
                if permit.is_none() {
                    match acquiring.as_mut().poll(cx) {
                        Poll::Ready(Ok(acquired)) => permit = Some(acquired),
                        Poll::Ready(Err(_)) => return Poll::Ready(Event::Message(None)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                messages.get_mut().poll_next_unpin(cx).map(Event::Message)
            })
            .await;
            while running.try_join_next().is_some() {}
            // A message let go by its lane is its lane's next: it goes now.
            let (message, slot, next_in_lane) = match event {
                Event::Tick => {
                    lanes.keep_alive().await;
                    continue;
                }
                Event::Done(key) => match lanes.next(key) {
                    Some((message, permit)) => (message, permit, true),
                    None => continue,
                },
                Event::Message(None) => break,
                Event::Message(Some(Err(error))) => {
                    tracing::warn!(target: "herald::nats", consumer = consumer.name, %error, "durable consumer: message stream error");
                    continue;
                }
                Event::Message(Some(Ok(message))) => {
                    let Some(taken) = permit.take() else {
                        continue;
                    };
                    acquiring = Box::pin(Arc::clone(&permits).acquire_owned());
                    (message, taken, false)
                }
            };
            let decoded = decode(message.headers.as_ref(), &message.payload, STORED_LIMIT);
            let key = decoded.as_ref().ok().and_then(partition_key);
            // A key whose earlier message is under way waits behind it, in order.
            let key = match key {
                Some(key) if next_in_lane => Some(key),
                Some(key) if lanes.busy(key) => {
                    lanes.hold(key, message, slot);
                    continue;
                }
                Some(key) => Some(lanes.open(key)),
                None => None,
            };
            let consumer = Arc::clone(&consumer);
            let counters = Arc::clone(&counters);
            let done = done.clone();
            running.spawn_local(async move {
                let _slot = slot;
                handle(&consumer, message, decoded, key.is_some(), &counters).await;
                if let Some(key) = key {
                    let _ = done.send(key);
                }
            });
        }
        let Some(again) = consumer.after_loss(&mut client).await else {
            break;
        };
        messages = InRuntime::new(again);
        // What the lanes held was pulled on the lost client: the stream redelivers it.
        lanes = Lanes::default();
        counters.restarted.add(1);
        tracing::warn!(target: "herald::nats", consumer = consumer.name, "durable consumer started again on a new client");
    }
    // Not silent: nothing more will be delivered, and whoever runs the node must know.
    tracing::error!(
        target: "herald::nats",
        consumer = consumer.name,
        "durable consumer stopped: its message stream ended (was the consumer deleted, or the client closed?)"
    );
    // What is in flight settles before the task ends.
    while running.join_next().await.is_some() {}
}

/// The hash of a stored signal's ordering key: its `partitionkey`.
fn partition_key(signal: &herald_signal::Signal) -> Option<NonZeroU64> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let key = signal.extension(herald_signal::PARTITIONKEY)?.to_string();
    let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    Some(NonZeroU64::new(hash).unwrap_or(NonZeroU64::MAX))
}

/// What woke the consumer. (A local of one loop turn, never kept: its size does not
/// matter.)
#[allow(clippy::large_enum_variant)]
enum Event {
    Message(Option<Result<jetstream::Message, pull::MessagesError>>),
    /// A keyed message's delivery ended.
    Done(NonZeroU64),
    /// Time to keep the held messages alive.
    Tick,
}

/// Keyed messages waiting behind an earlier one of their key (its partitionkey): one
/// in delivery per key, in stream order. A held message keeps its in-flight permit.
#[derive(Default)]
struct Lanes(HashMap<NonZeroU64, VecDeque<(jetstream::Message, OwnedSemaphorePermit)>>);

impl Lanes {
    fn busy(&self, key: NonZeroU64) -> bool {
        self.0.contains_key(&key)
    }

    fn open(&mut self, key: NonZeroU64) -> NonZeroU64 {
        self.0.insert(key, VecDeque::new());
        key
    }

    fn hold(&mut self, key: NonZeroU64, message: jetstream::Message, permit: OwnedSemaphorePermit) {
        self.0.entry(key).or_default().push_back((message, permit));
    }

    /// The next message of `key`, whose earlier one ended; the lane closes when none.
    fn next(&mut self, key: NonZeroU64) -> Option<(jetstream::Message, OwnedSemaphorePermit)> {
        let lane = self.0.get_mut(&key)?;
        let next = lane.pop_front();
        if next.is_none() {
            self.0.remove(&key);
        }
        next
    }

    /// Tells the stream every held message is still in progress.
    async fn keep_alive(&self) {
        for (message, _) in self.0.values().flatten() {
            settle(message, AckKind::Progress).await;
        }
    }
}

/// Delivers one message and settles it with the stream. A retryable failure is handed
/// back for a later retry (`nak`), or, `in_place` (a keyed message, whose later ones
/// wait behind it), retried here after the same backoff, keeping its place.
async fn handle(
    consumer: &DurableConsumer,
    message: jetstream::Message,
    decoded: Result<herald_signal::Signal, crate::codec::DecodeError>,
    in_place: bool,
    counters: &Counters,
) {
    let _processing = counters.arrivals.arrived();
    let mut attempt = message.info().map_or(1, |info| info.delivered);
    if attempt > 1 {
        counters.redelivered.add(1);
    }
    let subject = message.subject.to_string();
    let signal = match decoded {
        Ok(signal) => Arc::new(signal),
        Err(error) => {
            counters.malformed.add(1);
            tracing::warn!(target: "herald::nats", subject, %error, "durable consumer: not a signal");
            settle(&message, AckKind::Term).await;
            return;
        }
    };
    loop {
        if signal.expired_at(herald_signal::Utc::now()) {
            expired(&message, counters, &subject, attempt).await;
            return;
        }
        let span = arrival_span(&signal, &subject, Some(&consumer.name));
        let dispatch =
            span.in_scope(|| Dispatch::new(Arc::clone(&signal), Arc::clone(&consumer.targets)));
        let sent = consumer.dispatcher.send(dispatch).instrument(span);
        let result = kept_alive(&message, consumer.ack_wait, sent).await;
        let error = match result {
            Ok(Ok(_)) => {
                counters.acked.add(1);
                settle(&message, AckKind::Ack).await;
                return;
            }
            Ok(Err(error)) => Some(error),
            Err(_) => None,
        };
        let is_expired = |f: &TargetFailure| matches!(f.error.kind(), ErrorKind::Expired);
        if let Some(error) = &error
            && error.failures().iter().all(is_expired)
        {
            expired(&message, counters, &subject, attempt).await;
            return;
        }
        let retryable = error
            .as_ref()
            .is_none_or(|e| e.failures().iter().all(|f| f.error.retryable()));
        if retryable && attempt < consumer.max_deliver {
            counters.retried.add(1);
            let wait = consumer
                .backoff
                .backoff(u32::try_from(attempt).unwrap_or(u32::MAX), random());
            if !in_place {
                settle(&message, AckKind::Nak(Some(wait))).await;
                return;
            }
            kept_alive(&message, consumer.ack_wait, tokio::time::sleep(wait)).await;
            attempt += 1;
            continue;
        }
        give_up(
            consumer,
            &message,
            &signal,
            error.as_ref(),
            counters,
            &subject,
            attempt,
        )
        .await;
        return;
    }
}

/// Gives up on a message: dead-letters each failed target (but expired ones), then
/// terminates it, or leaves it in the stream when a dead letter failed.
async fn give_up(
    consumer: &DurableConsumer,
    message: &jetstream::Message,
    signal: &Arc<herald_signal::Signal>,
    error: Option<&herald_core::DispatchError>,
    counters: &Counters,
    subject: &str,
    attempt: i64,
) {
    let is_expired = |f: &&TargetFailure| matches!(f.error.kind(), ErrorKind::Expired);
    counters.given_up.add(1);
    let mut kept = true;
    if let (Some(error), Some(target)) = (error, &consumer.dead_letter) {
        for failure in error.failures().iter().filter(|f| !is_expired(f)) {
            kept &= dead_letter(consumer, signal, failure, target).await;
        }
    }
    if !kept {
        // Not terminated: with interest or work-queue retention a terminated message
        // is removed, and this one is kept nowhere else. It stays in the stream,
        // unacknowledged (redelivered while attempts remain), for a replay.
        tracing::error!(target: "herald::nats", subject, attempt, "durable consumer gave up on a message whose dead letter failed: it stays in the stream, unacknowledged");
        settle(message, AckKind::Nak(Some(consumer.ack_wait))).await;
        return;
    }
    tracing::warn!(target: "herald::nats", subject, attempt, "durable consumer gave up on a message");
    settle(message, AckKind::Term).await;
}

/// Awaits `dispatch` while telling the stream, every half `ack_wait`, that `message`
/// is still in progress: a delivery held by a paused endpoint, or retried for longer
/// than `ack_wait`, is not redelivered meanwhile (to this consumer or another) and so
/// not delivered twice. If this process dies, the keep-alives stop and the stream
/// redelivers after `ack_wait` as before.
async fn kept_alive<F: std::future::Future>(
    message: &jetstream::Message,
    ack_wait: Duration,
    dispatch: F,
) -> F::Output {
    let mut dispatch = std::pin::pin!(dispatch);
    let every = ack_wait / 2;
    loop {
        match tokio::time::timeout(every, dispatch.as_mut()).await {
            Ok(output) => return output,
            Err(_) => settle(message, AckKind::Progress).await,
        }
    }
}

/// Terminates a message whose signal expired: redelivering it could not help.
async fn expired(message: &jetstream::Message, counters: &Counters, subject: &str, attempt: i64) {
    counters.expired.add(1);
    tracing::info!(target: "herald::nats", subject, attempt, "durable consumer: the signal expired; terminated");
    settle(message, AckKind::Term).await;
}

/// Sends `failure`'s dead letter to `target`; whether it took it.
async fn dead_letter(
    consumer: &DurableConsumer,
    signal: &Arc<herald_signal::Signal>,
    failure: &herald_core::TargetFailure,
    target: &Target,
) -> bool {
    let letter = match DeadLetter::wrap(signal, &failure.error, &consumer.targets[failure.index]) {
        Ok(letter) => letter,
        Err(error) => {
            tracing::error!(target: "herald::nats", %error, "dead letter could not be built");
            return false;
        }
    };
    let dispatch = Dispatch::new(letter, [target.clone()]).no_dead_letter();
    match consumer.dispatcher.dispatch_async(dispatch).await {
        Ok(_) => true,
        Err(error) => {
            tracing::error!(target: "herald::nats", %error, "durable consumer: dead letter failed");
            false
        }
    }
}

async fn settle(message: &jetstream::Message, kind: AckKind) {
    if let Err(error) = message.ack_with(kind).await {
        tracing::warn!(target: "herald::nats", %error, "durable consumer: acknowledgement not sent");
    }
}
