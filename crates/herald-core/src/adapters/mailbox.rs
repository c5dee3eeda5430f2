//! Putting a signal into an actor's mailbox: the delivery modes shared by `pid`, `named`
//! and `pubsub`.
//!
//! actix bounds a mailbox per *sender*: a sender whose message filled the mailbox is
//! parked and refused until the actor takes a message out; a fresh sender (every
//! `Recipient` clone) always gets one message in. So Herald keeps one sender per target
//! value (`pid`), per registered name (`named`) and per subscriber (`pubsub`), and waits
//! for room by trying that sender again: actix offers no way to be woken when a parked
//! sender is let go, so the wait re-tries after a yield, then at growing pauses (1 ms up
//! to 8 ms), until the target's timeout.

use std::future::Future;
use std::time::Duration;

use actix::dev::SendError;
use actix::{MailboxError, Recipient};
use tokio::time::Instant;

use crate::time::deadline_after;
use crate::time::within;
use crate::{ActorId, ErrorKind, Outcome, Rejection, SignalMessage};

/// How a delivery to an actor's mailbox waits.
///
/// ```
/// use herald_core::Mode;
/// assert_eq!(Mode::default(), Mode::Async);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Put the message in the mailbox and return, without awaiting the handler. While
    /// the mailbox is full the delivery waits for room, up to the target's timeout; then
    /// it fails with [`ErrorKind::MailboxFull`].
    #[default]
    Async,
    /// Put the message in the mailbox only if there is room now; a full mailbox fails at
    /// once with [`ErrorKind::MailboxFull`]. For signals that are worth less than the
    /// time it takes to wait.
    BestEffort,
    /// Wait for the handler's answer, up to the target's timeout; a
    /// [`Rejection`] fails the delivery. A synchronous delivery to the
    /// dispatching actor itself fails at once with [`ErrorKind::CallingSelf`].
    Sync,
}

impl Mode {
    pub(crate) const CHOICES: [(&'static str, Self); 3] = [
        ("async", Self::Async),
        ("best_effort", Self::BestEffort),
        ("sync", Self::Sync),
    ];

    /// The word configs use for this mode.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Async => "async",
            Self::BestEffort => "best_effort",
            Self::Sync => "sync",
        }
    }
}

/// The default bound on a mailbox delivery: waiting for room, or for the answer.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest bound a mailbox delivery may have: one hour.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// The longest pause between two tries of a full mailbox.
const MAX_PAUSE: Duration = Duration::from_millis(8);

/// The `sync`, `best_effort`, `mode` and `timeout` setters of targets that end at an
/// actor's mailbox (`pid`, `named`); the type needs `mode: Mode` and
/// `timeout: Duration` fields.
macro_rules! mode_setters {
    () => {
        /// Waits for the handler's answer: [`Mode::Sync`]. Default is [`Mode::Async`].
        pub fn sync(self) -> Self {
            self.mode($crate::Mode::Sync)
        }

        /// Fails at once when the mailbox is full: [`Mode::BestEffort`]. Default is
        /// [`Mode::Async`], which waits for room.
        pub fn best_effort(self) -> Self {
            self.mode($crate::Mode::BestEffort)
        }

        /// Sets how the delivery waits. Default is [`Mode::Async`].
        pub fn mode(mut self, mode: $crate::Mode) -> Self {
            self.mode = mode;
            self
        }

        /// Sets how long a delivery may wait: for room in a full mailbox
        /// ([`Mode::Async`]) or for the handler's answer, mailbox wait included
        /// ([`Mode::Sync`]). Longer than an hour counts as an hour. Default is 5
        /// seconds.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.timeout = timeout.min($crate::adapters::MAX_TIMEOUT);
            self
        }

        /// How the delivery waits.
        pub fn delivery_mode(&self) -> $crate::Mode {
            self.mode
        }

        /// How long the delivery may wait.
        pub fn timeout_value(&self) -> std::time::Duration {
            self.timeout
        }
    };
}
pub(crate) use mode_setters;

