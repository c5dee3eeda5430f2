//! Dead letters: the signal of a delivery that finally failed, carrying the failure
//! as extension attributes, and reading one back. (The ready-made queue and redrive,
//! which dispatch again, are `crate::queue`, above the dispatcher.)

use std::fmt;
use std::sync::Arc;

use herald_signal::{EXPIRYTIME, ExtensionValue, Signal, SignalError};

use crate::{DeliveryError, ErrorKind, Fingerprint, Outcome, Target};

/// The failure's kind name ([`ErrorKind::name`]), e.g. `http_status`.
pub const ERROR_KIND: &str = "heralderrorkind";
/// The failed target's redacted description.
pub const ERROR_DEST: &str = "heralderrordest";
/// The failed target's adapter.
pub const ERROR_ADAPTER: &str = "heralderroradapter";
/// The failed target's exact identity ([`Fingerprint`]), what redrive matches on.
pub const ERROR_DEST_ID: &str = "heralddestid";
/// The HTTP status, when the receiver answered with one.
pub const ERROR_CODE: &str = "heralderrorcode";
/// The failure's message, at most [`ERROR_DATA_LIMIT`] bytes.
pub const ERROR_DATA: &str = "heralderrordata";
/// How many attempts the delivery made.
pub const ATTEMPTS: &str = "heraldattempts";
/// The original signal's [`expirytime`](herald_signal::EXPIRYTIME), moved aside: a
/// dead letter is how an expired delivery is kept, so it does not expire itself; reading
/// it back ([`DeadLetter::original`], a redrive) restores it.
pub const ERROR_EXPIRYTIME: &str = "heraldexpirytime";
/// The most bytes of the failure's message a dead letter carries.
pub const ERROR_DATA_LIMIT: usize = 1024;

const ATTRIBUTES: [&str; 8] = [
    ERROR_KIND,
    ERROR_EXPIRYTIME,
    ERROR_DEST,
    ERROR_DEST_ID,
    ERROR_ADAPTER,
    ERROR_CODE,
    ERROR_DATA,
    ATTEMPTS,
];

/// The signal a dead-letter target gets for `error`: the original (same id, type,
/// data) with the failure in extension attributes, in the spirit of Knative's
/// `knativeerrordest` / `knativeerrorcode` / `knativeerrordata`; and the failed
/// target's fingerprint, `destination`.
pub(crate) fn dead_letter_signal(
    signal: &Signal,
    error: &DeliveryError,
    destination: Fingerprint,
) -> Result<Signal, SignalError> {
    let mut message = error.kind().to_string();
    if message.len() > ERROR_DATA_LIMIT {
        let mut end = ERROR_DATA_LIMIT;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    let mut builder = signal
        .to_builder()
        .extension(ERROR_KIND, error.kind().name())
        .extension(ERROR_DEST, error.target())
        .extension(ERROR_DEST_ID, destination.to_string())
        .extension(ERROR_ADAPTER, error.adapter())
        .extension(ERROR_DATA, message)
        .extension(ATTEMPTS, i64::from(error.attempts()));
    if let ErrorKind::HttpStatus { status, .. } = error.kind() {
        builder = builder.extension(ERROR_CODE, i64::from(*status));
    }
    if let Some(expirytime) = signal.extension(EXPIRYTIME) {
        builder = builder
            .without_extension(EXPIRYTIME)
            .extension(ERROR_EXPIRYTIME, expirytime.clone());
    }
    builder.build()
}

/// Where a failed delivery's dead letter went, in its [`DeliveryError`].
#[derive(Debug)]
pub struct DeadLettered {
    pub(crate) target: String,
    pub(crate) result: Result<Outcome, DeliveryError>,
}

impl DeadLettered {
    /// The dead-letter target's redacted description.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// How the dead letter's delivery ended: it failed too when `Err`.
    pub fn result(&self) -> &Result<Outcome, DeliveryError> {
        &self.result
    }

    /// Whether the dead letter was delivered.
    pub fn delivered(&self) -> bool {
        self.result.is_ok()
    }
}

impl fmt::Display for DeadLettered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(_) => write!(f, "dead-lettered to {}", self.target),
            Err(error) => write!(
                f,
                "dead letter to {} failed too: {}",
                self.target,
                error.kind()
            ),
        }
    }
}

