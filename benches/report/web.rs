//! Receiving signals over HTTP: Herald's ingress against a bare actix-web handler doing
//! the same work (feature `web`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use bytes::Bytes;
use futures_util::StreamExt as _;
use herald::prelude::*;

use crate::{Scale, measure};

/// Counts what it gets: the one subscriber on both sides.
struct Counter(Arc<AtomicUsize>);

impl Actor for Counter {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Room for every signal of a run: the baseline's `try_send` must not fail.
        ctx.set_mailbox_capacity(1 << 20);
    }
}

impl Handler<SignalMessage> for Counter {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// The bare handler: parse the event with serde, `try_send` it to the actor, 202.
async fn bare(body: Bytes, actor: web::Data<Recipient<SignalMessage>>) -> HttpResponse {
    let Ok(signal) = serde_json::from_slice::<Signal>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let id = signal.id().to_owned();
    match actor.try_send(SignalMessage::new(Arc::new(signal))) {
        Ok(()) => HttpResponse::Accepted().json(serde_json::json!({ "accepted": [id] })),
        Err(_) => HttpResponse::TooManyRequests().finish(),
    }
}

/// `n` structured signals POSTed by 64 concurrent clients to Herald's ingress (to a bus
/// with one actor subscriber), until the actor has them all, against the same POSTs to
/// a bare actix-web handler that parses the JSON with serde and `try_send`s it to the
/// same actor. One server worker each, on loopback.
pub(crate) async fn ingress(scale: &Scale) -> (f64, f64) {
    let n = scale.of(10_000, 200);
    let count = Arc::new(AtomicUsize::new(0));
    let counter = Counter(Arc::clone(&count)).start();
    let bus = Bus::new().start();
    bus.send(
        Subscribe::new("bench.**", [Target::pid(counter.clone().recipient())])
            .expect("a valid pattern"),
    )
    .await
    .expect("bus running");
    let dispatcher = crate::builder().bus("events", bus).start();
    let events = Target::bus("events").expect("a valid name");
    let recipient = counter.recipient::<SignalMessage>();

    let herald = HttpServer::new(move || {
        App::new().service(herald::web::ingress(dispatcher.clone(), events.clone()).at("/in"))
    });
    let bare = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(recipient.clone()))
            .route("/in", web::post().to(bare))
    });
    // One worker each, on a free loopback port: the URL and the handle.
    macro_rules! serve {
        ($server:expr) => {{
            let server = ($server)
                .workers(1)
                .disable_signals()
                .bind(("127.0.0.1", 0))
                .expect("a free port");
            let url = format!("http://127.0.0.1:{}/in", server.addrs()[0].port());
            let running = server.run();
            let handle = running.handle();
            actix_rt::spawn(running);
            (url, handle)
        }};
    }
    let (herald_url, herald_handle) = serve!(herald);
    let (bare_url, bare_handle) = serve!(bare);
    let bodies: Vec<Bytes> = (0..n)
        .map(|i| {
            let signal = Signal::builder("bench.signal")
                .id(format!("in-{i}"))
                .source("/bench")
                .data(serde_json::json!({"id": i, "name": "Ada"}))
                .build()
                .expect("valid signal");
            Bytes::from(signal.to_json_vec())
        })
        .collect();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let run = |url: String| {
        let (client, bodies, count) = (client.clone(), bodies.clone(), Arc::clone(&count));
        async move {
            let before = count.load(Ordering::Relaxed);
            futures_util::stream::iter(bodies)
                .map(|body| {
                    client
                        .post(url.as_str())
                        .insert_header(("content-type", herald::signal::STRUCTURED))
                        .send_body(body)
                })
                .buffer_unordered(64)
                .for_each(|sent| async move {
                    let status = sent.expect("the server answers").status();
                    assert_eq!(status.as_u16(), 202, "every signal taken");
                })
                .await;
            while count.load(Ordering::Relaxed) < before + n {
                actix_rt::time::sleep(Duration::from_micros(200)).await;
            }
        }
    };
    let result = measure(scale, || run(herald_url.clone()), || run(bare_url.clone())).await;
    herald_handle.stop(false).await;
    bare_handle.stop(false).await;
    result
}
