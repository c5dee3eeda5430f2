//! Receiver side: checking a webhook's signature.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use thiserror::Error;

use crate::header::{
    WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, X_WEBHOOK_SIGNATURE, X_WEBHOOK_TIMESTAMP,
};
use crate::sign::{ed25519_key, jido_mac, signed_content, standard_mac};
use crate::{KeyError, WebhookSecret};

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
/// string-pair slices and maps, and (by feature) actix-web's and awc's `HeaderMap` and
/// the `http` crate's `HeaderMap` (axum, hyper).
pub trait HeaderLookup {
    /// The value of header `name` (lower-case), if present and text.
    fn header(&self, name: &str) -> Option<&str>;
}

/// actix-web's and awc's request and response headers (feature `actix-http`).
#[cfg(feature = "actix-http")]
impl HeaderLookup for actix_http::header::HeaderMap {
    fn header(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|value| value.to_str().ok())
    }
}

/// The `http` crate's headers (1.x): what axum, hyper and tower hand a receiver
/// (feature `http`).
#[cfg(feature = "http")]
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
/// use herald_webhook::{verify_at, VerifyError, WebhookSecret, DEFAULT_TOLERANCE};
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
/// # Ok::<(), herald_webhook::KeyError>(())
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
    verify_one(headers, body, KeyRef::Secret(secret), tolerance, now)
}

/// A key a receiver verifies with: a shared secret (`whsec_`, jido, or the `whsk_`
/// signing key itself), or an Ed25519 public key (`whpk_`), which verifies `v1a`
/// signatures without holding the secret.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyKey {
    /// A secret shared with the sender.
    Secret(WebhookSecret),
    /// An Ed25519 public key.
    Public(ed25519_dalek::VerifyingKey),
}

impl VerifyKey {
    /// A Standard Webhooks public key: `whpk_` followed by the base64 of its 32 bytes.
    ///
    /// # Errors
    ///
    /// A missing prefix, bad base64, or bytes that are not an Ed25519 public key.
    pub fn public(key: &str) -> Result<Self, KeyError> {
        let invalid = |rule: &'static str| KeyError {
            field: "public_key",
            rule,
        };
        let encoded = key
            .strip_prefix("whpk_")
            .ok_or_else(|| invalid("must start with `whpk_` (an Ed25519 public key)"))?;
        let bytes: [u8; 32] = STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| invalid("must be `whpk_` followed by the base64 of 32 bytes"))?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self::Public)
            .map_err(|_| invalid("is not an Ed25519 public key"))
    }

    /// The public key (`whpk_…`) of an Ed25519 signing key, to hand to receivers;
    /// `None` for other secrets.
    pub fn public_of(secret: &WebhookSecret) -> Option<String> {
        match secret {
            WebhookSecret::Ed25519(_) => {
                let public = ed25519_key(secret.expose_key()).verifying_key();
                Some(format!("whpk_{}", STANDARD.encode(public.as_bytes())))
            }
            _ => None,
        }
    }
}

impl From<WebhookSecret> for VerifyKey {
    fn from(secret: WebhookSecret) -> Self {
        Self::Secret(secret)
    }
}

impl std::fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(secret) => f.debug_tuple("VerifyKey::Secret").field(secret).finish(),
            Self::Public(key) => write!(
                f,
                "VerifyKey::Public(whpk_{})",
                STANDARD.encode(key.as_bytes())
            ),
        }
    }
}

