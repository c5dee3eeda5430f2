//! An actor that dispatches from its own handler, synchronously to itself — by name or
//! by address — gets the calling-self error at once: never a deadlock, never a timeout.
//! With the paused clock a deadlock would surface as the 5 s timeout instead.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Dispatch, DispatchResult, Dispatcher, ErrorKind, Registry, Rejection, SignalMessage, Target,
};
use support::{Answer, Inbox, signal, within};

/// Registered as `a`; on `Go` dispatches sync to `named("a")`, to its own `pid`, and to
/// a third actor.
struct Agent {
    dispatcher: Addr<Dispatcher>,
    registry: Registry,
    witness: Recipient<SignalMessage>,
    received: Arc<AtomicUsize>,
}

impl Agent {
    fn dispatch(&self, me: &Addr<Self>) -> Dispatch {
        Dispatch::new(
            signal(),
            [
                Target::from(Target::named("a").unwrap().sync()),
                Target::pid(me.clone().recipient()).sync().into(),
                Target::pid(self.witness.clone()).sync().into(),
            ],
        )
        .caller(me)
    }
}

impl Actor for Agent {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.registry
            .register("a", ctx.address().recipient())
            .unwrap();
    }
}

impl Handler<SignalMessage> for Agent {
    type Result = Result<(), Rejection>;
    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.received.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Dispatch while the handler's future runs detached from the mailbox.
#[derive(Message)]
#[rtype(result = "DispatchResult")]
struct Go;

impl Handler<Go> for Agent {
    type Result = ResponseFuture<DispatchResult>;
    fn handle(&mut self, _: Go, ctx: &mut Context<Self>) -> Self::Result {
        let dispatch = self.dispatch(&ctx.address());
        let dispatcher = self.dispatcher.clone();
        Box::pin(async move { dispatcher.send(dispatch).await.unwrap() })
    }
}

/// Dispatch while holding the mailbox: nothing else reaches the actor until done.
#[derive(Message)]
#[rtype(result = "DispatchResult")]
struct GoAtomic;

impl Handler<GoAtomic> for Agent {
    type Result = AtomicResponse<Self, DispatchResult>;
    fn handle(&mut self, _: GoAtomic, ctx: &mut Context<Self>) -> Self::Result {
        let dispatch = self.dispatch(&ctx.address());
        let dispatcher = self.dispatcher.clone();
        AtomicResponse::new(Box::pin(
            async move { dispatcher.send(dispatch).await.unwrap() }.into_actor(self),
        ))
    }
}

async fn check(go: impl FnOnce(&Addr<Agent>) -> Request<Agent, Go>, atomic: bool) {
    tokio::time::pause();
    let registry = Registry::new();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .registry(registry.clone())
        .start();
    let (witness, witnessed) = Inbox::start(Answer::Accept);
    let received = Arc::new(AtomicUsize::new(0));
    let agent = Agent {
        dispatcher,
        registry,
        witness: witness.recipient(),
        received: received.clone(),
    }
    .start();
    let start = tokio::time::Instant::now();
    let error = if atomic {
        within("atomic dispatch", agent.send(GoAtomic))
            .await
            .unwrap()
            .unwrap_err()
    } else {
        within("dispatch", go(&agent)).await.unwrap().unwrap_err()
    };
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no waiting: a deadlock would time out at 5 s"
    );
    let failed: Vec<_> = error.failures().iter().map(|f| f.index).collect();
    assert_eq!(failed, [0, 1]);
    for failure in error.failures() {
        assert!(
            matches!(failure.error.kind(), ErrorKind::CallingSelf),
            "{:?}",
            failure.error
        );
    }
    assert_eq!(error.delivered().len(), 1);
    assert_eq!(
        witnessed.load(Ordering::SeqCst),
        1,
        "the third target was delivered"
    );
    assert_eq!(
        received.load(Ordering::SeqCst),
        0,
        "the agent never got its own signal"
    );
}

#[actix_rt::test]
async fn sync_self_calls_by_name_and_address_fail_at_once() {
    check(|agent| agent.send(Go), false).await;
}

#[actix_rt::test]
async fn also_when_the_handler_holds_its_mailbox() {
    check(|agent| agent.send(Go), true).await;
}

#[actix_rt::test]
async fn async_self_delivery_is_allowed() {
    // Async delivery only queues the message; no one waits, so there is no deadlock.
    let registry = Registry::new();
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .registry(registry.clone())
        .start();
    let (witness, _) = Inbox::start(Answer::Accept);
    let received = Arc::new(AtomicUsize::new(0));
    let agent = Agent {
        dispatcher: dispatcher.clone(),
        registry: registry.clone(),
        witness: witness.recipient(),
        received: received.clone(),
    }
    .start();
    // The agent registers itself in `started`, on its first turn.
    within("agent registered", async {
        while registry.lookup("a").is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let dispatch = Dispatch::new(signal(), [Target::named("a").unwrap()]).caller(&agent);
    within("dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();
    within("agent got it", async {
        while received.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
}

/// `ActorId` is the channel identity actix's own `Recipient` equality compares (its
/// `Hash` of the channel): the two must agree, for any pair of recipients. Should a
/// new actix change what it hashes, this fails before any self-call goes undetected.
#[actix_rt::test]
async fn actor_ids_agree_with_recipient_equality() {
    use herald_core::ActorId;
    let (a, _) = support::Inbox::start(support::Answer::Accept);
    let (b, _) = support::Inbox::start(support::Answer::Accept);
    let recipients: Vec<actix::Recipient<herald_core::SignalMessage>> = vec![
        a.clone().recipient(),
        a.clone().recipient(),
        b.clone().recipient(),
    ];
    for x in &recipients {
        for y in &recipients {
            assert_eq!(x == y, ActorId::of_recipient(x) == ActorId::of_recipient(y));
        }
    }
    assert_eq!(ActorId::of(&a), ActorId::of_recipient(&recipients[0]));
    assert_ne!(ActorId::of(&a), ActorId::of(&b));
}
