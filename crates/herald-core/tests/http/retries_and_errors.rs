//! Deliveries against a real receiver: statuses, retries, error kinds, connection reuse.

use std::time::Duration;

use crate::support::{Receiver, Reply, closed_port, deliver, dispatcher, signal};
use herald_core::http::RetryPolicy;
use herald_core::{ErrorKind, Outcome, Target};

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::new(attempts, Duration::from_millis(1), Duration::from_millis(5)).unwrap()
}

#[actix_rt::test]
async fn success_is_ok_with_the_status() {
    let receiver = Receiver::start([Reply::Status(202)]);
    let report = deliver(
        &dispatcher(),
        signal(),
        Target::http(&receiver.url).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(
        report.outcomes(),
        &[Outcome::Responded {
            status: 202,
            attempts: 1
        }]
    );
    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].header("content-type"),
        Some("application/cloudevents+json")
    );
}

#[actix_rt::test]
async fn not_found_fails_after_exactly_one_request() {
    let receiver = Receiver::start([Reply::Status(404)]);
    let target = Target::http(&receiver.url).unwrap().retry(fast_retries(5));
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    assert_eq!(receiver.requests().len(), 1);
    let failure = &error.first().error;
    assert!(matches!(
        failure.kind(),
        ErrorKind::HttpStatus { status: 404, .. }
    ));
    assert!(!failure.retryable());
    assert_eq!(failure.attempts(), 1);
}

#[actix_rt::test]
async fn unavailable_twice_then_ok_takes_three_requests() {
    let receiver = Receiver::start([Reply::Status(503), Reply::Status(503), Reply::Status(200)]);
    let target = Target::http(&receiver.url).unwrap().retry(fast_retries(3));
    let report = deliver(&dispatcher(), signal(), target).await.unwrap();
    assert_eq!(
        report.outcomes(),
        &[Outcome::Responded {
            status: 200,
            attempts: 3
        }]
    );
    assert_eq!(receiver.requests().len(), 3);
}

#[actix_rt::test]
async fn retryable_statuses_exhaust_the_policy_and_report_attempts() {
    let receiver = Receiver::start([Reply::Status(500), Reply::Status(502), Reply::Status(408)]);
    let target = Target::http(&receiver.url).unwrap().retry(fast_retries(3));
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    let failure = &error.first().error;
    assert_eq!(failure.attempts(), 3);
    assert!(matches!(
        failure.kind(),
        ErrorKind::HttpStatus { status: 408, .. }
    ));
    assert!(
        failure
            .to_string()
            .contains("failed after 3 attempts: http status 408"),
        "{failure}"
    );
    assert_eq!(receiver.requests().len(), 3);
}

#[actix_rt::test]
async fn retry_after_is_honoured_up_to_the_max_delay() {
    let receiver = Receiver::start([
        Reply::With(429, vec![("retry-after", "1".into())], Vec::new()),
        Reply::Status(200),
    ]);
    // Retry-After asks for 1 s; the policy caps waits at 150 ms, and its own backoff
    // would be at most 2 ms: a gap of at least 150 ms proves Retry-After was used.
    let policy = RetryPolicy::new(2, Duration::from_millis(1), Duration::from_millis(150)).unwrap();
    let target = Target::http(&receiver.url).unwrap().retry(policy);
    deliver(&dispatcher(), signal(), target).await.unwrap();
    let requests = receiver.requests();
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= Duration::from_millis(150),
        "the retry came after only {gap:?}"
    );
}

#[actix_rt::test]
async fn connection_refused_is_its_own_kind_and_is_retried() {
    let url = format!("http://127.0.0.1:{}/hook", closed_port());
    let target = Target::http(&url).unwrap().retry(fast_retries(3));
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    let failure = &error.first().error;
    assert!(
        matches!(failure.kind(), ErrorKind::ConnectionRefused),
        "{failure:?}"
    );
    assert!(failure.retryable());
    assert_eq!(failure.attempts(), 3);
}

#[actix_rt::test]
async fn a_receiver_that_never_answers_is_a_timeout() {
    let receiver = Receiver::start([Reply::Hang]);
    let target = Target::http(&receiver.url)
        .unwrap()
        .timeout(Duration::from_millis(100))
        .unwrap()
        .retry(RetryPolicy::none());
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    let failure = &error.first().error;
    assert!(
        matches!(failure.kind(), ErrorKind::Timeout(d) if *d == Duration::from_millis(100)),
        "{failure:?}"
    );
    assert!(failure.retryable());
    assert_eq!(receiver.requests().len(), 1);
}

#[actix_rt::test]
async fn a_huge_error_body_is_cut_to_four_kib() {
    let receiver = Receiver::start([Reply::With(500, vec![], vec![b'x'; 1024 * 1024])]);
    let target = Target::http(&receiver.url)
        .unwrap()
        .retry(RetryPolicy::none());
    let error = deliver(&dispatcher(), signal(), target).await.unwrap_err();
    match error.first().error.kind() {
        ErrorKind::HttpStatus { status, body } => {
            assert_eq!(*status, 500);
            assert!(body.len() <= 4096, "kept {} bytes", body.len());
            assert!(body.len() >= 1024, "kept only {} bytes", body.len());
        }
        other => panic!("expected an http status, got {other:?}"),
    }
}

#[actix_rt::test]
async fn a_hundred_sequential_deliveries_reuse_connections() {
    let receiver = Receiver::start([]);
    let dispatcher = dispatcher();
    let target: Target = Target::http(&receiver.url).unwrap().into();
    for _ in 0..100 {
        deliver(&dispatcher, signal(), target.clone())
            .await
            .unwrap();
    }
    assert_eq!(receiver.requests().len(), 100);
    assert!(
        receiver.connections() <= 2,
        "{} connections for 100 requests",
        receiver.connections()
    );
}

#[actix_rt::test]
async fn method_and_headers_are_sent() {
    let receiver = Receiver::start([]);
    let target = Target::http(&receiver.url)
        .unwrap()
        .method(herald_core::http::HttpMethod::Patch)
        .header("x-tenant", "acme")
        .unwrap();
    deliver(&dispatcher(), signal(), target).await.unwrap();
    let request = &receiver.requests()[0];
    assert_eq!(request.method, "PATCH");
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(request.count("content-type"), 1);
}
