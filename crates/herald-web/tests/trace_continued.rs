//! With feature `opentelemetry`, a signal received by the ingress is dispatched under a
//! `process` span that continues the sender's trace (the request's `traceparent`
//! header): that is its parent and its link, and the dispatch hangs under it in the same
//! trace. Spans are collected by the SDK's in-memory exporter, through a global
//! subscriber (the server's worker thread makes the spans): alone in its binary.
#![cfg(feature = "opentelemetry")]

mod support;

use std::sync::Mutex;

use actix_web::App;
use herald_core::{Dispatcher, Target};
use herald_signal::Signal;
use herald_testkit::receiver::{Answer, Recorder, until_seen};
use herald_web::ingress;
use opentelemetry::trace::{SpanId, SpanKind, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use support::within;
use tracing_subscriber::layer::SubscriberExt;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[actix_rt::test]
async fn the_ingress_continues_the_senders_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();

    let (recorder, seen) = Recorder::<Mutex<Vec<Signal>>>::start(Answer::Accept);
    let dispatcher = Dispatcher::builder().start();
    let target = Target::pid(recorder.recipient()).sync();
    let server =
        serve!(move || App::new().service(ingress(dispatcher.clone(), target.clone()).at("/in")));
    let signal = Signal::builder("order.placed").id("o-1").build().unwrap();
    let request = awc::Client::new()
        .post(format!("{}/in", server.url))
        .insert_header(("content-type", herald_signal::STRUCTURED))
        .insert_header(("traceparent", format!("00-{TRACE}-{PARENT}-01")));
    let response = within("post", request.send_body(signal.to_json()))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    until_seen("the signal", &seen, 1).await;

    let spans = within("the spans", async {
        loop {
            let spans = exporter.get_finished_spans().unwrap();
            let names = |name| spans.iter().any(|s| s.name == name);
            if names("process /in") && names("dispatch") {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    let trace = TraceId::from_hex(TRACE).unwrap();
    let parent = SpanId::from_hex(PARENT).unwrap();
    let receive = spans.iter().find(|s| s.name == "process /in").unwrap();
    assert_eq!(receive.span_context.trace_id(), trace);
    assert_eq!(receive.parent_span_id, parent);
    assert!(receive.parent_span_is_remote);
    assert_eq!(receive.span_kind, SpanKind::Consumer);
    let linked: Vec<_> = (receive.links.links.iter())
        .map(|l| l.span_context.span_id())
        .collect();
    assert_eq!(linked, [parent], "the sender's context is the link");
    let dispatch = spans
        .iter()
        .find(|s| s.name == "dispatch" && s.parent_span_id == receive.span_context.span_id())
        .unwrap_or_else(|| panic!("no dispatch under the receive span: {spans:#?}"));
    assert_eq!(dispatch.span_context.trace_id(), trace);
}
