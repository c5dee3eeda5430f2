//! A real actix-web receiver on 127.0.0.1 for the HTTP tests: scripted replies, every
//! request recorded, connections counted.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use herald_core::{Dispatch, DispatchResult, Dispatcher, Target};
use herald_http::HttpDispatcherExt;
use herald_signal::Signal;

/// Awaits `future`, failing the test after 30 s.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("did not finish in time: {what}"))
}

/// What the receiver answers, in order; once the script is done it answers 200.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    With(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// Never answers.
    Hang,
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(n, _)| n == name).count()
    }
}

#[derive(Debug, Default)]
pub struct State {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<Recorded>>,
    connections: AtomicUsize,
}

/// A running receiver.
pub struct Receiver {
    pub url: String,
    pub state: Arc<State>,
    handle: ServerHandle,
}

impl Receiver {
    /// Starts a receiver that answers with `script`, then 200.
    pub fn start(script: impl IntoIterator<Item = Reply>) -> Self {
        let state = Arc::new(State::default());
        state.script.lock().unwrap().extend(script);
        let shared = state.clone();
        let counted = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(8 * 1024 * 1024))
                .default_service(web::to(handle))
        })
        .workers(1)
        .on_connect(move |_, _| {
            counted.connections.fetch_add(1, Ordering::SeqCst);
        })
        .bind(("127.0.0.1", 0))
        .expect("bind a loopback port");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn handle(request: HttpRequest, body: Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    state.requests.lock().unwrap().push(Recorded {
        at: Instant::now(),
        method: request.method().to_string(),
        headers: request
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    v.to_str().unwrap_or("<binary>").to_owned(),
                )
            })
            .collect(),
        body,
    });
    let reply = state.script.lock().unwrap().pop_front();
    match reply {
        None => HttpResponse::Ok().finish(),
        Some(Reply::Status(status)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
        }
        Some(Reply::With(status, headers, body)) => {
            let mut response =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            for (name, value) in headers {
                response.insert_header((name, value));
            }
            response.body(body)
        }
        Some(Reply::Hang) => std::future::pending().await,
    }
}

pub fn signal() -> Signal {
    Signal::builder("invoice.paid")
        .source("/billing")
        .extension("tenant", "acme")
        .data(serde_json::json!({"amount": 42}))
        .build()
        .unwrap()
}

pub fn dispatcher() -> actix::Addr<Dispatcher> {
    Dispatcher::builder().pool_size(1).with_http().start()
}

/// Dispatches `signal` to one target.
pub async fn deliver(
    dispatcher: &actix::Addr<Dispatcher>,
    signal: Signal,
    target: impl Into<Target>,
) -> DispatchResult {
    within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal, [target.into()])),
    )
    .await
    .expect("dispatcher running")
}

/// A loopback port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
