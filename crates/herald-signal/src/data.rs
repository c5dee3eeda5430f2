use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The payload of a signal.
///
/// In the JSON format, [`Data::Json`] is written as `data` and [`Data::Binary`] as
/// `data_base64`.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Data {
    /// A JSON value (which may be a plain string for textual content types).
    Json(serde_json::Value),
    /// Raw bytes, carried as `data_base64` in JSON.
    Binary(Vec<u8>),
}

impl Data {
    /// Returns the JSON value, if this is JSON data.
    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match self {
            Self::Json(value) => Some(value),
            Self::Binary(_) => None,
        }
    }

    /// Returns the bytes, if this is binary data.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Binary(bytes) => Some(bytes),
            Self::Json(_) => None,
        }
    }

    pub(crate) fn to_base64(bytes: &[u8]) -> String {
        STANDARD.encode(bytes)
    }

    pub(crate) fn from_base64(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
        STANDARD.decode(text)
    }
}

impl fmt::Debug for Data {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(value) => f.debug_tuple("Json").field(value).finish(),
            Self::Binary(bytes) => write!(f, "Binary({} bytes)", bytes.len()),
        }
    }
}

impl From<serde_json::Value> for Data {
    fn from(value: serde_json::Value) -> Self {
        Self::Json(value)
    }
}

impl From<Vec<u8>> for Data {
    fn from(bytes: Vec<u8>) -> Self {
        Self::Binary(bytes)
    }
}
