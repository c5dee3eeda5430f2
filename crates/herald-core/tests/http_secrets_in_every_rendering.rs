//! One redaction rule for every target kind, typed or read from data: planted secrets
//! (a URL's password, query and fragment, header values, signing secrets) appear in no
//! rendering — `Debug`, `Display`, `describe()`, errors, captured spans and events.

#[path = "http/support/mod.rs"]
mod support;

use actix::prelude::*;
use herald_core::{Dispatch, ErrorKind, Registry, Target};
use serde_json::json;
use support::{Log, closed_port, signal, within};
use tracing_subscriber::fmt::format::FmtSpan;

const PLANTED: [&str; 9] = [
    "PWPLANT",
    // The base64 of an Ed25519 signing key's seed (whsk_).
    "VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk",
    "PATHPLANT",
    "QUERYPLANT",
    "FRAGPLANT",
    "HEADERPLANT",
    "JIDOPLANT",
    "c2VjcmV0LWtleS1ieXRlcw",
    "secret-key-bytes",
];

/// Resolves every name to the closed loopback port: nothing leaves the machine.
struct ClosedPort(u16);

impl herald_core::http::Resolve for ClosedPort {
    fn resolve<'a>(
        &'a self,
        _host: &'a str,
        _port: u16,
    ) -> futures_util::future::BoxFuture<'a, std::io::Result<Vec<std::net::SocketAddr>>> {
        let address = std::net::SocketAddr::from(([127, 0, 0, 1], self.0));
        Box::pin(async move { Ok(vec![address]) })
    }
}

fn assert_clean(what: &str, text: &str) {
    for planted in PLANTED {
        assert!(
            !text.contains(planted),
            "{planted} shown by {what}:\n{text}"
        );
    }
}

