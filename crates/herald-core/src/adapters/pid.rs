//! `pid`: an in-process actor, by address.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use actix::Recipient;

use super::mailbox::{self, mode_setters};
use crate::{
    ActorId, Adapter, Delivery, ErrorKind, Mode, Outcome, Placement, SignalMessage, Target,
    TargetOptions,
};

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
    /// Shared by every clone: one sender, so a full mailbox is seen the same way
    /// however the target was copied.
    actor: Arc<Actor>,
    mode: Mode,
    timeout: Duration,
}

/// The receiving actor, as every clone of a target shares it.
struct Actor {
    recipient: Recipient<SignalMessage>,
    /// Its endpoint's key, made when a policy first asks for it.
    endpoint: OnceLock<Box<str>>,
}

impl PidTarget {
    /// The default bound on waiting for room or for the answer.
    pub const DEFAULT_TIMEOUT: Duration = mailbox::DEFAULT_TIMEOUT;

    pub(crate) fn new(recipient: Recipient<SignalMessage>) -> Self {
        Self {
            actor: Arc::new(Actor {
                recipient,
                endpoint: OnceLock::new(),
            }),
            mode: Mode::Async,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    mode_setters!();

    /// The receiving actor's identity.
    pub fn actor(&self) -> ActorId {
        ActorId::of_recipient(&self.actor.recipient)
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
    /// The actor: every target of one actor shares its policies.
    fn endpoint(&self) -> Option<Cow<'_, str>> {
        // Asked for on every delivery under a policy: made once per target.
        let key = self
            .actor
            .endpoint
            .get_or_init(|| actor_key(self.actor().raw()).into_boxed_str());
        Some(Cow::Borrowed(key))
    }

    /// The actor, the mode and the timeout, written as they are: asked for on every
    /// keyed or deduped delivery, where formatting the description cost more than the
    /// delivery.
    fn identity(&self, state: &mut dyn std::hash::Hasher) {
        crate::Fingerprint::field(state, &self.actor().raw().to_le_bytes());
        crate::Fingerprint::field(state, self.mode.as_str().as_bytes());
        let timeout = u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX);
        crate::Fingerprint::field(state, &timeout.to_le_bytes());
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::Async => f.write_str("pid(async)"),
            mode => write!(f, "pid({}, timeout {:?})", mode.as_str(), self.timeout),
        }
    }

    /// A sync call waits for its answer.
    fn waits(&self) -> bool {
        self.mode == Mode::Sync
    }
}

/// `actor:` and the actor's id in hex, as `format!("actor:{id:x}")` writes it. Asked for
/// on every delivery under a policy, so written by hand: `format!` cost three times as
/// much (709 instructions a delivery against 234, the allocation included; callgrind).
fn actor_key(id: u64) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (16 - id.leading_zeros() as usize / 4).max(1);
    let mut key = String::with_capacity("actor:".len() + digits);
    key.push_str("actor:");
    key.extend(
        (0..digits)
            .rev()
            .map(|i| char::from(HEX[(id >> (4 * i)) as usize & 0xf])),
    );
    key
}

impl From<PidTarget> for Target {
    fn from(options: PidTarget) -> Self {
        Target::new(super::name::PID, options)
    }
}

/// Delivers to an actor's mailbox.
pub(crate) struct PidAdapter;

impl Adapter for PidAdapter {
    type Options = PidTarget;
    const KIND: &'static str = "process";
    const PLACEMENT: Placement = Placement::Local;

    fn timeout(&self, options: &PidTarget) -> Option<Duration> {
        Some(options.timeout)
    }

    fn deliver_now(&self, delivery: Delivery<'_, PidTarget>) -> Option<Result<Outcome, ErrorKind>> {
        let target = delivery.options;
        // A sync call waits for its answer: declined before a message is made.
        if target.mode == Mode::Sync {
            return None;
        }
        let message = SignalMessage::new(delivery.signal.clone());
        mailbox::deliver_now(&target.actor.recipient, message, target.mode)
    }

    fn may_deliver_now(&self, target: &PidTarget) -> bool {
        !target.waits()
    }

    fn deliver(
        &self,
        delivery: Delivery<'_, PidTarget>,
    ) -> impl Future<Output = Result<Outcome, ErrorKind>> {
        // The mailbox's future itself: no frame of this adapter's around it.
        let target = delivery.options;
        let message = SignalMessage::new(delivery.signal.clone());
        mailbox::deliver(
            &target.actor.recipient,
            message,
            target.mode,
            target.timeout,
            delivery.caller,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::actor_key;

    #[test]
    fn actor_keys_are_what_format_writes() {
        let mut ids = vec![0, 1, 9, 10, 15, 16, 255, 256, u64::MAX, u64::MAX >> 4];
        ids.extend((0..64).map(|bit| 1u64 << bit));
        ids.extend((0..64).map(|bit| (1u64 << bit) - 1));
        ids.push(0x7f3a_9c00_1d48);
        for id in ids {
            assert_eq!(actor_key(id), format!("actor:{id:x}"), "{id}");
        }
    }
}
