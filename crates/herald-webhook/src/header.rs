//! The header names the signing schemes use, lower-case.

/// Standard Webhooks: the message id (Herald sends the signal's id).
pub const WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks: unix seconds when signed.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks: space-separated `v1,<base64>` / `v1a,<base64>` signatures.
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";
/// jido scheme: the hex signature (default name).
pub const X_WEBHOOK_SIGNATURE: &str = "x-webhook-signature";
/// jido scheme: unix seconds when signed (default name).
pub const X_WEBHOOK_TIMESTAMP: &str = "x-webhook-timestamp";
/// jido scheme: the event type (default name).
pub const X_WEBHOOK_EVENT: &str = "x-webhook-event";
