//! What can go wrong delivering to one target.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::Rejection;
use crate::resilience::DeadLettered;

/// A target description or configuration that cannot be used.
///
/// Returned by target constructors, by deserializing a [`Target`](crate::Target) from
/// data, and by an adapter's [`validate`](crate::Adapter::validate).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TargetError {
    /// No adapter of that name is known.
    #[error("unknown adapter `{name}`; known adapters: {}{}", known.join(", "), hint(name))]
    UnknownAdapter {
        /// The requested name.
        name: String,
        /// Every adapter name that is known here, sorted.
        known: Vec<String>,
    },

    /// A required field is absent.
    #[error("missing field `{field}`{}", found.as_ref().map(|found| format!("; found `{found}` instead (misspelled?)")).unwrap_or_default())]
    MissingField {
        /// The field's name.
        field: String,
        /// A field the config has instead whose name is close to it (a misspelling,
        /// or another case), when there is one.
        found: Option<String>,
    },

    /// A field is present but breaks a rule.
    #[error("field `{field}` {rule}")]
    InvalidField {
        /// The field's name.
        field: String,
        /// The rule it breaks, e.g. "must be one of debug, info, warn, error".
        rule: String,
    },

    /// A field this adapter does not know.
    #[error("unknown field `{field}`; expected one of: {}", expected.join(", "))]
    UnknownField {
        /// The field's name.
        field: String,
        /// The fields the adapter knows.
        expected: Vec<&'static str>,
    },

    /// The config is not a JSON object, or has no string `adapter` field.
    #[error("a target config must be an object with a string field `adapter`")]
    NotAnObject,

    /// The adapter's targets cannot be described as data (e.g. `pid`, which holds an
    /// actor address).
    #[error("adapter `{adapter}` cannot be configured from data")]
    NotConfigurable {
        /// The adapter's name.
        adapter: String,
    },

    /// The target's options were made for another adapter.
    #[error("the target's options are not what adapter `{adapter}` takes (`{expected}`)")]
    WrongOptions {
        /// The adapter's name.
        adapter: String,
        /// The options type the adapter takes.
        expected: &'static str,
    },

    /// Any other rule, in the adapter's own words.
    #[error("{0}")]
    Invalid(String),
}

/// How to get a built-in adapter that was compiled out.
fn hint(name: &str) -> &'static str {
    match name {
        "http" | "webhook" => {
            " (the http and webhook adapters are compiled in by the `http` feature of \
             herald or herald-core)"
        }
        _ => "",
    }
}

/// A signing key that could not be read: its field and the rule it breaks.
impl From<herald_webhook::KeyError> for TargetError {
    fn from(error: herald_webhook::KeyError) -> Self {
        Self::invalid_field(error.field, error.rule)
    }
}

impl TargetError {
    /// The same error, for a field inside object `parent`: `max_attempts` becomes
    /// `retry.max_attempts`.
    pub fn within(self, parent: &str) -> Self {
        match self {
            Self::InvalidField { field, rule } => Self::InvalidField {
                field: format!("{parent}.{field}"),
                rule,
            },
            Self::MissingField { field, found } => Self::MissingField {
                field: format!("{parent}.{field}"),
                found: found.map(|found| format!("{parent}.{found}")),
            },
            Self::UnknownField { field, expected } => Self::UnknownField {
                field: format!("{parent}.{field}"),
                expected,
            },
            other => other,
        }
    }

    /// A field that breaks a rule; `rule` completes "field `x` …".
    pub fn invalid_field(field: impl Into<String>, rule: impl Into<String>) -> Self {
        Self::InvalidField {
            field: field.into(),
            rule: rule.into(),
        }
    }
}

