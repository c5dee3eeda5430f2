//! The CloudEvents NATS protocol binding: a signal as a NATS message in structured mode
//! (the JSON event format as the payload) or binary mode (each attribute a `ce-`
//! header, the data as the payload), and back.

use async_nats::HeaderMap;
use bytes::Bytes;
use herald_signal::{BinaryError, Signal, SignalError};
pub use herald_signal::{BodyMode, STRUCTURED};

/// The largest message Herald reads back from a stream (a durable signal, a dead
/// letter): 4 MiB, above any server's default `max_payload` (1 MiB).
pub(crate) const STORED_LIMIT: usize = 4 * 1024 * 1024;

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
    /// A binary-mode message whose headers or data are not a signal.
    #[error(transparent)]
    Binary(#[from] BinaryError),
    /// A structured message whose JSON event breaks a CloudEvents rule.
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
            for (name, value) in signal.binary_headers() {
                headers.insert(name, value);
            }
            let Some((content_type, body)) = signal.binary_body() else {
                return (headers, Bytes::new());
            };
            // Bytes with no content type would read back as JSON.
            if signal.datacontenttype().is_none() && content_type != "application/json" {
                headers.insert("ce-datacontenttype", content_type);
            }
            (headers, Bytes::from(body))
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

/// Reads a binary-mode message. `datacontenttype` is `ce-datacontenttype`, as the
/// binding says; a writer that put it in `content-type` instead, as in HTTP, is read
/// too.
fn decode_binary(headers: &HeaderMap, payload: &[u8]) -> Result<Signal, DecodeError> {
    let content_type = match headers.get("ce-datacontenttype") {
        Some(_) => None,
        None => headers.get("content-type").map(|value| value.as_str()),
    };
    let headers = headers
        .iter()
        .filter_map(|(name, values)| Some((name.as_ref(), values.first()?.as_str())))
        .chain(content_type.map(|value| ("ce-datacontenttype", value)));
    Ok(Signal::from_binary(headers, payload)?)
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
    fn a_content_type_header_is_read_as_datacontenttype() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("ce-specversion", "1.0"),
            ("ce-id", "1"),
            ("ce-source", "/s"),
            ("ce-type", "t"),
            ("content-type", "text/plain"),
        ] {
            headers.insert(name, value);
        }
        let signal = decode(Some(&headers), b"hello", 100).unwrap();
        assert_eq!(signal.datacontenttype(), Some("text/plain"));
        assert_eq!(
            signal.data().and_then(|d| d.as_json()),
            Some(&"hello".into())
        );
        headers.insert("ce-datacontenttype", "application/json");
        let signal = decode(Some(&headers), b"\"hi\"", 100).unwrap();
        assert_eq!(signal.datacontenttype(), Some("application/json"));
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
            Err(DecodeError::Binary(BinaryError::BadData(_)))
        ));
        headers.insert("ce-subject", "%FF");
        assert!(matches!(
            decode(Some(&headers), b"", 100),
            Err(DecodeError::Binary(BinaryError::BadHeader(_)))
        ));
        headers.insert("ce-subject", "%ZZbroken");
        assert!(matches!(
            decode(Some(&headers), b"", 100),
            Err(DecodeError::Binary(BinaryError::BadHeader(_)))
        ));
        let mut missing = HeaderMap::new();
        missing.insert("ce-specversion", "1.0");
        assert!(matches!(
            decode(Some(&missing), b"", 100),
            Err(DecodeError::Binary(BinaryError::Signal(_)))
        ));
    }
}
