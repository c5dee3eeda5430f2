//! Webhook signature schemes with no runtime: the secrets, signing, and the
//! receiver-side [`verify`] of [Standard Webhooks] (`v1` HMAC-SHA256, `v1a` Ed25519) and
//! of `jido_signal` (hex HMAC-SHA256 of `timestamp.body`).
//!
//! Herald signs its webhooks with these; a service receiving them — on actix-web, axum,
//! hyper or anything else — needs only this crate to check them. Turn on the `http`
//! feature for [`HeaderLookup`] on the `http` crate's header maps (axum, hyper), or
//! `actix-http` for actix-web's and awc's; string pairs and maps work without either.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use herald_webhook::{verify_at, WebhookSecret, DEFAULT_TOLERANCE};
//!
//! let secret = WebhookSecret::standard("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
//! let signature = secret.signature("msg_1", 1_700_000_000, b"{}");
//! let headers = [
//!     ("webhook-id", "msg_1"),
//!     ("webhook-timestamp", "1700000000"),
//!     ("webhook-signature", signature.as_str()),
//! ];
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_005);
//! assert_eq!(verify_at(&headers[..], b"{}", &secret, DEFAULT_TOLERANCE, now), Ok(()));
//! # Ok::<(), herald_webhook::KeyError>(())
//! ```
//!
//! Secrets never appear in `Debug` or in errors.
//!
//! [Standard Webhooks]: https://www.standardwebhooks.com/

pub mod header;
mod secret;
mod sign;
mod verify;

pub use secret::{Key, KeyError, WebhookSecret};
pub use sign::signed_content;
pub use verify::{
    DEFAULT_TOLERANCE, HeaderLookup, VerifyError, VerifyKey, verify, verify_at, verify_keys,
    verify_keys_at,
};
