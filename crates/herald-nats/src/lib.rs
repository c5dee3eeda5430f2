//! Herald across nodes, on NATS.
//!
//! - [`NatsAdapter`]: the `nats` adapter publishes signals to subjects (structured or
//!   binary CloudEvents, core NATS or JetStream with acknowledgement).
//! - [`Bridge`]: subscribes to subjects (wildcards, queue groups) and dispatches what
//!   arrives to local targets, with bounded in-flight work.
//! - Remote named actors: [`expose`] makes a local actor reachable by name from other
//!   nodes; the `nats_named` adapter ([`RemoteNamedTarget`]) reaches it, async by publish
//!   or sync by request/reply.
//! - Durable delivery: [`Durable`] persists signals in a JetStream stream and a durable
//!   consumer delivers them to local targets, acknowledging only what was delivered;
//!   [`Durable::replay`] delivers a stretch of the stream again (after an outage).
//! - [`DeadLetterStore`]: dead letters kept in a JetStream stream, listed, redriven and
//!   expired there.
//! - [`SupervisedClient`]: a client replaced when its connection task dies, with the
//!   bridges, exposed names and durable consumers on it.
//!
//! Register the adapters with [`NatsDispatcherExt::nats`]. The guide is
//! `docs/DISTRIBUTED.md`.

mod adapter;
mod bridge;
mod codec;
mod confirm;
mod connect;
mod dead_letters;
mod durable;
mod guard;
mod publish;
mod remote;
mod replay;
mod stream;
mod subject;
mod supervise;
pub mod tally;
mod trace;
mod window;

pub use adapter::{NatsAdapter, NatsTarget};
pub use bridge::{Bridge, BridgeStats, RunningBridge};
pub use codec::{BodyMode, DecodeError, STRUCTURED, decode, encode};
pub use confirm::server_has_read;
pub use connect::{NatsError, NatsOptions, QUIET_CREDENTIALS};
pub use dead_letters::{DeadLetterStore, LetterFilter, StoreStats, StoredLetter};
pub use durable::{ConsumerStats, Durable, DurableConsumer, RunningConsumer};
pub use remote::{Exposed, MAX_CALLS, NAMED_PREFIX, RemoteNamedAdapter, RemoteNamedTarget, expose};
pub use replay::{Replay, ReplayReport};
pub use stream::{Retention, StreamSettings};
pub use subject::{MAX_SUBJECT_LEN, check_filter, check_subject};
pub use supervise::{ClientHandle, SupervisedClient};

use herald_core::DispatcherBuilder;

/// Registers the NATS adapters on a dispatcher builder.
pub trait NatsDispatcherExt {
    /// Registers `nats` ([`NatsAdapter`]) and `nats_named` ([`RemoteNamedAdapter`]),
    /// both publishing through `client`.
    fn nats(self, client: async_nats::Client) -> Self;
}

impl NatsDispatcherExt for DispatcherBuilder {
    fn nats(self, client: async_nats::Client) -> Self {
        let named = client.clone();
        self.adapter("nats", move || NatsAdapter::new(client.clone()))
            .adapter("nats_named", move || RemoteNamedAdapter::new(named.clone()))
    }
}

pub use async_nats::Client;
