//! The content modes of the CloudEvents protocol bindings (HTTP, NATS), in one place for
//! every transport: structured (the JSON event format, [`STRUCTURED`]), batch
//! ([`BATCH`]), and binary — every attribute but the data travels as a header named
//! `ce-` and the attribute's name, its value percent-encoded; the data alone is the
//! body.
//!
//! The bindings differ in one attribute, and that is left to them: HTTP carries
//! `datacontenttype` as its own `Content-Type` header, NATS as `ce-datacontenttype`
//! (`Content-Type` there marks a structured message).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::json::{format_time, from_json_value};
use crate::{Data, Signal, SignalError};

/// What the bindings percent-encode in a `ce-` value: controls, space, `"` and `%`
/// (non-ASCII is always encoded).
const CE_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// The prefix of an attribute's header.
const PREFIX: &str = "ce-";

/// The content type of a structured-mode message: the whole event as JSON.
pub const STRUCTURED: &str = "application/cloudevents+json";

/// The content type of a batch: a JSON array of events.
pub const BATCH: &str = "application/cloudevents-batch+json";

/// How a signal travels in a message of a protocol binding (an HTTP request, a NATS
/// message). Exhaustive: these are the two modes the CloudEvents bindings define for
/// one event (a batch is many events, not a mode of one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BodyMode {
    /// The whole event as JSON in the body, with content type [`STRUCTURED`]. The
    /// default: any CloudEvents reader takes it.
    #[default]
    Structured,
    /// Each attribute a `ce-` header (percent-encoded), the data alone as the body
    /// ([`Signal::binary_headers`], [`Signal::binary_body`]).
    Binary,
}

impl BodyMode {
    /// `structured` or `binary`, as targets read from data name it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Structured => "structured",
            Self::Binary => "binary",
        }
    }
}

/// Why binary-mode headers and body are not a signal.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// A `ce-` header's value is not percent-encoded UTF-8 (a `%` not followed by two
    /// hex digits, or bytes that are not UTF-8 once decoded).
    #[error("header `{0}` is not valid percent-encoded UTF-8")]
    BadHeader(String),
    /// The body is not what its content type says (e.g. JSON that does not parse).
    #[error("the data does not match its content type: {0}")]
    BadData(String),
    /// The attributes break a CloudEvents rule.
    #[error(transparent)]
    Signal(#[from] SignalError),
}

impl Signal {
    /// The signal's attributes as binary-mode headers: `ce-` and the attribute's name,
    /// with its value percent-encoded. Required attributes first, then the optional
    /// ones the signal has (`datacontenttype` among them), then its extensions.
    ///
    /// ```
    /// # use herald_signal::Signal;
    /// let signal = Signal::builder("order.placed").source("/shop").subject("a b").build()?;
    /// let headers = signal.binary_headers();
    /// assert!(headers.contains(&("ce-type".to_owned(), "order.placed".to_owned())));
    /// assert!(headers.contains(&("ce-subject".to_owned(), "a%20b".to_owned())));
    /// # Ok::<(), herald_signal::SignalError>(())
    /// ```
    pub fn binary_headers(&self) -> Vec<(String, String)> {
        let time = self.time().map(format_time);
        let attributes = [
            ("specversion", Some(self.specversion().as_str())),
            ("id", Some(self.id())),
            ("source", Some(self.source())),
            ("type", Some(self.ty())),
            ("subject", self.subject()),
            ("time", time.as_deref()),
            ("datacontenttype", self.datacontenttype()),
            ("dataschema", self.dataschema()),
        ];
        let core = attributes
            .into_iter()
            .filter_map(|(name, value)| Some((name, Cow::Borrowed(value?))));
        let extensions = self
            .extensions()
            .iter()
            .map(|(name, value)| (name.as_str(), Cow::Owned(value.to_string())));
        core.chain(extensions)
            .map(|(name, value)| {
                let encoded = utf8_percent_encode(&value, CE_VALUE).to_string();
                (format!("{PREFIX}{name}"), encoded)
            })
            .collect()
    }

