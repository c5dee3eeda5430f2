//! The `nats` adapter: a signal published to a subject, on core NATS or JetStream.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::connection::State;
use async_nats::{Client, HeaderMap, Subject, client};
use bytes::Bytes;
use herald_core::{
    Adapter, ConfigFields, Delivery, ErrorKind, NamedAdapter, Outcome, Placement, Secrets,
    TargetError, TargetOptions,
};
use herald_signal::Signal;
use serde_json::{Map, Value};

use crate::codec::{BodyMode, encode};
use crate::publish::until_stored;
use crate::subject::{check_subject, from_type};

/// Where and how a `nats` target publishes: a subject (default: the signal's type),
/// the body mode, and whether to publish through JetStream and wait for the stream's
/// acknowledgement.
///
/// As data: `{"adapter": "nats", "subject": "orders.created", "body": "binary",
/// "jetstream": true, "timeout_ms": 5000}` (every field optional).
///
/// ```
/// use herald_nats::NatsTarget;
///
/// let target = NatsTarget::to("orders.created")?.binary().jetstream();
/// assert_eq!(target.subject(), Some("orders.created"));
/// assert!(NatsTarget::to("orders.*").is_err());
/// # Ok::<(), herald_core::TargetError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct NatsTarget {
    /// A `Subject` (shared bytes), so that each publish clones a pointer, not a string.
    subject: Option<Subject>,
    /// `nats:<subject>`, made once: asked for on every delivery under a policy.
    endpoint: Cow<'static, str>,
    mode: BodyMode,
    jetstream: bool,
    timeout: Duration,
}

impl Default for NatsTarget {
    fn default() -> Self {
        Self {
            subject: None,
            endpoint: Cow::Borrowed("nats:<type>"),
            mode: BodyMode::Structured,
            jetstream: false,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }
}

impl NatsTarget {
    /// The default bound on a publish (and on a JetStream acknowledgement).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The longest timeout a target may set.
    pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);
    const FIELDS: [&'static str; 4] = ["subject", "body", "jetstream", "timeout_ms"];

    /// Publishes each signal to the subject named by its type (characters a subject
    /// cannot hold become `_`).
    pub fn by_type() -> Self {
        Self::default()
    }

    /// Publishes to `subject`.
    ///
    /// # Errors
    ///
    /// A subject that is empty, has empty tokens, whitespace, control characters or
    /// wildcards.
    pub fn to(subject: impl Into<String>) -> Result<Self, TargetError> {
        let subject = subject.into();
        check_subject(&subject)?;
        Ok(Self {
            endpoint: Cow::Owned(format!("nats:{subject}")),
            subject: Some(Subject::from(subject)),
            ..Self::default()
        })
    }

    /// Sends in binary mode (`ce-` headers, the data as the payload). Default is
    /// structured.
    pub fn binary(mut self) -> Self {
        self.mode = BodyMode::Binary;
        self
    }

    /// Publishes through JetStream with the signal id as `Nats-Msg-Id` (so the
    /// stream's duplicate window drops a republished copy), and succeeds only when the
    /// stream acknowledges it.
    pub fn jetstream(mut self) -> Self {
        self.jetstream = true;
        self
    }

    /// Bounds the publish (and the acknowledgement). Values are clamped to 1 ms–60 s.
    /// Default is 5 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.clamp(Duration::from_millis(1), Self::MAX_TIMEOUT);
        self
    }

    /// The subject, when the target names one.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_ref().map(Subject::as_str)
    }

    /// Reads a target from its config fields.
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field.
    pub fn from_config(config: &Value) -> Result<Self, TargetError> {
        let mut fields = ConfigFields::from_config(config)?;
        let mut target = match fields.string("subject")? {
            Some(subject) => Self::to(subject)?,
            None => Self::by_type(),
        };
        if let Some(mode) = fields.one_of(
            "body",
            &[
                ("structured", BodyMode::Structured),
                ("binary", BodyMode::Binary),
            ],
        )? {
            target.mode = mode;
        }
        target.jetstream = fields.bool("jetstream")?.unwrap_or(false);
        if let Some(timeout) = fields.millis("timeout_ms", Self::MAX_TIMEOUT)? {
            target = target.timeout(timeout);
        }
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }
}

