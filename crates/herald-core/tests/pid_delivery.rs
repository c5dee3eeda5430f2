//! The `pid` adapter: async and sync delivery to an actor by address.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Dispatch, DispatchResult, Dispatcher, ErrorKind, Rejection, SignalMessage, Target,
};
use support::{Answer, Inbox, Stop, signal, within};

fn dispatcher() -> Addr<Dispatcher> {
    Dispatcher::builder().pool_size(0).start()
}

fn kind_of(result: DispatchResult) -> String {
    let error = result.unwrap_err();
    assert_eq!(error.failures().len(), 1);
    error.first().error.kind().name().to_owned()
}

#[actix_rt::test]
async fn async_delivery_to_a_stopped_actor_is_not_alive() {
    let (inbox, received) = Inbox::start(Answer::Accept);
    within("stop", inbox.send(Stop)).await.unwrap();
    let target = Target::pid(inbox.recipient());
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap();
    assert_eq!(kind_of(result), "not_alive");
    assert_eq!(received.load(Ordering::SeqCst), 0);
}

#[actix_rt::test]
async fn sync_delivery_returns_the_receivers_rejection() {
    let (inbox, received) = Inbox::start(Answer::Reject);
    let target = Target::pid(inbox.recipient()).sync();
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap();
    let error = result.unwrap_err();
    match error.first().error.kind() {
        ErrorKind::Rejected(rejection) => assert_eq!(
            rejection,
            &Rejection::new(herald_testkit::receiver::REJECTION)
        ),
        other => panic!("expected rejected, got {other:?}"),
    }
    assert_eq!(received.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn sync_delivery_waits_for_acceptance() {
    let (inbox, received) = Inbox::start(Answer::Accept);
    let target = Target::pid(inbox.recipient()).sync();
    within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(received.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn sync_delivery_past_its_timeout_is_a_timeout() {
    tokio::time::pause();
    let (inbox, _) = Inbox::start(Answer::Hang);
    let target = Target::pid(inbox.recipient())
        .sync()
        .timeout(Duration::from_millis(250));
    let start = tokio::time::Instant::now();
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap();
    let error = result.unwrap_err();
    assert!(
        matches!(error.first().error.kind(), ErrorKind::Timeout(d) if *d == Duration::from_millis(250))
    );
    assert!(error.first().error.retryable());
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed <= Duration::from_millis(251),
        "{elapsed:?}"
    );
}

#[actix_rt::test]
async fn sync_timeout_defaults_to_five_seconds() {
    tokio::time::pause();
    let (inbox, _) = Inbox::start(Answer::Hang);
    let target = Target::pid(inbox.recipient()).sync();
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap();
    assert!(matches!(
        result.unwrap_err().first().error.kind(),
        ErrorKind::Timeout(d) if *d == Duration::from_secs(5)
    ));
}

#[actix_rt::test]
async fn fifty_parallel_deliveries_to_one_actor_all_arrive() {
    let (inbox, received) = Inbox::start(Answer::Accept);
    let dispatcher = Dispatcher::builder().pool_size(2).start();
    let targets: Vec<_> = (0..50)
        .map(|_| Target::pid(inbox.clone().recipient()).sync())
        .collect();
    let report = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), targets).max_concurrency(50)),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.len(), 50);
    assert_eq!(received.load(Ordering::SeqCst), 50);
}

#[actix_rt::test]
async fn a_full_mailbox_is_reported_not_skipped() {
    // An actor whose mailbox holds one message and who is busy: the second async send
    // finds it full.
    struct Busy;
    impl Actor for Busy {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            ctx.set_mailbox_capacity(1);
        }
    }
    impl Handler<SignalMessage> for Busy {
        type Result = Result<(), Rejection>;
        fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
            Ok(())
        }
    }
    // Started on another arbiter, so it cannot drain its mailbox while we fill it.
    let arbiter = Arbiter::new();
    let busy = Busy::start_in_arbiter(&arbiter.handle(), |_| Busy);
    // One round trip: the actor has started (and set its capacity).
    let warm_up = SignalMessage::new(std::sync::Arc::new(signal()));
    within("warm up", busy.send(warm_up))
        .await
        .unwrap()
        .unwrap();
    // Park the actor's thread, then fill the mailbox from here.
    let (park, parked) = std::sync::mpsc::channel::<()>();
    let (hold, release) = std::sync::mpsc::channel::<()>();
    arbiter.spawn_fn(move || {
        park.send(()).unwrap();
        let _ = release.recv_timeout(Duration::from_secs(30));
    });
    parked
        .recv_timeout(Duration::from_secs(30))
        .expect("arbiter parked");
    // One target (one sender) four times: a sender that fills the mailbox is parked by
    // actix, and a parked sender's `try_send` is refused.
    let target: Target = Target::pid(busy.clone().recipient()).into();
    let targets = vec![target; 4];
    let result = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap();
    hold.send(()).unwrap();
    let error = result.unwrap_err();
    assert!(
        error
            .failures()
            .iter()
            .all(|f| f.error.kind().name() == "mailbox_full")
    );
    assert_eq!(
        error.failures().len(),
        3,
        "the first message fills capacity 1; the rest are refused"
    );
    assert!(error.first().error.retryable());
    assert_eq!(error.total(), 4);
    arbiter.stop();
}

