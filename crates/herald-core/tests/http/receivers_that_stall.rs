//! Receivers that stall, trickle, never read or answer garbage: every attempt is bounded end to
//! end (connect, send, head, body), and each failure has its documented kind.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::support::{Raw, RawReceiver, Receiver, deliver, dispatcher, signal, within};
use herald_core::http::{HttpTarget, RetryPolicy};
use herald_core::{Dispatch, Dispatcher, ErrorKind, Outcome, Stats, Target};

const TIMEOUT: Duration = Duration::from_millis(300);
const BACKOFF: Duration = Duration::from_millis(10);

/// Two attempts of at most 300 ms each, 10 ms apart.
fn target(url: &str) -> HttpTarget {
    Target::http(url)
        .unwrap()
        .timeout(TIMEOUT)
        .unwrap()
        .retry(RetryPolicy::new(2, BACKOFF, BACKOFF).unwrap())
}

/// Delivers with a bound of every attempt's timeout, the backoff, and 5 s of slack
/// for a busy machine: a delivery that outlives its attempts fails the test.
async fn bounded(target: HttpTarget) -> herald_core::DispatchResult {
    let bound = TIMEOUT * 2 + BACKOFF + Duration::from_secs(5);
    tokio::time::timeout(bound, deliver(&dispatcher(), signal(), target))
        .await
        .expect("the delivery ended within its attempts' time")
}

#[actix_rt::test]
async fn a_2xx_whose_body_stalls_is_delivered() {
    let receiver = RawReceiver::start(Raw::StatusThenSilence(200));
    let report = bounded(target(&receiver.url)).await.unwrap();
    assert_eq!(
        report.outcomes(),
        [Outcome::Responded {
            status: 200,
            attempts: 1
        }]
    );
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn a_5xx_whose_body_stalls_is_retried_and_reported_with_its_status() {
    let receiver = RawReceiver::start(Raw::StatusThenSilence(500));
    let error = bounded(target(&receiver.url)).await.unwrap_err();
    let failure = &error.first().error;
    assert!(
        matches!(failure.kind(), ErrorKind::HttpStatus { status: 500, .. }),
        "{failure}"
    );
    assert_eq!(failure.attempts(), 2);
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 2);
}

#[actix_rt::test]
async fn a_trickled_body_cannot_hold_the_delivery() {
    let period = Duration::from_millis(100);
    let ok = RawReceiver::start(Raw::Trickle(200, period));
    let report = bounded(target(&ok.url)).await.unwrap();
    assert!(matches!(
        report.outcomes()[0],
        Outcome::Responded { status: 200, .. }
    ));

    let failing = RawReceiver::start(Raw::Trickle(503, period));
    let error = bounded(target(&failing.url)).await.unwrap_err();
    let ErrorKind::HttpStatus { status, body } = error.first().error.kind() else {
        panic!("{error}")
    };
    assert_eq!(*status, 503);
    assert!(body.len() < 10, "only what arrived in time: {body:?}");
    assert_eq!(error.first().error.attempts(), 2);
}

#[actix_rt::test]
async fn a_receiver_that_never_answers_times_out_on_every_attempt() {
    let receiver = RawReceiver::start(Raw::SilentHead);
    let error = bounded(target(&receiver.url)).await.unwrap_err();
    let failure = &error.first().error;
    assert!(matches!(failure.kind(), ErrorKind::Timeout(t) if *t == TIMEOUT));
    assert!(failure.retryable());
    assert_eq!(failure.attempts(), 2);
}

#[actix_rt::test]
async fn a_malformed_response_is_a_protocol_error_and_is_not_retried() {
    let receiver = RawReceiver::start(Raw::Garbage);
    let error = bounded(target(&receiver.url)).await.unwrap_err();
    let failure = &error.first().error;
    assert!(
        matches!(failure.kind(), ErrorKind::Protocol(_)),
        "{failure}"
    );
    assert!(!failure.retryable());
    assert_eq!(failure.attempts(), 1);
    assert_eq!(receiver.requests.load(Ordering::SeqCst), 1);
}

#[actix_rt::test]
async fn a_dispatcher_at_its_bound_keeps_serving_after_stalled_deliveries_time_out() {
    let dispatcher = Dispatcher::builder().max_in_flight(2).start();
    let stalled = RawReceiver::start(Raw::StatusThenSilence(500));
    let once = |url: &str| target(url).retry(RetryPolicy::none());
    let error = within(
        "stalled dispatch",
        dispatcher.send(Dispatch::new(
            signal(),
            [once(&stalled.url), once(&stalled.url)],
        )),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert_eq!(error.failures().len(), 2);

    let healthy = Receiver::start([]);
    let report = within(
        "next dispatch",
        dispatcher.send(Dispatch::new(signal(), [target(&healthy.url)])),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(report.len(), 1);
    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    assert_eq!(stats.in_flight, 0);
}

#[actix_rt::test]
async fn a_receiver_that_never_reads_a_large_signal_cannot_hold_the_delivery() {
    let receiver = RawReceiver::start(Raw::NeverRead);
    // 2 MiB of data (2.7 MiB as JSON, under the 4 MiB limit): the send blocks once the
    // socket buffers are full, or the wait for an answer does; either is bounded.
    let large = herald_signal::Signal::builder("blob")
        .data_binary(vec![7u8; 2 << 20])
        .build()
        .unwrap();
    let bound = TIMEOUT * 2 + BACKOFF + Duration::from_secs(5);
    let dispatcher = dispatcher();
    let delivering = deliver(&dispatcher, large, target(&receiver.url));
    let error = tokio::time::timeout(bound, delivering)
        .await
        .expect("the delivery ended within its attempts' time")
        .unwrap_err();
    let failure = &error.first().error;
    assert!(
        matches!(failure.kind(), ErrorKind::Timeout(_)),
        "{failure:?}"
    );
    assert_eq!(failure.attempts(), 2);
}
