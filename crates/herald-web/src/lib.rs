//! Herald on actix-web: receiving signals is one extractor, operating Herald is one
//! guarded scope.
//!
//! - [`SignalBody`] reads the signals a request carries in any mode of the CloudEvents
//!   HTTP binding (structured, batch, binary), within a byte bound, answering bad input
//!   with 400, 413 or 415 ([`SignalBodyError`]).
//! - [`Verified`] checks a webhook's signature first (Standard Webhooks `v1`/`v1a`, or
//!   `jido_signal`'s), with rotating keys and a bounded replay guard
//!   ([`Verification`]), answering 401.
//! - [`ingress`] is a whole receiving endpoint: signals in, dispatched, `202` with
//!   their ids — or `429`/`503` with `Retry-After` when Herald cannot take them.
//! - [`Operations`] mounts a JSON API and one server-rendered page for operators:
//!   dispatcher stats, endpoints and their circuits, pause and resume, dead letters and
//!   redrive. Off unless mounted, and never without a guard the application supplies.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use herald_core::{Dispatcher, Target};
//! use herald_web::{Operations, ingress};
//!
//! # async fn run() -> std::io::Result<()> {
//! let dispatcher = Dispatcher::builder().start();
//! let bus = Target::bus("events").expect("a valid bus name");
//! let operations = Operations::new(dispatcher.clone())
//!     .guard(actix_web::guard::Header("authorization", "Bearer s3cret"));
//! HttpServer::new(move || {
//!     App::new()
//!         .service(web::scope("/events").service(ingress(dispatcher.clone(), bus.clone())))
//!         .service(operations.clone().scope("/ops").expect("guarded"))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await
//! # }
//! ```

mod body;
mod error;
mod ingress;
mod ops;
mod replay;
mod trace;
mod verified;

pub use body::{ContentMode, SignalBody, SignalConfig};
pub use error::SignalBodyError;
pub use ingress::{Ingress, ingress};
pub use ops::{MountError, Operations};
pub use trace::receive_span;
pub use verified::{Verification, Verified, VerifiedBody};

pub use herald_webhook::{KeyError, VerifyKey, WebhookSecret};
