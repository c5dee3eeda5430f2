//! A real actix-web receiver on 127.0.0.1 for the HTTP tests: scripted replies, every
//! request recorded, connections counted.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::web::{self, Bytes};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer};
use herald_core::{Dispatch, DispatchResult, Dispatcher, Target};
use herald_signal::Signal;

pub use herald_testkit::{Log, within};

/// What the receiver answers, in order; once the script is done it answers 200.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    With(u16, Vec<(&'static str, String)>, Vec<u8>),
    /// Never answers.
    Hang,
}

/// A recorded request's headers as the `http` crate's map (what axum, hyper and the
/// official Standard Webhooks crate take).
pub fn http_headers(recorded: &Recorded) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in &recorded.headers {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub at: Instant,
    pub method: String,
    /// The request's path and query.
    pub uri: String,
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
        Self::start_on(0, script)
    }

    /// Starts a receiver on loopback port `port` (0: any free one).
    pub fn start_on(port: u16, script: impl IntoIterator<Item = Reply>) -> Self {
        Self::start_at("127.0.0.1", port, true, script)
    }

    /// Starts a receiver on loopback address `ip` (any of 127.0.0.0/8) and `port` (0:
    /// any free one), keeping connections alive or closing each after its answer.
    pub fn start_at(
        ip: &str,
        port: u16,
        keep_alive: bool,
        script: impl IntoIterator<Item = Reply>,
    ) -> Self {
        assert!(ip.starts_with("127."), "tests listen on loopback only");
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
        .keep_alive(if keep_alive {
            actix_web::http::KeepAlive::default()
        } else {
            actix_web::http::KeepAlive::Disabled
        })
        .on_connect(move |_, _| {
            counted.connections.fetch_add(1, Ordering::SeqCst);
        })
        .bind((ip, port))
        .expect("bind a loopback port");
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        actix_rt::spawn(server);
        Self {
            url: format!("http://{ip}:{port}/hook"),
            state,
            handle,
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests.lock().unwrap().clone()
    }

    pub fn port(&self) -> u16 {
        let authority = self.url.trim_start_matches("http://");
        let port = authority
            .split(['/', ':'])
            .nth(1)
            .expect("a port in the url");
        port.parse().expect("a numeric port")
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
        uri: request.uri().to_string(),
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

/// A dispatcher as shipped: default pool size.
pub fn dispatcher() -> actix::Addr<Dispatcher> {
    Dispatcher::builder().start()
}

/// A dispatcher whose HTTP adapters run on a pool of one arbiter.
pub fn pooled_dispatcher() -> actix::Addr<Dispatcher> {
    Dispatcher::builder().pool_size(1).start()
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

/// How a [`RawReceiver`] misbehaves after reading a request.
#[derive(Debug, Clone, Copy)]
pub enum Raw {
    /// Sends a status line and headers promising a 1,000-byte body, then nothing.
    StatusThenSilence(u16),
    /// Sends a status line, then the body one byte per period.
    Trickle(u16, Duration),
    /// Reads the request and never answers.
    SilentHead,
    /// Answers with bytes that are not HTTP, then closes.
    Garbage,
    /// Reads the request, then closes the connection without answering.
    Close,
    /// Reads nothing and closes the connection with the request unread, which makes
    /// the kernel reset it (RST).
    Reset,
    /// Accepts the connection and never reads from it, for 30 s.
    NeverRead,
}

/// A TCP receiver on 127.0.0.1 that speaks just enough HTTP to misbehave. Each
/// connection is served by a thread that ends when the client closes it, or after
/// 60 s at the latest.
pub struct RawReceiver {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
}

impl RawReceiver {
    pub fn start(behaviour: Raw) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let counted = counted.clone();
                std::thread::spawn(move || serve_raw(stream, behaviour, &counted));
            }
        });
        Self { url, requests }
    }
}

fn serve_raw(mut stream: std::net::TcpStream, behaviour: Raw, requests: &AtomicUsize) {
    use std::io::{Read, Write};
    if let Raw::NeverRead = behaviour {
        requests.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(30));
        return;
    }
    if let Raw::Reset = behaviour {
        // Wait for the request's first bytes without reading them: closing a socket
        // with unread data resets the connection.
        let mut byte = [0u8; 1];
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let _ = stream.peek(&mut byte);
        requests.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let until = Instant::now() + Duration::from_secs(60);
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    // Read one request: its head, then as many body bytes as it announces.
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(_) if Instant::now() < until => continue,
            Err(_) => return,
        }
    };
    let head = String::from_utf8_lossy(&seen[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0);
    while seen.len() < head_end + length && Instant::now() < until {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            Ok(n) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => continue,
        }
    }
    requests.fetch_add(1, Ordering::SeqCst);
    let head_of = |status: u16| {
        format!("HTTP/1.1 {status} Whatever\r\ncontent-length: 1000\r\n\r\n").into_bytes()
    };
    match behaviour {
        Raw::StatusThenSilence(status) => {
            let _ = stream.write_all(&head_of(status));
        }
        Raw::Trickle(status, period) => {
            if stream.write_all(&head_of(status)).is_err() {
                return;
            }
            for _ in 0..1000 {
                std::thread::sleep(period);
                if stream.write_all(b"x").is_err() || Instant::now() > until {
                    return;
                }
            }
        }
        Raw::SilentHead => {}
        Raw::Garbage => {
            let _ = stream.write_all(b"this is not http\r\n\r\n");
            return;
        }
        Raw::Close | Raw::Reset | Raw::NeverRead => return,
    }
    // Hold the connection until the client closes it.
    while Instant::now() < until {
        match stream.read(&mut buffer) {
            Ok(0) => return,
            _ => continue,
        }
    }
}
