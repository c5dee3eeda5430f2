//! Secrets and URL tokens never reach logs or spans, even when deliveries fail.

#[path = "http/support/mod.rs"]
mod support;

use herald_core::Target;
use herald_core::http::RetryPolicy;
use support::{Log, Receiver, Reply, closed_port, deliver, dispatcher, signal};
use tracing_subscriber::fmt::format::FmtSpan;

#[actix_rt::test]
async fn failing_webhooks_log_no_secret_but_their_attempts() {
    let log = Log::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(log.clone())
        .init();

    let receiver = Receiver::start([Reply::With(401, vec![], b"bad signature".to_vec())]);
    let dispatcher = dispatcher();
    let rejected = Target::webhook(&format!("{}?token=qu3ry-t0ken", receiver.url))
        .unwrap()
        .secret("whsec_c2VjcmV0LWtleS1ieXRlcw==")
        .unwrap()
        .header("authorization", "Bearer h3ader-t0ken")
        .unwrap();
    let refused = Target::webhook(&format!(
        "http://127.0.0.1:{}/hook?sig=p4ram",
        closed_port()
    ))
    .unwrap()
    .jido_secret("jid0-s3cret")
    .unwrap()
    .retry(
        RetryPolicy::new(
            2,
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(2),
        )
        .unwrap(),
    );
    let first = deliver(&dispatcher, signal(), rejected).await.unwrap_err();
    let second = deliver(&dispatcher, signal(), refused).await.unwrap_err();

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap()
        + &format!("{first} {first:?} {second} {second:?}");
    assert!(text.contains("herald.deliver"), "spans were logged: {text}");
    assert!(text.contains("http status 401"), "{text}");
    // The refused webhook was tried twice: the count reaches its span.
    assert!(text.contains("attempts=2"), "{text}");
    // Each attempt has its span in OpenTelemetry's HTTP client conventions, the URL
    // redacted like everywhere else.
    let attempts: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("herald.http{"))
        .collect();
    assert!(attempts.len() >= 3, "one span per attempt: {text}");
    assert!(
        attempts
            .iter()
            .all(|l| l.contains("http.request.method=\"POST\"")
                && l.contains("server.address=\"127.0.0.1\"")
                && l.contains("url.full=")),
        "{attempts:#?}"
    );
    assert!(
        attempts
            .iter()
            .any(|l| l.contains("http.response.status_code=401")),
        "{attempts:#?}"
    );
    assert!(
        attempts
            .iter()
            .any(|l| l.contains("error.type=\"connection_refused\"")),
        "{attempts:#?}"
    );
    assert!(
        attempts
            .iter()
            .any(|l| l.contains("http.request.resend_count=1")),
        "{attempts:#?}"
    );
    for secret in [
        "c2VjcmV0LWtleS1ieXRlcw",
        "secret-key-bytes",
        "qu3ry-t0ken",
        "h3ader-t0ken",
        "p4ram",
        "jid0-s3cret",
    ] {
        assert!(!text.contains(secret), "{secret} leaked:\n{text}");
    }
}
