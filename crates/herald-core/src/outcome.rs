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
    /// The signal was fanned out to several receivers.
    Broadcast {
        /// Receivers that got it.
        delivered: usize,
        /// Receivers that could not take it (full or stopped).
        failed: usize,
    },
}

impl Outcome {
    /// A short, stable name for telemetry.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Discarded => "discarded",
            Self::Broadcast { .. } => "broadcast",
        }
    }
}
