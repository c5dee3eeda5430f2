//! Keeping secrets and bulk out of logs: redaction by key, truncation by size.

use serde_json::Value;

/// What replaces a redacted value.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// Key fragments that mark a value as sensitive (compared case-insensitively, ignoring
/// `-` and `_`).
const SENSITIVE: [&str; 12] = [
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "authorization",
    "auth",
    "cookie",
    "credential",
    "privatekey",
    "session",
    "signature",
];

pub(crate) fn is_sensitive(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SENSITIVE.iter().any(|fragment| key.contains(fragment))
}

/// A copy of `value` with every sensitive key's value replaced, at any depth.
pub(crate) fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let value = if is_sensitive(key) {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(value)
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Cuts `text` to at most `limit` bytes (on a character boundary), saying how much was
/// left out.
pub(crate) fn truncate(mut text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let total = text.len();
    let mut cut = limit;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&format!("… ({} more bytes)", total - cut));
    text
}

/// `value`, redacted, as one line of at most `limit` bytes.
pub(crate) fn compact(value: &Value, limit: usize) -> String {
    truncate(redact(value).to_string(), limit)
}

/// `value`, redacted, pretty-printed, at most `limit` bytes.
pub(crate) fn pretty(value: &Value, limit: usize) -> String {
    let text =
        serde_json::to_string_pretty(&redact(value)).unwrap_or_else(|_| redact(value).to_string());
    truncate(text, limit)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sensitive_keys_are_redacted_at_any_depth() {
        let value = json!({
            "user": "ada",
            "Password": "hunter2",
            "nested": {"api_key": "k", "list": [{"accessToken": "t"}, 1]},
            "x-webhook-signature": "s",
        });
        let text = redact(&value).to_string();
        for secret in ["hunter2", "\"k\"", "\"t\"", "\"s\""] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("ada"));
        assert_eq!(text.matches(REDACTED).count(), 4);
    }

    #[test]
    fn truncation_respects_char_boundaries_and_says_so() {
        let text = "é".repeat(10); // 20 bytes
        let cut = truncate(text, 5);
        assert!(cut.starts_with("éé"));
        assert!(cut.ends_with("(16 more bytes)"), "{cut}");
        assert_eq!(truncate("short".into(), 10), "short");
    }
}
