//! Named actors across nodes: a node exposes a local actor under a name; any node
//! reaches it with a `nats_named` target, async by publish, sync by request/reply.

use std::borrow::Cow;
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::Recipient;
use async_nats::connection::State;
use async_nats::{Client, HeaderMap, client::RequestErrorKind};
use bytes::Bytes;
use futures_util::StreamExt;
use herald_core::{
    ActorId, Adapter, ConfigFields, Delivery, ErrorKind, Mode, NamedAdapter, Outcome, Rejection,
    Secrets, SignalMessage, TargetError, TargetOptions,
};
use serde_json::{Map, Value};

use crate::codec::{BodyMode, decode, encode};
use crate::confirm::server_has_read;
use crate::connect::NatsError;
use crate::guard::InRuntime;
use crate::subject::for_name;
use crate::supervise::ClientHandle;
use tokio::sync::Semaphore;

/// The subject prefix of named actors: `herald.named.<escaped name>`.
pub const NAMED_PREFIX: &str = "herald.named";
/// The queue group every exposing node joins, so that a name exposed on several nodes
/// takes each call once.
const QUEUE: &str = "herald.named";
/// The largest signal an exposed actor takes, in bytes.
const MAX_SIGNAL: usize = 4 * 1024 * 1024;

const MODE: &str = "herald-mode";
const TIMEOUT: &str = "herald-timeout-ms";
const CALLER: &str = "herald-caller";
const STATUS: &str = "herald-status";

/// This process, among the nodes: a random number, the same for its whole life.
fn node() -> u64 {
    static NODE: OnceLock<u64> = OnceLock::new();
    *NODE
        .get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(std::process::id()))
}

/// An actor's identity as the wire carries it: this node and a hash of its `ActorId`
/// (only ever compared on the node that made it).
fn caller_id(actor: ActorId) -> String {
    let actor = BuildHasherDefault::<DefaultHasher>::default().hash_one(actor);
    format!("{:x}.{actor:x}", node())
}

/// A local actor reachable from other nodes under a name. Dropping it (or
/// [`stop`](Self::stop)) withdraws the name.
#[derive(Debug)]
pub struct Exposed {
    subject: String,
    refused: Arc<AtomicU64>,
    task: actix_rt::task::JoinHandle<()>,
}

impl Exposed {
    /// The subject the name is served on.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Calls refused because [`MAX_CALLS`] were being served (a sync one answered
    /// "overloaded").
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Whether the name is still served: it is withdrawn when the client is closed
    /// (logged), or when told to.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Withdraws the name.
    pub fn stop(self) {}
}

