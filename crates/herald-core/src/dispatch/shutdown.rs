//! The message that stops a dispatcher gracefully.

use std::time::Duration;

use actix::Message;

/// Stops a dispatcher gracefully; answered once it has stopped.
///
/// From the moment the dispatcher handles it, new dispatches fail at once with
/// [`ErrorKind::Shutdown`](crate::ErrorKind::Shutdown) (retryable) and count as
/// [`refused`](crate::StatsSnapshot::refused). Dispatches already running get up to
/// `grace` to finish; targets still running then fail with the same kind, so every
/// target is reported. Dead letters — of those cut-off targets too — are still
/// delivered for up to [`dead_letter_grace`](Self::dead_letter_grace) more (by
/// default as long as `grace`), so a signal cut off with a dead letter configured is
/// kept there: a shutdown takes at most `grace` plus that. Then the dispatcher stops,
/// and so do its pool's arbiters.
/// Messages still in its mailbox are dropped: detached dispatches among them report
/// every target as [`ErrorKind::Shutdown`](crate::ErrorKind::Shutdown), and
/// `Addr::send` callers get actix's `MailboxError::Closed`.
///
/// ```
/// use std::time::Duration;
/// use herald_core::{Dispatch, Dispatcher, ErrorKind, Shutdown, Target};
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// dispatcher.send(Shutdown::new(Duration::from_secs(5))).await.unwrap();
/// assert!(!dispatcher.connected());
/// # });
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use = "a shutdown does nothing until it is sent to a dispatcher"]
pub struct Shutdown {
    pub(crate) grace: Duration,
    letters: Option<Duration>,
}

impl Shutdown {
    /// A shutdown that gives running dispatches up to `grace` to finish, and their dead
    /// letters as long again.
    pub fn new(grace: Duration) -> Self {
        Self {
            grace,
            letters: None,
        }
    }

    /// Sets how long after the grace period dead letters may still be delivered
    /// (zero: they are cut off with the deliveries).
    pub fn dead_letter_grace(mut self, grace: Duration) -> Self {
        self.letters = Some(grace);
        self
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// How long after the grace period dead letters may still be delivered.
    pub fn dead_letter_grace_value(&self) -> Duration {
        self.letters.unwrap_or(self.grace)
    }
}

impl From<Duration> for Shutdown {
    /// A shutdown with this grace period.
    fn from(grace: Duration) -> Self {
        Self::new(grace)
    }
}

impl Message for Shutdown {
    type Result = ();
}
