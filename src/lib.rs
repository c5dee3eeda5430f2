//! Herald delivers **signals** — CloudEvents 1.0 envelopes — from actix applications to
//! many **targets** at once: actors by address or by name, topics, a pattern-routed bus,
//! logs, the console, a no-op sink and adapters of your own, in parallel, with every
//! failure reported.
//!
//! ```
//! use herald::prelude::*;
//!
//! # actix::System::new().block_on(async {
//! let dispatcher = Dispatcher::builder().start();
//! let signal = Signal::new("user.created", serde_json::json!({"id": 42}))?;
//! let report = dispatcher
//!     .send(Dispatch::new(signal, (Target::logger(), Target::noop())))
//!     .await??;
//! assert_eq!(report.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Feature flags
//!
//! - `http` (default): the `http` and `webhook` adapters on awc, registered on every
//!   dispatcher ([`Target::http`](Target::http), [`Target::webhook`](Target::webhook)),
//!   and [`http::verify`] for receivers.
//! - `nats` (off): cross-node delivery on NATS (`herald::nats`): see
//!   `docs/DISTRIBUTED.md`.
//!
//! This crate only re-exports; the pieces live in [`herald_signal`] (the envelope) and
//! [`herald_core`] (the dispatcher, targets, adapters). The guide is in the repository's
//! `docs/` folder; start with `docs/ARCHITECTURE.md`.

pub use herald_core as core;
pub use herald_signal as signal;

// The envelope.
pub use herald_signal::{
    Data, DateTime, ExtensionValue, Signal, SignalBuilder, SignalError, SpecVersion, Utc,
    default_source, set_default_source,
};

// Dispatching.
pub use herald_core::{
    AdapterStats, CheckTargets, Dispatch, DispatchError, DispatchExt, DispatchHandle,
    DispatchReport, DispatchResult, DispatchResultExt, Dispatcher, DispatcherBuilder, Overload,
    Sharded, Shutdown, Stats, StatsSnapshot, TargetFailure,
};

// Targets and the adapters behind them.
pub use herald_core::{
    ActorId, Adapter, BusTarget, ConfigFields, ConsoleTarget, Delivery, Fingerprint, IntoTargets,
    LogFormat, LogLevel, LoggerTarget, Mode, NamedAdapter, NamedTarget, Outcome, PidTarget,
    Placement, PubSubTarget, Rejection, Secrets, SignalMessage, Target, TargetOptions,
    TargetProblem,
};

// In-process routing: named actors, topics, the pattern-routed bus.
pub use herald_core::{
    Bus, BusError, Pattern, PatternError, PatternSet, PubSub, PubSubError, Publish, Registry,
    RegistryError, Subscribe, SubscriptionId, Unsubscribe,
};

// Errors.
pub use herald_core::{DeliveryError, ErrorKind, TargetError};

/// The metrics Herald records through the `metrics` facade (feature `metrics`): their
/// names, and how their labels are bounded.
pub use herald_core::metrics;

/// Continues a signal's W3C trace on a span (feature `opentelemetry`).
pub use herald_core::continue_trace;

/// Where network targets read from data may connect: the egress policy against SSRF.
pub use herald_core::egress;

/// Delivery that survives failing endpoints: per-endpoint circuit breakers, dedupe,
/// rate limits, concurrency caps, dead letters and redrive.
pub use herald_core::resilience;

/// HTTP and signed webhook delivery (feature `http`, on by default): targets, retry
/// policy, signing secrets, and the receiver-side [`verify`](http::verify).
#[cfg(feature = "http")]
pub use herald_core::http;

/// Cross-node delivery on NATS (feature `nats`, off by default): the `nats` and
/// `nats_named` adapters, bridges, remote named actors, durable delivery on JetStream.
#[cfg(feature = "nats")]
pub use herald_nats as nats;

/// Herald on actix-web (feature `web`, off by default): the `SignalBody` and
/// `Verified` extractors, the ingress service, and the guarded operations API and page.
#[cfg(feature = "web")]
pub use herald_web as web;

/// The names most applications need: `use herald::prelude::*;`.
pub mod prelude {
    pub use herald_core::resilience::{Resilience, WithResilience};
    pub use herald_core::{
        Bus, Dispatch, DispatchExt, DispatchResultExt, Dispatcher, PubSub, Registry, Rejection,
        Shutdown, SignalMessage, Subscribe, Target,
    };
    pub use herald_signal::Signal;
}

#[doc = include_str!("../docs/WEB.md")]
#[cfg(all(doctest, feature = "web"))]
pub struct WebGuideDoctests;

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

#[doc = include_str!("../docs/ROUTING.md")]
#[cfg(doctest)]
pub struct RoutingGuideDoctests;

#[doc = include_str!("../docs/ADAPTERS.md")]
#[cfg(doctest)]
pub struct AdaptersGuideDoctests;

#[doc = include_str!("../docs/HTTP.md")]
#[cfg(all(doctest, feature = "http"))]
pub struct HttpGuideDoctests;

#[doc = include_str!("../docs/SECURITY.md")]
#[cfg(all(doctest, feature = "http"))]
pub struct SecurityGuideDoctests;

#[doc = include_str!("../docs/DISTRIBUTED.md")]
#[cfg(all(doctest, feature = "nats"))]
pub struct DistributedGuideDoctests;

#[doc = include_str!("../docs/FROM_JIDO.md")]
#[cfg(doctest)]
pub struct FromJidoGuideDoctests;

#[doc = include_str!("../docs/OBSERVABILITY.md")]
#[cfg(doctest)]
pub struct ObservabilityGuideDoctests;

#[doc = include_str!("../docs/RESILIENCE.md")]
#[cfg(all(doctest, feature = "http"))]
pub struct ResilienceGuideDoctests;