/// Delivers one signal to one actor in `mode`.
// Not an `async fn`, whose future would keep each argument twice.
#[allow(clippy::manual_async_fn)]
pub(crate) fn deliver(
    recipient: &Recipient<SignalMessage>,
    message: SignalMessage,
    mode: Mode,
    timeout: Duration,
    caller: Option<ActorId>,
) -> impl Future<Output = Result<Outcome, ErrorKind>> + '_ {
    async move {
        match mode {
            Mode::BestEffort => try_push(recipient, message).map_err(|(kind, _)| kind),
            Mode::Async => match try_push(recipient, message) {
                // Boxed: the wait is rare, and would otherwise grow every delivery's
                // future.
                Err((ErrorKind::MailboxFull, Some(message))) => {
                    Box::pin(wait_for_room(recipient, message, deadline_after(timeout))).await
                }
                other => other.map_err(|(kind, _)| kind),
            },
            Mode::Sync => {
                if caller == Some(ActorId::of_recipient(recipient)) {
                    return Err(ErrorKind::CallingSelf);
                }
                // A timer shared with the other sync calls bounded in the same
                // millisecond (see `time::shared`). Measured against
                // `tokio::time::timeout` (2026-12-07): `fanout_pid_1k_sync` 1.35–1.43
                // with it, 2.26–2.55 without; `sustained_sync_100k` 1.24–1.34 / 1.33–1.62.
                answer(within(timeout, recipient.send(message)).await, timeout)
            }
        }
    }
}

/// What a sync call's answer (or its `timeout` running out) makes of the delivery. A
/// sync delivery holds its place in the dispatch until answered, so the mailbox holds
/// at most one of these per delivery in flight.
fn answer(
    answered: Result<Result<Result<(), Rejection>, MailboxError>, ()>,
    timeout: Duration,
) -> Result<Outcome, ErrorKind> {
    match answered {
        Err(_) | Ok(Err(MailboxError::Timeout)) => Err(ErrorKind::Timeout(timeout)),
        Ok(Err(MailboxError::Closed)) => Err(ErrorKind::NotAlive),
        Ok(Ok(Err(rejection))) => Err(ErrorKind::Rejected(rejection)),
        Ok(Ok(Ok(()))) => Ok(Outcome::Delivered),
    }
}

/// Delivers in `mode` when that needs no waiting: `None` for a sync call, or for an
/// async push that found the mailbox full (then [`deliver`] waits for room).
pub(crate) fn deliver_now(
    recipient: &Recipient<SignalMessage>,
    message: SignalMessage,
    mode: Mode,
) -> Option<Result<Outcome, ErrorKind>> {
    if mode == Mode::Sync {
        return None;
    }
    // `try_send` matched here rather than through `try_push`: this is the fan-out's
    // per-target path, and the message need not come back.
    match recipient.try_send(message) {
        Ok(()) => Some(Ok(Outcome::Delivered)),
        Err(SendError::Full(_)) if mode == Mode::Async => None,
        Err(SendError::Full(_)) => Some(Err(ErrorKind::MailboxFull)),
        Err(SendError::Closed(_)) => Some(Err(ErrorKind::NotAlive)),
    }
}

/// One try: in the mailbox now, or why not (with the message back when it was full).
pub(crate) fn try_push(
    recipient: &Recipient<SignalMessage>,
    message: SignalMessage,
) -> Result<Outcome, (ErrorKind, Option<SignalMessage>)> {
    match recipient.try_send(message) {
        Ok(()) => Ok(Outcome::Delivered),
        Err(SendError::Full(message)) => Err((ErrorKind::MailboxFull, Some(message))),
        Err(SendError::Closed(_)) => Err((ErrorKind::NotAlive, None)),
    }
}

/// Tries a full mailbox again until it takes the message or `deadline` passes.
pub(crate) async fn wait_for_room(
    recipient: &Recipient<SignalMessage>,
    mut message: SignalMessage,
    deadline: Instant,
) -> Result<Outcome, ErrorKind> {
    // An actor on this thread can only make room if we let it run.
    tokio::task::yield_now().await;
    let mut pause = Duration::from_millis(1);
    loop {
        match try_push(recipient, message) {
            Err((ErrorKind::MailboxFull, Some(back))) => message = back,
            other => return other.map_err(|(kind, _)| kind),
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(ErrorKind::MailboxFull);
        }
        tokio::time::sleep_until(deadline.min(now + pause)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
