//! The ingress on a real actix-web server: signals in, dispatched through a bus to an
//! actor, 202 with their ids; 429 and 503 when Herald cannot take them; signatures
//! checked as Herald's own webhooks and the official Standard Webhooks crate make them.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix::Actor as _;
use actix_web::{App, web};
use herald_core::{Bus, Dispatch, DispatchExt, Dispatcher, ErrorKind, Shutdown, Subscribe, Target};
use herald_signal::Signal;
use herald_testkit::receiver::{Answer, Recorder, until_seen};
use herald_web::{Verification, VerifyKey, WebhookSecret, ingress};
use serde_json::{Value, json};
use support::within;

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

type Seen = Arc<Mutex<Vec<Signal>>>;

/// A dispatcher with bus `events`, whose `order.**` subscriber records what it gets.
async fn routed() -> (actix::Addr<Dispatcher>, Seen) {
    let (recorder, seen) = Recorder::<Mutex<Vec<Signal>>>::start(Answer::Accept);
    let bus = Bus::new().start();
    let subscribe = Subscribe::new("order.**", [Target::pid(recorder.recipient())]).unwrap();
    within("subscribe", bus.send(subscribe)).await.unwrap();
    let dispatcher = Dispatcher::builder().bus("events", bus).start();
    (dispatcher, seen)
}

fn order(id: &str) -> Signal {
    Signal::builder("order.placed")
        .id(id)
        .source("/shop")
        .data(json!({"n": 1}))
        .build()
        .unwrap()
}

async fn post(
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> (u16, Option<String>, Value) {
    let mut request = awc::Client::new().post(url);
    for (name, value) in headers {
        request = request.insert_header((*name, value.as_str()));
    }
    let mut response = within("the request", request.send_body(body))
        .await
        .unwrap();
    let body = within("the body", response.body()).await.unwrap();
    let retry = (response.headers().get("retry-after")).map(|v| v.to_str().unwrap().to_owned());
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (response.status().as_u16(), retry, json)
}

fn structured() -> Vec<(&'static str, String)> {
    vec![("content-type", herald_signal::STRUCTURED.to_owned())]
}

#[actix_rt::test]
async fn signals_go_through_the_bus_to_the_subscriber() {
    let (dispatcher, seen) = routed().await;
    let bus = Target::bus("events").unwrap();
    let server = serve!(move || {
        App::new().service(web::scope("/events").service(ingress(dispatcher.clone(), bus.clone())))
    });
    let url = format!("{}/events", server.url);

    let (status, _, answer) = post(&url, &structured(), order("o-1").to_json_vec()).await;
    assert_eq!((status, answer), (202, json!({"accepted": ["o-1"]})));

    let batch = Signal::batch_to_json(&[order("o-2"), order("o-3")]).into_bytes();
    let batch_type = vec![("content-type", herald_signal::BATCH.to_owned())];
    let (status, _, answer) = post(&url, &batch_type, batch).await;
    assert_eq!((status, answer), (202, json!({"accepted": ["o-2", "o-3"]})));

    until_seen("three signals", &seen, 3).await;
    let ids: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id().to_owned())
        .collect();
    assert_eq!(ids, ["o-1", "o-2", "o-3"]);

    // Nothing dispatched for bad input; GET is not a route.
    let (status, _, _) = post(
        &url,
        &[("content-type", "text/plain".to_owned())],
        b"x".to_vec(),
    )
    .await;
    assert_eq!(status, 415);
    let response = within("get", awc::Client::new().get(&url).send())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
}

#[actix_rt::test]
async fn overload_answers_429_with_retry_after() {
    // One delivery in flight that never ends, one message waiting for room, one
    // admission permit: the next is refused.
    let (hang, _) = Recorder::<Mutex<Vec<Signal>>>::start(Answer::Hang);
    let target = Target::pid(hang.recipient())
        .sync()
        .timeout(Duration::from_secs(3_600));
    let dispatcher = Dispatcher::builder()
        .mailbox_capacity(1)
        .max_in_flight(1)
        .start();
    let server = serve!(move || {
        App::new().service(
            ingress(dispatcher.clone(), target.clone())
                .retry_after(Duration::from_millis(2_500))
                .at("/in"),
        )
    });
    let url = format!("{}/in", server.url);
    let mut refused = None;
    for n in 0..20 {
        let (status, retry, answer) =
            post(&url, &structured(), order(&format!("h-{n}")).to_json_vec()).await;
        if status == 429 {
            refused = Some((n, retry, answer));
            break;
        }
        assert_eq!(status, 202, "{answer}");
    }
    let (n, retry, answer) = refused.expect("a refusal within 20 requests");
    assert_eq!(retry.as_deref(), Some("3"));
    assert_eq!(answer["refused"], json!([format!("h-{n}")]));
    assert_eq!(answer["accepted"], json!([]));
}

