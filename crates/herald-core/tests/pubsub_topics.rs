//! Topics: broadcast to every live subscriber, counted and reported.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{
    Dispatch, Dispatcher, ErrorKind, Outcome, PubSub, PubSubError, Rejection, SignalMessage, Target,
};
use support::{Answer, Inbox, Stop, signal, within};

fn dispatcher(pubsub: &PubSub) -> Addr<Dispatcher> {
    Dispatcher::builder()
        .pool_size(0)
        .pubsub(pubsub.clone())
        .start()
}

/// One dispatch to `topic`'s `pubsub` target; the outcome of the broadcast.
async fn broadcast(pubsub: &PubSub, topic: &str) -> Outcome {
    let target = Target::pubsub(topic).unwrap();
    let report = within(
        "dispatch",
        dispatcher(pubsub).send(Dispatch::new(signal(), [target])),
    )
    .await
    .unwrap()
    .unwrap();
    report.outcomes()[0].clone()
}

/// Waits until every counter reaches `expected` (messages are queued asynchronously).
async fn settle(counters: &[std::sync::Arc<std::sync::atomic::AtomicUsize>], expected: usize) {
    within("subscribers handled their messages", async {
        while counters.iter().any(|c| c.load(Ordering::SeqCst) < expected) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    for counter in counters {
        assert_eq!(
            counter.load(Ordering::SeqCst),
            expected,
            "exactly {expected}"
        );
    }
}

#[actix_rt::test]
async fn three_subscribers_each_receive_exactly_once_and_topics_are_isolated() {
    let pubsub = PubSub::new();
    let inboxes: Vec<_> = (0..3).map(|_| Inbox::start(Answer::Accept)).collect();
    for (inbox, _) in &inboxes {
        assert!(
            pubsub
                .subscribe("orders", inbox.clone().recipient())
                .unwrap()
        );
    }
    assert!(
        !pubsub
            .subscribe("orders", inboxes[0].0.clone().recipient())
            .unwrap(),
        "once per actor"
    );
    let (other, other_count) = Inbox::start(Answer::Accept);
    pubsub.subscribe("payments", other.recipient()).unwrap();
    assert_eq!(pubsub.subscriber_count("orders"), 3);
    assert_eq!(pubsub.topics(), ["orders", "payments"]);

    assert_eq!(
        broadcast(&pubsub, "orders").await,
        Outcome::Broadcast {
            delivered: 3,
            full: 0,
            gone: 0
        }
    );
    let counters: Vec<_> = inboxes.iter().map(|(_, c)| c.clone()).collect();
    settle(&counters, 1).await;
    assert_eq!(
        other_count.load(Ordering::SeqCst),
        0,
        "other topics get nothing"
    );
}

#[actix_rt::test]
async fn unsubscribe_stops_delivery() {
    let pubsub = PubSub::new();
    let (kept, kept_count) = Inbox::start(Answer::Accept);
    let (left, left_count) = Inbox::start(Answer::Accept);
    pubsub.subscribe("t", kept.clone().recipient()).unwrap();
    pubsub.subscribe("t", left.clone().recipient()).unwrap();
    assert!(pubsub.unsubscribe("t", &left.recipient()));
    assert_eq!(
        broadcast(&pubsub, "t").await,
        Outcome::Broadcast {
            delivered: 1,
            full: 0,
            gone: 0
        }
    );
    settle(&[kept_count], 1).await;
    assert_eq!(left_count.load(Ordering::SeqCst), 0);
}

#[actix_rt::test]
async fn an_empty_topic_is_ok_by_default_and_an_error_when_required() {
    let pubsub = PubSub::new();
    let targets: Vec<Target> = vec![
        Target::pubsub("empty").unwrap().into(),
        Target::pubsub("empty")
            .unwrap()
            .require_subscribers(true)
            .into(),
    ];
    let error = within(
        "dispatch",
        dispatcher(&pubsub).send(Dispatch::new(signal(), targets)),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(
        error.delivered(),
        &[(
            0,
            Outcome::Broadcast {
                delivered: 0,
                full: 0,
                gone: 0
            }
        )]
    );
    assert!(matches!(
        error.first().error.kind(),
        ErrorKind::NoSubscribers
    ));
    assert_eq!(error.first().index, 1);
}

#[actix_rt::test]
async fn a_stopped_subscriber_is_counted_and_pruned() {
    let pubsub = PubSub::new();
    let (live, live_count) = Inbox::start(Answer::Accept);
    let (dead, _) = Inbox::start(Answer::Accept);
    pubsub.subscribe("t", live.clone().recipient()).unwrap();
    pubsub.subscribe("t", dead.clone().recipient()).unwrap();
    within("stop", dead.send(Stop)).await.unwrap();

    assert_eq!(
        broadcast(&pubsub, "t").await,
        Outcome::Broadcast {
            delivered: 1,
            full: 0,
            gone: 1
        }
    );
    assert_eq!(
        pubsub.subscriber_count("t"),
        1,
        "the stopped one was removed"
    );
    settle(&[live_count], 1).await;
}

#[actix_rt::test]
async fn a_full_mailbox_is_counted_and_reported() {
    struct Tiny;
    impl Actor for Tiny {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            ctx.set_mailbox_capacity(1);
        }
    }
    impl Handler<SignalMessage> for Tiny {
        type Result = Result<(), Rejection>;
        fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
            Ok(())
        }
    }
    let pubsub = PubSub::new();
    let arbiter = Arbiter::new();
    let tiny = Tiny::start_in_arbiter(&arbiter.handle(), |_| Tiny);
    within(
        "tiny started",
        tiny.send(SignalMessage::new(std::sync::Arc::new(signal()))),
    )
    .await
    .unwrap()
    .unwrap();
    pubsub.subscribe("t", tiny.clone().recipient()).unwrap();
    // Park the subscriber's thread so its mailbox cannot drain.
    let (parked_tx, parked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    arbiter.spawn_fn(move || {
        parked_tx.send(()).unwrap();
        let _ = released.recv_timeout(Duration::from_secs(30));
    });
    parked
        .recv_timeout(Duration::from_secs(30))
        .expect("parked");
    let target: Target = Target::pubsub("t").unwrap().into();
    let report = within(
        "dispatch",
        dispatcher(&pubsub).send(Dispatch::new(signal(), vec![target; 3]).max_concurrency(1)),
    )
    .await
    .unwrap()
    .unwrap();
    release.send(()).unwrap();
    // The first broadcast fills the mailbox; the next two find it full.
    assert_eq!(
        report.outcomes(),
        &[
            Outcome::Broadcast {
                delivered: 1,
                full: 0,
                gone: 0
            },
            Outcome::Broadcast {
                delivered: 0,
                full: 1,
                gone: 0
            },
            Outcome::Broadcast {
                delivered: 0,
                full: 1,
                gone: 0
            },
        ]
    );
    arbiter.stop();
}

#[test]
fn topics_are_any_non_empty_text() {
    assert!(Target::pubsub("orders/eu west 🇪🇺").is_ok());
    assert!(Target::pubsub("").is_err());
    assert_eq!(PubSub::new().subscriber_count("nothing"), 0);
    let error =
        Target::from_config(serde_json::json!({"adapter": "pubsub", "topic": ""})).unwrap_err();
    assert_eq!(error.to_string(), "field `topic` must not be empty");
    let _ = PubSubError::EmptyTopic;
}
