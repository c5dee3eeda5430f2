//! The CloudEvents HTTP binding: structured and binary mode.

use crate::{ErrorKind, TargetError};
use awc::http::header::{HeaderName, HeaderValue};
use bytes::Bytes;
use herald_signal::{Data, Signal};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use super::BodyMode;

/// What the binding percent-encodes in `ce-*` values: controls, space, `"` and `%`
/// (non-ASCII is always encoded).
const CE_VALUE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'%');

/// A signal, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

pub(crate) fn encode(signal: &Signal, mode: BodyMode) -> Result<Encoded, ErrorKind> {
    match mode {
        BodyMode::Structured => Ok(Encoded {
            content_type: Some(HeaderValue::from_static("application/cloudevents+json")),
            headers: Vec::new(),
            body: Bytes::from(signal.to_json_vec()),
        }),
        BodyMode::Binary => binary(signal),
    }
}

fn binary(signal: &Signal) -> Result<Encoded, ErrorKind> {
    let time = signal
        .time()
        .map(|time| time.to_rfc3339_opts(herald_signal::SecondsFormat::AutoSi, true));
    let mut attributes: Vec<(String, &str)> = vec![
        ("ce-specversion".into(), signal.specversion().as_str()),
        ("ce-id".into(), signal.id()),
        ("ce-source".into(), signal.source()),
        ("ce-type".into(), signal.ty()),
    ];
    let optional = [
        ("ce-subject", signal.subject()),
        ("ce-time", time.as_deref()),
        ("ce-dataschema", signal.dataschema()),
    ];
    attributes.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    let extensions: Vec<(String, String)> = signal
        .extensions()
        .iter()
        .map(|(name, value)| (format!("ce-{name}"), value.to_string()))
        .collect();
    attributes.extend(
        extensions
            .iter()
            .map(|(name, value)| (name.clone(), value.as_str())),
    );

    let mut headers = Vec::with_capacity(attributes.len());
    for (name, value) in attributes {
        let encoded = utf8_percent_encode(value, CE_VALUE).to_string();
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(&name))?;
        let value = HeaderValue::from_str(&encoded).map_err(|_| invalid(name.as_str()))?;
        headers.push((name, value));
    }

    let (content_type, body) = match signal.data() {
        None => (None, Bytes::new()),
        Some(Data::Binary(bytes)) => (
            Some(
                signal
                    .datacontenttype()
                    .unwrap_or("application/octet-stream"),
            ),
            Bytes::copy_from_slice(bytes),
        ),
        Some(Data::Json(value)) => {
            let content_type = signal.datacontenttype().unwrap_or("application/json");
            let body = match value {
                serde_json::Value::String(text) if !is_json(content_type) => {
                    text.clone().into_bytes()
                }
                _ => serde_json::to_vec(value).expect("a JSON value always serializes"),
            };
            (Some(content_type), Bytes::from(body))
        }
        Some(_) => (None, Bytes::new()),
    };
    let content_type = content_type
        .map(|ct| HeaderValue::from_str(ct).map_err(|_| invalid("content-type")))
        .transpose()?;
    Ok(Encoded {
        content_type,
        headers,
        body,
    })
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

fn invalid(header: &str) -> ErrorKind {
    ErrorKind::InvalidTarget(TargetError::Invalid(format!(
        "the signal cannot be sent in binary mode: header `{header}` would be invalid"
    )))
}