/// A dead-lettered signal read back: the original signal, and why its delivery failed.
///
/// ```
/// use herald_core::resilience::DeadLetter;
/// use herald_signal::Signal;
///
/// let plain = Signal::new("user.created", serde_json::json!({}))?;
/// assert!(DeadLetter::from_signal(&plain).is_none());
/// # Ok::<(), herald_signal::SignalError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub(crate) original: Arc<Signal>,
    kind: String,
    target: String,
    pub(crate) destination: Option<Fingerprint>,
    adapter: String,
    attempts: u32,
    status: Option<u16>,
    message: String,
}

impl DeadLetter {
    /// The dead letter of `signal` for `error` at `target`: the signal (same id, type,
    /// data) with the failure in the `heralderror*` extension attributes and the
    /// target's [`Fingerprint`]. What the dispatcher sends a dead-letter target; for
    /// code that dead-letters on its own (a durable consumer after its last attempt).
    ///
    /// # Errors
    ///
    /// When the signal with those attributes breaks a CloudEvents rule (it cannot:
    /// their names are valid).
    pub fn wrap(
        signal: &Signal,
        error: &DeliveryError,
        target: &Target,
    ) -> Result<Signal, SignalError> {
        dead_letter_signal(signal, error, target.fingerprint())
    }

    /// Reads a dead letter; `None` when `signal` carries no failure.
    pub fn from_signal(signal: &Signal) -> Option<Self> {
        let text = |name| match signal.extension(name) {
            Some(ExtensionValue::String(text)) => Some(text.clone()),
            _ => None,
        };
        let number = |name| match signal.extension(name) {
            Some(ExtensionValue::Integer(n)) => Some(*n),
            Some(ExtensionValue::String(text)) => text.parse().ok(),
            _ => None,
        };
        let kind = text(ERROR_KIND)?;
        let target = text(ERROR_DEST)?;
        let mut original = signal.to_builder();
        for name in ATTRIBUTES {
            original = original.without_extension(name);
        }
        if let Some(expirytime) = signal.extension(ERROR_EXPIRYTIME) {
            original = original.extension(EXPIRYTIME, expirytime.clone());
        }
        Some(Self {
            original: Arc::new(original.build().ok()?),
            kind,
            target,
            destination: text(ERROR_DEST_ID).and_then(|id| Fingerprint::parse(&id)),
            adapter: text(ERROR_ADAPTER).unwrap_or_default(),
            attempts: number(ATTEMPTS)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(1),
            status: number(ERROR_CODE).and_then(|n| u16::try_from(n).ok()),
            message: text(ERROR_DATA).unwrap_or_default(),
        })
    }

    /// The signal as it was dispatched, without the failure's attributes.
    pub fn original(&self) -> &Arc<Signal> {
        &self.original
    }

    /// The failure's kind name, e.g. `timeout`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The failed target's redacted description.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The failed target's adapter.
    pub fn adapter(&self) -> &str {
        &self.adapter
    }

    /// Attempts the delivery made.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The receiver's HTTP status, when it answered with one.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The failure's message (at most [`ERROR_DATA_LIMIT`] bytes).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The failed target's exact identity; `None` for a dead letter made without one.
    pub fn destination(&self) -> Option<Fingerprint> {
        self.destination
    }

    /// Whether `target` is the one that failed: the same adapter and the same
    /// [`Fingerprint`] — every field alike, secrets included, not only the redacted
    /// description. A dead letter without a fingerprint matches no target.
    pub fn failed_at(&self, target: &Target) -> bool {
        target.adapter() == self.adapter
            && self
                .destination
                .is_some_and(|destination| destination == target.fingerprint())
    }
}