impl TargetOptions for NatsTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let subject = self.subject().unwrap_or("<type>");
        let js = if self.jetstream { ", jetstream" } else { "" };
        write!(f, "nats({subject}, {}{js})", self.mode.name())
    }

    fn to_config(&self, _: Secrets) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        if let Some(subject) = &self.subject {
            map.insert("subject".to_owned(), subject.as_str().into());
        }
        map.insert("body".to_owned(), self.mode.name().into());
        map.insert("jetstream".to_owned(), self.jetstream.into());
        map.insert(
            "timeout_ms".to_owned(),
            (self.timeout.as_millis() as u64).into(),
        );
        Some(map)
    }

    /// The subject (or `nats:<type>`): a breaker or limit is per subject.
    fn endpoint(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.endpoint))
    }
}

/// Publishes signals to NATS. Register it with
/// [`NatsDispatcherExt::nats`](crate::NatsDispatcherExt::nats).
///
/// A delivery made while the client is disconnected fails at once with
/// [`ErrorKind::Connect`] (retryable): core NATS would otherwise hold it in the client's
/// buffer with no promise it is ever sent. A JetStream publish succeeds only once the
/// stream has stored the signal.
pub struct NatsAdapter {
    client: Client,
    jetstream: async_nats::jetstream::Context,
    /// The last message encoded, for the signal it was encoded from: a dispatch to many
    /// targets encodes its signal once per mode, not once per target. The `Weak` keeps
    /// the allocation (so its address is not reused by another signal), not the signal.
    last: RefCell<Option<Encoded>>,
}

/// A signal's message, and what it was made from.
type Encoded = (Weak<Signal>, BodyMode, HeaderMap, Bytes);

impl fmt::Debug for NatsAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NatsAdapter").finish_non_exhaustive()
    }
}

impl NatsAdapter {
    /// An adapter publishing through `client`.
    pub fn new(client: Client) -> Self {
        Self {
            jetstream: async_nats::jetstream::new(client.clone()),
            client,
            last: RefCell::new(None),
        }
    }

    /// A delivery's subject and message, once the client is connected.
    fn prepare(
        &self,
        delivery: Delivery<'_, NatsTarget>,
    ) -> Result<(Subject, HeaderMap, Bytes), ErrorKind> {
        let target = delivery.options;
        let signal = delivery.signal;
        let subject = match &target.subject {
            Some(subject) => subject.clone(),
            None => from_type(signal.ty()).map(Subject::from).ok_or_else(|| {
                ErrorKind::InvalidTarget(TargetError::Invalid(
                    "the signal's type does not make a NATS subject".to_owned(),
                ))
            })?,
        };
        if self.client.connection_state() != State::Connected {
            return Err(ErrorKind::Connect("not connected to NATS".to_owned()));
        }
        let (headers, payload) = self.encoded(signal, target.mode);
        Ok((subject, headers, payload))
    }

    /// `signal` as a message in `mode`, from the cache when it is the same signal.
    fn encoded(&self, signal: &Arc<Signal>, mode: BodyMode) -> (HeaderMap, Bytes) {
        if let Some((cached, cached_mode, headers, payload)) = &*self.last.borrow()
            && *cached_mode == mode
            && std::ptr::eq(cached.as_ptr(), Arc::as_ptr(signal))
        {
            return (headers.clone(), payload.clone());
        }
        let (headers, payload) = encode(signal, mode);
        *self.last.borrow_mut() = Some((
            Arc::downgrade(signal),
            mode,
            headers.clone(),
            payload.clone(),
        ));
        (headers, payload)
    }
}

impl NamedAdapter for NatsAdapter {
    const NAME: &'static str = "nats";
}

