//! Every rule of SPEC §6 for targets, accepted and rejected, each with a clear error.

use std::time::Duration;

use herald_core::http::{HttpTarget, RetryPolicy};
use herald_core::{Target, TargetError};
use serde_json::json;

fn rejects(url: &str, rule: &str) {
    let error = Target::http(url).unwrap_err().to_string();
    assert!(error.starts_with("field `url`"), "{url:?}: {error}");
    assert!(error.contains(rule), "{url:?}: {error:?} lacks {rule:?}");
}

#[test]
fn urls() {
    rejects("ftp://example.com/x", "must use http or https");
    rejects("file:///etc/passwd", "must use http or https");
    rejects("https://", "not a valid URL");
    rejects("example.com/hook", "not a valid URL");
    rejects(
        "https://user:pass@example.com/",
        "must not contain userinfo",
    );
    rejects("https://user@example.com/", "must not contain userinfo");
    rejects("https://example.com/a b", "whitespace");
    rejects(" https://example.com/", "whitespace");
    rejects("https://example.com/\r\nx-evil: 1", "whitespace or control");
    rejects("https://example.com/\0", "control");
    rejects("https://example.com:99999/", "not a valid URL");
    rejects("https://example.com:0/", "port 0");
    for good in [
        "https://example.com",
        "http://127.0.0.1:8080/hook?x=1",
        "https://[::1]:443/a",
    ] {
        assert!(Target::http(good).is_ok(), "{good}");
    }
}

#[test]
fn url_errors_never_echo_the_url() {
    let error = Target::http("https://user:s3cr3t@example.com/")
        .unwrap_err()
        .to_string();
    assert!(!error.contains("s3cr3t"), "{error}");
}

#[test]
fn headers() {
    let target = || Target::http("https://example.com").unwrap();
    for (name, value, rule) in [
        ("bad name", "v", "is not an HTTP token"),
        ("x-a\r\n", "v", "is not an HTTP token"),
        ("", "v", "is not an HTTP token"),
        (
            "x-a",
            "line\r\nx-injected: 1",
            "visible ASCII and spaces only",
        ),
        ("x-a", "nul\0", "visible ASCII and spaces only"),
        ("x-a", "tab\there", "visible ASCII and spaces only"),
        ("x-a", "caf\u{e9}", "visible ASCII and spaces only"),
        ("Content-Type", "text/plain", "must not set `content-type`"),
        ("host", "evil.example", "must not set `host`"),
        ("Content-Length", "0", "must not set `content-length`"),
        (
            "transfer-encoding",
            "chunked",
            "must not set `transfer-encoding`",
        ),
        ("Connection", "close", "must not set `connection`"),
    ] {
        let error = target().header(name, value).unwrap_err().to_string();
        assert!(error.contains(rule), "{name:?}: {value:?}: {error}");
    }
    let error = target()
        .header("x-a", "1")
        .unwrap()
        .header("X-A", "2")
        .unwrap_err();
    assert!(
        error.to_string().contains("given more than once"),
        "{error}"
    );
    let both = target()
        .header("x-a", "1")
        .unwrap()
        .header("x-b", "spaces are fine");
    assert!(both.is_ok(), "{both:?}");
}

#[test]
fn timeouts() {
    let target = || Target::http("https://example.com").unwrap();
    for bad in [
        Duration::ZERO,
        Duration::from_micros(999),
        Duration::from_millis(60_001),
    ] {
        let error = target().timeout(bad).unwrap_err();
        assert_eq!(
            error.to_string(),
            "field `timeout_ms` must be between 1 ms and 60 s"
        );
    }
    assert!(target().timeout(Duration::from_millis(1)).is_ok());
    assert!(target().timeout(Duration::from_secs(60)).is_ok());
}

#[test]
fn retry_bounds() {
    let ms = Duration::from_millis;
    assert!(RetryPolicy::new(0, ms(10), ms(20)).is_err());
    assert!(RetryPolicy::new(11, ms(10), ms(20)).is_err());
    assert_eq!(
        RetryPolicy::new(3, ms(20), ms(10)).unwrap_err().to_string(),
        "field `max_delay_ms` must not be less than base_delay_ms"
    );
}

#[test]
fn secrets() {
    let webhook = || Target::webhook("https://example.com").unwrap();
    for bad in [
        "",
        "C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "whsec_",
        "whsec_!!!not-base64",
    ] {
        let error = webhook().secret(bad).unwrap_err().to_string();
        assert!(error.starts_with("field `secret`"), "{bad:?}: {error}");
        if bad.len() > 6 {
            assert!(
                !error.contains(&bad[6..]),
                "the error repeats the secret: {error}"
            );
        }
    }
    assert!(webhook().jido_secret("").is_err());
    let error = webhook()
        .jido_secret("s")
        .unwrap()
        .jido_headers("x-a", "x-a", "x-b")
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `jido_headers` must be three distinct names"
    );
    let jido = || webhook().jido_secret("s").unwrap();
    for framing in ["content-type", "Host", "content-length"] {
        let error = jido()
            .jido_headers(framing, "x-b", "x-c")
            .unwrap_err()
            .to_string();
        assert!(error.contains("must not set"), "{framing}: {error}");
    }
    for (ty, event) in [("", "e"), ("t", ""), ("t", "crlf\r\nx: 1"), ("t", "nul\0")] {
        let error = jido().event_type(ty, event).unwrap_err();
        assert!(
            error.to_string().starts_with("field `event_types`"),
            "{ty:?} {event:?}: {error}"
        );
    }
    // Options of the jido scheme mean nothing elsewhere: errors, not silent no-ops.
    let standard = webhook()
        .secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")
        .unwrap();
    for error in [
        standard.clone().event_type("t", "e").unwrap_err(),
        standard.jido_headers("x-a", "x-b", "x-c").unwrap_err(),
        Target::http("https://example.com")
            .unwrap()
            .event_type("t", "e")
            .unwrap_err(),
    ] {
        assert!(
            error
                .to_string()
                .contains("only to webhooks signed with the jido scheme"),
            "{error}"
        );
    }
    let config = serde_json::json!({
        "url": "https://example.com", "secret": "s", "scheme": "jido",
        "event_types": {"t": "bad\r\nx: 1"},
    });
    let error = HttpTarget::from_config(&config, true).unwrap_err();
    assert!(
        error.to_string().starts_with("field `event_types`"),
        "{error}"
    );
}

