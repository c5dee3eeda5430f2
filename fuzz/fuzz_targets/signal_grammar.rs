//! CloudEvents-shaped objects built from a grammar (attributes of every type, right and
//! wrong, extensions, data of every kind): parsing never panics, and whatever parses
//! round-trips; the builder agrees with the parser.
#![no_main]

use arbitrary::Arbitrary;
use herald_signal::Signal;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[derive(Debug, Arbitrary)]
enum Scalar {
    Text(String),
    Time(u8, u16, u8, u8, i8),
    Number(i64),
    Float(f64),
    Bool(bool),
    Null,
    Nested(Vec<Scalar>),
}

impl Scalar {
    fn json(&self, depth: usize) -> Value {
        match self {
            Self::Text(text) => json!(text),
            Self::Time(style, year, month, day, offset) => {
                let text = match style % 4 {
                    0 => format!("{year:04}-{month:02}-{day:02}T12:00:00Z"),
                    1 => format!("{year:04}-{month:02}-{day:02}T23:59:59{offset:+03}:00"),
                    2 => format!("{year:04}-{month:02}-{day:02}T00:00:00.123456789Z"),
                    _ => format!("{year}-{month}-{day}"),
                };
                json!(text)
            }
            Self::Number(n) => json!(n),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Bool(b) => json!(b),
            Self::Null => Value::Null,
            Self::Nested(items) if depth < 8 => {
                Value::Array(items.iter().map(|item| item.json(depth + 1)).collect())
            }
            Self::Nested(_) => Value::Null,
        }
    }
}

#[derive(Debug, Arbitrary)]
struct Event {
    attributes: Vec<(u8, Scalar)>,
    extensions: Vec<(String, Scalar)>,
    data: Option<Scalar>,
    data_base64: Option<String>,
}

const NAMES: [&str; 11] = [
    "id",
    "source",
    "specversion",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
    "data_base64",
    "specversion",
];

fuzz_target!(|event: Event| {
    let mut object = Map::new();
    for (name, value) in &event.attributes {
        object.insert(NAMES[*name as usize % NAMES.len()].to_owned(), value.json(0));
    }
    object
        .entry("specversion")
        .or_insert_with(|| json!("1.0"));
    for (name, value) in &event.extensions {
        object.insert(name.clone(), value.json(0));
    }
    if let Some(data) = &event.data {
        object.insert("data".to_owned(), data.json(0));
    }
    if let Some(encoded) = &event.data_base64 {
        object.insert("data_base64".to_owned(), json!(encoded));
    }
    let text = Value::Object(object).to_string();
    if let Ok(signal) = Signal::from_json(&text) {
        let again = Signal::from_json(&signal.to_json()).expect("a parsed signal re-parses");
        assert_eq!(again, signal);
        // The builder accepts whatever the parser does (it may only add defaults).
        let rebuilt = signal.to_builder().build().expect("a parsed signal rebuilds");
        assert_eq!((rebuilt.id(), rebuilt.ty(), rebuilt.data()), (signal.id(), signal.ty(), signal.data()));
    }
});
