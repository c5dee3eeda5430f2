//! With feature `opentelemetry`, a bridged signal's `process` span continues the
//! producer's OpenTelemetry trace: the signal's `traceparent` is its parent and its
//! link, and the local dispatch hangs under it in the same trace. Spans are collected
//! by the SDK's in-memory exporter. Alone in its binary (a thread-local subscriber).
#![cfg(feature = "opentelemetry")]

mod support;

use herald_core::{Dispatch, Dispatcher, Target};
use herald_nats::{Bridge, NatsDispatcherExt, NatsTarget};
use herald_signal::Signal;
use opentelemetry::trace::{SpanId, TraceId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use support::{Answer, NatsServer, start_collector, until_seen, within};
use tracing_subscriber::layer::SubscriberExt;

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[actix_rt::test]
async fn an_arrival_continues_the_producers_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let server = NatsServer::start();
    let client = server.client().await;
    let dispatcher = Dispatcher::builder()
        .pool_size(0)
        .nats(client.clone())
        .start();
    let (collector, seen) = start_collector(Answer::Accept);
    let _bridge = Bridge::new(
        client.clone(),
        "continued",
        dispatcher.clone(),
        [Target::pid(collector.recipient())],
    )
    .start()
    .await
    .unwrap();
    let traced = Signal::builder("t")
        .extension("traceparent", format!("00-{TRACE}-{PARENT}-01"))
        .build()
        .unwrap();
    let to = Target::from(NatsTarget::to("continued").unwrap());
    within("publish", dispatcher.send(Dispatch::new(traced, [to])))
        .await
        .unwrap()
        .unwrap();
    until_seen("the traced signal", &seen, 1).await;
    // The arrival's span ends once its dispatch is answered: wait (bounded) for it.
    let spans = within("the arrival's span", async {
        loop {
            let spans = exporter.get_finished_spans().unwrap();
            if spans.iter().any(|s| s.name == "process continued") {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    let trace = TraceId::from_hex(TRACE).unwrap();
    let parent = SpanId::from_hex(PARENT).unwrap();
    let arrival = spans
        .iter()
        .find(|s| s.name == "process continued")
        .unwrap();
    assert_eq!(arrival.span_context.trace_id(), trace);
    assert_eq!(arrival.parent_span_id, parent);
    assert!(arrival.parent_span_is_remote);
    assert_eq!(arrival.span_kind, opentelemetry::trace::SpanKind::Consumer);
    let linked: Vec<_> = arrival
        .links
        .links
        .iter()
        .map(|l| l.span_context.span_id())
        .collect();
    assert_eq!(linked, [parent], "the producer's context is the link");
    // The consuming node's dispatch continues the same trace, under the arrival.
    let dispatch = spans
        .iter()
        .find(|s| s.name == "dispatch" && s.parent_span_id == arrival.span_context.span_id())
        .unwrap_or_else(|| panic!("no dispatch under the arrival: {spans:#?}"));
    assert_eq!(dispatch.span_context.trace_id(), trace);
}
