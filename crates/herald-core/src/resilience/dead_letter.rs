//! Dead letters: the signal of a delivery that finally failed, carrying the failure
//! as extension attributes; a ready-made queue for them; and redrive.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use actix::{
    Actor, ActorFutureExt, Addr, Context, Handler, Message, ResponseActFuture, WrapFuture,
};
use herald_signal::{ExtensionValue, Signal, SignalError};

use crate::{
    DeliveryError, Dispatch, Dispatcher, ErrorKind, Fingerprint, Outcome, Rejection, SignalMessage,
    Target,
};

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
/// The most bytes of the failure's message a dead letter carries.
pub const ERROR_DATA_LIMIT: usize = 1024;

const ATTRIBUTES: [&str; 7] = [
    ERROR_KIND,
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
    original: Arc<Signal>,
    kind: String,
    target: String,
    destination: Option<Fingerprint>,
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

    /// A dispatch of the original signal to its original target, found among
    /// `targets` (the application's own, secrets and all: a dead letter carries only
    /// the redacted description and the fingerprint); `None` when none matches
    /// exactly. The dispatch does not
    /// dead-letter again: a redrive that fails is the caller's to keep.
    pub fn redrive(&self, targets: &[Target]) -> Option<Dispatch> {
        let target = targets.iter().find(|target| self.failed_at(target))?;
        Some(Dispatch::new(Arc::clone(&self.original), target.clone()).no_dead_letter())
    }
}

/// A dead-letter target that keeps what it gets, for inspection and redrive: an actor;
/// target it with `Target::pid(queue.recipient())`.
///
/// It keeps at most `capacity` dead letters; when full, the oldest goes, counted in
/// [`dropped`](Self::dropped) (read it from a running queue with [`QueueStats`]) and
/// logged at `WARN` on the first drop and every 1,000th after. A signal that carries
/// no failure is rejected. It is memory only: a crash or a restart loses what it
/// holds.
#[derive(Debug)]
pub struct DeadLetterQueue {
    letters: VecDeque<DeadLetter>,
    capacity: usize,
    dropped: u64,
}

impl DeadLetterQueue {
    /// A queue of at most `capacity` dead letters (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            letters: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
        }
    }

    /// Dead letters dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn keep(&mut self, letter: DeadLetter) {
        if self.letters.len() == self.capacity {
            self.letters.pop_front();
            self.dropped += 1;
            if self.dropped % 1_000 == 1 {
                tracing::warn!(
                    dropped = self.dropped,
                    capacity = self.capacity,
                    "dead-letter queue full: its oldest dead letters are dropped"
                );
            }
        }
        self.letters.push_back(letter);
    }

    fn snapshot(&self) -> QueueStatsSnapshot {
        QueueStatsSnapshot {
            len: self.letters.len(),
            capacity: self.capacity,
            dropped: self.dropped,
        }
    }
}

/// Asks a running [`DeadLetterQueue`] for its counters; answered with a
/// [`QueueStatsSnapshot`].
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats;

impl Message for QueueStats {
    type Result = QueueStatsSnapshot;
}

/// A [`DeadLetterQueue`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStatsSnapshot {
    /// Dead letters held now.
    pub len: usize,
    /// The most it holds.
    pub capacity: usize,
    /// Dead letters dropped because it was full, since it started.
    pub dropped: u64,
}

impl Handler<QueueStats> for DeadLetterQueue {
    type Result = actix::MessageResult<QueueStats>;

    fn handle(&mut self, _: QueueStats, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.snapshot())
    }
}

impl Default for DeadLetterQueue {
    /// Room for 10,000 dead letters.
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Actor for DeadLetterQueue {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for DeadLetterQueue {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let letter = DeadLetter::from_signal(message.signal())
            .ok_or_else(|| Rejection::new("not a dead letter: it carries no failure"))?;
        self.keep(letter);
        Ok(())
    }
}

/// Takes every dead letter out of a [`DeadLetterQueue`], oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct TakeDeadLetters;

impl Message for TakeDeadLetters {
    type Result = Vec<DeadLetter>;
}

impl Handler<TakeDeadLetters> for DeadLetterQueue {
    type Result = actix::MessageResult<TakeDeadLetters>;

    fn handle(&mut self, _: TakeDeadLetters, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.letters.drain(..).collect())
    }
}

/// Dispatches every dead letter in a [`DeadLetterQueue`] again, to its original target
/// among `targets`, one at a time; those that fail again (or match no target) stay in
/// the queue, the failed ones with their new failure.
#[derive(Debug)]
pub struct Redrive {
    /// The dispatcher to deliver through.
    pub dispatcher: Addr<Dispatcher>,
    /// The original targets (dead letters carry only redacted descriptions).
    pub targets: Vec<Target>,
}

/// What a [`Redrive`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedriveReport {
    /// Delivered to their original target, and gone from the queue.
    pub redriven: usize,
    /// Failed again; kept.
    pub failed: usize,
    /// Matching none of the targets; kept.
    pub unmatched: usize,
}

impl Message for Redrive {
    type Result = RedriveReport;
}

impl Handler<Redrive> for DeadLetterQueue {
    type Result = ResponseActFuture<Self, RedriveReport>;

    fn handle(&mut self, redrive: Redrive, _: &mut Context<Self>) -> Self::Result {
        let letters: Vec<DeadLetter> = self.letters.drain(..).collect();
        let work = async move {
            let mut report = RedriveReport::default();
            let mut kept = Vec::new();
            for letter in letters {
                let Some(dispatch) = letter.redrive(&redrive.targets) else {
                    report.unmatched += 1;
                    kept.push(letter);
                    continue;
                };
                match redrive.dispatcher.send(dispatch).await {
                    Ok(Ok(_)) => report.redriven += 1,
                    Ok(Err(error)) => {
                        report.failed += 1;
                        let again = error
                            .failures()
                            .first()
                            .zip(letter.destination)
                            .and_then(|(failure, destination)| {
                                dead_letter_signal(letter.original(), &failure.error, destination)
                                    .ok()
                            })
                            .and_then(|signal| DeadLetter::from_signal(&signal));
                        kept.push(again.unwrap_or(letter));
                    }
                    Err(_) => {
                        report.failed += 1;
                        kept.push(letter);
                    }
                }
            }
            (report, kept)
        };
        Box::pin(work.into_actor(self).map(|(report, kept), queue, _| {
            for letter in kept {
                queue.keep(letter);
            }
            report
        }))
    }
}
