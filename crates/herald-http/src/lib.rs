//! HTTP and signed webhook delivery for Herald, on awc: the targets, the `http` and
//! `webhook` adapters, the signature schemes and the receiver-side [`verify`], so a Rust
//! service receiving Herald's webhooks needs nothing else.
//!
//! The code lives in [`herald_core::http`] behind herald-core's `http` feature, which
//! this crate turns on: a dispatcher can then register the adapters itself, so every
//! dispatcher delivers `http` and `webhook` targets with no extra builder call.
//!
//! ```
//! use herald_core::{Dispatch, Dispatcher, Target};
//!
//! # actix::System::new().block_on(async {
//! let dispatcher = Dispatcher::builder().start();
//! let webhook = Target::webhook("https://example.com/hooks")?
//!     .secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
//! let dispatch = Dispatch::new(herald_signal::Signal::new("user.created", serde_json::json!({}))?, [webhook]);
//! # let _ = (dispatcher, dispatch);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Requests
//!
//! - URL: http or https, with a host, no userinfo, no whitespace or control characters.
//! - Method: `POST` (default), `PUT`, `PATCH`. Timeout: 1 ms – 60 s, default 5 s.
//! - Body: CloudEvents structured mode (`application/cloudevents+json`) by default;
//!   binary mode (`ce-*` headers, data as the body) as an option.
//! - TLS certificates are always verified; there is no option to turn that off.
//!   Redirects are not followed. Connections are pooled and kept alive per arbiter.
//!
//! # Retries
//!
//! See [`RetryPolicy`]: up to 10 attempts, exponential backoff with jitter, an optional
//! deadline, `Retry-After` honoured; only connect errors, timeouts, 408, 425, 429 and 5xx
//! are retried. Errors keep the status and at most 4 KiB of the body.
//!
//! # Signing
//!
//! - **Standard Webhooks** (`.secret("whsec_…")`): `webhook-id` (the signal id),
//!   `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256(id.timestamp.body)>`.
//! - **jido-compatible** (`.jido_secret("…")`): `x-webhook-signature` (hex HMAC-SHA256 of
//!   `timestamp.body`), `x-webhook-timestamp`, `x-webhook-event` (the signal type, or its
//!   mapping from [`HttpTarget::event_type`]).
//!
//! Caller headers that collide with the scheme's are dropped. Secrets never appear in
//! `Debug`, logs, telemetry or errors.

pub use herald_core::http::*;
