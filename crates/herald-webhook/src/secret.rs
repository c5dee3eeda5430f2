//! Webhook secrets: which signing scheme, and the key. Never printed.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use thiserror::Error;

/// A webhook signing secret, which also chooses the signing scheme.
///
/// Its `Debug` output never shows the key, and it has no `Display`.
///
/// ```
/// use herald_webhook::WebhookSecret;
///
/// let standard = WebhookSecret::standard("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD")?;
/// let jido = WebhookSecret::jido("mysecret")?;
/// assert_eq!(format!("{standard:?}"), "WebhookSecret::Standard([REDACTED])");
/// assert!(!format!("{jido:?}").contains("mysecret"));
/// # Ok::<(), herald_webhook::KeyError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookSecret {
    /// [Standard Webhooks] `v1` (HMAC-SHA256): the key is the base64 after `whsec_`.
    ///
    /// [Standard Webhooks]: https://www.standardwebhooks.com/
    Standard(Key),
    /// [Standard Webhooks] `v1a` (Ed25519): the key is the 32-byte seed, base64 after
    /// `whsk_`. Receivers verify with its public key (`whpk_`), never holding the
    /// secret.
    ///
    /// [Standard Webhooks]: https://www.standardwebhooks.com/
    Ed25519(Key),
    /// `jido_signal`'s scheme: the key is the secret's UTF-8 bytes.
    Jido(Key),
}

/// A key that could not be read. Its message names the field and the rule, never the
/// key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("field `{field}` {rule}")]
pub struct KeyError {
    /// The field the key was read from: `secret` or `public_key`.
    pub field: &'static str,
    /// The rule it breaks, e.g. "must start with `whsec_` (a Standard Webhooks secret)".
    pub rule: &'static str,
}

/// Secret key bytes; redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Key(Arc<[u8]>);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl WebhookSecret {
    /// A Standard Webhooks secret: `whsec_` followed by the base64 of the key.
    ///
    /// # Errors
    ///
    /// When the prefix is missing, the rest is not base64, or the key is empty. The
    /// error never repeats the secret.
    pub fn standard(secret: &str) -> Result<Self, KeyError> {
        let invalid = |rule: &'static str| KeyError {
            field: "secret",
            rule,
        };
        let encoded = secret
            .strip_prefix("whsec_")
            .ok_or_else(|| invalid("must start with `whsec_` (a Standard Webhooks secret)"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| invalid("must be `whsec_` followed by base64"))?;
        if key.is_empty() {
            return Err(invalid("must not be empty"));
        }
        Ok(Self::Standard(Key(key.into())))
    }

    /// A Standard Webhooks asymmetric signing key: `whsk_` followed by the base64 of a
    /// 32-byte Ed25519 seed.
    ///
    /// # Errors
    ///
    /// When the prefix is missing, the rest is not base64, or not 32 bytes. The error
    /// never repeats the key.
    pub fn ed25519(secret: &str) -> Result<Self, KeyError> {
        let invalid = |rule: &'static str| KeyError {
            field: "secret",
            rule,
        };
        let encoded = secret
            .strip_prefix("whsk_")
            .ok_or_else(|| invalid("must start with `whsk_` (an Ed25519 signing key)"))?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| invalid("must be `whsk_` followed by base64"))?;
        if key.len() != 32 {
            return Err(invalid("must be a 32-byte Ed25519 seed"));
        }
        Ok(Self::Ed25519(Key(key.into())))
    }

    /// A Standard Webhooks secret of either kind, by its prefix: `whsec_` (HMAC) or
    /// `whsk_` (Ed25519).
    ///
    /// # Errors
    ///
    /// As [`standard`](Self::standard) or [`ed25519`](Self::ed25519).
    pub fn standard_any(secret: &str) -> Result<Self, KeyError> {
        if secret.starts_with("whsk_") {
            Self::ed25519(secret)
        } else {
            Self::standard(secret)
        }
    }

    /// A `jido_signal`-compatible secret: any non-empty text.
    ///
    /// # Errors
    ///
    /// When `secret` is empty.
    pub fn jido(secret: &str) -> Result<Self, KeyError> {
        if secret.is_empty() {
            return Err(KeyError {
                field: "secret",
                rule: "must not be empty",
            });
        }
        Ok(Self::Jido(Key(secret.as_bytes().into())))
    }

    /// The scheme's name: `"standard"` or `"jido"`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Standard(_) | Self::Ed25519(_) => "standard",
            Self::Jido(_) => "jido",
        }
    }

    /// The secret as it is written: `whsec_<base64>`, `whsk_<base64>` or the jido
    /// text, to store it and read it back. Handle with care: never log it.
    pub fn expose_text(&self) -> String {
        match self {
            Self::Standard(key) => format!("whsec_{}", STANDARD.encode(&key.0)),
            Self::Ed25519(key) => format!("whsk_{}", STANDARD.encode(&key.0)),
            Self::Jido(key) => String::from_utf8_lossy(&key.0).into_owned(),
        }
    }

    /// The key's bytes. Handle with care: never log them.
    pub fn expose_key(&self) -> &[u8] {
        match self {
            Self::Standard(key) | Self::Ed25519(key) | Self::Jido(key) => &key.0,
        }
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Standard(_) => f.write_str("WebhookSecret::Standard([REDACTED])"),
            Self::Ed25519(_) => f.write_str("WebhookSecret::Ed25519([REDACTED])"),
            Self::Jido(_) => f.write_str("WebhookSecret::Jido([REDACTED])"),
        }
    }
}