    /// The signal's data as a binary-mode body, with the content type to read it back
    /// with: the signal's `datacontenttype`, or `application/json` for JSON data and
    /// `application/octet-stream` for bytes when it has none. JSON is written as JSON,
    /// except a string under a content type that is not JSON, which is written as its
    /// text. `None` when the signal has no data.
    ///
    /// ```
    /// # use herald_signal::Signal;
    /// let note = Signal::builder("note")
    ///     .datacontenttype("text/plain")
    ///     .data(serde_json::json!("hello"))
    ///     .build()?;
    /// assert_eq!(note.binary_body(), Some(("text/plain", b"hello".to_vec())));
    /// # Ok::<(), herald_signal::SignalError>(())
    /// ```
    pub fn binary_body(&self) -> Option<(&str, Vec<u8>)> {
        match self.data()? {
            Data::Binary(bytes) => Some((
                self.datacontenttype().unwrap_or("application/octet-stream"),
                bytes.clone(),
            )),
            Data::Json(value) => {
                let content_type = self.datacontenttype().unwrap_or("application/json");
                let body = match value {
                    Value::String(text) if !is_json(content_type) => text.clone().into_bytes(),
                    _ => serde_json::to_vec(value).expect("a JSON value always serializes"),
                };
                Some((content_type, body))
            }
        }
    }

    /// Reads a signal from binary-mode headers and body. Headers named `ce-` and an
    /// attribute's name (in any case) are its attributes, percent-decoded; others are
    /// ignored. A non-empty body is the data, read by `datacontenttype` (JSON when
    /// there is none): JSON is parsed, `text/*` taken as a string, anything else as
    /// bytes. An empty body is no data (so empty text sent in binary mode reads back
    /// as none), and extensions read back as strings: the mode cannot say otherwise.
    /// Bound the body's size before calling.
    ///
    /// # Errors
    ///
    /// [`BinaryError`] saying what is wrong; never a panic.
    ///
    /// ```
    /// # use herald_signal::Signal;
    /// let signal = Signal::builder("order.placed").source("/shop").build()?;
    /// let headers = signal.binary_headers();
    /// let back = Signal::from_binary(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), b"")?;
    /// assert_eq!(back, signal);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_binary<'a>(
        headers: impl IntoIterator<Item = (&'a str, &'a str)>,
        body: &[u8],
    ) -> Result<Self, BinaryError> {
        let mut event = Map::new();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let Some(attribute) = name.strip_prefix(PREFIX) else {
                continue;
            };
            if !escapes_are_valid(value) {
                return Err(BinaryError::BadHeader(name));
            }
            let text = percent_decode_str(value)
                .decode_utf8()
                .map_err(|_| BinaryError::BadHeader(name.clone()))?;
            event.insert(attribute.to_owned(), Value::String(text.into_owned()));
        }
        // Whatever the headers said, the body decides these.
        event.remove("data");
        event.remove("data_base64");
        if !body.is_empty() {
            let content_type = match event.get("datacontenttype") {
                Some(Value::String(content_type)) => content_type.as_str(),
                _ => "application/json",
            };
            let (name, data) = if is_json(content_type) {
                let data = serde_json::from_slice(body)
                    .map_err(|error| BinaryError::BadData(error.to_string()))?;
                ("data", data)
            } else if content_type.trim_start().starts_with("text/") {
                let text = std::str::from_utf8(body)
                    .map_err(|error| BinaryError::BadData(error.to_string()))?;
                ("data", Value::String(text.to_owned()))
            } else {
                ("data_base64", Value::String(STANDARD.encode(body)))
            };
            event.insert(name.to_owned(), data);
        }
        Ok(from_json_value(Value::Object(event))?)
    }
}

/// Whether every `%` in `value` starts an escape of two hex digits (`percent_decode`
/// would keep `%ZZ` as it is, reading a malformed value as a literal one).
fn escapes_are_valid(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|&byte| byte == b'%') {
        let at = index + offset;
        let hex = |i: usize| bytes.get(i).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(at + 1) && hex(at + 2)) {
            return false;
        }
        index = at + 3;
    }
    true
}

/// Whether a content type is JSON: `application/json`, `text/json` or `*+json`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(source: &str) -> Vec<(&'static str, String)> {
        vec![
            ("ce-specversion", "1.0".to_owned()),
            ("ce-id", "1".to_owned()),
            ("ce-type", "t".to_owned()),
            ("ce-source", source.to_owned()),
        ]
    }

    fn read(source: &str) -> Result<Signal, BinaryError> {
        let headers = headers(source);
        Signal::from_binary(headers.iter().map(|(n, v)| (*n, v.as_str())), b"")
    }

    #[test]
    fn a_malformed_escape_is_refused_not_taken_literally() {
        for bad in ["%ZZbroken", "%", "a%2", "%%41", "x%g1"] {
            assert!(
                matches!(read(bad), Err(BinaryError::BadHeader(name)) if name == "ce-source"),
                "{bad}"
            );
        }
        assert_eq!(read("/a%20b%2Fc").unwrap().source(), "/a b/c");
        assert_eq!(read("/plain").unwrap().source(), "/plain");
    }
}
