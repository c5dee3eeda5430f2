//! The header names the signing schemes set.

use http02::header::HeaderName;

/// Standard Webhooks: the message id (the signal's id).
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
/// Standard Webhooks: unix seconds when signed.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
/// Standard Webhooks: `v1,<base64 signature>`.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");
/// jido scheme: the hex signature (default name).
pub const X_WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("x-webhook-signature");
/// jido scheme: unix seconds when signed (default name).
pub const X_WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("x-webhook-timestamp");
/// jido scheme: the event type (default name).
pub const X_WEBHOOK_EVENT: HeaderName = HeaderName::from_static("x-webhook-event");
