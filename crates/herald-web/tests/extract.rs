//! `SignalBody` on a real actix-web server: every content mode, as Herald and the
//! CloudEvents SDK write them, and a clear refusal of everything else.

mod support;

use actix_web::{App, HttpResponse, web};
use bytes::Bytes;
use cloudevents::binding::http::{Builder, Serializer};
use cloudevents::message::BinaryDeserializer;
use cloudevents::{EventBuilder, EventBuilderV10};
use herald_signal::Signal;
use herald_web::{SignalBody, SignalConfig};
use serde_json::json;
use support::within;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// Answers with the mode and the signals it read.
async fn echo(body: SignalBody) -> HttpResponse {
    let mode = format!("{:?}", body.mode());
    HttpResponse::Ok()
        .insert_header(("x-mode", mode))
        .body(Signal::batch_to_json(body.signals()))
}

fn server(config: SignalConfig, payload_limit: Option<usize>) -> support::Server {
    serve!(move || {
        let mut app = App::new().app_data(config);
        if let Some(limit) = payload_limit {
            app = app.app_data(web::PayloadConfig::new(limit));
        }
        app.route("/events", web::post().to(echo))
    })
}

/// Sends `body` with `headers`; answers the status, the mode header and the body.
async fn post(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String, Bytes) {
    let mut request = awc::Client::new().post(format!("{url}/events"));
    for (name, value) in headers {
        request = request.insert_header((*name, *value));
    }
    let mut response = within("the request", request.send_body(body))
        .await
        .unwrap();
    let body = within("the body", response.body()).await.unwrap();
    let mode = (response.headers().get("x-mode"))
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), mode, body)
}

fn sample(id: &str) -> Signal {
    Signal::builder("order.placed")
        .id(id)
        .source("/shop")
        .subject("order 7")
        .data(json!({"total": 42, "note": "ü"}))
        .build()
        .unwrap()
}

#[actix_rt::test]
async fn structured_binary_and_batch_read_back_as_sent() {
    let server = server(SignalConfig::new(), None);
    let signal = sample("s-1");

    let structured = [("content-type", herald_signal::STRUCTURED)];
    let (status, mode, body) = post(&server.url, &structured, signal.to_json_vec()).await;
    assert_eq!((status, mode.as_str()), (200, "Structured"));
    assert_eq!(
        Signal::batch_from_json_slice(&body).unwrap(),
        vec![signal.clone()]
    );

    // Binary, as Herald's own HTTP adapter writes it.
    let headers = signal.binary_headers();
    let (content_type, data) = signal.binary_body().unwrap();
    let mut pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter(|(name, _)| name != "ce-datacontenttype")
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    pairs.push(("content-type", content_type));
    let (status, mode, body) = post(&server.url, &pairs, data).await;
    assert_eq!((status, mode.as_str()), (200, "Binary"));
    let back = Signal::batch_from_json_slice(&body).unwrap();
    assert_eq!(back[0].id(), "s-1");
    assert_eq!(back[0].subject(), Some("order 7"));
    assert_eq!(back[0].data(), signal.data());

    let batch = [sample("b-1"), sample("b-2"), sample("b-3")];
    let batch_type = [("content-type", herald_signal::BATCH)];
    let json = Signal::batch_to_json(&batch).into_bytes();
    let (status, mode, body) = post(&server.url, &batch_type, json).await;
    assert_eq!((status, mode.as_str()), (200, "Batch"));
    assert_eq!(
        Signal::batch_from_json_slice(&body).unwrap(),
        batch.to_vec()
    );
}

/// Collects what the SDK's HTTP serializer writes.
#[derive(Default)]
struct Written {
    headers: Vec<(String, String)>,
}

impl Builder<(Vec<(String, String)>, Vec<u8>)> for Written {
    fn header(&mut self, key: &str, value: http::HeaderValue) {
        (self.headers).push((key.to_owned(), value.to_str().unwrap().to_owned()));
    }

    fn body(
        &mut self,
        bytes: Vec<u8>,
    ) -> cloudevents::message::Result<(Vec<(String, String)>, Vec<u8>)> {
        Ok((std::mem::take(&mut self.headers), bytes))
    }

    fn finish(&mut self) -> cloudevents::message::Result<(Vec<(String, String)>, Vec<u8>)> {
        self.body(Vec::new())
    }
}

#[actix_rt::test]
async fn binary_mode_as_the_cloudevents_sdk_writes_it() {
    let server = server(SignalConfig::new(), None);
    let event = EventBuilderV10::new()
        .id("sdk-1")
        .ty("invoice.paid")
        .source("/billing/eu west")
        .subject("a \"quoted\" subject")
        .extension("tenant", "acme")
        .data("application/json", json!({"amount": 12}))
        .build()
        .unwrap();
    let (headers, body) =
        BinaryDeserializer::deserialize_binary(event, Serializer::new(Written::default())).unwrap();
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (status, mode, answer) = post(&server.url, &pairs, body).await;
    assert_eq!((status, mode.as_str()), (200, "Binary"), "{answer:?}");
    let signal = Signal::batch_from_json_slice(&answer).unwrap().remove(0);
    assert_eq!(signal.id(), "sdk-1");
    assert_eq!(signal.ty(), "invoice.paid");
    assert_eq!(signal.source(), "/billing/eu west");
    assert_eq!(signal.subject(), Some("a \"quoted\" subject"));
    assert_eq!(signal.datacontenttype(), Some("application/json"));
    assert_eq!(
        signal.data(),
        Some(&herald_signal::Data::Json(json!({"amount": 12})))
    );
    assert!(signal.extension("tenant").is_some());
}