/// Why one target's delivery failed.
///
/// Adapters return this from [`deliver`](crate::Adapter::deliver); the dispatcher wraps
/// it in a [`DeliveryError`] naming the adapter and the target.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The target's options or config are invalid.
    #[error("invalid target: {0}")]
    InvalidTarget(TargetError),

    /// The target (a name, a topic) does not exist.
    #[error("not found")]
    NotFound,

    /// The receiving actor has stopped.
    #[error("receiver is not alive")]
    NotAlive,

    /// A synchronous delivery would have waited on the dispatching actor itself.
    #[error("synchronous delivery to the calling actor itself would deadlock")]
    CallingSelf,

    /// The receiver did not answer in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),

    /// The receiving actor's mailbox is full.
    #[error("receiver mailbox is full")]
    MailboxFull,

    /// The topic has no subscribers and the target requires some.
    #[error("topic has no subscribers")]
    NoSubscribers,

    /// The named bus does not exist.
    #[error("bus not found")]
    BusNotFound,

    /// The receiver answered with an error status.
    #[error("http status {status}")]
    HttpStatus {
        /// The status code.
        status: u16,
        /// The start of the response body (a few KiB at most).
        body: String,
    },

    /// The receiver's host refused the connection.
    #[error("connection refused")]
    ConnectionRefused,

    /// The connection could not be made (DNS, routing), or it was lost (reset,
    /// closed) before an answer arrived. Retried, like a timeout: no answer came.
    #[error("connect failed: {0}")]
    Connect(String),

    /// The target's egress policy refused where it would connect (an address, or a
    /// host name resolving to one, that the policy does not allow): no connection was
    /// made and nothing was sent. Not retried. The message names the rule, never a
    /// resolved address.
    #[error("egress denied: {0}")]
    EgressDenied(String),

    /// The TLS handshake or certificate check failed.
    #[error("tls failed: {0}")]
    Tls(String),

    /// An answer came that cannot be read as HTTP (malformed, or an HTTP/2 error).
    /// Not retried: the receiver answered, and would answer the same way again.
    #[error("bad response: {0}")]
    Protocol(String),

    /// A synchronous receiver rejected the signal.
    #[error("rejected by receiver: {0}")]
    Rejected(Rejection),

    /// The adapter panicked; its actor was restarted. Also every target's error when a
    /// panic on the dispatcher's thread dropped the dispatch's fan-out (a bug in Herald's
    /// run, or a panic that unwinds the whole thread); the panic is logged.
    #[error("panicked: {message}")]
    Panicked {
        /// The panic message, when it was a string.
        message: String,
    },

    /// The adapter's actor stopped before finishing the delivery.
    #[error("adapter stopped before finishing the delivery")]
    AdapterStopped,

    /// The dispatch's deadline passed before this target finished.
    #[error("dispatch deadline exceeded")]
    DeadlineExceeded,

    /// The dispatcher is at its in-flight bound and is set to fail fast, or its
    /// admission queue is full.
    #[error("dispatcher is overloaded")]
    Overloaded,

    /// The dispatcher was shutting down or had stopped: the dispatch came after
    /// [`Shutdown`](crate::Shutdown), or the delivery was still running when the grace
    /// period ended. Retryable: another dispatcher (or this one restarted) may take it.
    #[error("dispatcher is shutting down")]
    Shutdown,

    /// The signal's JSON encoding is larger than the dispatcher takes
    /// ([`max_signal_size`](crate::DispatcherBuilder::max_signal_size)); no target was
    /// tried.
    #[error("signal is {size} bytes encoded, over the limit of {limit}")]
    TooLarge {
        /// The signal's encoded size, in bytes.
        size: usize,
        /// The limit, in bytes.
        limit: usize,
    },

    /// The endpoint's circuit breaker is open: no attempt was made. Retryable, once
    /// the circuit has had time to close.
    #[error("circuit open for this endpoint (next probe in {} ms)", retry_in.as_millis())]
    CircuitOpen {
        /// How long until the circuit lets a probe through (zero when half-open and
        /// its probes are out).
        retry_in: Duration,
    },

    /// The endpoint's rate limit was reached, and the delivery could not wait for its
    /// turn (the limit fails fast, or the turn would come after the delivery's
    /// timeout). No attempt was made.
    #[error("rate limit reached for this endpoint")]
    RateLimited,

    /// The signal expired before the attempt it would have had: its
    /// [`expirytime`](herald_signal::EXPIRYTIME) passed, or the target's
    /// [`Expiry`](crate::resilience::Expiry) max age. Nothing was sent for it; not
    /// retried, and dead-lettered only when the target's `Expiry` asks.
    #[error("signal expired")]
    Expired,

    /// The delivery's ordering lane is blocked: an earlier delivery with the same
    /// ordering key to the same endpoint finally failed under
    /// [`Ordering::block`](crate::resilience::Ordering::block). Nothing was sent; the
    /// lane stays blocked until [`ResumeLanes`](crate::resilience::ResumeLanes).
    #[error("ordering lane blocked by an earlier failure")]
    LaneBlocked,

    /// The endpoint (or the target) is paused ([`PauseEndpoint`](crate::resilience::PauseEndpoint))
    /// and the delivery was not held: its target fails fast while paused, the pause
    /// held its most, or held it its longest. Nothing was sent; retryable.
    #[error("endpoint is paused")]
    Paused,

    /// A custom adapter's own error. Its message is this error's message; what caused
    /// it is the [`DeliveryError`]'s `source()`.
    #[error("{error}")]
    Custom {
        /// The adapter's error.
        error: Box<dyn StdError + Send + Sync>,
        /// Whether trying again may succeed.
        retryable: bool,
    },
}