impl Drop for Exposed {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Makes `recipient` reachable as `name` from every node on `client`'s NATS: a
/// `nats_named` target for `name` there delivers to it. Sync calls get the actor's
/// answer (a [`Rejection`] comes back as [`ErrorKind::Rejected`]); a sync call from the
/// actor to itself fails with [`ErrorKind::CallingSelf`] instead of deadlocking. Runs
/// on the current arbiter.
///
/// `client` is a [`Client`] (or `&Client`), or a
/// [`SupervisedClient`](crate::SupervisedClient): then, when its connection task dies,
/// the name is served again on the replacement. At most [`MAX_CALLS`] calls are served
/// at once; a call beyond them is refused at once (a sync caller gets
/// [`ErrorKind::Overloaded`], retryable; counted in [`Exposed::refused`]), so at most
/// `MAX_CALLS` signals of at most 4 MiB each are held, never a backlog in the
/// client's buffer.
///
/// Names follow the registry's rules (no whitespace or control characters, at most 255
/// bytes); on the wire they are `herald.named.<name>`, with every byte outside
/// `[A-Za-z0-9_-]` written `%XX`.
///
/// Returns once the server has registered the name's subscription, so a call from any
/// node after this returns finds it.
///
/// # Errors
///
/// A name that breaks the rules, or a subscription the server refused or did not
/// confirm within 10 s.
pub async fn expose(
    client: impl Into<ClientHandle>,
    name: &str,
    recipient: Recipient<SignalMessage>,
) -> Result<Exposed, NatsError> {
    let _valid = herald_core::Target::named(name)
        .map_err(|error| NatsError::Subscribe(error.to_string()))?;
    let handle = client.into();
    let subject = for_name(NAMED_PREFIX, name);
    let client = handle.client();
    let subscriber = subscribe(&client, &subject).await?;
    // Exposed means reachable: a call from any node after this returns finds it.
    server_has_read(&client).await?;
    let me = caller_id(ActorId::of_recipient(&recipient));
    let served = subject.clone();
    let refused = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&refused);
    let task = actix_rt::spawn(async move {
        let refused = counted;
        let calls = Arc::new(Semaphore::new(MAX_CALLS));
        let mut client = client;
        let mut subscriber = Some(subscriber);
        loop {
            if let Some(subscriber) = subscriber.take() {
                let mut subscriber = InRuntime::new(subscriber);
                while let Some(message) = subscriber.get_mut().next().await {
                    // Read all the time, so nothing waits in the client's buffer
                    // (bounded by count, not bytes): a call beyond `MAX_CALLS` is
                    // answered "overloaded" at once.
                    let Ok(permit) = Arc::clone(&calls).try_acquire_owned() else {
                        shed(&client, &message, &refused, &served).await;
                        continue;
                    };
                    let (recipient, client, me) = (recipient.clone(), client.clone(), me.clone());
                    actix_rt::spawn(async move {
                        serve(&client, &recipient, &me, message).await;
                        drop(permit);
                    });
                }
            }
            let Some(next) = handle.after_loss(&client).await else {
                break;
            };
            client = next;
            match subscribe(&client, &served).await {
                Ok(again) => {
                    tracing::warn!(target: "herald::nats", subject = served, "named actor served again");
                    subscriber = Some(again);
                }
                Err(error) => {
                    tracing::warn!(target: "herald::nats", subject = served, %error, "named actor could not be served again");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tracing::warn!(target: "herald::nats", subject = served, "named actor withdrawn: its subscription ended (client closed)");
    });
    Ok(Exposed {
        subject,
        refused,
        task,
    })
}

/// The most calls an exposed name serves at once.
pub const MAX_CALLS: usize = 256;

/// Refuses a call that came while [`MAX_CALLS`] were served: a sync call hears
/// "overloaded" ([`ErrorKind::Overloaded`], retryable); an async one is dropped.
async fn shed(client: &Client, message: &async_nats::Message, refused: &AtomicU64, subject: &str) {
    let count = refused.fetch_add(1, Ordering::Relaxed) + 1;
    if count % 1_000 == 1 {
        tracing::warn!(target: "herald::nats", subject, refused = count, "named actor busy: calls refused");
    }
    reply(client, message, "overloaded", "").await;
}

async fn subscribe(client: &Client, subject: &str) -> Result<async_nats::Subscriber, NatsError> {
    client
        .queue_subscribe(subject.to_owned(), QUEUE.to_owned())
        .await
        .map_err(|error| NatsError::Subscribe(error.to_string()))
}

/// Answers one call.
async fn serve(
    client: &Client,
    recipient: &Recipient<SignalMessage>,
    me: &str,
    message: async_nats::Message,
) {
    let header = |name: &str| {
        message
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .map(|v| v.as_str().to_owned())
    };
    let sync = header(MODE).as_deref() == Some("sync");
    let signal = match decode(message.headers.as_ref(), &message.payload, MAX_SIGNAL) {
        Ok(signal) => signal,
        Err(error) => {
            tracing::warn!(target: "herald::nats", %error, "malformed call to a named actor");
            reply(client, &message, "malformed", &error.to_string()).await;
            return;
        }
    };
    let delivery = SignalMessage::new(std::sync::Arc::new(signal));
    if !sync {
        if let Err(error) = recipient.try_send(delivery) {
            tracing::warn!(target: "herald::nats", %error, "async call to a named actor not delivered");
        }
        return;
    }
    if header(CALLER).as_deref() == Some(me) {
        reply(client, &message, "calling_self", "").await;
        return;
    }
    let timeout = header(TIMEOUT)
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(Duration::from_secs(5), Duration::from_millis)
        .min(Duration::from_secs(60));
    let answer = tokio::time::timeout(timeout, recipient.send(delivery)).await;
    let (status, reason) = match answer {
        Ok(Ok(Ok(()))) => ("ok", String::new()),
        Ok(Ok(Err(rejection))) => ("rejected", rejection.reason().to_owned()),
        Ok(Err(_)) => ("not_alive", String::new()),
        Err(_) => ("timeout", String::new()),
    };
    reply(client, &message, status, &reason).await;
}

async fn reply(client: &Client, message: &async_nats::Message, status: &str, body: &str) {
    let Some(to) = &message.reply else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(STATUS, status);
    let body = Bytes::copy_from_slice(body.as_bytes());
    if let Err(error) = client.publish_with_headers(to.clone(), headers, body).await {
        tracing::warn!(target: "herald::nats", %error, "reply to a named call not sent");
    }
}

/// A named actor on another node, reached through NATS: build with
/// [`RemoteNamedTarget::new`], deliver with the `nats_named` adapter.
///
/// Async (the default) publishes and succeeds once the signal is handed to NATS: at
/// most once, with no word from the other side. Sync sends a request and waits up to
/// the timeout for the actor's answer; no node exposing the name is
/// [`ErrorKind::NotFound`].
///
/// As data: `{"adapter": "nats_named", "name": "audit", "mode": "sync",
/// "timeout_ms": 5000}`.
#[derive(Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct RemoteNamedTarget {
    name: String,
    subject: String,
    /// `nats_named:<name>`, made once: asked for on every delivery under a policy.
    endpoint: String,
    mode: Mode,
    timeout: Duration,
}

impl RemoteNamedTarget {
    /// The default bound on a sync call.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
    const MAX_TIMEOUT: Duration = Duration::from_secs(60);
    const FIELDS: [&'static str; 3] = ["name", "mode", "timeout_ms"];

    /// The actor exposed as `name` on some node.
    ///
    /// # Errors
    ///
    /// A name that breaks the registry's rules.
    pub fn new(name: impl Into<String>) -> Result<Self, TargetError> {
        let name = name.into();
        let _valid = herald_core::Target::named(name.clone())?;
        Ok(Self {
            subject: for_name(NAMED_PREFIX, &name),
            endpoint: format!("nats_named:{name}"),
            name,
            mode: Mode::Async,
            timeout: Self::DEFAULT_TIMEOUT,
        })
    }

    /// Waits for the actor's answer (request/reply).
    pub fn sync(mut self) -> Self {
        self.mode = Mode::Sync;
        self
    }

    /// Bounds a sync call (1 ms–60 s). Default is 5 seconds.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.clamp(Duration::from_millis(1), Self::MAX_TIMEOUT);
        self
    }

    /// Reads a target from its config fields.
    ///
    /// # Errors
    ///
    /// A [`TargetError`] naming the field.
    pub fn from_config(config: &Value) -> Result<Self, TargetError> {
        let mut fields = ConfigFields::from_config(config)?;
        let mut target = Self::new(fields.required_string("name")?)?;
        if let Some(mode) =
            fields.one_of("mode", &[("async", Mode::Async), ("sync", Mode::Sync)])?
        {
            target.mode = mode;
        }
        if let Some(timeout) = fields.millis("timeout_ms", Self::MAX_TIMEOUT)? {
            target = target.timeout(timeout);
        }
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }

    fn is_sync(&self) -> bool {
        self.mode == Mode::Sync
    }
}

impl fmt::Debug for RemoteNamedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

impl TargetOptions for RemoteNamedTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_sync() {
            write!(
                f,
                "nats_named({}, sync, timeout {:?})",
                self.name, self.timeout
            )
        } else {
            write!(f, "nats_named({})", self.name)
        }
    }