#[test]
fn configs_name_the_field() {
    let parse = |config: serde_json::Value, webhook| HttpTarget::from_config(&config, webhook);
    let cases = [
        (json!({}), false, "missing field `url`"),
        (
            json!({"url": "https://x.io", "method": "GET"}),
            false,
            "field `method` must be one of POST, PUT, PATCH",
        ),
        (
            json!({"url": "https://x.io", "timeout_ms": 60_001}),
            false,
            "field `timeout_ms` must be between 1 ms and 60 s",
        ),
        (
            json!({"url": "https://x.io", "timeout_ms": 0}),
            false,
            "field `timeout_ms`",
        ),
        (
            json!({"url": "https://x.io", "headers": {"x-a": 1}}),
            false,
            "field `headers` values must be strings",
        ),
        (
            json!({"url": "https://x.io", "retry": {"max_attempts": 11}}),
            false,
            "field `retry.max_attempts` must be between 1 and 10",
        ),
        (
            json!({"url": "https://x.io", "retry": {"base_delay_ms": 100, "max_delay_ms": 10}}),
            false,
            "must not be less than",
        ),
        (
            json!({"url": "https://x.io", "retry": {"tries": 2}}),
            false,
            "unknown field `retry.tries`",
        ),
        (
            json!({"url": "https://x.io", "body": "xml"}),
            false,
            "field `body` must be one of structured, binary",
        ),
        (
            json!({"url": "https://x.io", "secret": "whsec_AAAA"}),
            false,
            "unknown field `secret`",
        ),
        (
            json!({"url": "https://x.io"}),
            true,
            "missing field `secret`",
        ),
        (
            json!({"url": "https://x.io", "secret": "x", "scheme": "md5"}),
            true,
            "field `scheme` must be one of standard, jido",
        ),
        (json!("https://x.io"), false, "must be a JSON object"),
    ];
    for (config, webhook, expected) in cases {
        let error: TargetError = parse(config.clone(), webhook).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{config}: {error} lacks {expected:?}"
        );
    }
    let target = parse(
        json!({"url": "https://x.io/h", "method": "put", "headers": {"x-a": "1"}, "timeout_ms": 250,
               "retry": {"max_attempts": 5, "base_delay_ms": 10, "max_delay_ms": 100, "deadline_ms": 1000},
               "body": "binary", "secret": "mysecret", "scheme": "jido", "event_types": {"a.b": "AB"}}),
        true,
    )
    .unwrap();
    assert_eq!(target.url().as_str(), "https://x.io/h");
}

#[test]
fn debug_and_descriptions_never_show_secrets_or_queries() {
    let target = Target::webhook("https://example.com/hook?token=q5ecret#frag")
        .unwrap()
        .jido_secret("hunter2")
        .unwrap()
        .header("authorization", "Bearer abc123")
        .unwrap();
    let debug = format!("{target:?}");
    let described: Target = target.into();
    let text = format!("{debug} {described:?} {}", described.describe());
    for secret in ["hunter2", "q5ecret", "abc123", "frag"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(text.contains("https://example.com/hook"));
    assert_eq!(described.adapter(), "webhook");
}

#[test]
fn durations_have_upper_bounds() {
    let parse = |config: serde_json::Value| HttpTarget::from_config(&config, false);
    let url = "https://example.com";
    for (config, field) in [
        (json!({"url": url, "timeout_ms": u64::MAX}), "timeout_ms"),
        (
            json!({"url": url, "retry": {"max_delay_ms": u64::MAX}}),
            "retry.max_delay_ms",
        ),
        (
            json!({"url": url, "retry": {"base_delay_ms": u64::MAX}}),
            "retry.base_delay_ms",
        ),
        (
            json!({"url": url, "retry": {"deadline_ms": u64::MAX}}),
            "retry.deadline_ms",
        ),
        (
            json!({"url": url, "retry": {"max_attempts": u64::MAX}}),
            "retry.max_attempts",
        ),
    ] {
        let error = parse(config).unwrap_err().to_string();
        assert!(error.starts_with(&format!("field `{field}`")), "{error}");
    }
    let hour = Duration::from_secs(3600);
    assert!(RetryPolicy::new(3, Duration::from_millis(1), hour).is_ok());
    assert!(
        RetryPolicy::new(3, Duration::from_millis(1), hour + Duration::from_millis(1)).is_err()
    );
    let policy = RetryPolicy::default().deadline(Duration::MAX);
    assert_eq!(policy.overall_deadline(), Some(RetryPolicy::MAX_DEADLINE));
}
