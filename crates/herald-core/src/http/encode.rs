//! The CloudEvents HTTP binding: structured and binary mode.

use crate::{ErrorKind, TargetError};
use awc::http::header::{HeaderName, HeaderValue};
use bytes::Bytes;
use herald_signal::{Signal, TRACEPARENT, TRACESTATE};

use super::BodyMode;

/// A signal, ready to send.
#[derive(Debug, Clone)]
pub(crate) struct Encoded {
    pub(crate) content_type: Option<HeaderValue>,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Bytes,
}

/// `signal` in body mode `mode`, with the W3C trace context it carries as the
/// `traceparent` and `tracestate` headers (in either mode: what HTTP tracing reads; a
/// structured body carries the extensions too).
pub(crate) fn encode(signal: &Signal, mode: BodyMode) -> Result<Encoded, ErrorKind> {
    let mut encoded = match mode {
        BodyMode::Structured => Encoded {
            content_type: Some(HeaderValue::from_static(herald_signal::STRUCTURED)),
            headers: Vec::new(),
            body: Bytes::from(signal.to_json_vec()),
        },
        BodyMode::Binary => binary(signal)?,
    };
    if let Some(trace) = signal.trace_context() {
        let headers = [
            (TRACEPARENT, Some(trace.traceparent)),
            (TRACESTATE, trace.tracestate),
        ];
        for (name, value) in headers {
            // Well formed, so always a valid header value.
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                encoded.headers.push((HeaderName::from_static(name), value));
            }
        }
    }
    Ok(encoded)
}

/// Binary mode: the `ce-` headers, `datacontenttype` as `Content-Type`.
fn binary(signal: &Signal) -> Result<Encoded, ErrorKind> {
    let mut headers = Vec::new();
    for (name, value) in signal.binary_headers() {
        if name == "ce-datacontenttype" {
            continue;
        }
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid(&name))?;
        let value = HeaderValue::from_str(&value).map_err(|_| invalid(name.as_str()))?;
        headers.push((name, value));
    }
    let (content_type, body) = match signal.binary_body() {
        Some((content_type, body)) => {
            let content_type =
                HeaderValue::from_str(content_type).map_err(|_| invalid("content-type"))?;
            (Some(content_type), Bytes::from(body))
        }
        None => (None, Bytes::new()),
    };
    Ok(Encoded {
        content_type,
        headers,
        body,
    })
}

fn invalid(header: &str) -> ErrorKind {
    ErrorKind::InvalidTarget(TargetError::Invalid(format!(
        "the signal cannot be sent in binary mode: header `{header}` would be invalid"
    )))
}
