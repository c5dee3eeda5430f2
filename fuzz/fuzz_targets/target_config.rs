//! Target configs for every adapter, with secrets planted in every field: reading one
//! never panics, and no rendering of the target or of its error — `Debug`, `Display`,
//! `describe()` — shows a planted secret.
#![no_main]

use arbitrary::Arbitrary;
use herald_core::Target;
use herald_core::http::HttpTarget;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const PLANTED: [&str; 5] = ["PLANTEDPW", "PLANTEDQUERY", "PLANTEDFRAG", "PLANTEDHDR", "PLANTEDKEY"];

const ADAPTERS: [&str; 10] = [
    "logger", "console", "noop", "named", "pubsub", "bus", "http", "webhook", "pid", "custom",
];

const FIELDS: [&str; 16] = [
    "url", "secret", "headers", "timeout_ms", "method", "body", "retry", "scheme", "event_types",
    "name", "topic", "bus", "mode", "level", "format", "require_subscribers",
];

#[derive(Debug, Arbitrary)]
enum Field {
    Url(u8, String),
    Secret(u8),
    Header(String),
    Text(String),
    Number(u64),
    Bool(bool),
    Object(Vec<(String, String)>),
}

impl Field {
    fn json(&self) -> Value {
        match self {
            Self::Url(style, host) => {
                let host: String = host.chars().filter(|c| c.is_ascii_alphanumeric()).take(20).collect();
                let host = if host.is_empty() { "h".to_owned() } else { host };
                json!(match style % 4 {
                    0 => format!("http://u:PLANTEDPW@{host}/x?t=PLANTEDQUERY#PLANTEDFRAG"),
                    1 => format!("https://{host}/p?token=PLANTEDQUERY"),
                    2 => format!("https://{host}/#PLANTEDFRAG"),
                    _ => format!("https://PLANTEDPW@{host}"),
                })
            }
            Self::Secret(kind) => json!(if kind % 2 == 0 {
                "whsec_UExBTlRFREtFWVBMQU5URURLRVk="
            } else {
                "PLANTEDKEY"
            }),
            // Header names are shown by design; only their values are secret.
            Self::Header(name) if tainted(name) => json!({ "x-tenant": "PLANTEDHDR" }),
            Self::Header(name) => json!({ name: "PLANTEDHDR", "x-tenant": "PLANTEDHDR" }),
            Self::Text(text) => json!(text),
            Self::Number(n) => json!(n),
            Self::Bool(b) => json!(b),
            Self::Object(entries) => Value::Object(
                entries.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<_, _>>(),
            ),
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Config {
    adapter: u8,
    fields: Vec<(u8, Field)>,
}

/// Where a secret may stand: a URL, a signing secret, a header. (A name or a topic is
/// an identifier, shown by design.)
fn plantable(field: &str, value: &Field) -> bool {
    match value {
        Field::Url(..) => field == "url",
        Field::Secret(_) => field == "secret",
        Field::Header(_) => field == "headers" || field == "event_types",
        // Free text is shown where it is an identifier: the fuzzer must not smuggle a
        // marker in through it.
        other => !tainted(&other.json().to_string()),
    }
}

/// Whether text the fuzzer made up carries a planted marker (it learns them).
fn tainted(text: &str) -> bool {
    text.contains("PLANTED") || text.contains("UExBTlRFREtFWVBMQU5URURLRVk")
}

fn assert_clean(text: &str) {
    for planted in PLANTED {
        assert!(!text.contains(planted), "{planted} shown: {text}");
    }
    // The standard secret's key bytes, base64: never shown either.
    assert!(!text.contains("UExBTlRFREtFWVBMQU5URURLRVk"), "secret shown: {text}");
}

fuzz_target!(|config: Config| {
    let adapter = ADAPTERS[config.adapter as usize % ADAPTERS.len()];
    let mut object = Map::new();
    object.insert("adapter".to_owned(), json!(adapter));
    for (field, value) in &config.fields {
        let field = FIELDS[*field as usize % FIELDS.len()];
        if plantable(field, value) {
            object.insert(field.to_owned(), value.json());
        }
    }
    let object = Value::Object(object);
    match Target::from_config(object.clone()) {
        Ok(target) => {
            assert_clean(&format!("{target:?}"));
            assert_clean(&target.describe().to_string());
        }
        Err(error) => {
            assert_clean(&error.to_string());
            assert_clean(&format!("{error:?}"));
        }
    }
    for webhook in [false, true] {
        match HttpTarget::from_config(&object, webhook) {
            Ok(target) => {
                assert_clean(&format!("{target:?}"));
                let target: Target = target.into();
                assert_clean(&target.describe().to_string());
                assert_clean(&format!("{target:?}"));
            }
            Err(error) => {
                assert_clean(&error.to_string());
                assert_clean(&format!("{error:?}"));
            }
        }
    }
});
