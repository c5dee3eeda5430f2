//! Receiver side: checking a webhook's signature.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use thiserror::Error;

use super::WebhookSecret;
use super::sign::{jido_mac, standard_mac};

/// The default window a webhook's timestamp must fall in: 5 minutes either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Why a webhook failed verification. Messages never include the secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// A header the scheme needs is absent (or not text).
    #[error("webhook header `{name}` is missing")]
    MissingHeader {
        /// The header's name.
        name: &'static str,
    },
    /// The timestamp header is not a whole number of seconds.
    #[error("webhook timestamp is not a unix time in seconds")]
    InvalidTimestamp,
    /// The timestamp is further from now than the tolerance allows.
    #[error("webhook timestamp is {skew:?} away from now, outside the tolerance")]
    OutsideTolerance {
        /// How far the timestamp is from now.
        skew: Duration,
    },
    /// No signature in the header matches the body and secret.
    #[error("webhook signature does not match")]
    SignatureMismatch,
}

/// Read access to request headers, by case-insensitive name; implemented for
/// actix-web's and awc's `HeaderMap`, the `http` crate's `HeaderMap` (axum, hyper),
/// string-pair slices and maps.
pub trait HeaderLookup {
    /// The value of header `name` (lower-case), if present and text.
    fn header(&self, name: &str) -> Option<&str>;
}

/// actix-web's and awc's request and response headers.
impl HeaderLookup for awc::http::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The `http` crate's headers (1.x): what axum, hyper and tower hand a receiver.
impl HeaderLookup for http::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|value| value.to_str().ok())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for [(K, V)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.as_ref().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> HeaderLookup for Vec<(K, V)> {
    fn header(&self, name: &str) -> Option<&str> {
        self.as_slice().header(name)
    }
}

impl HeaderLookup for HashMap<String, String> {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Verifies a webhook Herald (or any Standard Webhooks or `jido_signal` sender) signed:
/// the scheme follows the secret. Comparison is constant-time; the timestamp must be
/// within `tolerance` of now ([`DEFAULT_TOLERANCE`] is the usual choice).
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use herald_core::http::{verify_at, VerifyError, WebhookSecret, DEFAULT_TOLERANCE};
///
/// // The jido-compatible test vector (`vectors/webhook-signatures.md`).
/// let secret = WebhookSecret::jido("mysecret")?;
/// let body = br#"{"specversion":"1.0","id":"0192f5a0-0000-7000-8000-000000000001","source":"/billing","type":"invoice.paid","time":"2026-11-26T12:00:00Z","datacontenttype":"application/json","data":{"amount":42}}"#;
/// let headers = [
///     ("x-webhook-timestamp", "1764158400"),
///     ("x-webhook-signature", "3709b35110ec7b0e675b921d6e297984389773810a184fb230114dc46c94b44f"),
/// ];
/// let now = UNIX_EPOCH + Duration::from_secs(1764158400 + 10);
/// assert_eq!(verify_at(&headers[..], body, &secret, DEFAULT_TOLERANCE, now), Ok(()));
/// assert_eq!(
///     verify_at(&headers[..], b"tampered", &secret, DEFAULT_TOLERANCE, now),
///     Err(VerifyError::SignatureMismatch)
/// );
/// # Ok::<(), herald_core::TargetError>(())
/// ```
pub fn verify(
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
    secret: &WebhookSecret,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    verify_at(headers, body, secret, tolerance, SystemTime::now())
}

/// [`verify`] against a given "now" (for tests, or a receiver with its own clock).
pub fn verify_at(
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
    secret: &WebhookSecret,
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), VerifyError> {
    let header = |name: &'static str| {
        headers
            .header(name)
            .ok_or(VerifyError::MissingHeader { name })
    };
    match secret {
        WebhookSecret::Standard(_) => {
            let id = header("webhook-id")?;
            let timestamp = timestamp(header("webhook-timestamp")?, tolerance, now)?;
            let mac = standard_mac(secret.expose_key(), id, timestamp, body);
            let matches = header("webhook-signature")?
                .split(' ')
                .filter_map(|entry| entry.strip_prefix("v1,"))
                .filter_map(|encoded| STANDARD.decode(encoded).ok())
                .any(|signature| mac.clone().verify_slice(&signature).is_ok());
            matches.then_some(()).ok_or(VerifyError::SignatureMismatch)
        }
        WebhookSecret::Jido(_) => {
            let timestamp = timestamp(header("x-webhook-timestamp")?, tolerance, now)?;
            let signature = hex::decode(header("x-webhook-signature")?.trim())
                .map_err(|_| VerifyError::SignatureMismatch)?;
            jido_mac(secret.expose_key(), timestamp, body)
                .verify_slice(&signature)
                .map_err(|_| VerifyError::SignatureMismatch)
        }
    }
}

/// Reads a timestamp and checks it against `now`. Every step is checked arithmetic: the
/// header comes from an unauthenticated request, so no value of it may panic.
fn timestamp(text: &str, tolerance: Duration, now: SystemTime) -> Result<u64, VerifyError> {
    let seconds: u64 = text
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    let then = UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .ok_or(VerifyError::InvalidTimestamp)?;
    let skew = match now.duration_since(then) {
        Ok(ago) => ago,
        Err(ahead) => ahead.duration(),
    };
    if skew > tolerance {
        return Err(VerifyError::OutsideTolerance { skew });
    }
    Ok(seconds)
}
