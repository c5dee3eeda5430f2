//! The counts a running bridge or consumer keeps for its stats, each one also a
//! metric (feature `metrics`): one call counts both, so they cannot drift apart.

use std::sync::atomic::{AtomicU64, Ordering};

/// Messages a bridge took, by `bridge` (its subject) and `result` (counter).
pub const BRIDGE_MESSAGES: &str = "herald_bridge_messages_total";
/// Times a bridge subscribed again, by `bridge` (counter).
pub const BRIDGE_RESUBSCRIBED: &str = "herald_bridge_resubscribed_total";
/// Messages a durable consumer settled, by `consumer` (its durable name) and `result`
/// (counter).
pub const CONSUMER_MESSAGES: &str = "herald_consumer_messages_total";
/// Messages a durable consumer received again from the stream, by `consumer`
/// (counter).
pub const CONSUMER_REDELIVERED: &str = "herald_consumer_redelivered_total";
/// Times a durable consumer was made again on a replaced client, by `consumer`
/// (counter).
pub const CONSUMER_RESTARTED: &str = "herald_consumer_restarted_total";
/// OpenTelemetry's `messaging.client.consumed.messages`, by `messaging.system`
/// (`nats`), `messaging.destination.name` (the bridge's subject, or the consumer's
/// stream) and, for a consumer, `messaging.consumer.group.name` (counter).
pub const OTEL_CONSUMED_MESSAGES: &str = "messaging.client.consumed.messages";
/// OpenTelemetry's `messaging.process.duration`: from a message's arrival to its
/// dispatch's answer, with [`OTEL_CONSUMED_MESSAGES`]' labels (histogram, seconds).
pub const OTEL_PROCESS_DURATION: &str = "messaging.process.duration";

/// One count, and its metric.
#[derive(Debug)]
pub(crate) struct Tally {
    count: AtomicU64,
    #[cfg(feature = "metrics")]
    metric: metrics::Counter,
}

impl Tally {
    /// A count recorded as metric `name` with `labels`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(name: &'static str, labels: &[(&'static str, &str)]) -> Self {
        Self {
            count: AtomicU64::new(0),
            #[cfg(feature = "metrics")]
            metric: metrics::counter!(name, labels_of(labels)),
        }
    }

    /// Adds `n`; the count before.
    pub(crate) fn add(&self, n: u64) -> u64 {
        #[cfg(feature = "metrics")]
        self.metric.increment(n);
        self.count.fetch_add(n, Ordering::Relaxed)
    }

    pub(crate) fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// Where messages arrive, as the OpenTelemetry messaging metrics label them: counts
/// them and times their processing.
#[derive(Debug)]
pub(crate) struct Arrivals {
    #[cfg(feature = "metrics")]
    consumed: metrics::Counter,
    #[cfg(feature = "metrics")]
    process: metrics::Histogram,
}

impl Arrivals {
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(destination: &str, group: Option<&str>) -> Self {
        #[cfg(feature = "metrics")]
        {
            let mut labels = vec![
                ("messaging.system", "nats"),
                ("messaging.destination.name", destination),
            ];
            labels.extend(group.map(|group| ("messaging.consumer.group.name", group)));
            let labels = labels_of(&labels);
            Self {
                consumed: metrics::counter!(OTEL_CONSUMED_MESSAGES, labels.clone()),
                process: metrics::histogram!(OTEL_PROCESS_DURATION, labels),
            }
        }
        #[cfg(not(feature = "metrics"))]
        Self {}
    }

    /// A message arrived; its processing starts now and ends when the returned
    /// guard is dropped.
    pub(crate) fn arrived(&self) -> Processing<'_> {
        #[cfg(feature = "metrics")]
        self.consumed.increment(1);
        Processing {
            #[cfg(feature = "metrics")]
            arrivals: self,
            #[cfg(feature = "metrics")]
            started: tokio::time::Instant::now(),
            #[cfg(not(feature = "metrics"))]
            _arrivals: std::marker::PhantomData,
        }
    }
}

/// One message's processing, timed until dropped.
#[derive(Debug)]
pub(crate) struct Processing<'a> {
    #[cfg(feature = "metrics")]
    arrivals: &'a Arrivals,
    #[cfg(feature = "metrics")]
    started: tokio::time::Instant,
    #[cfg(not(feature = "metrics"))]
    _arrivals: std::marker::PhantomData<&'a Arrivals>,
}

#[cfg(feature = "metrics")]
impl Drop for Processing<'_> {
    fn drop(&mut self) {
        let took = self.started.elapsed().as_secs_f64();
        self.arrivals.process.record(took);
    }
}

#[cfg(feature = "metrics")]
fn labels_of(labels: &[(&'static str, &str)]) -> Vec<metrics::Label> {
    labels
        .iter()
        .map(|(key, value)| metrics::Label::new(*key, value.to_string()))
        .collect()
}
