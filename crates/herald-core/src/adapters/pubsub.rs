//! `pubsub`: every subscriber of a topic.

use std::fmt;

use actix::dev::SendError;

use crate::pubsub::validate_topic;
use crate::target::Fields;
use crate::{
    ActorId, Adapter, Delivery, ErrorKind, Outcome, Placement, PubSub, SignalMessage, Target,
    TargetError, TargetOptions,
};

/// A target that broadcasts to every subscriber of a topic: build with
/// [`Target::pubsub`](crate::Target::pubsub), or from data as
/// `{"adapter": "pubsub", "topic": "orders", "require_subscribers": true}`.
///
/// Each subscriber gets the signal without waiting (like `pid` async). The outcome,
/// [`Outcome::Broadcast`], counts subscribers reached, full and gone; full or gone
/// subscribers are also reported as a `WARN` event. Gone subscribers are removed from
/// the topic. An empty topic succeeds with zero deliveries, unless
/// [`require_subscribers`](Self::require_subscribers) is set: then it fails with
/// [`ErrorKind::NoSubscribers`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct PubSubTarget {
    topic: String,
    require_subscribers: bool,
}

impl PubSubTarget {
    const FIELDS: [&'static str; 2] = ["topic", "require_subscribers"];

    pub(crate) fn new(topic: impl Into<String>) -> Result<Self, TargetError> {
        let topic = topic.into();
        validate_topic(&topic)
            .map_err(|_| TargetError::invalid_field("topic", "must not be empty"))?;
        Ok(Self {
            topic,
            require_subscribers: false,
        })
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

    pub(crate) fn from_fields(mut fields: Fields) -> Result<Self, TargetError> {
        let topic = fields
            .string("topic")?
            .ok_or_else(|| TargetError::MissingField {
                field: "topic".to_owned(),
            })?;
        let target = Self::new(topic)?
            .require_subscribers(fields.bool("require_subscribers")?.unwrap_or(false));
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }
}

impl TargetOptions for PubSubTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pubsub({})", self.topic)
    }
}

impl From<PubSubTarget> for Target {
    fn from(options: PubSubTarget) -> Self {
        Target::new("pubsub", options)
    }
}

/// Broadcasts through a topic hub.
pub(crate) struct PubSubAdapter(pub(crate) PubSub);

impl Adapter for PubSubAdapter {
    type Options = PubSubTarget;
    const KIND: &'static str = "topic";
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &serde_json::Value) -> Result<PubSubTarget, TargetError> {
        PubSubTarget::from_fields(Fields::from_config(config)?)
    }

    async fn deliver(&self, delivery: Delivery<'_, PubSubTarget>) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        let subscribers = self.0.subscribers(&target.topic);
        let message = SignalMessage::new(delivery.signal.clone());
        let (mut delivered, mut full) = (0, 0);
        let mut gone: Vec<ActorId> = Vec::new();
        for subscriber in subscribers.iter() {
            match subscriber.recipient.try_send(message.clone()) {
                Ok(()) => delivered += 1,
                Err(SendError::Full(_)) => full += 1,
                Err(SendError::Closed(_)) => gone.push(subscriber.actor),
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