impl From<TargetError> for ErrorKind {
    fn from(error: TargetError) -> Self {
        Self::InvalidTarget(error)
    }
}

impl ErrorKind {
    /// What caused this error, below its own message: for a custom adapter's error,
    /// that error's own `source()`.
    fn cause(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Custom { error, .. } => error.source(),
            _ => None,
        }
    }

    /// A custom adapter's error that is not worth retrying.
    pub fn custom(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Custom {
            error: error.into(),
            retryable: false,
        }
    }

    /// A custom adapter's error that may succeed when tried again.
    pub fn custom_retryable(error: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self::Custom {
            error: error.into(),
            retryable: true,
        }
    }

    /// Whether trying the same delivery again may succeed: timeouts, full mailboxes,
    /// connection failures, overload, shutdown, an open circuit, a rate limit, HTTP 408, 425, 429 and 5xx, and custom
    /// errors marked retryable.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Timeout(_)
            | Self::MailboxFull
            | Self::ConnectionRefused
            | Self::Connect(_)
            | Self::Overloaded
            | Self::Shutdown
            | Self::CircuitOpen { .. }
            | Self::RateLimited
            | Self::Paused => true,
            Self::HttpStatus { status, .. } => {
                matches!(status, 408 | 425 | 429) || (500..600).contains(status)
            }
            Self::Custom { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// Whether this error refused the delivery before anything was sent: an invalid
    /// target, an egress refusal, an open circuit, a rate limit, overload, a signal too
    /// large, a synchronous call to the caller itself, a blocked lane, a pause. ([`Expired`](Self::Expired) is
    /// not one: it may end a delivery after attempts that were made.) The attempt that ends with such
    /// an error is not counted in [`DeliveryError::attempts`].
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::InvalidTarget(_)
                | Self::EgressDenied(_)
                | Self::CircuitOpen { .. }
                | Self::RateLimited
                | Self::Overloaded
                | Self::TooLarge { .. }
                | Self::CallingSelf
                | Self::LaneBlocked
                | Self::Paused
        )
    }

    /// A short, stable name for telemetry, e.g. `"timeout"`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::InvalidTarget(_) => "invalid_target",
            Self::NotFound => "not_found",
            Self::NotAlive => "not_alive",
            Self::CallingSelf => "calling_self",
            Self::Timeout(_) => "timeout",
            Self::MailboxFull => "mailbox_full",
            Self::NoSubscribers => "no_subscribers",
            Self::BusNotFound => "bus_not_found",
            Self::HttpStatus { .. } => "http_status",
            Self::ConnectionRefused => "connection_refused",
            Self::Connect(_) => "connect",
            Self::EgressDenied(_) => "egress_denied",
            Self::Tls(_) => "tls",
            Self::Protocol(_) => "protocol",
            Self::Rejected(_) => "rejected",
            Self::Panicked { .. } => "panicked",
            Self::AdapterStopped => "adapter_stopped",
            Self::DeadlineExceeded => "deadline_exceeded",
            Self::Overloaded => "overloaded",
            Self::Shutdown => "shutdown",
            Self::TooLarge { .. } => "too_large",
            Self::CircuitOpen { .. } => "circuit_open",
            Self::RateLimited => "rate_limited",
            Self::Expired => "expired",
            Self::LaneBlocked => "lane_blocked",
            Self::Paused => "paused",
            Self::Custom { .. } => "custom",
        }
    }
}

