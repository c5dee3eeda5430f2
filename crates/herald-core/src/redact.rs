//! Keeping secrets and bulk out of logs: redaction by key, truncation by size.
//!
//! Rendering walks the value with an explicit stack (never the call stack, so no
//! nesting depth can overflow a thread), shows containers nested deeper than
//! [`MAX_DEPTH`] as `[…]`/`{…}`, and stops writing at its byte limit: it never copies
//! more of a value than it prints.

use std::fmt::Write as _;

use serde_json::Value;

/// What replaces a redacted value.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// How deep rendering descends into nested data before showing `[…]` or `{…}`.
pub(crate) const MAX_DEPTH: usize = 32;

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

/// A copy of `value` safe to show: values under sensitive keys and header values
/// replaced, URLs cut to
/// their origin (no userinfo, query, fragment, nor a path that may be a bearer token),
/// containers deeper than [`MAX_DEPTH`] replaced by a marker.
pub(crate) fn redacted_value(value: &Value) -> Value {
    fn walk(value: &Value, depth: usize) -> Value {
        match value {
            _ if depth >= MAX_DEPTH => Value::String("[…]".to_owned()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let shown = if is_sensitive(key) {
                            Value::String(REDACTED.to_owned())
                        } else if key.eq_ignore_ascii_case("headers") {
                            // Header values are the caller's (tokens): never shown.
                            walk_headers(value)
                        } else {
                            walk(value, depth + 1)
                        };
                        (key.clone(), shown)
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| walk(item, depth + 1)).collect())
            }
            Value::String(text) => Value::String(url_origin(text).unwrap_or_else(|| text.clone())),
            other => other.clone(),
        }
    }
    fn walk_headers(value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.keys()
                    .map(|name| (name.clone(), Value::String(REDACTED.to_owned())))
                    .collect(),
            ),
            _ => Value::String(REDACTED.to_owned()),
        }
    }
    walk(value, 0)
}

/// `text` as a URL's origin, with `/[REDACTED]` for a path; `None` when it is no URL
/// with a host.
fn url_origin(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let host = url.host_str()?;
    let port = url
        .port()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    let path = if url.path().is_empty() || url.path() == "/" {
        ""
    } else {
        "/[REDACTED]"
    };
    Some(format!("{}://{host}{port}{path}", url.scheme()))
}

/// `value`, redacted, as one line of at most `limit` bytes (plus a marker when cut).
pub(crate) fn compact(value: &Value, limit: usize) -> String {
    render(value, limit, false)
}

/// `value`, redacted, pretty-printed, at most `limit` bytes (plus a marker when cut).
pub(crate) fn pretty(value: &Value, limit: usize) -> String {
    render(value, limit, true)
}

