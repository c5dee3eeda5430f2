//! Admission to a dispatcher: how many detached dispatches may queue for it, and what
//! a dispatch does when it is at its in-flight bound.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use dashmap::DashMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ActorId;

/// What a dispatch does when the dispatcher is at its in-flight bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overload {
    /// Wait for room. The dispatcher stops taking new messages meanwhile, so senders
    /// wait on its (bounded) mailbox and memory stays bounded.
    #[default]
    Wait,
    /// Fail at once: every target of the dispatch fails with
    /// [`ErrorKind::Overloaded`](crate::ErrorKind::Overloaded).
    Fail,
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

    /// The admission of the dispatcher whose mailbox is `dispatcher`, while it runs.
    pub(crate) fn of(dispatcher: ActorId) -> Option<Arc<Self>> {
        let found = ADMISSIONS.get(&dispatcher)?;
        Some(Arc::clone(&found))
    }

    /// A permit for one queued message, or `None` (counted as refused) when the queue
    /// is full.
    pub(crate) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok();
        if permit.is_none() {
            self.refuse();
        }
        permit
    }

    /// Counts a dispatch refused whole.
    pub(crate) fn refuse(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        crate::telemetry::meter::refused();
    }
}
