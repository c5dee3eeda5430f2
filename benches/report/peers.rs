//! What Herald's side and the baselines deliver to, and the hand-written baselines.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix::prelude::*;
use base64::Engine as _;
use bytes::Bytes;
use futures_util::future::join_all;
use herald::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::signal;

/// A receiver that accepts everything: the baselines' target and the `pid` target.
pub(crate) struct Sink;

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Sink {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        Ok(())
    }
}

/// Answered once every message sent to the sink before it was handled.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Flush;

impl Handler<Flush> for Sink {
    type Result = ();

    fn handle(&mut self, _: Flush, _: &mut Context<Self>) {}
}

/// Waits until every sink has handled what was sent to it so far.
pub(crate) async fn flush(sinks: &[Addr<Sink>]) {
    for result in join_all(sinks.iter().map(|sink| sink.send(Flush))).await {
        result.expect("sink running");
    }
}

/// Receivers live on an arbiter of their own, as an application's actors would. The
/// arbiter stops with the scenario, so no scenario runs beside another's threads.
pub(crate) struct Receivers(Arbiter);

impl Drop for Receivers {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Receivers {
    pub(crate) fn new() -> Self {
        Self(Arbiter::new())
    }

    /// Starts `n` sinks and waits until each has handled a message, so that their
    /// mailbox capacity is in place before a scenario sends.
    pub(crate) async fn start(&self, n: usize) -> Vec<Addr<Sink>> {
        let sinks: Vec<Addr<Sink>> = (0..n)
            .map(|_| {
                // Room for every async delivery a scenario makes before the sink catches
                // up, set before the sink runs (not in `started`, which would race the
                // first sends).
                Sink::start_in_arbiter(&self.0.handle(), |ctx| {
                    ctx.set_mailbox_capacity(1 << 20);
                    Sink
                })
            })
            .collect();
        for sink in &sinks {
            let ready = sink.send(SignalMessage::new(signal())).await;
            ready.expect("sink started").expect("sink accepts");
        }
        sinks
    }

    pub(crate) fn handle(&self) -> ArbiterHandle {
        self.0.handle()
    }
}

/// The relay floor: a minimal actor that takes one message holding N recipients,
/// sends to each, and answers when done — the least any "send a `Dispatch` to an
/// actor" design can cost. It runs where the dispatcher runs.
pub(crate) struct Relay;

impl Actor for Relay {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(1024);
    }
}

/// What the relay does per recipient.
#[derive(Clone)]
pub(crate) enum Work {
    /// Nothing, `n` times (the floor for `noop` targets).
    Nothing(usize),
    /// `try_send` to each (async mailbox targets).
    Enqueue(Arc<[Recipient<SignalMessage>]>),
    /// `send` to each, awaiting every answer (sync mailbox targets), each wait bounded
    /// by actix's own `timeout` when there is a bound. Herald bounds every sync wait
    /// (by the target's timeout), so the bounded floor does the same work; the
    /// unbounded one does less (a stalled receiver holds it forever).
    Call(Arc<[Recipient<SignalMessage>]>, Option<Duration>),
}

/// One signal for the relay to pass on.
pub(crate) struct Relayed {
    pub(crate) signal: Arc<Signal>,
    pub(crate) work: Work,
}

impl Message for Relayed {
    /// One result per recipient, as a dispatch report has.
    type Result = Vec<Result<(), &'static str>>;
}

impl Handler<Relayed> for Relay {
    type Result = Response<Vec<Result<(), &'static str>>>;

    fn handle(&mut self, relayed: Relayed, _: &mut Context<Self>) -> Self::Result {
        let Relayed { signal, work } = relayed;
        match work {
            Work::Nothing(n) => Response::reply((0..n).map(|_| Ok(())).collect()),
            Work::Enqueue(recipients) => Response::reply(
                recipients
                    .iter()
                    .map(|r| {
                        r.try_send(SignalMessage::new(Arc::clone(&signal)))
                            .map_err(|_| "full")
                    })
                    .collect(),
            ),
            Work::Call(recipients, bound) => Response::fut(async move {
                let calls = recipients.iter().map(|r| {
                    let call = r.send(SignalMessage::new(Arc::clone(&signal)));
                    match bound {
                        Some(bound) => call.timeout(bound),
                        None => call,
                    }
                });
                join_all(calls)
                    .await
                    .into_iter()
                    .map(|answer| match answer {
                        Ok(Ok(())) => Ok(()),
                        _ => Err("failed"),
                    })
                    .collect()
            }),
        }
    }
}

