//! A dispatch sent without waiting: what `dispatch_async`, bus publishes and circuit
//! signals queue, and the weak way in that buses and circuit signals hold.

use std::sync::Arc;

use actix::{Message, Recipient, WeakRecipient};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::{Admission, Dispatch, DispatchResult, warn_failures};
use crate::ErrorKind;

/// A dispatch that runs on its own; see [`DispatchExt::dispatch_async`](crate::DispatchExt::dispatch_async).
#[derive(Debug)]
pub(crate) struct Detached {
    dispatch: Option<Dispatch>,
    /// Where the result goes; `None` when nobody awaits it (a bus publish).
    reply: Option<oneshot::Sender<DispatchResult>>,
    /// The admission permit it was queued under, returned when it is handled.
    permit: Option<OwnedSemaphorePermit>,
}

impl Detached {
    pub(crate) fn new(
        dispatch: Dispatch,
        reply: Option<oneshot::Sender<DispatchResult>>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        Self {
            dispatch: Some(dispatch),
            reply,
            permit,
        }
    }

    /// Takes the dispatch and where its result goes, returning the admission permit.
    pub(crate) fn take(&mut self) -> Option<(Dispatch, Option<oneshot::Sender<DispatchResult>>)> {
        self.permit = None;
        Some((self.dispatch.take()?, self.reply.take()))
    }

    /// Answers without running: every target fails with `kind`.
    pub(crate) fn refuse(mut self, kind: fn() -> ErrorKind) {
        if let Some((dispatch, reply)) = self.take() {
            let result = dispatch.fail_all(kind);
            warn_failures(&dispatch.signal, &result);
            if let Some(reply) = reply {
                let _ = reply.send(result);
            }
        }
    }
}

impl Drop for Detached {
    /// Dropped unhandled (the dispatcher stopped): every target is reported failed.
    fn drop(&mut self) {
        if self.dispatch.is_some() {
            let unhandled = Self {
                dispatch: self.dispatch.take(),
                reply: self.reply.take(),
                permit: None,
            };
            unhandled.refuse(|| ErrorKind::Shutdown);
        }
    }
}

impl Message for Detached {
    type Result = ();
}

/// A weak way into a running dispatcher for detached dispatches, under its admission:
/// what a bus and the circuit signals hold, so that neither keeps the dispatcher alive
/// nor needs to know its type.
#[derive(Debug, Clone)]
pub(crate) struct Inlet {
    recipient: WeakRecipient<Detached>,
    admission: Arc<Admission>,
}

/// Why an [`Inlet`] did not take a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The dispatcher has stopped.
    Gone,
    /// Its admission queue is full (counted as refused).
    Full,
}

impl Inlet {
    pub(crate) fn new(recipient: WeakRecipient<Detached>, admission: Arc<Admission>) -> Self {
        Self {
            recipient,
            admission,
        }
    }

    /// Whether its dispatcher still runs.
    pub(crate) fn alive(&self) -> bool {
        self.running().is_some()
    }

    /// The dispatcher's mailbox while it takes messages. (Unlike `WeakAddr::upgrade`,
    /// a weak recipient upgrades while any address is held, even to a stopped actor.)
    fn running(&self) -> Option<Recipient<Detached>> {
        self.recipient.upgrade().filter(Recipient::connected)
    }

    /// Queues `dispatch` for its dispatcher without waiting for the result, whose
    /// failures reach telemetry as every detached dispatch's do; a refused dispatch
    /// comes back with the reason.
    pub(crate) fn send(&self, dispatch: Dispatch) -> Result<(), (Refused, Dispatch)> {
        let Some(recipient) = self.running() else {
            return Err((Refused::Gone, dispatch));
        };
        let Some(permit) = self.admission.admit() else {
            return Err((Refused::Full, dispatch));
        };
        recipient.do_send(Detached::new(dispatch, None, Some(permit)));
        Ok(())
    }
}
