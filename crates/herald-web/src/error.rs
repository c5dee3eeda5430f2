//! What a request that does not carry a signal is answered with.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use herald_signal::{BinaryError, SignalError};
use herald_webhook::VerifyError;
use thiserror::Error;

/// Why a request's body is not a signal (or a batch of them). Each is an actix-web
/// [`ResponseError`] with its status — 400, 401, 413 or 415 — and a short JSON body,
/// `{"error": "<message>"}`, that names the problem without echoing the input: the
/// messages are Herald's own, never a parser's (which quote what they read).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SignalBodyError {
    /// The body is larger than the limit (413).
    #[error("the body is larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A batch holds more signals than the limit (413).
    #[error("a batch holds at most {limit} signals")]
    BatchTooLarge {
        /// The most a batch may hold.
        limit: usize,
    },
    /// The request is not a CloudEvent in a mode Herald reads (415).
    #[error(
        "expected a CloudEvent: content type application/cloudevents+json, \
         application/cloudevents-batch+json, or binary mode with ce- headers"
    )]
    UnsupportedMediaType,
    /// The body or headers do not make a valid signal (400).
    #[error("malformed CloudEvent: {0}")]
    Malformed(&'static str),
    /// The body could not be read (400): the connection broke, or its encoding is
    /// wrong.
    #[error("the body could not be read")]
    Unreadable,
    /// The webhook signature is missing, stale or wrong (401).
    #[error("webhook verification failed: {0}")]
    Unverified(&'static str),
    /// The webhook was received already within the tolerance window (401): a replay.
    #[error("webhook verification failed: this webhook id was received already")]
    Replayed,
    /// A [`Verified`](crate::Verified) extractor found no
    /// [`Verification`](crate::Verification) in the app data (500): the application's
    /// mistake, logged at `ERROR`.
    #[error("webhook verification is not configured")]
    NotConfigured,
}

impl SignalBodyError {
    /// The error for a signal that breaks a CloudEvents rule: which rule, in Herald's
    /// words (a parser's message may quote the input).
    pub(crate) fn from_signal(error: &SignalError) -> Self {
        Self::Malformed(rule(error))
    }

    pub(crate) fn from_binary(error: &BinaryError) -> Self {
        Self::Malformed(match error {
            BinaryError::BadHeader(_) => "a ce- header is not percent-encoded UTF-8",
            BinaryError::BadData(_) => "the body does not match its content type",
            BinaryError::Signal(error) => rule(error),
            _ => "the headers do not make a CloudEvent",
        })
    }

    pub(crate) fn from_verify(error: &VerifyError) -> Self {
        Self::Unverified(match error {
            VerifyError::MissingHeader { .. } => "a signature header is missing",
            VerifyError::InvalidTimestamp => "the timestamp is not unix seconds",
            VerifyError::OutsideTolerance { .. } => "the timestamp is outside the tolerance",
            _ => "the signature does not match",
        })
    }
}

/// A CloudEvents rule `error` says was broken, without the values it quotes.
fn rule(error: &SignalError) -> &'static str {
    match error {
        SignalError::MissingAttribute { name } => match *name {
            "id" => "attribute `id` is missing",
            "source" => "attribute `source` is missing",
            "type" => "attribute `type` is missing",
            "specversion" => "attribute `specversion` is missing",
            _ => "a required attribute is missing",
        },
        SignalError::EmptyAttribute { .. } => "a required attribute is empty",
        SignalError::InvalidAttributeType { .. } => "an attribute has the wrong JSON type",
        SignalError::InvalidTime { .. } => "`time` is not an RFC 3339 timestamp",
        SignalError::UnsupportedSpecVersion { .. } => "`specversion` is not 1.0",
        SignalError::InvalidExtensionName { .. } => "an extension name is not a-z and 0-9",
        SignalError::ReservedExtensionName { .. } => "an extension name is a core attribute's",
        SignalError::InvalidExtensionValue { .. } => "an extension value has the wrong type",
        SignalError::InvalidBase64 { .. } => "`data_base64` is not base64",
        SignalError::DataTooDeep { .. } => "the data nests too deep",
        SignalError::ConflictingData => "both `data` and `data_base64` are present",
        SignalError::DuplicateAttribute { .. } => "an attribute appears twice",
        SignalError::Json { .. } => "the body is not a JSON CloudEvent",
        SignalError::TooLarge { .. } => "the event is too large",
        SignalError::InBatch { error, .. } => rule(error),
        _ => "the event breaks a CloudEvents rule",
    }
}

impl ResponseError for SignalBodyError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::TooLarge { .. } | Self::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Malformed(_) | Self::Unreadable => StatusCode::BAD_REQUEST,
            Self::Unverified(_) | Self::Replayed => StatusCode::UNAUTHORIZED,
            Self::NotConfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .insert_header(ContentType::json())
            .body(serde_json::json!({ "error": self.to_string() }).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_do_not_quote_the_input() {
        let bad = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"<script>"}"#;
        let error = herald_signal::Signal::from_json(bad).unwrap_err();
        let message = SignalBodyError::from_signal(&error).to_string();
        assert!(!message.contains("script"), "{message}");
        assert!(message.contains("time"), "{message}");
        let error = herald_signal::Signal::from_json(r#"{"x": "<secret>"#).unwrap_err();
        let message = SignalBodyError::from_signal(&error).to_string();
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn each_error_has_its_status() {
        let cases = [
            (SignalBodyError::TooLarge { limit: 1 }, 413),
            (SignalBodyError::BatchTooLarge { limit: 1 }, 413),
            (SignalBodyError::UnsupportedMediaType, 415),
            (SignalBodyError::Malformed("x"), 400),
            (SignalBodyError::Unreadable, 400),
            (SignalBodyError::Unverified("x"), 401),
            (SignalBodyError::Replayed, 401),
        ];
        for (error, status) in cases {
            assert_eq!(error.status_code().as_u16(), status, "{error}");
        }
    }
}
