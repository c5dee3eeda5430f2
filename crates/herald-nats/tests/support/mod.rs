//! What the NATS tests share: a real `nats-server` (from `herald-testkit`), an actor
//! that keeps what it gets, bounded waits.
#![allow(dead_code, unreachable_pub, unused_imports)]

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use actix::prelude::*;
use herald_core::{Rejection, SignalMessage};
use herald_signal::Signal;

pub use herald_testkit::{Log, within};

/// A running server (see `herald_testkit::nats`), failing the test when there is none.
pub struct NatsServer(herald_testkit::nats::NatsServer);

impl NatsServer {
    /// Starts a server on a free loopback port, and waits until it takes connections.
    pub fn start() -> Self {
        Self(herald_testkit::nats::NatsServer::start().unwrap_or_else(|e| panic!("{e}")))
    }

    pub fn url(&self) -> String {
        self.0.url()
    }

    /// Kills the server (as a crash would).
    pub fn kill(&mut self) {
        self.0.kill();
    }

    /// Starts it again on the same port and store.
    pub fn restart(&mut self) {
        self.0.restart().unwrap_or_else(|e| panic!("{e}"));
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