    fn to_config(&self, _: Secrets) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        map.insert("name".to_owned(), self.name.clone().into());
        map.insert(
            "mode".to_owned(),
            if self.is_sync() { "sync" } else { "async" }.into(),
        );
        map.insert(
            "timeout_ms".to_owned(),
            (self.timeout.as_millis() as u64).into(),
        );
        Some(map)
    }

    fn endpoint(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.endpoint))
    }
}

/// Delivers to named actors on other nodes; registered as `nats_named` by
/// [`NatsDispatcherExt::nats`](crate::NatsDispatcherExt::nats).
#[derive(Clone)]
pub struct RemoteNamedAdapter {
    client: Client,
}

impl fmt::Debug for RemoteNamedAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteNamedAdapter").finish_non_exhaustive()
    }
}

impl RemoteNamedAdapter {
    /// An adapter calling through `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl NamedAdapter for RemoteNamedAdapter {
    const NAME: &'static str = "nats_named";
}

impl Adapter for RemoteNamedAdapter {
    type Options = RemoteNamedTarget;
    const KIND: &'static str = "network";

    fn validate(&self, config: &Value) -> Result<RemoteNamedTarget, TargetError> {
        RemoteNamedTarget::from_config(config)
    }

    fn timeout(&self, target: &RemoteNamedTarget) -> Option<Duration> {
        Some(target.timeout)
    }

