//! The caller's OpenTelemetry trace, carried by Herald's HTTP deliveries to a real
//! receiver (feature `opentelemetry`): a signal without a `traceparent` gets the
//! caller's; one with its own keeps it.
#![cfg(all(feature = "opentelemetry", feature = "http"))]

use actix_web::{App, HttpResponse, HttpServer, web};
use herald::prelude::*;
use herald_testkit::within;
use serde_json::json;

/// A receiver that keeps the `traceparent` header of each request.
fn traceparent_receiver() -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<Option<String>>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let server = HttpServer::new(move || {
        let kept = kept.clone();
        App::new().default_service(web::to(move |request: actix_web::HttpRequest| {
            let header = request.headers().get("traceparent");
            let value = header.and_then(|v| v.to_str().ok()).map(str::to_owned);
            kept.lock().unwrap().push(value);
            async { HttpResponse::Ok().finish() }
        }))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let url = format!("http://{}/events", server.addrs()[0]);
    actix_rt::spawn(server.run());
    (url, seen)
}

#[actix_rt::test]
async fn an_http_delivery_carries_the_callers_opentelemetry_trace() {
    use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    use tracing_subscriber::layer::SubscriberExt;

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (url, seen) = traceparent_receiver();
    let dispatcher = Dispatcher::builder().start();
    let target = Target::http(&url).unwrap();

    let request = tracing::info_span!("checkout");
    let context = request.context();
    let trace_id = context.span().span_context().trace_id().to_string();
    let signal = Signal::new("order.placed", json!({})).unwrap();
    let dispatch = request.in_scope(|| Dispatch::new(signal, target.clone()));
    within("a dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();
    // A signal that carries a trace of its own keeps it: the producer's wins.
    let own = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let signal = Signal::builder("order.placed")
        .extension("traceparent", own)
        .build()
        .unwrap();
    let dispatch = request.in_scope(|| Dispatch::new(signal, target));
    within("a dispatch", dispatcher.send(dispatch))
        .await
        .unwrap()
        .unwrap();

    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    let carried = seen[0].as_deref().expect("a traceparent header");
    assert!(
        carried.starts_with(&format!("00-{trace_id}-")),
        "{carried} continues {trace_id}"
    );
    assert_eq!(seen[1].as_deref(), Some(own));
}
