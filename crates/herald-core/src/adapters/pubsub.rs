//! `pubsub`: every subscriber of a topic.

use std::fmt;
use std::time::Duration;

use futures_util::future::join_all;

use super::mailbox;
use crate::pubsub::validate_topic;
use crate::target::ConfigFields;
use crate::time::deadline_after;
use crate::{
    ActorId, Adapter, Delivery, ErrorKind, Mode, Outcome, Placement, PubSub, SignalMessage, Target,
    TargetError, TargetOptions,
};

/// A target that broadcasts to every subscriber of a topic: build with
/// [`Target::pubsub`](crate::Target::pubsub), or from data as
/// `{"adapter": "pubsub", "topic": "orders", "require_subscribers": true}`.
///
/// Each subscriber gets the signal without awaiting its handler. A subscriber whose
/// mailbox is full is waited on, up to the target's [timeout](Self::timeout), all of
/// them at once ([`Mode::Async`], the default), or skipped at once
/// ([`best_effort`](Self::best_effort)). The outcome, [`Outcome::Broadcast`], counts
/// subscribers reached, full (still full when the wait ended) and gone; full or gone
/// subscribers are also reported as a `WARN` event. Gone subscribers are removed from
/// the topic. An empty topic succeeds with zero deliveries, unless
/// [`require_subscribers`](Self::require_subscribers) is set: then it fails with
/// [`ErrorKind::NoSubscribers`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct PubSubTarget {
    topic: String,
    require_subscribers: bool,
    mode: Mode,
    timeout: Duration,
}

impl PubSubTarget {
    const FIELDS: [&'static str; 4] = ["topic", "require_subscribers", "mode", "timeout_ms"];

    pub(crate) fn new(topic: impl Into<String>) -> Result<Self, TargetError> {
        let topic = topic.into();
        validate_topic(&topic).map_err(|error| {
            TargetError::invalid_field("topic", error.to_string().replacen("topic ", "", 1))
        })?;
        Ok(Self {
            topic,
            require_subscribers: false,
            mode: Mode::Async,
            timeout: mailbox::DEFAULT_TIMEOUT,
        })
    }

    /// Skips a subscriber whose mailbox is full at once, counting it as full. Default
    /// is to wait for room, up to the [timeout](Self::timeout).
    pub fn best_effort(mut self) -> Self {
        self.mode = Mode::BestEffort;
        self
    }

    /// Sets how long a broadcast waits for room in full mailboxes. Longer than an hour
    /// counts as an hour. Default is 5 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.min(mailbox::MAX_TIMEOUT);
        self
    }

    /// Whether an empty topic fails the delivery.
    pub fn requires_subscribers(&self) -> bool {
        self.require_subscribers
    }

    /// [`Mode::Async`] (wait for room) or [`Mode::BestEffort`].
    pub fn delivery_mode(&self) -> Mode {
        self.mode
    }

    /// How long a broadcast waits for room.
    pub fn timeout_value(&self) -> Duration {
        self.timeout
    }

    /// Fails with [`ErrorKind::NoSubscribers`] when no live subscriber took the signal.
    /// Default is off: an empty topic is a success with zero deliveries.
    pub fn require_subscribers(mut self, require: bool) -> Self {
        self.require_subscribers = require;
        self
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let topic = fields.required_string("topic")?;
        let mut target = Self::new(topic)?
            .require_subscribers(fields.bool("require_subscribers")?.unwrap_or(false));
        if let Some(Mode::BestEffort) = fields.one_of("mode", &Mode::CHOICES[..2])? {
            target = target.best_effort();
        }
        if let Some(timeout) = fields.millis("timeout_ms", mailbox::MAX_TIMEOUT)? {
            target = target.timeout(timeout);
        }
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }
}

impl TargetOptions for PubSubTarget {
    /// A broadcast is made by a future (its adapter has no `deliver_now`): a
    /// subscriber's full mailbox is waited for, and a sync subscriber's answer.
    fn waits(&self) -> bool {
        true
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pubsub({})", self.topic)
    }

    fn to_config(&self, _: crate::Secrets) -> Option<serde_json::Map<String, serde_json::Value>> {
        Some(serde_json::Map::from_iter([
            ("topic".to_owned(), self.topic.clone().into()),
            (
                "require_subscribers".to_owned(),
                self.require_subscribers.into(),
            ),
            ("mode".to_owned(), self.mode.as_str().into()),
            (
                "timeout_ms".to_owned(),
                (self.timeout.as_millis() as u64).into(),
            ),
        ]))
    }
}

impl From<PubSubTarget> for Target {
    fn from(options: PubSubTarget) -> Self {
        Target::new(super::name::PUBSUB, options)
    }
}

/// Broadcasts through a topic hub.
pub(crate) struct PubSubAdapter(pub(crate) PubSub);

impl Adapter for PubSubAdapter {
    type Options = PubSubTarget;
    const KIND: &'static str = "topic";
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &serde_json::Value) -> Result<PubSubTarget, TargetError> {
        PubSubTarget::from_fields(ConfigFields::from_config(config)?)
    }

    fn timeout(&self, options: &PubSubTarget) -> Option<Duration> {
        Some(options.timeout)
    }

    async fn deliver(&self, delivery: Delivery<'_, PubSubTarget>) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        let subscribers = self.0.subscribers(&target.topic);
        let message = SignalMessage::new(delivery.signal.clone());
        let (mut delivered, mut full) = (0, 0);
        let mut gone: Vec<ActorId> = Vec::new();
        let mut waiting = Vec::new();
        for subscriber in subscribers.iter() {
            match mailbox::try_push(&subscriber.recipient, message.clone()) {
                Ok(_) => delivered += 1,
                Err((_, Some(message))) if target.mode == Mode::Async => {
                    waiting.push((subscriber, message));
                }
                Err((ErrorKind::MailboxFull, _)) => full += 1,
                Err(_) => gone.push(subscriber.actor),
            }
        }
        if !waiting.is_empty() {
            let deadline = deadline_after(target.timeout);
            let waits = waiting.into_iter().map(|(subscriber, message)| async move {
                let result = mailbox::wait_for_room(&subscriber.recipient, message, deadline);
                (subscriber.actor, result.await)
            });
            for (actor, result) in join_all(waits).await {
                match result {
                    Ok(_) => delivered += 1,
                    Err(ErrorKind::MailboxFull) => full += 1,
                    Err(_) => gone.push(actor),
                }
            }
        }
        self.0.remove(&target.topic, &gone);
        if full > 0 || !gone.is_empty() {
            tracing::warn!(
                topic = %target.topic,
                delivered,
                full,
                gone = gone.len(),
                "some subscribers did not get the signal"
            );
        }
        if target.require_subscribers && delivered + full == 0 {
            return Err(ErrorKind::NoSubscribers);
        }
        Ok(Outcome::Broadcast {
            delivered,
            full,
            gone: gone.len(),
        })
    }
}
