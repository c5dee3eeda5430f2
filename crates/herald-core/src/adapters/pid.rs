//! `pid`: an in-process actor, by address.

use std::fmt;
use std::time::Duration;

use actix::dev::SendError;
use actix::{MailboxError, Recipient};

use crate::{
    ActorId, Adapter, Delivery, ErrorKind, Outcome, Placement, SignalMessage, Target, TargetOptions,
};

/// How a delivery to an actor waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Put the message in the mailbox and return; a full mailbox or stopped actor is an
    /// error, the handler's answer is not awaited.
    #[default]
    Async,
    /// Wait for the handler's answer, up to the timeout; a [`Rejection`] fails the
    /// delivery.
    ///
    /// [`Rejection`]: crate::Rejection
    Sync,
}

/// A target that delivers to one actor by its address: build with
/// [`Target::pid`](crate::Target::pid).
///
/// ```
/// # use actix::prelude::*;
/// # use herald_core::{Rejection, SignalMessage, Target};
/// # struct Audit;
/// # impl Actor for Audit { type Context = Context<Self>; }
/// # impl Handler<SignalMessage> for Audit {
/// #     type Result = Result<(), Rejection>;
/// #     fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result { Ok(()) }
/// # }
/// # actix::System::new().block_on(async {
/// let audit = Audit.start();
/// let target = Target::pid(audit.recipient())
///     .sync()
///     .timeout(std::time::Duration::from_secs(1));
/// # let _: Target = target.into();
/// # });
/// ```
#[derive(Clone)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct PidTarget {
    recipient: Recipient<SignalMessage>,
    mode: Mode,
    timeout: Duration,
}

/// The default wait for a synchronous answer.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `sync`, `mode` and `timeout` setters of targets that end at an actor's mailbox
/// (`pid`, `named`); the type needs `mode: Mode` and `timeout: Duration` fields.
macro_rules! mode_setters {
    () => {
        /// Waits for the handler's answer. Default is [`Mode::Async`].
        pub fn sync(self) -> Self {
            self.mode(Mode::Sync)
        }

        /// Sets how the delivery waits. Default is [`Mode::Async`].
        pub fn mode(mut self, mode: Mode) -> Self {
            self.mode = mode;
            self
        }

        /// Sets how long a synchronous delivery waits for the answer, mailbox wait
        /// included. Default is 5 seconds.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.timeout = timeout;
            self
        }
    };
}
pub(crate) use mode_setters;

impl Mode {
    pub(crate) const CHOICES: [(&'static str, Self); 2] =
        [("async", Self::Async), ("sync", Self::Sync)];
}

impl PidTarget {
    /// The default wait for a synchronous answer.
    pub const DEFAULT_TIMEOUT: Duration = DEFAULT_TIMEOUT;

    pub(crate) fn new(recipient: Recipient<SignalMessage>) -> Self {
        Self {
            recipient,
            mode: Mode::Async,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    mode_setters!();

    /// The receiving actor's identity.
    pub fn actor(&self) -> ActorId {
        ActorId::of_recipient(&self.recipient)
    }
}

impl fmt::Debug for PidTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PidTarget")
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl TargetOptions for PidTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::Async => f.write_str("pid(async)"),
            Mode::Sync => write!(f, "pid(sync, timeout {:?})", self.timeout),
        }
    }
}

impl From<PidTarget> for Target {
    fn from(options: PidTarget) -> Self {
        Target::new("pid", options)
    }
}

/// Delivers to an actor's mailbox.
pub(crate) struct PidAdapter;

impl Adapter for PidAdapter {
    type Options = PidTarget;
    const KIND: &'static str = "process";
    const PLACEMENT: Placement = Placement::Local;

    async fn deliver(&self, delivery: Delivery<'_, PidTarget>) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        let message = SignalMessage::new(delivery.signal.clone());
        send(
            &target.recipient,
            message,
            target.mode,
            target.timeout,
            delivery.caller,
        )
        .await
    }
}

/// Sends one signal to one actor in the given mode; shared by every adapter that ends
/// at an actor's mailbox.
pub(crate) async fn send(
    recipient: &Recipient<SignalMessage>,
    message: SignalMessage,
    mode: Mode,
    timeout: Duration,
    caller: Option<ActorId>,
) -> Result<Outcome, ErrorKind> {
    match mode {
        Mode::Async => match recipient.try_send(message) {
            Ok(()) => Ok(Outcome::Delivered),
            Err(SendError::Full(_)) => Err(ErrorKind::MailboxFull),
            Err(SendError::Closed(_)) => Err(ErrorKind::NotAlive),
        },
        Mode::Sync => {
            if caller == Some(ActorId::of_recipient(recipient)) {
                return Err(ErrorKind::CallingSelf);
            }
            match tokio::time::timeout(timeout, recipient.send(message)).await {
                Err(_) => Err(ErrorKind::Timeout(timeout)),
                Ok(Err(MailboxError::Closed)) => Err(ErrorKind::NotAlive),
                Ok(Err(MailboxError::Timeout)) => Err(ErrorKind::Timeout(timeout)),
                Ok(Ok(Err(rejection))) => Err(ErrorKind::Rejected(rejection)),
                Ok(Ok(Ok(()))) => Ok(Outcome::Delivered),
            }
        }
    }
}