/// One target's failed delivery: which adapter, which target (redacted), and why.
///
/// Its message includes the [`ErrorKind`]'s; `source()` goes on below that (a custom
/// adapter's error's cause), so a chain printer shows each message once.
///
/// ```
/// use herald_core::{DeliveryError, ErrorKind};
///
/// let error = DeliveryError::new("pid", "pid(sync)", ErrorKind::NotAlive);
/// assert_eq!(error.to_string(), "pid delivery to pid(sync) failed: receiver is not alive");
/// assert!(!error.retryable());
/// ```
#[derive(Debug)]
pub struct DeliveryError {
    adapter: Cow<'static, str>,
    target: String,
    kind: ErrorKind,
    attempts: u32,
    dead_letter: Option<Box<DeadLettered>>,
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} delivery to {} failed{}: {}",
            self.adapter,
            self.target,
            Attempts(self.attempts),
            self.kind
        )?;
        match &self.dead_letter {
            Some(dead_letter) => write!(f, "; {dead_letter}"),
            None => Ok(()),
        }
    }
}

impl StdError for DeliveryError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.kind.cause()
    }
}

/// Writes " after N attempts" when there was more than one, " before any attempt"
/// when there was none.
struct Attempts(u32);

impl fmt::Display for Attempts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => f.write_str(" before any attempt"),
            1 => Ok(()),
            n => write!(f, " after {n} attempts"),
        }
    }
}

impl DeliveryError {
    /// An error for `target` (a redacted description) delivered by `adapter`, after one
    /// attempt, or none when `kind` [is a refusal](ErrorKind::is_refusal).
    pub fn new(
        adapter: impl Into<Cow<'static, str>>,
        target: impl Into<String>,
        kind: ErrorKind,
    ) -> Self {
        Self {
            adapter: adapter.into(),
            target: target.into(),
            attempts: u32::from(!kind.is_refusal()),
            kind,
            dead_letter: None,
        }
    }

    /// The same error, after `attempts` attempts (an adapter that retries; 0 for a
    /// delivery that never reached its adapter).
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// How many attempts reached the receiver, or tried to: 1 unless the adapter
    /// retried, 0 when the delivery was refused before any (an open circuit, a rate
    /// limit, an egress refusal, an invalid target) or never began (a dispatch refused
    /// at shutdown or for overload). A delivery cut off while it ran counts the
    /// attempt it was in, even if it was still waiting for a policy's turn.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Where the failed signal's dead letter went, when the target had one (see
    /// [`Resilience::dead_letter`](crate::resilience::Resilience::dead_letter)).
    pub fn dead_letter(&self) -> Option<&DeadLettered> {
        self.dead_letter.as_deref()
    }

    pub(crate) fn set_dead_letter(&mut self, dead_letter: DeadLettered) {
        self.dead_letter = Some(Box::new(dead_letter));
    }

    /// The adapter that failed.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// The redacted description of the target.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Why it failed.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Takes the reason out.
    pub fn into_kind(self) -> ErrorKind {
        self.kind
    }

    /// Whether trying again may succeed. See [`ErrorKind::retryable`].
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }
}

/// Writes the message of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Formats with a closure; used for lazily written descriptions.
pub(crate) struct DisplayFn<F>(pub(crate) F);

impl<F: Fn(&mut fmt::Formatter<'_>) -> fmt::Result> fmt::Display for DisplayFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.0)(f)
    }
}
