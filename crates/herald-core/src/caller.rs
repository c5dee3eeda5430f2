//! Identifying an actor across address types, for self-call detection.

use std::hash::{Hash, Hasher};
use std::num::NonZeroU64;

use actix::{Actor, Addr, Message, Recipient};

/// The identity of an actor's mailbox, comparable across `Addr<A>` and
/// `Recipient<M>` of the same actor.
///
/// A dispatch made from inside an actor names its caller with
/// [`Dispatch::caller`](crate::Dispatch::caller); a synchronous delivery that resolves
/// to the same actor then fails at once with
/// [`ErrorKind::CallingSelf`](crate::ErrorKind::CallingSelf) instead of deadlocking.
///
/// ```
/// use actix::prelude::*;
/// use herald_core::{ActorId, SignalMessage, Rejection};
///
/// struct Worker;
/// impl Actor for Worker { type Context = Context<Self>; }
/// impl Handler<SignalMessage> for Worker {
///     type Result = Result<(), Rejection>;
///     fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result { Ok(()) }
/// }
///
/// # actix::System::new().block_on(async {
/// let addr = Worker.start();
/// let id = ActorId::of(&addr);
/// assert_eq!(id, ActorId::of_recipient(&addr.clone().recipient::<SignalMessage>()));
/// assert_ne!(id, ActorId::of(&Worker.start()));
/// # });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActorId(NonZeroU64);

impl ActorId {
    /// The number behind the identity (for endpoint keys).
    pub(crate) fn raw(self) -> u64 {
        self.0.get()
    }

    /// The identity of the actor behind `addr`.
    pub fn of<A: Actor>(addr: &Addr<A>) -> Self {
        Self::from_hash(addr)
    }

    /// The identity of the actor behind `recipient`.
    pub fn of_recipient<M>(recipient: &Recipient<M>) -> Self
    where
        M: Message + Send,
        M::Result: Send,
    {
        Self::from_hash(recipient)
    }

    /// Both `Addr` and `Recipient` hash exactly the address of their shared channel, as
    /// one `usize`; capturing that write gives an identity that compares across them.
    fn from_hash(value: &impl Hash) -> Self {
        let mut hasher = IdentityHasher(0);
        value.hash(&mut hasher);
        // A channel's address is never 0; non-zero, an `Option<ActorId>` takes no more
        // room than the id.
        Self(NonZeroU64::new(hasher.0).unwrap_or(NonZeroU64::MAX))
    }
}

impl<A: Actor> From<&Addr<A>> for ActorId {
    fn from(addr: &Addr<A>) -> Self {
        Self::of(addr)
    }
}

impl<M> From<&Recipient<M>> for ActorId
where
    M: Message + Send,
    M::Result: Send,
{
    fn from(recipient: &Recipient<M>) -> Self {
        Self::of_recipient(recipient)
    }
}

/// Records the integers written to it; anything else is folded in, so a change in
/// actix's `Hash` impls can only make identities differ, never collide.
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_usize(&mut self, value: usize) {
        self.0 = self.0.rotate_left(17) ^ value as u64;
    }
}
