use std::fmt;

use crate::SignalError;

/// The value of a CloudEvents extension attribute.
///
/// CloudEvents extensions carry strings, booleans or integers. (The specification's
/// other types — URI, timestamp, binary — travel as strings in JSON.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtensionValue {
    /// A string.
    String(String),
    /// A boolean.
    Bool(bool),
    /// An integer.
    Integer(i64),
}

impl ExtensionValue {
    pub(crate) fn from_json(name: &str, value: serde_json::Value) -> Result<Self, SignalError> {
        match value {
            serde_json::Value::String(s) => Ok(Self::String(s)),
            serde_json::Value::Bool(b) => Ok(Self::Bool(b)),
            serde_json::Value::Number(n) => {
                n.as_i64()
                    .map(Self::Integer)
                    .ok_or_else(|| SignalError::InvalidExtensionValue {
                        name: name.to_owned(),
                    })
            }
            _ => Err(SignalError::InvalidExtensionValue {
                name: name.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ExtensionValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::String(s) => f.write_str(s),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Integer(i) => write!(f, "{i}"),
        }
    }
}

impl From<String> for ExtensionValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<&str> for ExtensionValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<bool> for ExtensionValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for ExtensionValue {
    fn from(value: i64) -> Self {
        Self::Integer(value)
    }
}

impl From<i32> for ExtensionValue {
    fn from(value: i32) -> Self {
        Self::Integer(value.into())
    }
}

/// The CloudEvents Expiry Time extension: an RFC 3339 timestamp after which the event
/// should not be delivered. A signal carrying it is checked to be one when it is made.
pub const EXPIRYTIME: &str = "expirytime";

/// The CloudEvents Partitioning extension: a key for events that belong together. A
/// Herald dispatcher delivers signals with one `partitionkey` to one endpoint in order
/// (the key of `Dispatch::ordering_key`, when that is not set).
pub const PARTITIONKEY: &str = "partitionkey";

/// The attribute names an extension may not take.
pub(crate) const CORE_ATTRIBUTES: [&str; 10] = [
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
];

/// Checks an extension name against the CloudEvents naming rule.
pub(crate) fn validate_name(name: &str) -> Result<(), SignalError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid {
        return Err(SignalError::InvalidExtensionName {
            name: name.to_owned(),
        });
    }
    if CORE_ATTRIBUTES.contains(&name) {
        return Err(SignalError::ReservedExtensionName {
            name: name.to_owned(),
        });
    }
    Ok(())
}
