//! HTTP and webhook targets as options and as data: URL, method, headers, timeout,
//! retry policy, body mode and signing secret, each checked once when set or read.
//!
//! The targets live here, beside every other target kind, so that `Target::http`,
//! `Target::webhook` and targets read from data (`{"adapter": "webhook", …}`) are typed
//! and checked at once, wherever they come from. With the `http` feature, the adapters
//! that deliver them (awc, signing, retries) are here too, and every dispatcher
//! registers them itself. The signature schemes and the receiver-side `verify` are the
//! `herald-webhook` crate's (no runtime: a receiver on any framework uses it alone),
//! re-exported here.

#[cfg(feature = "http")]
mod adapter;
#[cfg(feature = "http")]
mod connect;
#[cfg(feature = "http")]
mod encode;
mod names;
mod retry;
#[cfg(feature = "http")]
mod settings;
mod signer;
mod target;
mod tls;

#[cfg(feature = "http")]
pub use adapter::HttpAdapter;
#[cfg(feature = "http")]
pub use connect::{Resolve, SystemResolver};
pub use herald_webhook::{
    DEFAULT_TOLERANCE, HeaderLookup, Key, KeyError, VerifyError, VerifyKey, WebhookSecret,
    signed_content, verify, verify_at, verify_keys, verify_keys_at,
};
#[cfg(feature = "http")]
pub(crate) use settings::HttpSettings;

pub use names::{
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, X_WEBHOOK_EVENT, X_WEBHOOK_SIGNATURE,
    X_WEBHOOK_TIMESTAMP,
};
pub use retry::{RetryPolicy, random};
pub use signer::{SignError, Signer, base64_standard};
pub use target::{BodyMode, HttpMethod, HttpTarget, Signing, Webhook};
pub use tls::Tls;

/// The header types targets hold (the `http` crate's, as awc uses them).
pub use http02::header::{HeaderName, HeaderValue};
