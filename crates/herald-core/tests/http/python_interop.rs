//! Another language's peers: a receiver written with Python's `standardwebhooks` and
//! `cloudevents` packages verifies Herald's signatures and reads its events in both body
//! modes. Needs a Python with `interop/python/requirements.txt` installed, named by
//! `HERALD_PYTHON`: `bash .ci/interop` sets one up and runs these (CI does).

use crate::support::{deliver, dispatcher};
use actix::Addr;
use herald_core::http::{BodyMode, HttpTarget};
use herald_core::{Dispatcher, ErrorKind, Outcome, Target};
use herald_signal::Signal;
use herald_testkit::python::Script;
use serde_json::{Value, json};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Starts the Python receiver for `requests` requests; returns it and its URL.
async fn receiver(requests: usize) -> (Script, String) {
    let requests = requests.to_string();
    let args = ["--secret", SECRET, "--requests", &requests];
    let mut receiver = Script::start("webhook_receiver.py", &args);
    let first = receiver.line().await;
    let port = first
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"));
    (receiver, format!("http://127.0.0.1:{port}"))
}

fn webhook(url: &str, mode: BodyMode) -> HttpTarget {
    Target::webhook(url)
        .unwrap()
        .secret(SECRET)
        .unwrap()
        .body(mode)
}

/// Delivers `signal` in `mode` and returns the receiver's report (the delivery must
/// have been answered 200).
async fn round_trip(
    dispatcher: &Addr<Dispatcher>,
    receiver: &mut Script,
    url: &str,
    signal: &Signal,
    mode: BodyMode,
) -> Value {
    let result = deliver(dispatcher, signal.clone(), webhook(url, mode)).await;
    let report = receiver.json().await;
    let outcome = result.unwrap_or_else(|e| panic!("{mode:?}: {e}; receiver said {report}"));
    assert!(
        matches!(
            outcome.outcomes()[0],
            Outcome::Responded { status: 200, .. }
        ),
        "{mode:?}: {:?}",
        outcome.outcomes()
    );
    assert_eq!(report["signature"], "ok", "{mode:?}: {report}");
    report
}

#[actix_rt::test]
#[ignore = "needs HERALD_PYTHON (bash .ci/interop)"]
async fn python_verifies_signatures_and_reads_events_in_both_modes() {
    let (mut receiver, url) = receiver(8).await;
    let dispatcher = dispatcher();
    let json = Signal::builder("invoice.paid")
        .source("/billing")
        .subject("invoice-42")
        .extension("tenant", "acme")
        .data(json!({"amount": 42, "name": "Zoë"}))
        .build()
        .unwrap();
    let text = Signal::builder("note.written")
        .source("urn:notes")
        .datacontenttype("text/plain")
        .data_binary(b"plain words".to_vec())
        .build()
        .unwrap();
    let empty = Signal::builder("ping").source("/health").build().unwrap();

    for mode in [BodyMode::Structured, BodyMode::Binary] {
        let report = round_trip(&dispatcher, &mut receiver, &url, &json, mode).await;
        let attributes = &report["attributes"];
        assert_eq!(attributes["id"], json.id(), "{mode:?}");
        assert_eq!(attributes["type"], "invoice.paid", "{mode:?}");
        assert_eq!(attributes["source"], "/billing", "{mode:?}");
        assert_eq!(attributes["subject"], "invoice-42", "{mode:?}");
        assert_eq!(attributes["tenant"], "acme", "{mode:?}");
        assert_eq!(
            attributes["datacontenttype"], "application/json",
            "{mode:?}"
        );
        assert_eq!(
            report["data"],
            json!({"amount": 42, "name": "Zoë"}),
            "{mode:?}"
        );

        let report = round_trip(&dispatcher, &mut receiver, &url, &text, mode).await;
        assert_eq!(report["attributes"]["datacontenttype"], "text/plain");
        assert_eq!(report["data"], "plain words", "{mode:?}");

        let report = round_trip(&dispatcher, &mut receiver, &url, &empty, mode).await;
        assert_eq!(report["attributes"]["type"], "ping", "{mode:?}");
        assert_eq!(report["data"], Value::Null, "{mode:?}");
    }

    // The check is real: a signature made with another secret is refused.
    let forged = Target::webhook(&url)
        .unwrap()
        .secret("whsec_d3JvbmcgLSBub3QgdGhlIHNoYXJlZCBzZWNyZXQ=")
        .unwrap()
        .retry(herald_core::http::RetryPolicy::none());
    let result = deliver(&dispatcher, json.clone(), forged).await;
    let report = receiver.json().await;
    assert!(
        report["signature"]
            .as_str()
            .is_some_and(|s| s.starts_with("refused")),
        "{report}"
    );
    let error = result.expect_err("the receiver refused it");
    assert!(
        matches!(
            error.first().error.kind(),
            ErrorKind::HttpStatus { status: 400, .. }
        ),
        "{error}"
    );

    // During a key rotation the header carries a signature per key: a receiver that
    // holds only one of them (here the old one) accepts the request.
    let rotating = Target::webhook(&url)
        .unwrap()
        .secret("whsec_d3JvbmcgLSBub3QgdGhlIHNoYXJlZCBzZWNyZXQ=")
        .unwrap()
        .also_sign_with(herald_core::http::WebhookSecret::standard(SECRET).unwrap())
        .unwrap();
    let result = deliver(&dispatcher, json.clone(), rotating).await;
    let report = receiver.json().await;
    assert_eq!(report["signature"], "ok", "{report}");
    result.expect("accepted with the old key");
}
