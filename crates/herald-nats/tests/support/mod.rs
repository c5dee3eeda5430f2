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

pub use herald_testkit::receiver::{Answer, Recorder, until_seen};
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

/// Every signal a [`start_collector`] kept, in arrival order.
pub type Seen = Mutex<Vec<Signal>>;

/// Starts an actor that keeps every signal it gets (herald-testkit's [`Recorder`]), with
/// room for 100,000 messages in its mailbox.
pub fn start_collector(answer: Answer) -> (Addr<Recorder<Seen>>, Arc<Seen>) {
    Recorder::start_with_capacity(answer, 100_000)
}

pub fn signal(n: u64) -> Signal {
    Signal::builder("order.placed")
        .source("/shop")
        .extension("tenant", "acme")
        .data(serde_json::json!({ "n": n }))
        .build()
        .unwrap()
}