impl Adapter for NatsAdapter {
    type Options = NatsTarget;
    const KIND: &'static str = "network";
    /// A core publish is a push into the client's channel (its connection task does
    /// the I/O), so it runs where the dispatch runs, as a mailbox push does; another
    /// thread would only add a hop. (Measured: `nats_publish_10k`.)
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &Value) -> Result<NatsTarget, TargetError> {
        NatsTarget::from_config(config)
    }

    fn timeout(&self, target: &NatsTarget) -> Option<Duration> {
        Some(target.timeout)
    }

    /// A core publish handed to the client at once when its channel has room: the
    /// publish is polled once, with a waker that does nothing; when it would have to
    /// wait it is dropped unsent (a channel send is cancel-safe) and `deliver` makes it.
    /// Measured: `nats_publish_10k` 1.44–1.53 × raw async-nats without it, 1.14–1.15
    /// with it.
    fn deliver_now(
        &self,
        delivery: Delivery<'_, NatsTarget>,
    ) -> Option<Result<Outcome, ErrorKind>> {
        let target = delivery.options;
        if target.jetstream {
            return None;
        }
        let (subject, headers, payload) = match self.prepare(delivery) {
            Ok(prepared) => prepared,
            Err(error) => return Some(Err(error)),
        };
        let publish = self.client.publish_with_headers(subject, headers, payload);
        let mut publish = std::pin::pin!(publish);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match publish.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => {
                Some(result.map(|()| Outcome::Delivered).map_err(publish_error))
            }
            std::task::Poll::Pending => None,
        }
    }

    fn may_deliver_now(&self, target: &NatsTarget) -> bool {
        !target.jetstream
    }

    async fn deliver(&self, delivery: Delivery<'_, NatsTarget>) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        let signal = delivery.signal;
        let publish = async {
            if target.jetstream {
                until_stored(&self.jetstream, || {
                    let (subject, mut headers, payload) = self.prepare(delivery)?;
                    headers.insert("Nats-Msg-Id", signal.id());
                    Ok((subject, headers, payload))
                })
                .await?;
            } else {
                let (subject, headers, payload) = self.prepare(delivery)?;
                self.client
                    .publish_with_headers(subject, headers, payload)
                    .await
                    .map_err(publish_error)?;
            }
            Ok(Outcome::Delivered)
        };
        bounded(target.timeout, publish).await
    }
}

/// `work`, cut off after `limit` with [`ErrorKind::Timeout`]. The timer is made only
/// when the first poll leaves the work pending: a publish into a client with room ends
/// there, and then no clock is read.
pub(crate) async fn bounded<F>(limit: Duration, work: F) -> Result<Outcome, ErrorKind>
where
    F: std::future::Future<Output = Result<Outcome, ErrorKind>>,
{
    let mut work = std::pin::pin!(work);
    let mut timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
    std::future::poll_fn(|cx| {
        if let std::task::Poll::Ready(result) = work.as_mut().poll(cx) {
            return std::task::Poll::Ready(result);
        }
        let timer = timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        timer
            .as_mut()
            .poll(cx)
            .map(|()| Err(ErrorKind::Timeout(limit)))
    })
    .await
}

fn publish_error(error: client::PublishError) -> ErrorKind {
    match error.kind() {
        client::PublishErrorKind::MaxPayloadExceeded => ErrorKind::InvalidTarget(
            TargetError::Invalid("the signal is larger than the server's max payload".to_owned()),
        ),
        client::PublishErrorKind::BadSubject => {
            ErrorKind::InvalidTarget(TargetError::invalid_field("subject", "is not valid"))
        }
        _ => ErrorKind::Connect(error.to_string()),
    }
}

impl From<NatsTarget> for herald_core::Target {
    fn from(target: NatsTarget) -> Self {
        herald_core::Target::to::<NatsAdapter>(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_made_once_per_subject() {
        let target = NatsTarget::to("orders.created").unwrap().jetstream();
        assert_eq!(target.endpoint().as_deref(), Some("nats:orders.created"));
        assert!(matches!(target.endpoint(), Some(Cow::Borrowed(_))));
        let by_type = NatsTarget::by_type();
        assert_eq!(by_type.endpoint().as_deref(), Some("nats:<type>"));
        let read = NatsTarget::from_config(&serde_json::json!({"subject": "a.b"})).unwrap();
        assert_eq!(read.endpoint().as_deref(), Some("nats:a.b"));
    }
}
