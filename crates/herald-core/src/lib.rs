//! Herald's runtime: the [`Dispatcher`] actor, [`Target`]s, the [`Adapter`] trait, the
//! built-in in-process adapters, errors and telemetry.
//!
//! Most applications use this through the `herald` facade crate.
//!
//! ```
//! use actix::prelude::*;
//! use herald_core::{Dispatch, Dispatcher, Rejection, SignalMessage, Target};
//! use herald_signal::Signal;
//!
//! struct Audit;
//! impl Actor for Audit {
//!     type Context = Context<Self>;
//! }
//! impl Handler<SignalMessage> for Audit {
//!     type Result = Result<(), Rejection>;
//!     fn handle(&mut self, msg: SignalMessage, _: &mut Context<Self>) -> Self::Result {
//!         println!("audit saw {}", msg.ty());
//!         Ok(())
//!     }
//! }
//!
//! # actix::System::new().block_on(async {
//! let dispatcher = Dispatcher::builder().start();
//! let audit = Audit.start();
//! let signal = Signal::new("user.created", serde_json::json!({"id": 42})).unwrap();
//! let report = dispatcher
//!     .send(Dispatch::new(signal, (Target::pid(audit.recipient()).sync(), Target::noop())))
//!     .await
//!     .unwrap()
//!     .unwrap();
//! assert_eq!(report.len(), 2);
//! # });
//! ```
//!
//! # Concepts
//!
//! - A [`Dispatch`] carries one signal (shared behind an `Arc`, never copied per
//!   target) and its targets. The dispatcher runs targets in parallel under a
//!   per-dispatch limit and a global in-flight bound, and answers with every target's
//!   result ([`DispatchReport`] or [`DispatchError`]).
//! - A [`Target`] names an adapter and its options, checked once.
//! - An [`Adapter`] delivers to one kind of target: as a supervised actor on each
//!   arbiter of the dispatcher's pool, or inside the dispatch for local adapters such as
//!   `pid` (see [`Placement`]). Custom adapters register by name on the
//!   [builder](DispatcherBuilder::adapter).
//! - Routing: a [`Registry`] of named actors (`named` targets), a [`PubSub`] of topics
//!   (`pubsub` targets), and [`Bus`]es that route by type [`Pattern`] (`bus` targets).
//! - Errors: one [`DeliveryError`] per failed target, with an [`ErrorKind`].
//! - Telemetry: `herald.dispatch` and `herald.deliver` spans, and the [`Stats`] message.

mod adapter;
mod adapters;
mod bus;
mod caller;
mod delivery;
mod dispatch;
mod dispatcher;
pub mod egress;
mod error;
mod fanout;
pub mod http;
mod message;
pub mod metrics;
mod outcome;
mod pubsub;
mod queue;
mod redact;
mod registry;
pub mod resilience;
mod target;
mod telemetry;
mod text;
mod time;

pub use adapter::{Adapter, Delivery, NamedAdapter, Placement};
pub use adapters::{
    BusTarget, ConsoleTarget, LogFormat, LogLevel, LoggerTarget, Mode, NamedTarget, PidTarget,
    PubSubTarget,
};
pub use bus::{
    Bus, BusError, Pattern, PatternError, PatternSet, Publish, Subscribe, SubscriptionId,
    Unsubscribe,
};
pub use caller::ActorId;
pub use dispatch::{
    AdapterStats, CheckTargets, Dispatch, DispatchError, DispatchReport, DispatchResult,
    DispatchResultExt, Overload, Shutdown, Stats, StatsSnapshot, TargetFailure, TargetProblem,
};
pub use dispatcher::{
    DispatchExt, DispatchHandle, DispatchResponse, Dispatcher, DispatcherBuilder, Sharded,
};
pub use error::{DeliveryError, ErrorKind, TargetError};
pub use message::{Rejection, SignalMessage};
pub use outcome::Outcome;
pub use pubsub::{PubSub, PubSubError};
pub use registry::{Registry, RegistryError};
pub use target::{ConfigFields, Fingerprint, IntoTargets, Secrets, Target, TargetOptions};
pub use telemetry::otel::continue_trace;
