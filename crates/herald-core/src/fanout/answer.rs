//! Where a fan-out's result goes, and what it says if the fan-out is dropped unfinished.

use std::sync::Arc;

use crate::dispatch::{DispatchResult, fail_all};
use crate::{ErrorKind, Target};

/// The message of every target's error when a fan-out is dropped by a panic.
pub(crate) const PANICKED_FAN_OUT: &str =
    "the dispatch's fan-out was dropped by a panic on the dispatcher's thread";

/// Where a dispatch's result goes. Dropped unanswered — the fan-out was dropped because
/// the dispatcher's arbiter or system stopped — it answers with every target failed
/// as [`ErrorKind::Shutdown`], each at its own index, so nothing is lost silently; as
/// [`ErrorKind::Panicked`] when it is dropped by a panic (the fan-out's own, or one that
/// unwinds the dispatcher's thread).
pub(crate) struct Answer<F: FnOnce(DispatchResult)> {
    finish: Option<F>,
    targets: Arc<[Target]>,
}

impl<F: FnOnce(DispatchResult)> Answer<F> {
    pub(crate) fn new(targets: Arc<[Target]>, finish: F) -> Self {
        Self {
            finish: Some(finish),
            targets,
        }
    }

    pub(crate) fn send(mut self, result: DispatchResult) {
        if let Some(finish) = self.finish.take() {
            finish(result);
        }
    }
}

impl<F: FnOnce(DispatchResult)> Drop for Answer<F> {
    fn drop(&mut self) {
        if let Some(finish) = self.finish.take() {
            let panicking = std::thread::panicking();
            // Dropped by a panic, the fan-out may have begun any target (counted as one
            // attempt); dropped unhandled, it began none.
            finish(fail_all(&self.targets, || {
                if panicking {
                    let message = PANICKED_FAN_OUT.to_owned();
                    (ErrorKind::Panicked { message }, 1)
                } else {
                    (ErrorKind::Shutdown, 0)
                }
            }));
        }
    }
}
