//! Reading a stretch of a stream once, in order: from a sequence or a time, up to a
//! sequence or a time, through an ephemeral ordered consumer (no acknowledgements; it
//! is remade by async-nats when it misses a message).

use std::time::{Duration, SystemTime};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig};
use async_nats::jetstream::{self, stream::Stream};
use futures_util::StreamExt;

use crate::connect::NatsError;
use crate::guard::InRuntime;

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Start {
    /// At the stream's first message.
    #[default]
    First,
    /// At this sequence (or the first after it that is still there).
    Sequence(u64),
    /// At the first message stored at or after this time.
    Time(SystemTime),
}

/// A stretch of a stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct Window {
    pub(crate) start: Start,
    /// Only subjects matching this filter.
    pub(crate) filter: Option<String>,
    /// The last sequence read; the stream's last at the start unless set, so that a
    /// read of a stream still written to ends.
    pub(crate) until_sequence: Option<u64>,
    /// Nothing stored after this time.
    pub(crate) until: Option<SystemTime>,
}

/// The longest wait for the next message of a window known to hold more.
const NEXT_WITHIN: Duration = Duration::from_secs(10);

/// A message read, with where and when the stream stored it.
#[derive(Debug)]
pub(crate) struct Read {
    pub(crate) message: jetstream::Message,
    pub(crate) sequence: u64,
    pub(crate) stored_at: SystemTime,
}

/// Reads a [`Window`] message by message.
pub(crate) struct Reader {
    messages: Option<InRuntime<Ordered>>,
    last: u64,
    until: Option<SystemTime>,
}

impl Reader {
    /// Starts reading `window` of `stream`.
    pub(crate) async fn open(stream: &mut Stream, window: &Window) -> Result<Self, NatsError> {
        let info = stream.info().await.map_err(jetstream_error)?;
        let last = window.until_sequence.unwrap_or(info.state.last_sequence);
        let deliver_policy = match window.start {
            Start::First => DeliverPolicy::All,
            Start::Sequence(sequence) => DeliverPolicy::ByStartSequence {
                start_sequence: sequence.max(1),
            },
            Start::Time(time) => DeliverPolicy::ByStartTime {
                start_time: time.into(),
            },
        };
        let empty = match window.start {
            Start::Sequence(sequence) => sequence > last,
            _ => false,
        } || info.state.messages == 0;
        if empty {
            return Ok(Self::ended(last, window.until));
        }
        let consumer = stream
            .create_consumer(OrderedConfig {
                filter_subject: window.filter.clone().unwrap_or_default(),
                deliver_policy,
                ..OrderedConfig::default()
            })
            .await
            .map_err(jetstream_error)?;
        if consumer.cached_info().num_pending == 0 {
            return Ok(Self::ended(last, window.until));
        }
        let messages = consumer.messages().await.map_err(jetstream_error)?;
        Ok(Self {
            messages: Some(InRuntime::new(messages)),
            last,
            until: window.until,
        })
    }

    fn ended(last: u64, until: Option<SystemTime>) -> Self {
        Self {
            messages: None,
            last,
            until,
        }
    }

    /// The next message of the window; `None` once past its end.
    ///
    /// # Errors
    ///
    /// The stream sent nothing for 10 s though the window holds more, or the consumer
    /// failed.
    pub(crate) async fn next(&mut self) -> Result<Option<Read>, NatsError> {
        let Some(messages) = self.messages.as_mut() else {
            return Ok(None);
        };
        let next = tokio::time::timeout(NEXT_WITHIN, messages.get_mut().next()).await;
        let message = match next {
            Err(_) => {
                self.messages = None;
                return Err(NatsError::JetStream(format!(
                    "the stream sent nothing for {} s",
                    NEXT_WITHIN.as_secs()
                )));
            }
            Ok(None) => {
                self.messages = None;
                return Ok(None);
            }
            Ok(Some(Err(error))) => {
                self.messages = None;
                return Err(NatsError::JetStream(error.to_string()));
            }
            Ok(Some(Ok(message))) => message,
        };
        let info = message
            .info()
            .map_err(|error| NatsError::JetStream(error.to_string()))?;
        let (sequence, pending) = (info.stream_sequence, info.pending);
        let stored_at = SystemTime::from(info.published);
        if sequence > self.last || self.until.is_some_and(|until| stored_at > until) {
            self.messages = None;
            return Ok(None);
        }
        if pending == 0 || sequence == self.last {
            self.messages = None;
        }
        Ok(Some(Read {
            message,
            sequence,
            stored_at,
        }))
    }
}

fn jetstream_error(error: impl std::fmt::Display) -> NatsError {
    NatsError::JetStream(error.to_string())
}