/// Verifies a webhook against several keys — during a rotation, the new and the old —
/// and accepts it when any one of them verifies any of its signatures. When none does,
/// the error is the first key's.
///
/// ```
/// use std::time::Duration;
/// use herald_webhook::{VerifyKey, WebhookSecret, verify_keys_at, DEFAULT_TOLERANCE};
///
/// let signing = WebhookSecret::ed25519("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=")?;
/// let public = VerifyKey::public(&VerifyKey::public_of(&signing).unwrap())?;
/// let old = VerifyKey::from(WebhookSecret::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?);
/// let now = std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// let signature = signing.signature("msg_1", 1_700_000_000, b"{}");
/// let headers = [
///     ("webhook-id", "msg_1"),
///     ("webhook-timestamp", "1700000000"),
///     ("webhook-signature", signature.as_str()),
/// ];
/// assert_eq!(verify_keys_at(&headers[..], b"{}", &[old, public], DEFAULT_TOLERANCE, now), Ok(()));
/// # Ok::<(), herald_webhook::KeyError>(())
/// ```
///
/// # Errors
///
/// As [`verify`]; with no keys at all, [`VerifyError::SignatureMismatch`].
pub fn verify_keys(
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
    keys: &[VerifyKey],
    tolerance: Duration,
) -> Result<(), VerifyError> {
    verify_keys_at(headers, body, keys, tolerance, SystemTime::now())
}

/// [`verify_keys`] against a given "now".
pub fn verify_keys_at(
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
    keys: &[VerifyKey],
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), VerifyError> {
    let mut first = None;
    for key in keys {
        let key = match key {
            VerifyKey::Secret(secret) => KeyRef::Secret(secret),
            VerifyKey::Public(public) => KeyRef::Public(public),
        };
        match verify_one(headers, body, key, tolerance, now) {
            Ok(()) => return Ok(()),
            Err(error) => {
                first.get_or_insert(error);
            }
        }
    }
    Err(first.unwrap_or(VerifyError::SignatureMismatch))
}

/// One key, borrowed.
#[derive(Clone, Copy)]
enum KeyRef<'a> {
    Secret(&'a WebhookSecret),
    Public(&'a ed25519_dalek::VerifyingKey),
}

fn verify_one(
    headers: &(impl HeaderLookup + ?Sized),
    body: &[u8],
    key: KeyRef<'_>,
    tolerance: Duration,
    now: SystemTime,
) -> Result<(), VerifyError> {
    let header = |name: &'static str| {
        headers
            .header(name)
            .ok_or(VerifyError::MissingHeader { name })
    };
    if let KeyRef::Secret(secret @ WebhookSecret::Jido(_)) = key {
        let timestamp = timestamp(header(X_WEBHOOK_TIMESTAMP)?, tolerance, now)?;
        let signature = hex::decode(header(X_WEBHOOK_SIGNATURE)?.trim())
            .map_err(|_| VerifyError::SignatureMismatch)?;
        return jido_mac(secret.expose_key(), timestamp, body)
            .verify_slice(&signature)
            .map_err(|_| VerifyError::SignatureMismatch);
    }
    let id = header(WEBHOOK_ID)?;
    let timestamp = timestamp(header(WEBHOOK_TIMESTAMP)?, tolerance, now)?;
    let entries = header(WEBHOOK_SIGNATURE)?.split(' ');
    let decoded = |prefix: &'static str| {
        entries
            .clone()
            .filter_map(move |entry| entry.strip_prefix(prefix))
            .filter_map(|encoded| STANDARD.decode(encoded).ok())
    };
    let public = match key {
        KeyRef::Secret(secret @ WebhookSecret::Ed25519(_)) => {
            Some(ed25519_key(secret.expose_key()).verifying_key())
        }
        KeyRef::Public(public) => Some(*public),
        KeyRef::Secret(_) => None,
    };
    let matches = match (public, key) {
        (Some(public), _) => {
            let content = signed_content(id, timestamp, body);
            decoded("v1a,").any(|signature| {
                ed25519_dalek::Signature::from_slice(&signature)
                    .is_ok_and(|signature| public.verify_strict(&content, &signature).is_ok())
            })
        }
        (None, KeyRef::Secret(secret)) => {
            let mac = standard_mac(secret.expose_key(), id, timestamp, body);
            decoded("v1,").any(|signature| mac.clone().verify_slice(&signature).is_ok())
        }
        (None, KeyRef::Public(_)) => false,
    };
    matches.then_some(()).ok_or(VerifyError::SignatureMismatch)
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
