//! The message receiving actors get.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use actix::Message;
use herald_signal::Signal;
use thiserror::Error;

/// The message a `pid` (and later `named`, `pubsub`, `bus`) receiver gets: the shared
/// signal.
///
/// The signal is behind an `Arc`: every receiver of one dispatch sees the same
/// allocation. A synchronous receiver answers `Ok(())` to accept it or a
/// [`Rejection`] to fail the delivery; asynchronous deliveries ignore the answer.
///
/// ```
/// use actix::prelude::*;
/// use herald_core::{Rejection, SignalMessage};
///
/// struct Audit;
/// impl Actor for Audit {
///     type Context = Context<Self>;
/// }
/// impl Handler<SignalMessage> for Audit {
///     type Result = Result<(), Rejection>;
///     fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
///         if msg.ty().starts_with("audit.") {
///             Ok(())
///         } else {
///             Err(Rejection::new("not an audit signal"))
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct SignalMessage {
    signal: Arc<Signal>,
}

impl SignalMessage {
    /// Wraps a shared signal.
    pub fn new(signal: Arc<Signal>) -> Self {
        Self { signal }
    }

    /// The signal.
    pub fn signal(&self) -> &Arc<Signal> {
        &self.signal
    }

    /// Takes the shared signal out.
    pub fn into_signal(self) -> Arc<Signal> {
        self.signal
    }
}

impl Deref for SignalMessage {
    type Target = Signal;

    fn deref(&self) -> &Signal {
        &self.signal
    }
}

impl Message for SignalMessage {
    type Result = Result<(), Rejection>;
}

/// A synchronous receiver's refusal of a signal, with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct Rejection {
    reason: String,
}

impl Rejection {
    /// A refusal with a reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for Rejection {
    /// The reason, with control and format characters escaped: it may come from afar.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::text::Escaped(&self.reason).fmt(f)
    }
}
