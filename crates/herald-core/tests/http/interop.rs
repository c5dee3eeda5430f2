//! Real peers: cloudevents-sdk's actix-web binding decodes both body modes, the official
//! `standardwebhooks` crate verifies Herald's signatures, and Herald's own `verify`
//! accepts what Herald sends.

use std::sync::{Arc, Mutex};

use crate::support::{Receiver, deliver, dispatcher, http_headers, signal};
use actix_web::web;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use cloudevents::{AttributesReader, Event};
use herald_core::Target;
use herald_core::http::{BodyMode, DEFAULT_TOLERANCE, WebhookSecret, verify};

/// A receiver built with cloudevents-sdk's actix-web binding; keeps what it decoded.
fn cloudevents_receiver() -> (String, Arc<Mutex<Vec<Event>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let shared = events.clone();
    let server = HttpServer::new(move || {
        let events = shared.clone();
        App::new().default_service(web::to(
            move |request: HttpRequest, payload: web::Payload| {
                let events = events.clone();
                async move {
                    let event =
                        cloudevents::binding::actix::request_to_event(&request, payload).await?;
                    events.lock().unwrap().push(event);
                    Ok::<_, actix_web::Error>(HttpResponse::Accepted().finish())
                }
            },
        ))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://127.0.0.1:{}/events", server.addrs()[0].port());
    actix_rt::spawn(server.run());
    (url, events)
}

fn assert_same(event: &Event, signal: &herald_signal::Signal) {
    assert_eq!(event.id(), signal.id());
    assert_eq!(event.source().to_string(), signal.source());
    assert_eq!(event.ty(), signal.ty());
    assert_eq!(event.time(), signal.time());
    assert_eq!(event.datacontenttype(), signal.datacontenttype());
    assert_eq!(
        event
            .extension("tenant")
            .map(ToString::to_string)
            .as_deref(),
        Some("acme")
    );
    let data = match event.data() {
        Some(cloudevents::Data::Json(value)) => value.clone(),
        Some(cloudevents::Data::Binary(bytes)) => serde_json::from_slice(bytes).unwrap(),
        Some(cloudevents::Data::String(text)) => serde_json::from_str(text).unwrap(),
        None => panic!("no data"),
    };
    assert_eq!(Some(&data), signal.data().and_then(|d| d.as_json()));
}

#[actix_rt::test]
async fn cloudevents_sdk_decodes_structured_and_binary_deliveries() {
    let (url, events) = cloudevents_receiver();
    let dispatcher = dispatcher();
    let structured = signal();
    let binary = signal();
    deliver(&dispatcher, structured.clone(), Target::http(&url).unwrap())
        .await
        .unwrap();
    deliver(
        &dispatcher,
        binary.clone(),
        Target::http(&url).unwrap().body(BodyMode::Binary),
    )
    .await
    .unwrap();
    let events = events.lock().unwrap();
    assert_eq!(events.len(), 2);
    assert_same(&events[0], &structured);
    assert_same(&events[1], &binary);
}

const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

#[actix_rt::test]
async fn standard_webhooks_signatures_verify_with_the_official_crate() {
    let receiver = Receiver::start([]);
    let target = Target::webhook(&receiver.url)
        .unwrap()
        .secret(SECRET)
        .unwrap();
    let signal = signal();
    deliver(&dispatcher(), signal.clone(), target)
        .await
        .unwrap();
    let request = &receiver.requests()[0];

    let official = standardwebhooks::Webhook::new(SECRET).unwrap();
    official
        .verify(&request.body, &http_headers(request))
        .expect("the official crate accepts it");
    assert_eq!(request.header("webhook-id"), Some(signal.id()));
    assert!(
        request
            .header("webhook-signature")
            .unwrap()
            .starts_with("v1,")
    );

    // And Herald's own verify, from the recorded pairs and from an `http::HeaderMap`
    // (what axum and hyper hand a receiver) built from the real request.
    let secret = WebhookSecret::standard(SECRET).unwrap();
    verify(&request.headers, &request.body, &secret, DEFAULT_TOLERANCE).unwrap();
    verify(
        &http_headers(request),
        &request.body,
        &secret,
        DEFAULT_TOLERANCE,
    )
    .unwrap();
}

#[actix_rt::test]
async fn jido_signatures_verify_and_carry_the_mapped_event() {
    let receiver = Receiver::start([]);
    let target = Target::webhook(&receiver.url)
        .unwrap()
        .jido_secret("mysecret")
        .unwrap()
        .event_type("invoice.paid", "billing:invoice_paid")
        .unwrap();
    deliver(&dispatcher(), signal(), target).await.unwrap();
    let request = &receiver.requests()[0];
    assert_eq!(
        request.header("x-webhook-event"),
        Some("billing:invoice_paid")
    );
    let signature = request.header("x-webhook-signature").unwrap();
    assert_eq!(signature.len(), 64);
    assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    let secret = WebhookSecret::jido("mysecret").unwrap();
    verify(&request.headers, &request.body, &secret, DEFAULT_TOLERANCE).unwrap();
}

#[actix_rt::test]
async fn forged_signature_headers_are_replaced_and_each_appears_once() {
    let receiver = Receiver::start([]);
    let dispatcher = dispatcher();
    let standard = Target::webhook(&receiver.url)
        .unwrap()
        .secret(SECRET)
        .unwrap()
        .header("Webhook-Signature", "v1,forged")
        .unwrap()
        .header("webhook-id", "forged")
        .unwrap()
        .header("x-kept", "yes")
        .unwrap();
    let jido = Target::webhook(&receiver.url)
        .unwrap()
        .jido_secret("mysecret")
        .unwrap()
        .header("X-Webhook-Signature", "forged")
        .unwrap()
        .header("x-webhook-timestamp", "1")
        .unwrap();
    deliver(&dispatcher, signal(), standard).await.unwrap();
    deliver(&dispatcher, signal(), jido).await.unwrap();
    let requests = receiver.requests();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        assert_eq!(requests[0].count(name), 1, "{name}");
    }
    assert_ne!(requests[0].header("webhook-signature"), Some("v1,forged"));
    assert_eq!(requests[0].header("x-kept"), Some("yes"));
    for name in [
        "x-webhook-signature",
        "x-webhook-timestamp",
        "x-webhook-event",
    ] {
        assert_eq!(requests[1].count(name), 1, "{name}");
    }
    assert_ne!(requests[1].header("x-webhook-signature"), Some("forged"));
    assert_ne!(requests[1].header("x-webhook-timestamp"), Some("1"));
    let secret = WebhookSecret::jido("mysecret").unwrap();
    verify(
        &requests[1].headers,
        &requests[1].body,
        &secret,
        DEFAULT_TOLERANCE,
    )
    .unwrap();
}

#[actix_rt::test]
async fn a_signal_type_that_is_not_a_header_value_is_an_error() {
    let receiver = Receiver::start([]);
    let target = Target::webhook(&receiver.url)
        .unwrap()
        .jido_secret("s")
        .unwrap();
    let bad = herald_signal::Signal::new("line\nbreak", serde_json::json!({})).unwrap();
    let error = deliver(&dispatcher(), bad, target).await.unwrap_err();
    assert_eq!(error.first().error.kind().name(), "invalid_target");
    assert!(receiver.requests().is_empty(), "nothing was sent");
}

#[actix_rt::test]
async fn the_w3c_trace_context_travels_as_headers_in_both_body_modes() {
    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let receiver = Receiver::start([]);
    let dispatcher = dispatcher();
    let traced = herald_signal::Signal::builder("order.placed")
        .extension("traceparent", TRACEPARENT)
        .extension("tracestate", "congo=t61rcWkgMzE")
        .build()
        .unwrap();
    for mode in [BodyMode::Structured, BodyMode::Binary] {
        let target = Target::http(&receiver.url).unwrap().body(mode);
        deliver(&dispatcher, traced.clone(), target).await.unwrap();
    }
    // A traceparent that is not W3C-shaped is not carried on as the header.
    let malformed = herald_signal::Signal::builder("order.placed")
        .extension("traceparent", "00-not-a-trace-01")
        .build()
        .unwrap();
    let target = Target::http(&receiver.url).unwrap();
    deliver(&dispatcher, malformed, target).await.unwrap();

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests[..2] {
        assert_eq!(request.header("traceparent"), Some(TRACEPARENT));
        assert_eq!(request.header("tracestate"), Some("congo=t61rcWkgMzE"));
        assert_eq!(request.count("traceparent"), 1);
    }
    // Structured mode carries the distributed tracing extension in the body too.
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["traceparent"], TRACEPARENT);
    assert_eq!(requests[1].header("ce-traceparent"), Some(TRACEPARENT));
    assert_eq!(requests[2].header("traceparent"), None);
}