#[actix_rt::test]
async fn shutdown_answers_503_refusing_the_whole_batch() {
    let dispatcher = Dispatcher::builder().start();
    within(
        "shutdown",
        dispatcher.send(Shutdown::new(Duration::from_millis(10))),
    )
    .await
    .unwrap();
    let server = serve!(move || {
        App::new().service(
            ingress(dispatcher.clone(), Target::noop())
                .retry_after(Duration::from_secs(3))
                .at("/in"),
        )
    });
    let url = format!("{}/in", server.url);
    let batch = Signal::batch_to_json(&[order("late-1"), order("late-2")]).into_bytes();
    let batch_type = vec![("content-type", herald_signal::BATCH.to_owned())];
    let (status, retry, answer) = post(&url, &batch_type, batch).await;
    assert_eq!((status, retry.as_deref()), (503, Some("3")));
    assert_eq!(answer["refused"], json!(["late-1", "late-2"]));
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[actix_rt::test]
async fn signed_webhooks_are_verified_and_replays_refused() {
    let (dispatcher, seen) = routed().await;
    let bus = Target::bus("events").unwrap();
    let verification =
        Verification::new([VerifyKey::from(WebhookSecret::standard(SECRET).unwrap())]);
    let keys = verification.clone();
    let server = serve!(move || {
        App::new().service(
            ingress(dispatcher.clone(), bus.clone())
                .verify(verification.clone())
                .at("/hooks"),
        )
    });
    let url = format!("{}/hooks", server.url);

    // Herald's own webhook target, signing with the secret.
    let sender = Dispatcher::builder().start();
    let webhook = Target::webhook(&url).unwrap().secret(SECRET).unwrap();
    let report = within(
        "deliver",
        sender.dispatch(Dispatch::new(order("w-1"), webhook)),
    )
    .await;
    assert!(report.is_ok(), "{report:?}");
    until_seen("the webhook's signal", &seen, 1).await;

    // Signed by the official crate: accepted once, refused as a replay.
    let body = order("w-2").to_json_vec();
    let now = unix_now();
    let official = standardwebhooks::Webhook::new(SECRET).unwrap();
    let signature = official.sign("msg_2", now as i64, &body).unwrap();
    let mut headers = structured();
    headers.extend([
        ("webhook-id", "msg_2".to_owned()),
        ("webhook-timestamp", now.to_string()),
        ("webhook-signature", signature),
    ]);
    let (status, _, _) = post(&url, &headers, body.clone()).await;
    assert_eq!(status, 202);
    let (status, _, answer) = post(&url, &headers, body.clone()).await;
    assert_eq!(status, 401);
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("received already"),
        "{answer}"
    );

    // Tampered, unsigned, stale.
    let mut tampered = headers.clone();
    tampered[1].1 = "msg_3".to_owned();
    let (status, _, _) = post(&url, &tampered, body.clone()).await;
    assert_eq!(status, 401);
    let (status, _, _) = post(&url, &structured(), body.clone()).await;
    assert_eq!(status, 401);
    let stale = now - 3_600;
    let signature = official.sign("msg_4", stale as i64, &body).unwrap();
    let stale_headers = vec![
        ("content-type", herald_signal::STRUCTURED.to_owned()),
        ("webhook-id", "msg_4".to_owned()),
        ("webhook-timestamp", stale.to_string()),
        ("webhook-signature", signature),
    ];
    let (status, _, answer) = post(&url, &stale_headers, body.clone()).await;
    assert_eq!(status, 401, "{answer}");

    // Rotated away: the old secret no longer verifies; the new one does.
    let new = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    keys.set_keys([VerifyKey::from(WebhookSecret::standard(new).unwrap())]);
    let webhook = Target::webhook(&url).unwrap().secret(SECRET).unwrap();
    let report = within(
        "old key",
        sender.dispatch(Dispatch::new(order("w-5"), webhook)),
    )
    .await;
    let error = report.unwrap_err();
    assert!(
        matches!(
            error.first().error.kind(),
            ErrorKind::HttpStatus { status: 401, .. }
        ),
        "{error:?}"
    );
    let webhook = Target::webhook(&url).unwrap().secret(new).unwrap();
    let report = within(
        "new key",
        sender.dispatch(Dispatch::new(order("w-6"), webhook)),
    )
    .await;
    assert!(report.is_ok(), "{report:?}");
    until_seen("the rotated webhook", &seen, 3).await;
    let ids: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.id().to_owned())
        .collect();
    assert_eq!(ids, ["w-1", "w-2", "w-6"]);
}

#[actix_rt::test]
async fn a_traceparent_header_reaches_the_subscriber() {
    let (dispatcher, seen) = routed().await;
    let bus = Target::bus("events").unwrap();
    let server =
        serve!(move || App::new().service(ingress(dispatcher.clone(), bus.clone()).at("/e")));
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let mut headers = structured();
    headers.push(("traceparent", traceparent.to_owned()));
    let (status, _, _) = post(
        &format!("{}/e", server.url),
        &headers,
        order("t-1").to_json_vec(),
    )
    .await;
    assert_eq!(status, 202);
    until_seen("the traced signal", &seen, 1).await;
    let signal = seen.lock().unwrap()[0].clone();
    assert_eq!(signal.trace_context().unwrap().traceparent, traceparent);
}