/// An actor that dispatches to itself from inside its own handler.
struct Selfish {
    dispatcher: Addr<Dispatcher>,
}

impl Actor for Selfish {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Selfish {
    type Result = Result<(), Rejection>;
    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

#[derive(Message)]
#[rtype(result = "DispatchResult")]
struct Go;

impl Handler<Go> for Selfish {
    type Result = ResponseFuture<DispatchResult>;
    fn handle(&mut self, _: Go, ctx: &mut Context<Self>) -> Self::Result {
        let me = ctx.address();
        let dispatch = Dispatch::new(
            signal(),
            [
                Target::pid(me.clone().recipient()).sync().into(),
                Target::noop(),
            ],
        )
        .caller(&me);
        let dispatcher = self.dispatcher.clone();
        Box::pin(async move { dispatcher.send(dispatch).await.expect("dispatcher alive") })
    }
}

#[actix_rt::test]
async fn a_sync_delivery_to_the_caller_itself_fails_at_once() {
    tokio::time::pause();
    let selfish = Selfish {
        dispatcher: dispatcher(),
    }
    .start();
    let start = tokio::time::Instant::now();
    let error = within("self dispatch", selfish.send(Go))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 0);
    assert!(matches!(error.first().error.kind(), ErrorKind::CallingSelf));
    assert_eq!(
        error.delivered().len(),
        1,
        "the other target still delivered"
    );
    assert_eq!(start.elapsed(), Duration::ZERO, "no waiting at all");
}

#[actix_rt::test]
async fn a_thousand_sync_targets_in_one_dispatch_all_get_their_answer() {
    // Answered from another thread while the dispatch is still launching them. Built
    // with --release, this failed before shared timers were made outside the task's
    // cooperative budget (863 of 1,000 "timed out" at once); `time::shared`'s own test
    // catches that in any build.
    let arbiter = Arbiter::new();
    let counted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let inboxes: Vec<Addr<Inbox>> = (0..10)
        .map(|_| {
            let received = counted.clone();
            Inbox::start_in_arbiter(&arbiter.handle(), move |_| {
                Inbox::new(Answer::Accept, received)
            })
        })
        .collect();
    let targets: Vec<Target> = (0..1_000)
        .map(|i| {
            Target::pid(inboxes[i % 10].clone().recipient())
                .sync()
                .into()
        })
        .collect();
    let dispatcher = Dispatcher::builder().max_in_flight(1_000).start();
    for _ in 0..5 {
        let dispatch = Dispatch::new(signal(), targets.clone()).max_concurrency(1_000);
        let report = within("dispatch", dispatcher.send(dispatch))
            .await
            .unwrap()
            .unwrap_or_else(|error| {
                panic!(
                    "{} failed, first: {}",
                    error.failures().len(),
                    error.first()
                )
            });
        assert_eq!(report.len(), 1_000);
    }
    assert_eq!(counted.load(Ordering::SeqCst), 5_000);
    arbiter.stop();
}

/// Stops while handling a signal, without answering it.
struct Quitter;

impl Actor for Quitter {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Quitter {
    type Result = ResponseActFuture<Self, Result<(), Rejection>>;

    fn handle(&mut self, _: SignalMessage, ctx: &mut Context<Self>) -> Self::Result {
        ctx.stop();
        Box::pin(actix::fut::wrap_future(std::future::pending()))
    }
}

#[actix_rt::test]
async fn a_sync_target_that_stops_before_answering_is_not_alive_at_once() {
    let quitter = Quitter.start();
    let (inbox, received) = Inbox::start(Answer::Accept);
    // A bound far beyond the test's: a timeout would mean the stop went unnoticed.
    let targets = [
        Target::pid(quitter.recipient())
            .sync()
            .timeout(Duration::from_secs(3600)),
        Target::pid(inbox.recipient()).sync(),
    ];
    let error = within(
        "dispatch",
        dispatcher().send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.first().index, 0);
    assert_eq!(error.first().error.kind().name(), "not_alive");
    assert_eq!(error.delivered().len(), 1);
    assert_eq!(received.load(Ordering::SeqCst), 1);
}
