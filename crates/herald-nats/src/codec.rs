//! The CloudEvents NATS protocol binding: a signal as a NATS message in structured mode
//! (the JSON event format as the payload) or binary mode (each attribute a `ce-`
//! header, the data as the payload), and back.

use async_nats::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use herald_signal::{Signal, SignalError};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value};

/// The content type that marks a structured message.
pub const STRUCTURED: &str = "application/cloudevents+json";

/// What the binding percent-encodes in `ce-` values: controls, space, `"` and `%`
/// (non-ASCII is always encoded), as the HTTP binding does.
const CE_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// How a signal travels in a NATS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum BodyMode {
    /// The whole event as JSON in the payload, `content-type:
    /// application/cloudevents+json`. The default: any CloudEvents NATS reader takes it.
    #[default]
    Structured,
    /// Each attribute a `ce-` header (percent-encoded), the data alone as the payload;
    /// `datacontenttype` travels as `ce-datacontenttype`. Needs NATS 2.2 or later.
    Binary,
}

impl BodyMode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Structured => "structured",
            Self::Binary => "binary",
        }
    }
}

/// Why a NATS message is not a signal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The message is larger than the limit.
    #[error("message is {size} bytes, over the limit of {limit}")]
    TooLarge {
        /// The payload's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A `ce-` header is not percent-encoded UTF-8.
    #[error("header `{0}` is not valid percent-encoded UTF-8")]
    BadHeader(String),
    /// The data is not what its content type says (e.g. JSON that does not parse).
    #[error("the data does not match its content type: {0}")]
    BadData(String),
    /// The attributes or the JSON event break a CloudEvents rule.
    #[error(transparent)]
    Signal(#[from] SignalError),
}

/// A signal as a NATS message: its headers and payload.
pub fn encode(signal: &Signal, mode: BodyMode) -> (HeaderMap, Bytes) {
    let mut headers = HeaderMap::new();
    match mode {
        BodyMode::Structured => {
            headers.insert("content-type", STRUCTURED);
            (headers, Bytes::from(signal.to_json_vec()))
        }
        BodyMode::Binary => {
            let Value::Object(event) = serde_json::to_value(signal).unwrap_or_default() else {
                return (headers, Bytes::new());
            };
            let mut payload = Bytes::new();
            for (name, value) in event {
                match name.as_str() {
                    "data" | "data_base64" => {}
                    _ => {
                        let text = match value {
                            Value::String(text) => text,
                            other => other.to_string(),
                        };
                        let encoded = utf8_percent_encode(&text, CE_VALUE).to_string();
                        headers.insert(format!("ce-{name}"), encoded);
                    }
                }
            }
            if let Some(data) = signal.data() {
                payload = match (data.as_bytes(), data.as_json()) {
                    (Some(bytes), _) => {
                        // Bytes with no content type would read back as JSON.
                        if signal.datacontenttype().is_none() {
                            headers.insert("ce-datacontenttype", "application/octet-stream");
                        }
                        Bytes::copy_from_slice(bytes)
                    }
                    (None, Some(Value::String(text)))
                        if !is_json(signal.datacontenttype().unwrap_or("application/json")) =>
                    {
                        Bytes::from(text.clone().into_bytes())
                    }
                    (None, Some(json)) => Bytes::from(json.to_string().into_bytes()),
                    (None, None) => Bytes::new(),
                };
            }
            (headers, payload)
        }
    }
}

/// The signal in a NATS message, in whichever mode it came: structured when its
/// `content-type` is `application/cloudevents+json` (or it has no `ce-specversion`
/// header and its payload is a JSON object), binary otherwise. At most `limit` bytes
/// of payload are taken.
///
/// # Errors
///
/// A [`DecodeError`] saying what is wrong; never a panic.
pub fn decode(
    headers: Option<&HeaderMap>,
    payload: &[u8],
    limit: usize,
) -> Result<Signal, DecodeError> {
    if payload.len() > limit {
        return Err(DecodeError::TooLarge {
            size: payload.len(),
            limit,
        });
    }
    let content_type = headers
        .and_then(|h| h.get("content-type"))
        .map(|v| v.as_str().trim().to_owned());
    let binary = headers.is_some_and(|h| h.get("ce-specversion").is_some());
    let structured = content_type
        .as_deref()
        .is_some_and(|ct| ct.starts_with(STRUCTURED));
    match (headers, binary && !structured) {
        (Some(headers), true) => decode_binary(headers, payload),
        _ => Ok(Signal::from_json_slice_limited(payload, limit)?),
    }
}

fn decode_binary(headers: &HeaderMap, payload: &[u8]) -> Result<Signal, DecodeError> {
    let mut event = Map::new();
    for (name, values) in headers.iter() {
        let name = name.to_string().to_ascii_lowercase();
        let Some(attribute) = name.strip_prefix("ce-") else {
            continue;
        };
        let Some(value) = values.first() else {
            continue;
        };
        let text = percent_decode_str(value.as_str())
            .decode_utf8()
            .map_err(|_| DecodeError::BadHeader(name.clone()))?;
        event.insert(attribute.to_owned(), Value::String(text.into_owned()));
    }
    if !payload.is_empty() {
        let content_type = match event.get("datacontenttype") {
            Some(Value::String(ct)) => ct.clone(),
            _ => "application/json".to_owned(),
        };
        if is_json(&content_type) {
            let data: Value = serde_json::from_slice(payload)
                .map_err(|error| DecodeError::BadData(error.to_string()))?;
            event.insert("data".to_owned(), data);
        } else if content_type.starts_with("text/") {
            let text = std::str::from_utf8(payload)
                .map_err(|error| DecodeError::BadData(error.to_string()))?;
            event.insert("data".to_owned(), Value::String(text.to_owned()));
        } else {
            event.insert(
                "data_base64".to_owned(),
                Value::String(STANDARD.encode(payload)),
            );
        }
    }
    let json = serde_json::to_vec(&Value::Object(event)).unwrap_or_default();
    Ok(Signal::from_json_slice(&json)?)
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal() -> Signal {
        Signal::builder("order.placed")
            .source("/shop")
            .subject("order 17 — ü")
            .extension("tenant", "acme corp")
            .extension("priority", 3)
            .data(serde_json::json!({"total": 12.5}))
            .build()
            .unwrap()
    }

    #[test]
    fn both_modes_round_trip() {
        for mode in [BodyMode::Structured, BodyMode::Binary] {
            let signal = signal();
            let (headers, payload) = encode(&signal, mode);
            let back = decode(Some(&headers), &payload, 1 << 20).unwrap();
            assert_eq!(back.id(), signal.id(), "{mode:?}");
            assert_eq!(back.subject(), signal.subject(), "{mode:?}");
            assert_eq!(back.data(), signal.data(), "{mode:?}");
            assert_eq!(back.ty(), signal.ty());
        }
    }

    #[test]
    fn binary_data_and_text_round_trip() {
        let bytes = Signal::builder("blob")
            .data_binary(vec![0, 159, 146, 150])
            .build()
            .unwrap();
        let text = Signal::builder("note")
            .datacontenttype("text/plain")
            .data(serde_json::json!("hello"))
            .build()
            .unwrap();
        for signal in [bytes, text] {
            let (headers, payload) = encode(&signal, BodyMode::Binary);
            let back = decode(Some(&headers), &payload, 1 << 20).unwrap();
            assert_eq!(back.data(), signal.data());
        }
    }

    #[test]
    fn bad_messages_are_errors() {
        assert!(matches!(
            decode(None, b"{not json", 100),
            Err(DecodeError::Signal(_))
        ));
        assert!(matches!(
            decode(None, &[b' '; 200], 100),
            Err(DecodeError::TooLarge { .. })
        ));
        let mut headers = HeaderMap::new();
        headers.insert("ce-specversion", "1.0");
        headers.insert("ce-id", "1");
        headers.insert("ce-source", "/s");
        headers.insert("ce-type", "t");
        assert!(matches!(
            decode(Some(&headers), b"{oops", 100),
            Err(DecodeError::BadData(_))
        ));
        headers.insert("ce-subject", "%FF");
        assert!(matches!(
            decode(Some(&headers), b"", 100),
            Err(DecodeError::BadHeader(_))
        ));
        let mut missing = HeaderMap::new();
        missing.insert("ce-specversion", "1.0");
        assert!(matches!(
            decode(Some(&missing), b"", 100),
            Err(DecodeError::Signal(_))
        ));
    }
}
