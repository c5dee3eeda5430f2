//! Receiver-side verification: what Herald signs verifies, any change to the body, the
//! id, the timestamp or the signature fails, and hostile headers are errors, never
//! panics.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_webhook::{DEFAULT_TOLERANCE, WebhookSecret, verify_at};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    jido: bool,
    key: Vec<u8>,
    id: String,
    timestamp: u64,
    body: Vec<u8>,
    flip: usize,
    hostile: Vec<(String, String)>,
    now_offset: i32,
}

fuzz_target!(|input: Input| {
    let secret = if input.jido {
        let key: String = input.key.iter().map(|b| char::from(b'a' + b % 26)).collect();
        WebhookSecret::jido(&key)
    } else {
        let key = STANDARD.encode(&input.key);
        WebhookSecret::standard(&format!("whsec_{key}"))
    };
    let Ok(secret) = secret else { return };
    // Hostile headers: any names and values, any timestamp text, any tolerance.
    let _ = verify_at(&input.hostile, &input.body, &secret, DEFAULT_TOLERANCE, UNIX_EPOCH);
    let _ = verify_at(&input.hostile, &input.body, &secret, Duration::MAX, UNIX_EPOCH);

    let timestamp = input.timestamp % 4_000_000_000;
    let id: String = input.id.chars().filter(|c| c.is_ascii_graphic()).take(64).collect();
    let signature = secret.signature(&id, timestamp, &input.body);
    let stamp = timestamp.to_string();
    let headers: Vec<(&str, &str)> = if input.jido {
        vec![("x-webhook-timestamp", &stamp), ("x-webhook-signature", &signature)]
    } else {
        vec![("webhook-id", &id), ("webhook-timestamp", &stamp), ("webhook-signature", &signature)]
    };
    let now = UNIX_EPOCH + Duration::from_secs(timestamp)
        + Duration::from_secs(u64::from(input.now_offset.unsigned_abs() % 300));
    assert_eq!(verify_at(&headers, &input.body, &secret, DEFAULT_TOLERANCE, now), Ok(()));

    // Flip one bit of the body: the signature no longer matches.
    if !input.body.is_empty() {
        let mut body = input.body.clone();
        let at = input.flip % (body.len() * 8);
        body[at / 8] ^= 1 << (at % 8);
        assert!(verify_at(&headers, &body, &secret, DEFAULT_TOLERANCE, now).is_err());
    }
    // Another timestamp, the same signature: refused.
    let other = (timestamp + 1).to_string();
    let moved: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (*name, if name.ends_with("timestamp") { other.as_str() } else { value }))
        .collect();
    assert!(verify_at(&moved, &input.body, &secret, DEFAULT_TOLERANCE, now).is_err());
});
