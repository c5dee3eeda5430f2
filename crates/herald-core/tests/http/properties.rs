//! The fuzz targets' properties, as property tests on stable (`cargo test` runs them):
//! what is signed verifies and any change fails; configs never render a planted secret.

use std::time::{Duration, UNIX_EPOCH};

use herald_core::Target;
use herald_core::http::{DEFAULT_TOLERANCE, HttpTarget, WebhookSecret, verify_at};
use proptest::prelude::*;
use serde_json::{Value, json};

fn secret() -> impl Strategy<Value = WebhookSecret> {
    prop_oneof![
        "[a-z]{1,40}".prop_map(|key| WebhookSecret::jido(&key).unwrap()),
        prop::collection::vec(any::<u8>(), 1..48).prop_map(|key| {
            use base64::Engine as _;
            let encoded = base64::engine::general_purpose::STANDARD.encode(key);
            WebhookSecret::standard(&format!("whsec_{encoded}")).unwrap()
        }),
    ]
}

proptest! {
    #[test]
    fn signed_verifies_and_any_change_fails(
        secret in secret(),
        id in "[!-~]{1,40}",
        timestamp in 0u64..4_000_000_000,
        body in prop::collection::vec(any::<u8>(), 1..256),
        flip in any::<usize>(),
        skew in 0u64..300,
    ) {
        let signature = secret.signature(&id, timestamp, &body);
        let stamp = timestamp.to_string();
        let jido = matches!(secret, WebhookSecret::Jido(_));
        let headers: Vec<(&str, &str)> = if jido {
            vec![("x-webhook-timestamp", &stamp), ("x-webhook-signature", &signature)]
        } else {
            vec![("webhook-id", &id), ("webhook-timestamp", &stamp), ("webhook-signature", &signature)]
        };
        let now = UNIX_EPOCH + Duration::from_secs(timestamp + skew);
        prop_assert_eq!(verify_at(&headers, &body, &secret, DEFAULT_TOLERANCE, now), Ok(()));

        let mut changed = body.clone();
        let bit = flip % (changed.len() * 8);
        changed[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_at(&headers, &changed, &secret, DEFAULT_TOLERANCE, now).is_err());
        let other = (timestamp + 1).to_string();
        let moved: Vec<(&str, &str)> = headers
            .iter()
            .map(|(name, value)| (*name, if name.ends_with("timestamp") { other.as_str() } else { *value }))
            .collect();
        prop_assert!(verify_at(&moved, &body, &secret, DEFAULT_TOLERANCE, now).is_err());
    }

    #[test]
    fn hostile_headers_are_errors(
        secret in secret(),
        headers in prop::collection::vec((".{0,20}", ".{0,30}"), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = verify_at(&headers, &body, &secret, DEFAULT_TOLERANCE, UNIX_EPOCH);
        let _ = verify_at(&headers, &body, &secret, Duration::MAX, UNIX_EPOCH);
    }

    #[test]
    fn configs_never_render_a_planted_secret(
        adapter in prop::sample::select(vec!["http", "webhook", "custom", "logger", "named"]),
        host in "[a-z]{1,10}",
        with_password in any::<bool>(),
        header in "[a-z][a-z-]{0,10}",
        timeout in prop::option::of(any::<u64>()),
        scheme in prop::sample::select(vec!["standard", "jido", "other"]),
    ) {
        let userinfo = if with_password { "u:PWPLANT@" } else { "" };
        let mut config = json!({
            "adapter": adapter,
            "url": format!("https://{userinfo}{host}/p?token=QUERYPLANT#FRAGPLANT"),
            "headers": { header: "HEADERPLANT" },
            "secret": if scheme == "jido" { "JIDOPLANT" } else { "whsec_UExBTlRLRVk=" },
            "scheme": scheme,
        });
        if let Some(ms) = timeout {
            config["timeout_ms"] = Value::from(ms);
        }
        let mut rendered = match Target::from_config(config.clone()) {
            Ok(target) => format!("{target:?} {}", target.describe()),
            Err(error) => format!("{error} {error:?}"),
        };
        for webhook in [false, true] {
            rendered += &match HttpTarget::from_config(&config, webhook) {
                Ok(target) => format!("{target:?}"),
                Err(error) => format!("{error} {error:?}"),
            };
        }
        for planted in ["PWPLANT", "QUERYPLANT", "FRAGPLANT", "HEADERPLANT", "JIDOPLANT", "UExBTlRLRVk"] {
            prop_assert!(!rendered.contains(planted), "{} in {}", planted, rendered);
        }
    }
}
