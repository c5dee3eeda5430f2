//! Signed webhooks, end to end, on this machine.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example webhook
//! ```
//!
//! It starts a local actix-web receiver that checks every request's signature with
//! `herald::http::verify`, then sends it signed signals: one signed with Standard
//! Webhooks, one with the jido-compatible scheme, one to an endpoint that fails once
//! (503) and recovers on the retry, and one with the wrong secret, which the receiver
//! refuses. It prints what happened to each.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use herald::http::{DEFAULT_TOLERANCE, HttpTarget, RetryPolicy, WebhookSecret, verify};
use herald::prelude::*;
use serde_json::json;

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const JIDO_SECRET: &str = "jido-shared-secret";

/// The receiver: verifies with the secret its path names; `/flaky` fails once first.
async fn receive(request: HttpRequest, body: Bytes, flaky: web::Data<AtomicUsize>) -> HttpResponse {
    let path = request.path().to_owned();
    if path == "/flaky" && flaky.fetch_add(1, Ordering::SeqCst) == 0 {
        println!("receiver  {path:<10} 503 (failing once on purpose)");
        return HttpResponse::ServiceUnavailable().finish();
    }
    let secret = if path == "/jido" {
        WebhookSecret::jido(JIDO_SECRET)
    } else {
        WebhookSecret::standard(STANDARD_SECRET)
    }
    .expect("valid secret");
    match verify(request.headers(), &body, &secret, DEFAULT_TOLERANCE) {
        Ok(()) => {
            println!(
                "receiver  {path:<10} 200 signature ok ({} scheme)",
                secret.scheme()
            );
            HttpResponse::Ok().finish()
        }
        Err(error) => {
            println!("receiver  {path:<10} 401 {error}");
            HttpResponse::Unauthorized().body(error.to_string())
        }
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flaky = web::Data::new(AtomicUsize::new(0));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(flaky.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let base = format!("http://127.0.0.1:{}", server.addrs()[0].port());
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    let dispatcher = Dispatcher::builder().start();
    let retry = RetryPolicy::new(3, Duration::from_millis(50), Duration::from_secs(1))?;
    let targets: Vec<(&str, HttpTarget)> = vec![
        (
            "standard",
            Target::webhook(&format!("{base}/standard"))?.secret(STANDARD_SECRET)?,
        ),
        (
            "jido",
            Target::webhook(&format!("{base}/jido"))?.jido_secret(JIDO_SECRET)?,
        ),
        (
            "flaky",
            Target::webhook(&format!("{base}/flaky"))?
                .secret(STANDARD_SECRET)?
                .retry(retry),
        ),
        (
            "wrong key",
            Target::webhook(&format!("{base}/standard"))?
                .secret("whsec_d3JvbmcgLSBub3QgdGhlIHNoYXJlZCBzZWNyZXQ=")?,
        ),
    ];
    let signal = Arc::new(
        Signal::builder("invoice.paid")
            .source("/billing")
            .data(json!({"amount": 42}))
            .build()?,
    );

    for (name, target) in targets {
        let result = dispatcher
            .send(Dispatch::new(Arc::clone(&signal), [target]))
            .await?;
        match result {
            Ok(report) => println!("sender    {name:<10} {:?}", report.outcomes()[0]),
            Err(error) => println!("sender    {name:<10} {}", error.first().error),
        }
    }
    handle.stop(true).await;
    Ok(())
}
