//! Which fan-outs are running, and when a shutdown cuts them off.

use std::cell::Cell;
use std::rc::Rc;

use tokio::sync::Notify;
use tokio::sync::futures::Notified;
use tokio::time::Instant;

use crate::Shutdown;

/// What a fan-out delivers, which decides when a shutdown cuts it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// A dispatch's targets: cut off at the grace period's end.
    Deliveries,
    /// Dead letters: cut off after the dead letters' grace too.
    DeadLetters,
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

    /// When fan-outs of `phase` are cut off, once shutting down.
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
    pub(crate) fn enter(self: &Rc<Self>) -> Running {
        self.running.set(self.running.get() + 1);
        Running(Rc::clone(self))
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
pub(crate) struct Running(Rc<Lifecycle>);

impl Drop for Running {
    fn drop(&mut self) {
        let running = self.0.running.get() - 1;
        self.0.running.set(running);
        if running == 0 {
            self.0.idle.notify_waiters();
        }
    }
}
