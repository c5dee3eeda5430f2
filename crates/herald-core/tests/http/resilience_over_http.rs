//! Resilience policies against a real actix-web receiver on 127.0.0.1: the breaker
//! counted server-side, dead letters to a second receiver, retry schedules, rate limits.

use std::time::Duration;

use crate::support::{Receiver, Reply, deliver, dispatcher, signal, within};
use herald_core::http::RetryPolicy;
use herald_core::resilience::{Breaker, CircuitState, RateLimit, Resilience};
use herald_core::{Stats, Target};

fn kind(result: &herald_core::DispatchResult) -> &'static str {
    result.as_ref().unwrap_err().first().error.kind().name()
}

fn endpoint_of(receiver: &Receiver) -> String {
    // `http://127.0.0.1:PORT/hook`
    let port = receiver
        .url
        .trim_end_matches("/hook")
        .rsplit(':')
        .next()
        .unwrap();
    format!("http://127.0.0.1:{port}")
}

#[actix_rt::test]
async fn an_open_breaker_keeps_requests_off_a_failing_server() {
    let failing = Receiver::start(vec![Reply::Status(503); 10]);
    let healthy = Receiver::start([]);
    let dispatcher = dispatcher();
    let breaker = Resilience::new().breaker(Breaker::new().failures(3));
    let target = Target::from(
        Target::http(&failing.url)
            .unwrap()
            .retry(RetryPolicy::none()),
    )
    .with_resilience(breaker.clone());
    for _ in 0..3 {
        assert_eq!(
            kind(&deliver(&dispatcher, signal(), target.clone()).await),
            "http_status"
        );
    }
    for _ in 0..3 {
        assert_eq!(
            kind(&deliver(&dispatcher, signal(), target.clone()).await),
            "circuit_open"
        );
    }
    assert_eq!(
        failing.requests().len(),
        3,
        "no request after the circuit opened"
    );

    // Another server is another endpoint.
    let other = Target::from(Target::http(&healthy.url).unwrap()).with_resilience(breaker);
    deliver(&dispatcher, signal(), other).await.unwrap();
    assert_eq!(healthy.requests().len(), 1);

    let stats = within("stats", dispatcher.send(Stats)).await.unwrap();
    let failing_stats = stats.endpoints[&endpoint_of(&failing)];
    assert_eq!(failing_stats.circuit, Some(CircuitState::Open));
    assert_eq!(failing_stats.short_circuited, 3);
    assert_eq!(
        stats.endpoints[&endpoint_of(&healthy)].circuit,
        Some(CircuitState::Closed)
    );
}

#[actix_rt::test]
async fn bad_requests_never_open_the_breaker() {
    let receiver = Receiver::start(vec![Reply::Status(400); 8]);
    let dispatcher = dispatcher();
    let target = Target::from(Target::http(&receiver.url).unwrap())
        .with_resilience(Resilience::new().breaker(Breaker::new().failures(2)));
    for _ in 0..8 {
        assert_eq!(
            kind(&deliver(&dispatcher, signal(), target.clone()).await),
            "http_status"
        );
    }
    assert_eq!(receiver.requests().len(), 8);
}

#[actix_rt::test]
async fn a_failed_webhook_is_dead_lettered_to_another_receiver_with_its_failure() {
    let failing = Receiver::start([Reply::Status(500)]);
    let dead_letters = Receiver::start([]);
    let dispatcher = dispatcher();
    let webhook = Target::webhook(&failing.url)
        .unwrap()
        .secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap()
        .retry(RetryPolicy::none());
    let target = Target::from(webhook)
        .with_resilience(Resilience::new().dead_letter(Target::http(&dead_letters.url).unwrap()));
    let signal = signal();
    let error = deliver(&dispatcher, signal.clone(), target)
        .await
        .unwrap_err();
    let failure = &error.first().error;
    assert!(failure.dead_letter().unwrap().delivered(), "{failure}");
    let letters = dead_letters.requests();
    assert_eq!(letters.len(), 1);
    let event: serde_json::Value = serde_json::from_slice(&letters[0].body).unwrap();
    assert_eq!(event["id"], signal.id());
    assert_eq!(event["heralderrorkind"], "http_status");
    assert_eq!(event["heralderrorcode"], 500);
    assert_eq!(event["heralderroradapter"], "webhook");
    assert_eq!(event["heraldattempts"], 1);
    // The failed target is named without its secret.
    let dest = event["heralderrordest"].as_str().unwrap();
    assert!(
        dest.contains("127.0.0.1") && !dest.contains("whsec_"),
        "{dest}"
    );
}

