//! Herald's metrics as an application scrapes them: a Prometheus exporter installed as
//! the recorder, `/metrics` served by actix-web, deliveries to an endpoint that answers
//! and one that fails behind a breaker, then a real scrape over HTTP checked for names,
//! labels and values, and for what must never be a label.
#![cfg(all(feature = "metrics", feature = "http"))]

use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use herald::http::RetryPolicy;
use herald::metrics;
use herald::prelude::*;
use herald::resilience::Breaker;
use herald_testkit::within;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;

async fn scrape(url: &str) -> String {
    let client = awc::Client::default();
    let mut response = client.get(url).send().await.expect("scrape");
    assert!(response.status().is_success());
    let body = response.body().await.expect("scrape body");
    String::from_utf8(body.to_vec()).expect("utf-8")
}

/// The value of the sample whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[actix_rt::test]
async fn a_scrape_shows_deliveries_failures_circuits_and_durations() {
    // Installed before the dispatcher starts: it takes its handles then.
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only recorder of this test binary");
    let handle = web::Data::new(prometheus);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(handle.clone())
            .route("/ok", web::post().to(HttpResponse::Ok))
            .route("/down", web::post().to(HttpResponse::ServiceUnavailable))
            .route(
                "/metrics",
                web::get().to(|handle: web::Data<PrometheusHandle>| async move {
                    HttpResponse::Ok().body(handle.render())
                }),
            )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let base = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let stop = server.handle();
    actix_rt::spawn(server);

    let dispatcher = Dispatcher::builder()
        .metrics_every(Duration::from_millis(5))
        .start();
    let ok: Target = Target::http(&format!("{base}/ok"))
        .unwrap()
        .retry(RetryPolicy::none())
        .into();
    // Its own endpoint (both share an origin), under a breaker.
    let down = Target::http(&format!("{base}/down"))
        .unwrap()
        .retry(RetryPolicy::none())
        .with_resilience(
            Resilience::new()
                .endpoint("payments")
                .breaker(Breaker::new().failures(3)),
        );
    for n in 0..6 {
        let signal = Signal::new("order.placed", json!({ "n": n })).unwrap();
        let dispatch = Dispatch::new(signal, [ok.clone(), down.clone()]);
        let answer = within("a dispatch", dispatcher.send(dispatch))
            .await
            .unwrap();
        let error = answer.expect_err("the down endpoint fails");
        assert_eq!(error.failures().len(), 1);
    }
    // A target naming an adapter the dispatcher lacks: its name is data, not a label.
    let unknown = Target::from_config(json!({"adapter": "tenant-adapter-x"})).unwrap();
    let signal = Signal::new("order.placed", json!({})).unwrap();
    let _ = within(
        "a dispatch",
        dispatcher.send(Dispatch::new(signal, unknown)),
    )
    .await
    .unwrap();

    let url = format!("{base}/metrics");
    // The gauges are sampled: wait (bounded) for the sample that saw the open circuit.
    let text = within("the circuit gauge", async {
        loop {
            let text = scrape(&url).await;
            if value(&text, &format!("{}{{state=\"open\"}}", metrics::CIRCUITS)) == Some(1.0) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;

    let deliveries = |labels: &str| value(&text, &format!("{}{{{labels}}}", metrics::DELIVERIES));
    assert_eq!(value(&text, metrics::DISPATCHES), Some(7.0), "{text}");
    assert_eq!(
        deliveries(r#"adapter="http",status="ok",outcome="responded""#),
        Some(6.0),
        "{text}"
    );
    // Three 503s opened the circuit; the next three were refused by it.
    assert_eq!(
        deliveries(r#"adapter="http",status="error",outcome="http_status""#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        deliveries(r#"adapter="http",status="error",outcome="circuit_open""#),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        deliveries(r#"adapter="_unknown",status="error",outcome="invalid_target""#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(value(&text, metrics::SHORT_CIRCUITED), Some(3.0), "{text}");
    assert_eq!(
        value(
            &text,
            &format!("{}{{state=\"open\"}}", metrics::CIRCUIT_TRANSITIONS)
        ),
        Some(1.0),
        "{text}"
    );
    // Nine requests were made (three deliveries never reached the endpoint).
    assert_eq!(
        value(
            &text,
            &format!("{}{{adapter=\"http\"}}", metrics::DELIVERY_ATTEMPTS)
        ),
        Some(9.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("{}_count{{adapter=\"http\"}}", metrics::DELIVERY_DURATION)
        ),
        Some(12.0),
        "{text}"
    );
    assert_eq!(
        value(&text, &format!("{}_count", metrics::DISPATCH_DURATION)),
        Some(7.0),
        "{text}"
    );
    assert_eq!(
        value(&text, metrics::DELIVERIES_IN_FLIGHT),
        Some(0.0),
        "{text}"
    );
    // OpenTelemetry's messaging metric, under Prometheus' spelling of its name.
    assert_eq!(
        value(
            &text,
            r#"messaging_client_sent_messages{messaging_system="herald",messaging_operation_name="send",messaging_destination_name="http"}"#
        ),
        Some(6.0),
        "{text}"
    );
    // Bounded labels: no URL, address or name from data is ever one.
    for leak in ["127.0.0.1", "/down", "tenant-adapter-x"] {
        assert!(!text.contains(leak), "{leak} in a label: {text}");
    }

    // `Stats` counts the same deliveries.
    let stats = dispatcher.send(herald::Stats).await.unwrap();
    assert_eq!(stats.per_adapter["http"].delivered, 6);
    assert_eq!(stats.per_adapter["http"].failed, 6);
    stop.stop(true).await;
}