/// The status and `error` message of a refused request.
async fn refused(url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, String) {
    let (status, _, body) = post(url, headers, body).await;
    let error: serde_json::Value =
        serde_json::from_slice(&body).unwrap_or_else(|_| panic!("a JSON error, got {body:?}"));
    (status, error["error"].as_str().unwrap().to_owned())
}

#[actix_rt::test]
async fn bad_input_is_refused_with_its_status_and_without_an_echo() {
    let server = server(SignalConfig::new().max_size(1_024).max_batch(2), None);
    let structured = [("content-type", herald_signal::STRUCTURED)];

    let (status, message) = refused(
        &server.url,
        &[("content-type", "text/plain")],
        b"hi".to_vec(),
    )
    .await;
    assert_eq!(status, 415, "{message}");
    let (status, _) = refused(
        &server.url,
        &[("content-type", "application/cloudevents+xml")],
        b"<e/>".to_vec(),
    )
    .await;
    assert_eq!(status, 415);

    let hostile = br#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"<script>tenant-secret</script>"}"#;
    let (status, message) = refused(&server.url, &structured, hostile.to_vec()).await;
    assert_eq!(status, 400);
    assert!(
        message.contains("time") && !message.contains("tenant-secret"),
        "{message}"
    );
    let (status, message) = refused(
        &server.url,
        &structured,
        br#"{"id": "tenant-secret"#.to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!message.contains("tenant-secret"), "{message}");
    let (status, _) = refused(&server.url, &structured, b"".to_vec()).await;
    assert_eq!(status, 400);

    // Over the byte bound: by Content-Length, and chunked.
    let big = sample("x")
        .to_builder()
        .data(json!("y".repeat(2_000)))
        .build()
        .unwrap();
    let (status, message) = refused(&server.url, &structured, big.to_json_vec()).await;
    assert_eq!(status, 413, "{message}");
    let chunks = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b' '; 600]))),
    );
    let request = awc::Client::new()
        .post(format!("{}/events", server.url))
        .insert_header(("content-type", herald_signal::STRUCTURED));
    let response = within("chunked", request.send_stream(chunks))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);

    // A batch over its count.
    let batch = Signal::batch_to_json(&[sample("1"), sample("2"), sample("3")]).into_bytes();
    let (status, message) = refused(
        &server.url,
        &[("content-type", herald_signal::BATCH)],
        batch,
    )
    .await;
    assert_eq!(
        (status, message.as_str()),
        (413, "a batch holds at most 2 signals")
    );
    let (status, _) = refused(
        &server.url,
        &[("content-type", herald_signal::BATCH)],
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 400);

    // Binary: a malformed escape, a missing attribute.
    let bad = [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-type", "t"),
        ("ce-source", "%ZZ"),
    ];
    let (status, message) = refused(&server.url, &bad, Vec::new()).await;
    assert_eq!(status, 400, "{message}");
    let missing = [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
    ];
    let (status, message) = refused(&server.url, &missing, Vec::new()).await;
    assert_eq!(
        (status, message.as_str()),
        (400, "malformed CloudEvent: attribute `type` is missing")
    );
}

#[actix_rt::test]
async fn the_smaller_of_payload_config_and_max_size_bounds_the_body() {
    let server = server(SignalConfig::new().max_size(4_096), Some(512));
    let structured = [("content-type", herald_signal::STRUCTURED)];
    let signal = sample("x")
        .to_builder()
        .data(json!("y".repeat(700)))
        .build()
        .unwrap();
    let (status, _) = refused(&server.url, &structured, signal.to_json_vec()).await;
    assert_eq!(status, 413);
    let (status, _, _) = post(&server.url, &structured, sample("small").to_json_vec()).await;
    assert_eq!(status, 200);
}

#[actix_rt::test]
async fn a_traceparent_header_goes_on_with_the_signal() {
    let server = server(SignalConfig::new(), None);
    let with_header = [
        ("content-type", herald_signal::STRUCTURED),
        ("traceparent", TRACEPARENT),
    ];
    let (_, _, body) = post(&server.url, &with_header, sample("t").to_json_vec()).await;
    let signal = Signal::batch_from_json_slice(&body).unwrap().remove(0);
    assert_eq!(signal.trace_context().unwrap().traceparent, TRACEPARENT);

    // Malformed: not carried.
    let malformed = [
        ("content-type", herald_signal::STRUCTURED),
        ("traceparent", "00-zz-1-01"),
    ];
    let (_, _, body) = post(&server.url, &malformed, sample("t").to_json_vec()).await;
    let signal = Signal::batch_from_json_slice(&body).unwrap().remove(0);
    assert!(signal.extension("traceparent").is_none());

    // The signal's own wins.
    let own = "00-11111111111111111111111111111111-2222222222222222-01";
    let traced = sample("t")
        .to_builder()
        .extension("traceparent", own)
        .build()
        .unwrap();
    let (_, _, body) = post(&server.url, &with_header, traced.to_json_vec()).await;
    let signal = Signal::batch_from_json_slice(&body).unwrap().remove(0);
    assert_eq!(signal.trace_context().unwrap().traceparent, own);
}