#[actix_rt::test]
async fn a_retry_schedule_waits_its_delays_and_a_penalty_after_429() {
    let receiver = Receiver::start([Reply::Status(429), Reply::Status(500)]);
    let dispatcher = dispatcher();
    let ms = Duration::from_millis;
    let policy = RetryPolicy::schedule(&[ms(10), ms(50)])
        .unwrap()
        .penalty(ms(300));
    let target = Target::http(&receiver.url).unwrap().retry(policy);
    let report = deliver(&dispatcher, signal(), target).await.unwrap();
    assert_eq!(
        report.outcomes()[0],
        herald_core::Outcome::Responded {
            status: 200,
            attempts: 3
        }
    );
    let at: Vec<_> = receiver.requests().iter().map(|r| r.at).collect();
    // Waits are lower bounds: a sleep never ends early.
    assert!(at[1] - at[0] >= ms(300), "the penalty after 429 held");
    assert!(at[2] - at[1] >= ms(50), "the schedule's second delay held");
}

#[actix_rt::test]
async fn a_rate_limit_that_fails_fast_sends_nothing_over_it() {
    let receiver = Receiver::start([]);
    let dispatcher = dispatcher();
    let limit = RateLimit::per_minute(1).unwrap().fail_fast();
    let target = Target::from(Target::http(&receiver.url).unwrap())
        .with_resilience(Resilience::new().rate_limit(limit));
    deliver(&dispatcher, signal(), target.clone())
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(
            kind(&deliver(&dispatcher, signal(), target.clone()).await),
            "rate_limited"
        );
    }
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn a_retry_schedule_reads_from_data_and_round_trips() {
    let config = serde_json::json!({
        "adapter": "http",
        "url": "https://example.com/hook",
        "retry": {"schedule_ms": [100, 1000, 5000], "penalty_ms": 2000}
    });
    let target = Target::from_config(config).unwrap();
    let written = target.to_config(herald_core::Secrets::Include).unwrap();
    assert_eq!(
        written["retry"]["schedule_ms"],
        serde_json::json!([100, 1000, 5000])
    );
    assert_eq!(written["retry"]["penalty_ms"], 2000);
    assert_eq!(
        Target::from_config(written.clone())
            .unwrap()
            .to_config(herald_core::Secrets::Include)
            .unwrap(),
        written
    );
    let mixed = serde_json::json!({
        "adapter": "http",
        "url": "https://example.com/hook",
        "retry": {"schedule_ms": [100], "max_attempts": 3}
    });
    assert_eq!(
        Target::from_config(mixed).unwrap_err().to_string(),
        "field `retry.max_attempts` cannot be given with schedule_ms"
    );
    let long = serde_json::json!({
        "adapter": "http",
        "url": "https://example.com/hook",
        "retry": {"schedule_ms": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
    });
    assert_eq!(
        Target::from_config(long).unwrap_err().to_string(),
        "field `retry.schedule_ms` must list 1 to 9 delays"
    );
}

/// A retry that would start after the signal's `expirytime` is not made: the delivery
/// ends `Expired` at once, after the one attempt the receiver saw.
#[actix_rt::test]
async fn a_retry_past_the_signals_expirytime_is_not_made() {
    let receiver = Receiver::start([Reply::Status(503)]);
    let dispatcher = dispatcher();
    let ms = Duration::from_millis;
    // The retry would wait ten minutes; the signal expires in one.
    let policy = RetryPolicy::schedule(&[ms(600_000)]).unwrap();
    let target = Target::http(&receiver.url).unwrap().retry(policy);
    let expiry = herald_signal::Utc::now() + Duration::from_secs(60);
    let signal = signal().to_builder().expirytime(expiry).build().unwrap();
    let result = deliver(&dispatcher, signal, target).await;
    let failure = &result.as_ref().unwrap_err().first().error;
    assert_eq!(failure.kind().name(), "expired");
    assert_eq!(failure.attempts(), 1);
    assert_eq!(receiver.requests().len(), 1);
}
