//! Delivery that survives a failing endpoint, on this machine.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example resilience
//! ```
//!
//! It starts a local actix-web endpoint that answers 503 until it is told to recover,
//! and sends it a signal every 100 ms through a dispatcher with a circuit breaker
//! (3 failures open it, 1 s cooldown) and a dead-letter queue. It prints each
//! delivery, each circuit transition (they arrive as signals at an "operator" actor),
//! and at the end redrives the dead letters to the recovered endpoint.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use herald::http::RetryPolicy;
use herald::prelude::*;
use herald::resilience::{Breaker, DeadLetterQueue, Redrive, TakeDeadLetters};
use serde_json::json;

/// The endpoint's state: down until told otherwise; requests counted.
#[derive(Default)]
struct Endpoint {
    up: AtomicBool,
    requests: AtomicUsize,
}

async fn receive(endpoint: web::Data<Endpoint>) -> HttpResponse {
    let n = endpoint.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if endpoint.up.load(Ordering::SeqCst) {
        println!("  endpoint  request {n:>2}: 200");
        HttpResponse::Ok().finish()
    } else {
        println!("  endpoint  request {n:>2}: 503");
        HttpResponse::ServiceUnavailable().finish()
    }
}

/// Prints the circuit signals it gets, as an alerting hook would.
struct Operator;

impl Actor for Operator {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Operator {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let data = message.signal().data().and_then(|d| d.as_json()).cloned();
        let endpoint = data.as_ref().map_or(json!(null), |d| d["endpoint"].clone());
        println!("  operator  {} ({endpoint})", message.ty());
        Ok(())
    }
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = web::Data::new(Endpoint::default());
    let state = endpoint.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .default_service(web::to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))?;
    let url = format!("http://{}/orders", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_rt::spawn(server);

    let queue = DeadLetterQueue::default().start();
    let operator = Operator.start();
    let dispatcher = Dispatcher::builder()
        .resilience(
            Resilience::new()
                .breaker(Breaker::new().failures(3).cooldown(Duration::from_secs(1)))
                .dead_letter(Target::pid(queue.clone().recipient()).sync()),
        )
        .circuit_signals([Target::pid(operator.recipient())])
        .start();
    let target: Target = Target::http(&url)?.retry(RetryPolicy::none()).into();

    println!("The endpoint is down; the breaker opens after 3 failures:");
    for n in 1..=16 {
        if n == 12 {
            println!("The endpoint recovers; the next probe closes the circuit:");
            endpoint.up.store(true, Ordering::SeqCst);
        }
        let signal = Signal::new("order.placed", json!({ "order": n }))?;
        let result = dispatcher
            .send(Dispatch::new(signal, target.clone()))
            .await?;
        match result {
            Ok(_) => println!("dispatch {n:>2}: delivered"),
            Err(error) => {
                let failure = &error.first().error;
                let dead = failure
                    .dead_letter()
                    .map_or_else(String::new, |d| format!(" → {d}"));
                println!("dispatch {n:>2}: {}{dead}", failure.kind());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let report = queue
        .send(Redrive::new(dispatcher.clone(), vec![target.clone()]))
        .await?;
    println!(
        "Redrive: {} dead letters delivered to the recovered endpoint, {} failed again, {} matched no target",
        report.redriven, report.failed, report.unmatched
    );
    let left = queue.send(TakeDeadLetters).await?;
    println!(
        "The endpoint saw {} requests; {} dead letters are left.",
        endpoint.requests.load(Ordering::SeqCst),
        left.len()
    );
    handle.stop(true).await;
    Ok(())
}
