//! Another language's peers, through a real nats-server: a peer written with `nats-py`
//! and Python's `cloudevents` package reads what Herald publishes (structured and
//! binary), and a bridge reads what it publishes (structured, binary with the SDK's
//! headers, bare JSON). Needs a Python with `interop/python/requirements.txt`
//! installed, named by `HERALD_PYTHON`: `bash .ci/interop` sets one up and runs these
//! (CI does).

mod support;

use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Bridge, NatsDispatcherExt, NatsTarget};
use herald_signal::Signal;
use herald_testkit::python::Script;
use serde_json::json;
use support::{Answer, NatsServer, start_collector, until_seen, within};

#[actix_rt::test]
#[ignore = "needs HERALD_PYTHON (bash .ci/interop)"]
async fn python_reads_what_herald_publishes_in_both_modes() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().nats(client.clone()).start();
    let mut peer = Script::start("nats_peer.py", &["receive", &server.url(), "2"]);
    assert_eq!(peer.line().await, "ready");

    let sent = Signal::builder("order.created")
        .source("/shop")
        .subject("Zoë 100%")
        .extension("tenant", "acme")
        .data(json!({"n": 1}))
        .build()
        .unwrap();
    let targets = (
        NatsTarget::to("py.out.structured").unwrap(),
        NatsTarget::to("py.out.binary").unwrap().binary(),
    );
    within(
        "publish",
        dispatcher.send(Dispatch::new(sent.clone(), targets)),
    )
    .await
    .unwrap()
    .unwrap();

    let mut reports = Vec::new();
    for _ in 0..2 {
        reports.push(peer.json().await);
    }
    reports.sort_by_key(|r| r["subject"].as_str().map(str::to_owned));
    let (binary, structured) = (&reports[0], &reports[1]);

    // Structured: the SDK reads the whole event.
    let attributes = &structured["attributes"];
    assert_eq!(attributes["id"], sent.id());
    assert_eq!(attributes["type"], "order.created");
    assert_eq!(attributes["subject"], "Zoë 100%");
    assert_eq!(attributes["tenant"], "acme");
    assert_eq!(structured["data"], json!({"n": 1}));

    // Binary: `ce-` headers, percent-encoded as in the HTTP binding, the data alone.
    let headers = &binary["headers"];
    assert_eq!(headers["ce-id"], sent.id());
    assert_eq!(headers["ce-type"], "order.created");
    assert_eq!(headers["ce-subject"], "Zo%C3%AB%20100%25");
    assert_eq!(headers["ce-tenant"], "acme");
    assert_eq!(headers["ce-datacontenttype"], "application/json");
    assert_eq!(binary["payload"], r#"{"n":1}"#);
}

#[actix_rt::test]
#[ignore = "needs HERALD_PYTHON (bash .ci/interop)"]
async fn a_bridge_reads_what_python_publishes() {
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder().start();
    let (collector, seen) = start_collector(Answer::Accept);
    let _bridge = Bridge::new(
        client.clone(),
        "py.in",
        dispatcher,
        Target::pid(collector.recipient()),
    )
    .start()
    .await
    .unwrap();

    let mut peer = Script::start("nats_peer.py", &["publish", &server.url()]);
    assert_eq!(peer.line().await, "published");
    until_seen("Python's three events", &seen, 3).await;

    let mut got = seen.lock().unwrap().clone();
    got.sort_by(|a, b| a.id().cmp(b.id()));
    let [structured, binary, bare] = &got[..] else {
        panic!("three signals: {got:?}");
    };
    assert_eq!(structured.ty(), "py.structured");
    assert_eq!(structured.subject(), Some("Zoë"));
    assert_eq!(
        structured.data().and_then(|d| d.as_json()),
        Some(&json!({"x": 1}))
    );
    assert_eq!(binary.ty(), "py.binary");
    assert_eq!(binary.datacontenttype(), Some("application/json"));
    assert_eq!(
        binary
            .extension("tenant")
            .map(ToString::to_string)
            .as_deref(),
        Some("acme")
    );
    assert_eq!(
        binary.data().and_then(|d| d.as_json()),
        Some(&json!({"y": 2}))
    );
    assert_eq!(bare.ty(), "py.bare");
    assert_eq!(bare.data().and_then(|d| d.as_json()), Some(&json!("plain")));
}