#[actix_rt::test]
async fn no_rendering_shows_a_planted_secret() {
    let log = Log::default();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(log.clone())
        .init();

    let port = closed_port();
    let client = {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["herald".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    // A line of the client key's PEM body: it must appear nowhere.
    let key_line = client.1.lines().nth(1).unwrap().to_owned();
    let loopback = herald_core::egress::Egress::default()
        .allow("127.0.0.1")
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/x?token=QUERYPLANT#FRAGPLANT");
    let from_data = |adapter: &str, secret: Option<&str>| {
        let mut config = json!({
            "adapter": adapter,
            "url": url,
            "headers": {"x-tenant": "HEADERPLANT", "authorization": "Bearer HEADERPLANT"},
            "retry": {"max_attempts": 1},
        });
        if let Some(secret) = secret {
            config["secret"] = json!(secret);
        }
        config
    };
    let mut targets: Vec<Target> = vec![
        Target::http(&url)
            .unwrap()
            .header("x-tenant", "HEADERPLANT")
            .unwrap()
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        Target::webhook(&url)
            .unwrap()
            .secret("whsec_c2VjcmV0LWtleS1ieXRlcw==")
            .unwrap()
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        Target::webhook(&url)
            .unwrap()
            .jido_secret("JIDOPLANT")
            .unwrap()
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        Target::from_config_with(from_data("http", None), &loopback).unwrap(),
        Target::from_config_with(
            from_data("webhook", Some("whsec_c2VjcmV0LWtleS1ieXRlcw==")),
            &loopback,
        )
        .unwrap(),
        // An Ed25519 signing key, and a TLS client key.
        Target::webhook(&url)
            .unwrap()
            .signing_key("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")
            .unwrap()
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        Target::http(&url)
            .unwrap()
            .tls(
                herald_core::http::Tls::new()
                    .client_identity_pem(&client.0, &client.1)
                    .unwrap(),
            )
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        // Bearer URLs: the path is the credential (resolved to a closed loopback port).
        Target::http("https://hooks.slack.com/services/T0/B0/PATHPLANT")
            .unwrap()
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        Target::webhook("https://discord.com/api/webhooks/1/PATHPLANT")
            .unwrap()
            .secret("whsec_c2VjcmV0LWtleS1ieXRlcw==")
            .unwrap()
            .retry(herald_core::http::RetryPolicy::none())
            .into(),
        Target::from_config_with(
            json!({"adapter": "http", "url": format!("http://127.0.0.1:{port}/PATHPLANT/x"),
                   "secret_path": true, "retry": {"max_attempts": 1}}),
            &loopback,
        )
        .unwrap(),
        // Custom adapters' configs stay unchecked until dispatched: field names only.
        Target::custom("vault", json!({"url": url, "api_key": "JIDOPLANT"})),
        Target::custom("webhook", from_data("webhook", Some("JIDOPLANT"))),
        Target::named("nobody").unwrap().into(),
        Target::pubsub("orders").unwrap().into(),
        Target::bus("nowhere").unwrap().into(),
        Target::logger().into(),
        Target::console().into(),
        Target::noop(),
    ];
    // Every target read from data that is not well formed: errors name fields only.
    let mut rendered = String::new();
    for bad in [
        json!({"adapter": "webhook", "url": "http://u:PWPLANT@h/?q=QUERYPLANT", "secret": "whsec_c2VjcmV0LWtleS1ieXRlcw=="}),
        json!({"adapter": "webhook", "url": url, "secret": "JIDOPLANT"}),
        json!({"adapter": "http", "url": url, "headers": {"x-a": "HEADERPLANT\r\n"}}),
        json!({"adapter": "http", "url": "ftp://u:PWPLANT@h/"}),
    ] {
        let error = Target::from_config(bad).unwrap_err();
        rendered.push_str(&format!("{error} {error:?}\n"));
    }
    assert!(Target::http("http://u:PWPLANT@h/").is_err());

    let dispatcher = herald_core::Dispatcher::builder()
        .resolver(ClosedPort(port))
        .registry(Registry::new())
        .max_concurrency(64)
        .start();
    let error = within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal(), targets.clone())),
    )
    .await
    .unwrap()
    .unwrap_err();
    for failure in error.failures() {
        let kind = failure.error.kind();
        rendered.push_str(&format!(
            "{} | {:?} | {} | {kind} | {kind:?}\n",
            failure.error,
            failure.error,
            failure.error.target()
        ));
    }
    rendered.push_str(&format!("{error}\n{error:?}\n{error:#?}\n"));
    let kept = targets.clone();
    for target in targets.drain(..) {
        rendered.push_str(&format!("{target:?} {}\n", target.describe()));
    }
    // Every kind of error, rendered on its own.
    for kind in [
        ErrorKind::HttpStatus {
            status: 500,
            body: "body".into(),
        },
        ErrorKind::ConnectionRefused,
        ErrorKind::Protocol("bad".into()),
        ErrorKind::TooLarge { size: 2, limit: 1 },
        ErrorKind::Shutdown,
        ErrorKind::custom("custom"),
    ] {
        rendered.push_str(&format!("{kind} {kind:?}\n"));
    }
    let logged = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        logged.contains("herald.deliver"),
        "spans were captured:\n{logged}"
    );
    assert_clean("errors and descriptions", &rendered);
    assert_clean("spans and events", &logged);
    for target in &kept {
        let redacted = target
            .to_config(herald_core::Secrets::Redact)
            .map(|c| c.to_string());
        rendered.push_str(&redacted.unwrap_or_default());
    }
    assert_clean("redacted configs", &rendered);
    assert!(!rendered.contains(&key_line) && !logged.contains(&key_line));
    // Sanity: the targets did fail, and said where (without the secrets).
    assert!(
        rendered.contains(&format!("http://127.0.0.1:{port}/x")),
        "{rendered}"
    );
    assert!(
        rendered.contains("https://hooks.slack.com/[REDACTED]"),
        "{rendered}"
    );
    // Every delivery failed where it was sent: refused by the closed port.
    let refused = error
        .failures()
        .iter()
        .filter(|f| matches!(f.error.kind(), ErrorKind::ConnectionRefused))
        .count();
    assert!(refused >= 7, "{rendered}");
    let _ = System::current();
}
