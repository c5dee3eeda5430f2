//! Admission and shutdown: what decides whether a dispatch may run, and until when.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use actix::{Addr, Message};
use dashmap::DashMap;
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::Dispatcher;
use crate::ActorId;

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

/// What a run delivers, which decides when a shutdown cuts it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A dispatch's targets: cut off at the grace period's end.
    Deliveries,
    /// Dead letters: cut off after the dead letters' grace too.
    DeadLetters,
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

/// Which dispatches are running, and when they must end (all on the dispatcher's
/// arbiter).
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    running: Cell<usize>,
    /// Set by `Shutdown`: when running deliveries are cut off.
    cutoff: Cell<Option<Instant>>,
    /// Set by `Shutdown`: when running dead letters are cut off.
    letters_cutoff: Cell<Option<Instant>>,
    /// Woken when `cutoff` is set.
    changed: Notify,
    /// Woken when the last running dispatch ends.
    idle: Notify,
}

impl Lifecycle {
    /// Whether a `Shutdown` arrived.
    pub(crate) fn closing(&self) -> bool {
        self.cutoff.get().is_some()
    }

    /// When runs of `phase` are cut off, once shutting down.
    pub(crate) fn cutoff(&self, phase: Phase) -> Option<Instant> {
        match phase {
            Phase::Deliveries => self.cutoff.get(),
            Phase::DeadLetters => self.letters_cutoff.get(),
        }
    }

    /// A future that completes when the cutoff changes. Take it before reading
    /// [`cutoff`](Self::cutoff), so that no change is missed.
    pub(crate) fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// Starts shutting down: deliveries still running at `shutdown`'s grace period's
    /// end fail, and dead letters still running after their own grace too. A second
    /// shutdown may only bring the cutoffs nearer.
    pub(crate) fn close(&self, shutdown: &Shutdown) {
        let cutoff = crate::time::deadline_after(shutdown.grace);
        let letters = crate::time::deadline_after(
            shutdown
                .grace
                .saturating_add(shutdown.dead_letter_grace_value()),
        );
        let earliest = |cell: &Cell<Option<Instant>>, at: Instant| {
            cell.set(Some(cell.get().map_or(at, |set| set.min(at))));
        };
        earliest(&self.cutoff, cutoff);
        earliest(&self.letters_cutoff, letters);
        self.changed.notify_waiters();
    }

    /// Counts a dispatch as running until the returned guard drops.
    pub(crate) fn enter(self: &std::rc::Rc<Self>) -> Running {
        self.running.set(self.running.get() + 1);
        Running(std::rc::Rc::clone(self))
    }

    /// Waits until no dispatch is running.
    pub(crate) async fn idle(&self) {
        loop {
            let idle = self.idle.notified();
            if self.running.get() == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// One running dispatch, counted until dropped.
#[derive(Debug)]
pub(crate) struct Running(std::rc::Rc<Lifecycle>);

impl Drop for Running {
    fn drop(&mut self) {
        let running = self.0.running.get() - 1;
        self.0.running.set(running);
        if running == 0 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Admission to the dispatcher's mailbox for detached dispatches (`dispatch_async`, bus
/// publishes): a permit per queued message, returned when the dispatcher takes the
/// message out. actix bounds a mailbox per sender, and every `Addr` clone is a new
/// sender with a message's worth of room of its own; the permits bound the mailbox
/// whichever clone sends.
#[derive(Debug)]
pub(crate) struct Admission {
    pub(crate) permits: Arc<Semaphore>,
    /// Dispatches refused whole (shared with the callers that count their refusals).
    pub(crate) refused: AtomicU64,
}

/// Every running dispatcher's admission, by its mailbox's identity: how
/// `dispatch_async` on any clone of an `Addr<Dispatcher>` finds its dispatcher's permits
/// (an actix address has no room for more state). An entry lives as long as its
/// dispatcher actor: an address whose dispatcher is gone finds none.
static ADMISSIONS: LazyLock<DashMap<ActorId, Arc<Admission>>> = LazyLock::new(DashMap::new);

impl Admission {
    pub(crate) fn new(capacity: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(capacity.min(Semaphore::MAX_PERMITS))),
            refused: AtomicU64::new(0),
        })
    }

    /// Makes `admission` the one `dispatcher`'s detached dispatches go through.
    pub(crate) fn register(dispatcher: ActorId, admission: Arc<Self>) {
        ADMISSIONS.insert(dispatcher, admission);
    }

    /// Forgets a dispatcher that is gone.
    pub(crate) fn unregister(dispatcher: ActorId) {
        ADMISSIONS.remove(&dispatcher);
    }

    /// The admission of the dispatcher behind `dispatcher`, while it runs.
    pub(crate) fn of(dispatcher: &Addr<Dispatcher>) -> Option<Arc<Self>> {
        let found = ADMISSIONS.get(&ActorId::of(dispatcher))?;
        Some(Arc::clone(&found))
    }

    /// A permit for one queued message, or `None` (counted as refused) when the queue
    /// is full.
    pub(crate) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok();
        if permit.is_none() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        permit
    }
}