    async fn deliver(
        &self,
        delivery: Delivery<'_, RemoteNamedTarget>,
    ) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        if self.client.connection_state() != State::Connected {
            return Err(ErrorKind::Connect("not connected to NATS".to_owned()));
        }
        let (mut headers, payload) = encode(delivery.signal, BodyMode::Structured);
        let subject = target.subject.clone();
        if !target.is_sync() {
            headers.insert(MODE, "async");
            let publish = self.client.publish_with_headers(subject, headers, payload);
            return match tokio::time::timeout(target.timeout, publish).await {
                Ok(Ok(())) => Ok(Outcome::Delivered),
                Ok(Err(error)) => Err(ErrorKind::Connect(error.to_string())),
                Err(_) => Err(ErrorKind::Timeout(target.timeout)),
            };
        }
        headers.insert(MODE, "sync");
        headers.insert(TIMEOUT, (target.timeout.as_millis() as u64).to_string());
        if let Some(caller) = delivery.caller {
            headers.insert(CALLER, caller_id(caller));
        }
        let request = async_nats::Request::new()
            .headers(headers)
            .payload(payload)
            .timeout(Some(target.timeout));
        let call = self.client.send_request(subject, request);
        let answer = match tokio::time::timeout(target.timeout, call).await {
            Err(_) => return Err(ErrorKind::Timeout(target.timeout)),
            Ok(Err(error)) => {
                return Err(match error.kind() {
                    RequestErrorKind::NoResponders => ErrorKind::NotFound,
                    RequestErrorKind::TimedOut => ErrorKind::Timeout(target.timeout),
                    RequestErrorKind::Other => ErrorKind::Connect(error.to_string()),
                });
            }
            Ok(Ok(answer)) => answer,
        };
        let status = answer
            .headers
            .as_ref()
            .and_then(|h| h.get(STATUS))
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        let reason = String::from_utf8_lossy(&answer.payload).into_owned();
        match status.as_str() {
            "ok" => Ok(Outcome::Delivered),
            "rejected" => Err(ErrorKind::Rejected(Rejection::new(reason))),
            "not_alive" => Err(ErrorKind::NotAlive),
            "timeout" => Err(ErrorKind::Timeout(target.timeout)),
            "calling_self" => Err(ErrorKind::CallingSelf),
            "overloaded" => Err(ErrorKind::Overloaded),
            _ => Err(ErrorKind::Protocol(format!(
                "unexpected answer from the named actor's node: {status:?} {reason}"
            ))),
        }
    }
}

impl From<RemoteNamedTarget> for herald_core::Target {
    fn from(target: RemoteNamedTarget) -> Self {
        herald_core::Target::to::<RemoteNamedAdapter>(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_made_once_per_name() {
        let target = RemoteNamedTarget::new("audit").unwrap().sync();
        assert_eq!(target.endpoint().as_deref(), Some("nats_named:audit"));
        assert!(matches!(target.endpoint(), Some(Cow::Borrowed(_))));
    }
}