/// Sends one signal through the relay and checks every result.
pub(crate) async fn relay(relay: &Addr<Relay>, signal: &Arc<Signal>, work: &Work) {
    let results = relay
        .send(Relayed {
            signal: Arc::clone(signal),
            work: work.clone(),
        })
        .await
        .expect("relay running");
    assert!(results.iter().all(Result::is_ok));
}

/// The webhook baseline: raw awc that signs each request (Standard Webhooks), one
/// actor per arbiter as Herald's pool has, each with its own client.
pub(crate) struct Poster {
    client: Option<awc::Client>,
    key: Arc<[u8]>,
}

impl Poster {
    pub(crate) fn start_on_current(key: &[u8]) -> Addr<Poster> {
        Poster {
            client: None,
            key: key.into(),
        }
        .start()
    }

    pub(crate) fn start_on(arbiters: &[Arbiter], key: &[u8]) -> Vec<Addr<Poster>> {
        arbiters
            .iter()
            .map(|arbiter| {
                let key: Arc<[u8]> = key.into();
                Poster::start_in_arbiter(&arbiter.handle(), move |_| Poster { client: None, key })
            })
            .collect()
    }
}

impl Actor for Poster {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        // Same settings as Herald's client: no redirects, a timeout per request.
        self.client = Some(
            awc::Client::builder()
                .disable_redirects()
                .disable_timeout()
                .finish(),
        );
    }
}

/// Post `body` for signal `id` to `url`, signed.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct Post {
    pub(crate) url: Arc<str>,
    pub(crate) id: Arc<str>,
    pub(crate) body: Bytes,
}

impl Handler<Post> for Poster {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, post: Post, _: &mut Context<Self>) -> Self::Result {
        let client = self.client.clone().expect("started");
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("any key length");
        mac.update(post.id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(&post.body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let request = client
            .post(&*post.url)
            .timeout(Duration::from_secs(5))
            .insert_header(("content-type", "application/cloudevents+json"))
            .insert_header(("webhook-id", &*post.id))
            .insert_header(("webhook-timestamp", timestamp.to_string()))
            .insert_header(("webhook-signature", format!("v1,{signature}")));
        Box::pin(async move {
            let mut response = request
                .send_body(post.body)
                .await
                .expect("receiver answers");
            assert!(response.status().is_success());
            let _ = response.body().await;
        })
    }
}

/// A receiver whose handler waits for the gate to open: what keeps calls outstanding
/// while memory is measured.
pub(crate) struct Gate {
    open: Arc<tokio::sync::Semaphore>,
    entered: Arc<AtomicUsize>,
}

impl Gate {
    pub(crate) fn start(
        arbiter: &ArbiterHandle,
    ) -> (Addr<Gate>, Arc<tokio::sync::Semaphore>, Arc<AtomicUsize>) {
        let open = Arc::new(tokio::sync::Semaphore::new(0));
        let entered = Arc::new(AtomicUsize::new(0));
        let gate = Gate {
            open: Arc::clone(&open),
            entered: Arc::clone(&entered),
        };
        let addr = Gate::start_in_arbiter(arbiter, move |ctx| {
            ctx.set_mailbox_capacity(1 << 20);
            gate
        });
        (addr, open, entered)
    }
}

impl Actor for Gate {
    type Context = Context<Self>;
}

impl Handler<SignalMessage> for Gate {
    type Result = ResponseFuture<Result<(), Rejection>>;

    fn handle(&mut self, _: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.entered.fetch_add(1, Ordering::SeqCst);
        let open = Arc::clone(&self.open);
        Box::pin(async move {
            // Closed means open for good.
            let _ = open.acquire().await;
            Ok(())
        })
    }
}

/// A loopback actix-web receiver on its own thread (and its own actix system).
pub(crate) fn http_receiver() -> u16 {
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix::System::new().block_on(async move {
            let server = actix_web::HttpServer::new(|| {
                actix_web::App::new().default_service(actix_web::web::to(
                    |_body: actix_web::web::Bytes| async { actix_web::HttpResponse::Ok().finish() },
                ))
            })
            .workers(1)
            .bind(("127.0.0.1", 0))
            .expect("bind loopback");
            port_tx
                .send(server.addrs()[0].port())
                .expect("report the port");
            server.run().await.expect("receiver runs");
        });
    });
    port_rx.recv().expect("receiver started")
}
