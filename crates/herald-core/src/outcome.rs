//! What a successful delivery has to say.

/// The result of one successful delivery.
///
/// Most adapters say only [`Outcome::Delivered`]; some report more, such as how many
/// subscribers a broadcast reached.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Outcome {
    /// The signal was handed over (async) or accepted (sync).
    #[default]
    Delivered,
    /// The signal was deliberately dropped (the `noop` adapter).
    Discarded,
    /// The signal was broadcast to a topic's subscribers (the `pubsub` adapter).
    Broadcast {
        /// Subscribers whose mailbox took it.
        delivered: usize,
        /// Subscribers whose mailbox was full: they did not get it.
        full: usize,
        /// Subscribers that had stopped: they were removed from the topic.
        gone: usize,
    },
    /// A remote receiver answered with a success status (the `http` and `webhook`
    /// adapters).
    Responded {
        /// The status code.
        status: u16,
        /// How many attempts it took.
        attempts: u32,
    },
    /// The target already took this signal id within its dedupe window
    /// ([`Dedupe`](crate::resilience::Dedupe)): no attempt was made.
    Duplicate,
    /// The signal was routed by a bus (the `bus` adapter); its subscribers' deliveries
    /// run on their own.
    Routed {
        /// How many subscriptions matched the signal's type.
        subscriptions: usize,
    },
}

impl Outcome {
    /// A short, stable name for telemetry.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Discarded => "discarded",
            Self::Broadcast { .. } => "broadcast",
            Self::Routed { .. } => "routed",
            Self::Duplicate => "duplicate",
            Self::Responded { .. } => "responded",
        }
    }
}
