//! Signing with a key Herald does not hold: the [`Signer`] trait.

use std::fmt;
use std::hash::Hasher;

use futures_util::future::BoxFuture;

/// Signs Standard Webhooks content with a key the application holds elsewhere — a KMS
/// or an HSM — so that Herald never sees it. Give one to a webhook with
/// [`Webhook::signer`](super::Webhook::signer) (or beside its own keys, for a
/// rotation, with [`HttpTarget::also_signer`](super::HttpTarget::also_signer)); every
/// attempt asks it for a fresh signature. Herald's own keys (`whsec_` HMAC, `whsk_`
/// Ed25519) are [`WebhookSecret`](super::WebhookSecret)s and need no signer.
///
/// ```
/// use futures_util::future::BoxFuture;
/// use herald_core::http::{SignError, Signer};
///
/// /// Asks a (here: pretend) KMS to sign with key `key_id`.
/// #[derive(Debug)]
/// struct Kms { key_id: String }
///
/// impl Signer for Kms {
///     fn sign<'a>(&'a self, content: &'a [u8]) -> BoxFuture<'a, Result<String, SignError>> {
///         Box::pin(async move {
///             let signature: Vec<u8> = vec![0; 64]; // kms.sign(&self.key_id, content).await?
///             let _ = content;
///             Ok(format!("v1a,{}", herald_core::http::base64_standard(&signature)))
///         })
///     }
///
///     fn identity(&self, state: &mut dyn std::hash::Hasher) {
///         herald_core::Fingerprint::field(state, self.key_id.as_bytes());
///     }
/// }
/// ```
pub trait Signer: fmt::Debug + Send + Sync + 'static {
    /// One `webhook-signature` entry for `content` — the signed content,
    /// `{id}.{timestamp}.{body}` — such as `v1,<base64 HMAC-SHA256>` or
    /// `v1a,<base64 Ed25519>`.
    fn sign<'a>(&'a self, content: &'a [u8]) -> BoxFuture<'a, Result<String, SignError>>;

    /// Writes what identifies the key into the target's identity (a key id or a
    /// public key, never the private key): two webhooks signed by different keys are
    /// different targets.
    fn identity(&self, state: &mut dyn Hasher);
}

/// A [`Signer`] that could not sign. The delivery fails with it (retryable: a KMS may
/// answer next time), and no request is sent.
#[derive(Debug, thiserror::Error)]
#[error("signing failed: {0}")]
pub struct SignError(String);

impl SignError {
    /// A signing failure, said in `message` (never a key).
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Standard base64 (with padding), as Standard Webhooks writes signatures.
pub fn base64_standard(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
