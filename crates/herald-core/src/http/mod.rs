//! HTTP and webhook targets as options and as data: URL, method, headers, timeout,
//! retry policy, body mode and signing secret, each checked once when set or read.
//!
//! The targets live here, beside every other target kind, so that `Target::http`,
//! `Target::webhook` and targets read from data (`{"adapter": "webhook", …}`) are typed
//! and checked at once, wherever they come from. The `http` and `webhook` adapters that
//! deliver them (awc, signing, retries) live in `herald-http`.

mod names;
mod retry;
mod secret;
mod target;

pub use names::{
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, X_WEBHOOK_EVENT, X_WEBHOOK_SIGNATURE,
    X_WEBHOOK_TIMESTAMP,
};
pub use retry::{RetryPolicy, random};
pub use secret::{Key, WebhookSecret};
pub use target::{BodyMode, HttpMethod, HttpTarget, Signing, Webhook};

/// The header types targets hold (the `http` crate's, as awc uses them).
pub use http02::header::{HeaderName, HeaderValue};
