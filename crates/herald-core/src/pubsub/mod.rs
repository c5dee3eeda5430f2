//! Topics: the hub the `pubsub` adapter broadcasts through.

use std::fmt;
use std::sync::Arc;

use actix::Recipient;
use dashmap::DashMap;
use thiserror::Error;

use crate::{ActorId, SignalMessage};

/// Why a topic hub refused a call.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PubSubError {
    /// A topic must not be empty.
    #[error("topic must not be empty")]
    EmptyTopic,
    /// A topic is at most 1,024 bytes, without control or invisible format characters
    /// (so that it cannot forge a log line or pass for another topic).
    #[error("topic must be at most 1024 bytes, without control or invisible format characters")]
    InvalidTopic,
}

/// The longest topic, in bytes.
pub(crate) const MAX_TOPIC_LEN: usize = 1024;

pub(crate) fn validate_topic(topic: &str) -> Result<(), PubSubError> {
    if topic.is_empty() {
        Err(PubSubError::EmptyTopic)
    } else if topic.len() > MAX_TOPIC_LEN || topic.chars().any(crate::text::is_hidden) {
        Err(PubSubError::InvalidTopic)
    } else {
        Ok(())
    }
}

/// One subscriber of a topic.
#[derive(Clone)]
pub(crate) struct Subscriber {
    pub(crate) actor: ActorId,
    /// Strong, and the same sender for every broadcast: actix refuses a sender that its
    /// earlier message parked on a full mailbox, which is how "full" is seen at all.
    pub(crate) recipient: Recipient<SignalMessage>,
}

/// Topics and their subscribers, for `pubsub` targets. Cheap to clone: clones share one
/// table.
///
/// A subscription holds the subscriber's address, so it keeps the actor's mailbox open
/// (like any `Addr`) until it unsubscribes or stops itself; subscribers that stopped are
/// removed when a broadcast finds them gone, and by
/// [`subscriber_count`](PubSub::subscriber_count). Holding one sender per subscriber is
/// what lets a broadcast see a full mailbox (actix refuses a sender whose earlier message
/// filled it). A topic is non-empty text of at most 1,024 bytes without control or
/// invisible format characters.
///
/// ```
/// # use actix::prelude::*;
/// # use herald_core::{PubSub, Rejection, SignalMessage};
/// # struct Listener;
/// # impl Actor for Listener { type Context = Context<Self>; }
/// # impl Handler<SignalMessage> for Listener {
/// #     type Result = Result<(), Rejection>;
/// #     fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result { Ok(()) }
/// # }
/// # actix::System::new().block_on(async {
/// let pubsub = PubSub::new();
/// let listener = Listener.start();
/// pubsub.subscribe("orders", listener.clone().recipient())?;
/// assert_eq!(pubsub.subscriber_count("orders"), 1);
/// pubsub.unsubscribe("orders", &listener.recipient());
/// assert_eq!(pubsub.subscriber_count("orders"), 0);
/// # Ok::<(), herald_core::PubSubError>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct PubSub {
    /// Copy-on-write lists: a broadcast takes an `Arc` of the list, not a copy.
    topics: Arc<DashMap<String, Arc<[Subscriber]>>>,
}

impl PubSub {
    /// A hub with no topics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes `recipient` to `topic`. Returns `false` if it already was.
    ///
    /// # Errors
    ///
    /// [`PubSubError::EmptyTopic`].
    pub fn subscribe(
        &self,
        topic: impl Into<String>,
        recipient: Recipient<SignalMessage>,
    ) -> Result<bool, PubSubError> {
        let topic = topic.into();
        validate_topic(&topic)?;
        let actor = ActorId::of_recipient(&recipient);
        let mut list = self.topics.entry(topic).or_insert_with(|| Arc::from([]));
        if list.iter().any(|s| s.actor == actor) {
            return Ok(false);
        }
        let subscriber = Subscriber { actor, recipient };
        *list = list.iter().cloned().chain([subscriber]).collect();
        Ok(true)
    }

    /// Unsubscribes `recipient` from `topic`. Returns whether it was subscribed.
    pub fn unsubscribe(&self, topic: &str, recipient: &Recipient<SignalMessage>) -> bool {
        self.remove(topic, &[ActorId::of_recipient(recipient)]) > 0
    }

    /// How many live actors are subscribed to `topic`; stopped ones are removed.
    pub fn subscriber_count(&self, topic: &str) -> usize {
        let gone: Vec<ActorId> = self
            .subscribers(topic)
            .iter()
            .filter(|s| !is_live(s))
            .map(|s| s.actor)
            .collect();
        self.remove(topic, &gone);
        self.subscribers(topic).len()
    }

    /// The topics that have subscribers, sorted.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .topics
            .iter()
            .filter(|entry| !entry.value().is_empty())
            .map(|entry| entry.key().clone())
            .collect();
        topics.sort();
        topics
    }

    /// A snapshot of `topic`'s subscribers.
    pub(crate) fn subscribers(&self, topic: &str) -> Arc<[Subscriber]> {
        self.topics
            .get(topic)
            .map_or_else(|| Arc::from([]), |list| Arc::clone(&list))
    }

    /// Removes the given actors from `topic`; returns how many were removed.
    pub(crate) fn remove(&self, topic: &str, actors: &[ActorId]) -> usize {
        if actors.is_empty() {
            return 0;
        }
        let Some(mut list) = self.topics.get_mut(topic) else {
            return 0;
        };
        let before = list.len();
        *list = list
            .iter()
            .filter(|s| !actors.contains(&s.actor))
            .cloned()
            .collect();
        let removed = before - list.len();
        let empty = list.is_empty();
        drop(list);
        if empty {
            self.topics.remove_if(topic, |_, list| list.is_empty());
        }
        removed
    }
}

fn is_live(subscriber: &Subscriber) -> bool {
    subscriber.recipient.connected()
}

impl fmt::Debug for PubSub {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubSub")
            .field("topics", &self.topics.len())
            .finish()
    }
}
