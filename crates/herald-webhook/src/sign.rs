//! Computing webhook signatures, for senders and receivers alike.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::WebhookSecret;

impl WebhookSecret {
    /// The signature header value for a message: `v1,<base64>` (HMAC) or
    /// `v1a,<base64>` (Ed25519) over `id.timestamp.body` (Standard Webhooks), or
    /// lower-case hex over `timestamp.body` (jido, which ignores `id`).
    ///
    /// ```
    /// use herald_webhook::WebhookSecret;
    ///
    /// let secret = WebhookSecret::jido("mysecret")?;
    /// assert_eq!(secret.signature("", 1, b"{}").len(), 64);
    /// # Ok::<(), herald_webhook::KeyError>(())
    /// ```
    pub fn signature(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        match self {
            Self::Ed25519(_) => ed25519_signature(self.expose_key(), id, timestamp, body),
            Self::Jido(_) => jido_signature(self.expose_key(), timestamp, body),
            Self::Standard(_) => standard_signature(self.expose_key(), id, timestamp, body),
        }
    }
}

/// Standard Webhooks' signed content, `id.timestamp.body`: what a
/// signature covers, and what an external signer (a KMS) is given.
pub fn signed_content(id: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let timestamp = timestamp.to_string();
    let mut content = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// The Ed25519 key of a 32-byte seed (checked when the secret was read).
pub(crate) fn ed25519_key(seed: &[u8]) -> ed25519_dalek::SigningKey {
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&seed[..32.min(seed.len())]);
    ed25519_dalek::SigningKey::from_bytes(&bytes)
}

/// The `v1a,<base64>` entry: Ed25519 over `id.timestamp.body`.
pub(crate) fn ed25519_signature(seed: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    use ed25519_dalek::Signer as _;
    let signature = ed25519_key(seed).sign(&signed_content(id, timestamp, body));
    format!("v1a,{}", STANDARD.encode(signature.to_bytes()))
}

pub(crate) fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes keys of any length.
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// The MAC over Standard Webhooks' signed content: `id.timestamp.body`.
pub(crate) fn standard_mac(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = mac(key);
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `webhook-signature` value: `v1,<base64>`.
pub(crate) fn standard_signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let digest = standard_mac(key, id, timestamp, body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(digest))
}

/// The MAC over the jido scheme's signed content: `timestamp.body`.
pub(crate) fn jido_mac(key: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = mac(key);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `x-webhook-signature` value: lower-case hex.
pub(crate) fn jido_signature(key: &[u8], timestamp: u64, body: &[u8]) -> String {
    hex::encode(jido_mac(key, timestamp, body).finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::WebhookSecret;
    use super::*;

    /// `vectors/webhook-signatures.md`, Standard Webhooks.
    #[test]
    fn standard_webhooks_vector() {
        let secret = WebhookSecret::standard("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
        let body = br#"{"email":"test@example.com","username":"test_user"}"#;
        assert_eq!(
            standard_signature(
                secret.expose_key(),
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1_649_367_553,
                body
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    /// `vectors/webhook-signatures.md`, Standard Webhooks v1a (the official Go
    /// library's known answer).
    #[test]
    fn ed25519_vector() {
        let secret =
            WebhookSecret::ed25519("whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk=").unwrap();
        assert_eq!(
            secret.signature(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
        );
    }

    /// `vectors/webhook-signatures.md`, jido-compatible.
    #[test]
    fn jido_vector() {
        let secret = WebhookSecret::jido("mysecret").unwrap();
        let body = include_bytes!("../../../vectors/jido-body.json");
        assert_eq!(
            jido_signature(secret.expose_key(), 1_764_158_400, body),
            "3709b35110ec7b0e675b921d6e297984389773810a184fb230114dc46c94b44f"
        );
    }
}
