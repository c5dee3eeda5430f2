use thiserror::Error;

/// Why a signal could not be built, parsed or configured.
///
/// Every way a signal can be wrong has its own variant, so callers can match on the
/// cause instead of parsing messages.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SignalError {
    /// A required attribute (`id`, `source`, `type` or `specversion`) is absent.
    #[error("signal attribute `{name}` is missing")]
    MissingAttribute {
        /// The attribute's name.
        name: &'static str,
    },

    /// An attribute that must not be empty is the empty string.
    #[error("signal attribute `{name}` is empty")]
    EmptyAttribute {
        /// The attribute's name.
        name: &'static str,
    },

    /// An attribute has the wrong JSON type.
    #[error("signal attribute `{name}` must be {expected}")]
    InvalidAttributeType {
        /// The attribute's name.
        name: String,
        /// What the attribute must be, e.g. "a string".
        expected: &'static str,
    },

    /// `time` is not an RFC 3339 timestamp, or is outside years 0000 to 9999.
    #[error(
        "signal attribute `time` is not an RFC 3339 timestamp of years 0000 to 9999: {value:?}"
    )]
    InvalidTime {
        /// The rejected value.
        value: String,
    },

    /// `specversion` is neither `"1.0"` nor a `1.0.x` patch version.
    #[error("unsupported specversion {version:?}; expected \"1.0\"")]
    UnsupportedSpecVersion {
        /// The rejected value.
        version: String,
    },

    /// An extension name breaks the CloudEvents naming rule (non-empty, `a`–`z` and
    /// `0`–`9` only).
    #[error(
        "extension name {name:?} is invalid; names use only lower-case letters a-z and digits 0-9"
    )]
    InvalidExtensionName {
        /// The rejected name.
        name: String,
    },

    /// An extension name is one of the core attribute names.
    #[error("extension name {name:?} collides with a core attribute")]
    ReservedExtensionName {
        /// The rejected name.
        name: String,
    },

    /// An extension value is not a string, boolean or integer.
    #[error("extension `{name}` must be a string, a boolean or an integer")]
    InvalidExtensionValue {
        /// The extension's name.
        name: String,
    },

    /// An extension the CloudEvents specification types as a timestamp
    /// ([`EXPIRYTIME`](crate::EXPIRYTIME)) is not an RFC 3339 string.
    #[error("extension `{name}` must be an RFC 3339 timestamp string")]
    InvalidExtensionTimestamp {
        /// The extension's name.
        name: String,
    },

    /// `data_base64` is not valid base64.
    #[error("signal attribute `data_base64` is not valid base64")]
    InvalidBase64 {
        /// What the decoder said.
        #[source]
        source: base64::DecodeError,
    },

    /// The data nests deeper than [`MAX_DATA_DEPTH`](crate::MAX_DATA_DEPTH), which the
    /// JSON parser would refuse.
    #[error("signal data nests deeper than {limit} levels")]
    DataTooDeep {
        /// The deepest nesting allowed.
        limit: usize,
    },

    /// Both `data` and `data_base64` are present.
    #[error("signal has both `data` and `data_base64`; at most one is allowed")]
    ConflictingData,

    /// The same attribute appears twice in one JSON object.
    #[error("signal attribute `{name}` appears more than once")]
    DuplicateAttribute {
        /// The repeated attribute's name.
        name: String,
    },

    /// The input is not well-formed JSON, or not a JSON object (array for a batch).
    #[error("malformed signal json: {error}")]
    Json {
        /// What the JSON parser said (shown in this error's message, so not also its
        /// `source()`).
        error: serde_json::Error,
    },

    /// The input is larger than the caller's size limit.
    #[error("signal json is {size} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// The input's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },

    /// One signal of a batch is invalid.
    #[error("signal {index} of the batch is invalid: {error}")]
    InBatch {
        /// The signal's position in the batch, from 0.
        index: usize,
        /// What is wrong with it (shown in this error's message, so not also its
        /// `source()`).
        error: Box<SignalError>,
    },

    /// [`set_default_source`](crate::set_default_source) was called a second time.
    #[error("the default signal source is already set to {current:?}")]
    DefaultSourceAlreadySet {
        /// The source set by the first call.
        current: String,
    },
}