/// One open container: what is left of it, and whether an item was written yet.
enum Open<'a> {
    Array(std::slice::Iter<'a, Value>, bool),
    Object(serde_json::map::Iter<'a>, bool),
}

fn render(value: &Value, limit: usize, pretty: bool) -> String {
    let mut out = Out {
        text: String::new(),
        limit,
        cut: false,
        pretty,
    };
    let mut open: Vec<Open<'_>> = Vec::new();
    out.value(value, &mut open);
    while !out.cut {
        let depth = open.len();
        let Some(top) = open.last_mut() else { break };
        match top {
            Open::Array(items, first) => match items.next() {
                Some(item) => {
                    out.separator(first, depth);
                    out.value(item, &mut open);
                }
                None => {
                    open.pop();
                    out.close(']', depth - 1);
                }
            },
            Open::Object(entries, first) => match entries.next() {
                Some((key, item)) => {
                    out.separator(first, depth);
                    out.string(key);
                    out.push(if pretty { ": " } else { ":" });
                    if is_sensitive(key) {
                        out.string(REDACTED);
                    } else {
                        out.value(item, &mut open);
                    }
                }
                None => {
                    open.pop();
                    out.close('}', depth - 1);
                }
            },
        }
    }
    if out.cut {
        out.text.push_str("… (truncated)");
    }
    out.text
}

/// The text being written, up to its limit.
struct Out {
    text: String,
    limit: usize,
    cut: bool,
    pretty: bool,
}

impl Out {
    /// Writes a scalar, or opens a container (pushing it on `open`).
    fn value<'a>(&mut self, value: &'a Value, open: &mut Vec<Open<'a>>) {
        match value {
            Value::Array(items) if items.is_empty() => self.push("[]"),
            Value::Object(map) if map.is_empty() => self.push("{}"),
            Value::Array(_) if open.len() >= MAX_DEPTH => self.push("[…]"),
            Value::Object(_) if open.len() >= MAX_DEPTH => self.push("{…}"),
            Value::Array(items) => {
                self.push("[");
                open.push(Open::Array(items.iter(), true));
            }
            Value::Object(map) => {
                self.push("{");
                open.push(Open::Object(map.iter(), true));
            }
            Value::String(text) => self.string(text),
            Value::Number(number) => {
                let mut text = String::new();
                let _ = write!(text, "{number}");
                self.push(&text);
            }
            Value::Bool(true) => self.push("true"),
            Value::Bool(false) => self.push("false"),
            Value::Null => self.push("null"),
        }
    }

    /// A JSON string; of a long one, only what can still be shown is escaped.
    fn string(&mut self, text: &str) {
        let room = self.limit.saturating_sub(self.text.len());
        let mut end = text.len().min(room);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let escaped = serde_json::to_string(&text[..end]).unwrap_or_default();
        if end < text.len() {
            // Cut inside the string: show it open-ended.
            self.push(&escaped[..escaped.len() - 1]);
            self.cut = true;
        } else {
            self.push(&escaped);
        }
    }

    fn separator(&mut self, first: &mut bool, depth: usize) {
        if !std::mem::take(first) {
            self.push(",");
        }
        self.indent(depth);
    }

    fn close(&mut self, bracket: char, depth: usize) {
        self.indent(depth);
        let mut text = [0u8; 4];
        self.push(bracket.encode_utf8(&mut text));
    }

    fn indent(&mut self, depth: usize) {
        if self.pretty {
            self.push("\n");
            for _ in 0..depth {
                self.push("  ");
            }
        }
    }

    /// Appends as much of `text` as fits; past the limit, marks the output cut.
    fn push(&mut self, text: &str) {
        if self.cut {
            return;
        }
        let room = self.limit.saturating_sub(self.text.len());
        if text.len() <= room {
            self.text.push_str(text);
            return;
        }
        let mut end = room;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.text.push_str(&text[..end]);
        self.cut = true;
    }
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
        let text = compact(&value, 4096);
        for secret in ["hunter2", "\"k\"", "\"t\"", "\"s\""] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        assert!(text.contains("ada"));
        assert_eq!(text.matches(REDACTED).count(), 4);
    }

    #[test]
    fn rendering_matches_serde_json_when_nothing_is_cut_or_redacted() {
        let value =
            json!({"a": [1, 2.5, {"b": null, "c": [true, false, []]}], "d": "é\n\"", "e": {}});
        assert_eq!(compact(&value, 4096), value.to_string());
        assert_eq!(
            pretty(&value, 4096),
            serde_json::to_string_pretty(&value).unwrap()
        );
    }

    #[test]
    fn output_is_cut_at_the_limit_on_a_char_boundary_and_says_so() {
        let value = json!({"text": "é".repeat(1000)});
        let text = compact(&value, 20);
        assert!(text.ends_with("… (truncated)"), "{text}");
        assert!(text.len() <= 20 + "… (truncated)".len());
        assert_eq!(compact(&json!("short"), 10), "\"short\"");
    }

    #[test]
    fn deep_nesting_is_shown_to_a_depth_without_recursion() {
        let mut value = json!(1);
        for _ in 0..100_000 {
            value = Value::Array(vec![value]);
        }
        // Rendered on a small stack: recursion would overflow it.
        let text = std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let text = compact(&value, 1 << 20);
                // Dropping 100,000 nested arrays recurses in serde_json: leak it instead.
                std::mem::forget(value);
                text
            })
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(
            text,
            format!("{}[…]{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH))
        );
    }
}
