//! Receivers that reset the connection, close it without answering, or restart
//! between deliveries: each failure is reported with a kind that says whether trying
//! again may help, and a pooled connection to a receiver that restarted does not fail
//! the next delivery.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::{Raw, RawReceiver, Receiver, Reply, deliver, dispatcher, signal};
use herald_core::http::RetryPolicy;
use herald_core::{ErrorKind, Outcome, Target};

fn three_fast_attempts() -> RetryPolicy {
    RetryPolicy::new(3, Duration::from_millis(5), Duration::from_millis(5)).unwrap()
}

/// Delivers to a receiver that behaves as `raw` on every connection, with three
/// attempts: the failure, after checking it was retried on each.
async fn lost_on_every_attempt(raw: Raw) -> herald_core::DeliveryError {
    let receiver = RawReceiver::start(raw);
    let target = Target::http(&receiver.url)
        .unwrap()
        .retry(three_fast_attempts());
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    let failure = error.into_failures().remove(0).error;
    assert!(failure.retryable(), "{failure:?}");
    assert_eq!(failure.attempts(), 3);
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 3);
    failure
}

#[actix_rt::test]
async fn a_reset_connection_is_a_retryable_failure_tried_again() {
    let failure = lost_on_every_attempt(Raw::Reset).await;
    assert!(
        matches!(failure.kind(), ErrorKind::Connect(_)),
        "{failure:?}"
    );
}

#[actix_rt::test]
async fn a_connection_closed_without_an_answer_is_a_retryable_failure() {
    lost_on_every_attempt(Raw::Close).await;
}

#[actix_rt::test]
async fn a_receiver_that_restarted_is_reached_on_the_next_delivery() {
    let dispatcher = dispatcher();
    let first = Receiver::start([]);
    let port = first.port();
    // No retries: a stale pooled connection must not cost the delivery.
    let target = || Target::http(&first.url).unwrap().retry(RetryPolicy::none());
    let report = deliver(&dispatcher, signal(), target()).await.unwrap();
    assert_eq!(
        report.outcomes(),
        [Outcome::Responded {
            status: 200,
            attempts: 1
        }]
    );
    first.stop().await;

    let second = Receiver::start_on(port, [Reply::Status(200)]);
    let report = deliver(&dispatcher, signal(), target()).await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(second.requests().len(), 1);
}
