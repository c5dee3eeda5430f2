//! The header names the signing schemes set, as awc's header type.

use herald_webhook::header;
use http02::header::HeaderName;

/// Standard Webhooks: the message id (the signal's id).
pub const WEBHOOK_ID: HeaderName = HeaderName::from_static(header::WEBHOOK_ID);
/// Standard Webhooks: unix seconds when signed.
pub const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(header::WEBHOOK_TIMESTAMP);
/// Standard Webhooks: `v1,<base64 signature>`.
pub const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(header::WEBHOOK_SIGNATURE);
/// jido scheme: the hex signature (default name).
pub const X_WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static(header::X_WEBHOOK_SIGNATURE);
/// jido scheme: unix seconds when signed (default name).
pub const X_WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static(header::X_WEBHOOK_TIMESTAMP);
/// jido scheme: the event type (default name).
pub const X_WEBHOOK_EVENT: HeaderName = HeaderName::from_static(header::X_WEBHOOK_EVENT);
