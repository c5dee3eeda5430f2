//! Herald in Prometheus and OpenTelemetry, as a production service wires it.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example observability --features metrics,opentelemetry
//! ```
//!
//! It installs `metrics-exporter-prometheus` as the metrics recorder and serves its
//! scrape on `/metrics` from actix-web; sends `tracing` spans to OpenTelemetry through
//! `tracing-opentelemetry` (a stdout exporter here: swap in `opentelemetry-otlp` for a
//! collector); then dispatches a few signals, inside a request's span, to an endpoint
//! that answers and one that fails behind a circuit breaker. It prints the
//! `traceparent` the answering endpoint received (the request's trace, carried on) and
//! Herald's lines of one scrape of `/metrics`. Pass `--serve` to keep serving `/metrics`
//! until Enter is pressed.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use herald::http::RetryPolicy;
use herald::prelude::*;
use herald::resilience::Breaker;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use serde_json::json;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The `traceparent` headers the answering endpoint received.
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

async fn answer(request: HttpRequest, seen: web::Data<Seen>) -> HttpResponse {
    let traceparent = request.headers().get("traceparent");
    if let Some(value) = traceparent.and_then(|v| v.to_str().ok()) {
        seen.0.lock().unwrap().push(value.to_owned());
    }
    HttpResponse::Ok().finish()
}

async fn metrics(handle: web::Data<PrometheusHandle>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(handle.render())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Metrics: the exporter's recorder, installed before any dispatcher starts (each
    // takes its handles when it starts).
    let prometheus = web::Data::new(PrometheusBuilder::new().install_recorder()?);
    // Spans: tracing -> OpenTelemetry -> stdout.
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let tracer = provider.tracer("observability-example");
    tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(tracer))
        .init();

    let seen = web::Data::new(Seen::default());
    let (state, handle) = (seen.clone(), prometheus.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(handle.clone())
            .route("/orders", web::post().to(answer))
            .route("/down", web::post().to(HttpResponse::ServiceUnavailable))
            .route("/metrics", web::get().to(metrics))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let base = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let stop = server.handle();
    actix_rt::spawn(server);

    let dispatcher = Dispatcher::builder()
        .metrics_every(Duration::from_millis(50))
        .start();
    let orders: Target = Target::http(&format!("{base}/orders"))?
        .retry(RetryPolicy::none())
        .into();
    // Its own endpoint (both share an origin), under a breaker.
    let down = Target::http(&format!("{base}/down"))?
        .retry(RetryPolicy::none())
        .with_resilience(
            Resilience::new()
                .endpoint("payments")
                .breaker(Breaker::new().failures(2)),
        );

    for n in 1..=4 {
        // The caller's span: Herald's dispatch and delivery spans hang under it, and
        // the signal carries its trace to the endpoints.
        let request = tracing::info_span!("checkout", order = n);
        let signal = Signal::new("order.placed", json!({ "order": n }))?;
        let dispatch = request.in_scope(|| Dispatch::new(signal, [orders.clone(), down.clone()]));
        let failed = dispatcher
            .send(dispatch)
            .await?
            .err()
            .map(|e| e.first().error.kind().name());
        eprintln!("dispatch {n}: the down endpoint failed with {failed:?}");
    }
    for traceparent in seen.0.lock().unwrap().iter() {
        eprintln!("the endpoint received traceparent {traceparent}");
    }

    // Let the sampled gauges (circuits, lanes, pauses) catch up, then scrape.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut response = awc::Client::default()
        .get(format!("{base}/metrics"))
        .send()
        .await?;
    let body = response.body().await?;
    eprintln!("\nHerald's metrics, scraped from {base}/metrics:");
    for line in String::from_utf8_lossy(&body).lines() {
        // Herald's and OpenTelemetry's series that counted something (an exporter also
        // shows what is registered and still zero, and every quantile).
        let ours = line.starts_with("herald_") || line.starts_with("messaging_");
        if ours && !line.ends_with(" 0") && !line.contains("quantile") {
            eprintln!("  {line}");
        }
    }

    if std::env::args().any(|arg| arg == "--serve") {
        eprintln!("\nServing {base}/metrics; press Enter to stop.");
        actix_rt::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await??;
    }
    stop.stop(true).await;
    provider.shutdown()?;
    Ok(())
}
