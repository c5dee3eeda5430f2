//! Receiving signals over HTTP and operating Herald from a page, on this machine.
//!
//! Run it with:
//!
//! ```sh
//! cargo run --example ingress --features web
//! ```
//!
//! It serves, on 127.0.0.1:8080 (or `HERALD_ADDR`):
//!
//! - `POST /events` — the ingress: a CloudEvent (structured, binary or a batch) goes to
//!   the bus `events`, whose subscribers are an audit actor (every `order.**`) and a
//!   partner's signed webhook (`order.paid`), with a circuit breaker and a dead-letter
//!   queue;
//! - `/partner` — the partner's receiver, here in the same process: it verifies the
//!   webhook's signature with `Verified<SignalBody>`, and fails (503) while it is
//!   "down" — `POST /partner/up` and `/partner/down` switch it, `GET /partner/count`
//!   says how many webhooks it took;
//! - `/ops/` — the operations page (and `/ops/api/...`), guarded: it admits only
//!   requests from this machine's loopback address.
//!
//! Try it:
//!
//! ```sh
//! curl -i localhost:8080/events -H 'content-type: application/cloudevents+json' \
//!   -d '{"specversion":"1.0","id":"o-1","source":"/shop","type":"order.paid","data":{"total":42}}'
//! ```
//!
//! Three of those while the partner is down open its circuit and fill the dead letters;
//! the page shows both, and its buttons reset the circuit and redrive them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, guard, web};
use herald::http::RetryPolicy;
use herald::prelude::*;
use herald::resilience::{Breaker, DeadLetterQueue};
use herald::web::{Operations, SignalBody, Verification, Verified, VerifyKey, WebhookSecret};

/// The partner's webhook secret (a demo value: keep real ones out of source).
const PARTNER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// The audit actor: prints every order signal it gets.
struct Audit;

impl Actor for Audit {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Audit {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let signal = message.signal();
        println!("audit     {} {}", signal.ty(), signal.id());
        Ok(())
    }
}

/// The partner's receiver: up or down, and how many webhooks it took.
#[derive(Default)]
struct Partner {
    up: AtomicBool,
    took: AtomicUsize,
}

async fn partner_receive(
    request: HttpRequest,
    partner: web::Data<Partner>,
    verification: web::Data<Verification>,
    Verified(body): Verified<SignalBody>,
) -> HttpResponse {
    if !partner.up.load(Ordering::SeqCst) {
        println!("partner   503 (down)");
        // Not taken after all: the sender's retry (same webhook id) must not be
        // refused as a replay.
        verification.forget(&request);
        return HttpResponse::ServiceUnavailable().finish();
    }
    for signal in body.signals() {
        partner.took.fetch_add(1, Ordering::SeqCst);
        println!(
            "partner   took {} {} (signature verified)",
            signal.ty(),
            signal.id()
        );
    }
    HttpResponse::Ok().finish()
}

async fn partner_switch(partner: web::Data<Partner>, path: web::Path<String>) -> HttpResponse {
    let up = path.as_str() == "up";
    partner.up.store(up, Ordering::SeqCst);
    println!("partner   switched {}", if up { "up" } else { "down" });
    HttpResponse::NoContent().finish()
}

async fn partner_count(partner: web::Data<Partner>) -> HttpResponse {
    HttpResponse::Ok().body(partner.took.load(Ordering::SeqCst).to_string())
}

#[actix::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::var("HERALD_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".to_owned());
    let listener = std::net::TcpListener::bind(&addr)?;
    let base = format!("http://{}", listener.local_addr()?);

    let queue = DeadLetterQueue::default().start();
    // The partner's webhook: signed, one attempt, a breaker opening after three
    // failures in a row, failures kept in the dead-letter queue.
    let webhook: Target = Target::webhook(&format!("{base}/partner"))?
        .secret(PARTNER_SECRET)?
        .retry(RetryPolicy::none())
        .into();
    let webhook = webhook.with_resilience(
        Resilience::new()
            .breaker(
                Breaker::new()
                    .failures(3)
                    .cooldown(Duration::from_secs(600)),
            )
            .dead_letter(Target::pid(queue.clone().recipient())),
    );

    let bus = Bus::new().start();
    let audit = Audit.start();
    bus.send(Subscribe::new(
        "order.**",
        [Target::pid(audit.recipient())],
    )?)
    .await?;
    bus.send(Subscribe::new("order.paid", [webhook.clone()])?)
        .await?;
    let dispatcher = Dispatcher::builder().bus("events", bus).start();

    let operations = Operations::new(dispatcher.clone())
        .dead_letters(queue, [webhook])
        // Only this machine: the page can pause endpoints and redrive dead letters.
        .guard(guard::fn_guard(|ctx| {
            ctx.head()
                .peer_addr
                .is_some_and(|peer| peer.ip().is_loopback())
        }))
        .refresh_every(Duration::from_secs(2));
    let verification =
        Verification::new([VerifyKey::from(WebhookSecret::standard(PARTNER_SECRET)?)]);
    let partner = web::Data::new(Partner::default());
    let events = Target::bus("events")?;

    let server = HttpServer::new(move || {
        App::new()
            .service(
                web::scope("/events")
                    .service(herald::web::ingress(dispatcher.clone(), events.clone())),
            )
            .service(
                web::scope("/partner")
                    .app_data(partner.clone())
                    .app_data(web::Data::new(verification.clone()))
                    .route("", web::post().to(partner_receive))
                    .route("/count", web::get().to(partner_count))
                    .route("/{switch:up|down}", web::post().to(partner_switch)),
            )
            .service(operations.clone().scope("/ops").expect("it has a guard"))
    })
    .workers(2)
    .listen(listener)?
    .run();
    println!("ingress   {base}/events");
    println!("operations {base}/ops/");
    server.await?;
    Ok(())
}
