//! The other running parts an operator watches: herald-nats bridges and durable
//! consumers (feature `nats`).

use serde_json::Value;
#[cfg(feature = "nats")]
use serde_json::json;

#[cfg(feature = "nats")]
use std::sync::Arc;

#[cfg(feature = "nats")]
use herald_nats::{RunningBridge, RunningConsumer};

/// The bridges and consumers shown, each under the name the application gave it.
#[derive(Clone, Default)]
pub(crate) struct Sources {
    #[cfg(feature = "nats")]
    bridges: Vec<(String, Arc<RunningBridge>)>,
    #[cfg(feature = "nats")]
    consumers: Vec<(String, Arc<RunningConsumer>)>,
}

impl Sources {
    /// Every bridge's stats.
    pub(super) fn bridges(&self) -> Vec<Value> {
        #[cfg(feature = "nats")]
        return (self.bridges.iter())
            .map(|(name, bridge)| {
                let stats = bridge.stats();
                json!({
                    "name": name,
                    "received": stats.received,
                    "dispatched": stats.dispatched,
                    "failed": stats.failed,
                    "malformed": stats.malformed,
                    "filtered": stats.filtered,
                    "dropped": stats.dropped,
                    "pending_bytes": stats.pending_bytes,
                    "resubscribed": stats.resubscribed,
                })
            })
            .collect();
        #[cfg(not(feature = "nats"))]
        Vec::new()
    }

    /// Every consumer's stats.
    pub(super) fn consumers(&self) -> Vec<Value> {
        #[cfg(feature = "nats")]
        return (self.consumers.iter())
            .map(|(name, consumer)| {
                let stats = consumer.stats();
                json!({
                    "name": name,
                    "acked": stats.acked,
                    "retried": stats.retried,
                    "given_up": stats.given_up,
                    "malformed": stats.malformed,
                    "expired": stats.expired,
                    "redelivered": stats.redelivered,
                    "restarted": stats.restarted,
                })
            })
            .collect();
        #[cfg(not(feature = "nats"))]
        Vec::new()
    }
}

#[cfg(feature = "nats")]
impl super::Operations {
    /// Shows a running bridge's stats under `name` (feature `nats`). The operations
    /// share it: it stops when the last holder drops it.
    pub fn bridge(mut self, name: impl Into<String>, bridge: Arc<RunningBridge>) -> Self {
        self.sources.bridges.push((name.into(), bridge));
        self
    }

    /// Shows a running durable consumer's stats under `name` (feature `nats`).
    pub fn consumer(mut self, name: impl Into<String>, consumer: Arc<RunningConsumer>) -> Self {
        self.sources.consumers.push((name.into(), consumer));
        self
    }
}
