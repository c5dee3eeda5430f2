use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::{Data, ExtensionValue, SignalBuilder, SignalError};

/// The CloudEvents specification version of a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum SpecVersion {
    /// CloudEvents 1.0 (written as `"1.0"`; patch versions such as `"1.0.2"` are read
    /// as this).
    #[default]
    V1_0,
}

impl SpecVersion {
    /// The version as written in the `specversion` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1_0 => "1.0",
        }
    }

    /// Parses a `specversion` value. Accepts `"1.0"` and `1.0.x` patch versions.
    pub fn parse(version: &str) -> Result<Self, SignalError> {
        let patch = version.strip_prefix("1.0");
        match patch {
            Some("") => Ok(Self::V1_0),
            Some(rest)
                if rest.len() > 1
                    && rest.starts_with('.')
                    && rest[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                Ok(Self::V1_0)
            }
            _ => Err(SignalError::UnsupportedSpecVersion {
                version: version.to_owned(),
            }),
        }
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CloudEvents 1.0 event: what Herald delivers.
///
/// A `Signal` is always valid: the [builder](Signal::builder) and the JSON parser check
/// every rule, and there is no way to change a field afterwards without going through
/// them again ([`Signal::to_builder`]). Dispatch shares one signal among all targets
/// behind an `Arc`; it is never copied per target.
///
/// ```
/// use herald_signal::Signal;
///
/// let signal = Signal::new("user.created", serde_json::json!({"id": 1}))?;
/// assert_eq!(signal.ty(), "user.created");
/// assert!(signal.time().is_some());
/// # Ok::<(), herald_signal::SignalError>(())
/// ```
#[derive(Clone, PartialEq)]
pub struct Signal {
    pub(crate) id: String,
    pub(crate) source: String,
    pub(crate) ty: String,
    pub(crate) specversion: SpecVersion,
    pub(crate) subject: Option<String>,
    pub(crate) time: Option<DateTime<Utc>>,
    pub(crate) datacontenttype: Option<String>,
    pub(crate) dataschema: Option<String>,
    pub(crate) data: Option<Data>,
    pub(crate) extensions: BTreeMap<String, ExtensionValue>,
    /// A bound on the signal's encoded size, noted when the signal was made (it follows
    /// from the attributes and data, so equal signals have equal bounds).
    pub(crate) bound: usize,
}

impl Signal {
    /// Starts building a signal of the given type.
    pub fn builder(ty: impl Into<String>) -> SignalBuilder {
        SignalBuilder::new(ty)
    }

    /// Builds a signal of the given type carrying JSON data, with every other attribute
    /// defaulted.
    ///
    /// # Errors
    ///
    /// [`SignalError::EmptyAttribute`] when `ty` is empty.
    pub fn new(ty: impl Into<String>, data: serde_json::Value) -> Result<Self, SignalError> {
        Self::builder(ty).data(data).build()
    }

    /// The exact size of this signal in the JSON event format, in bytes: what
    /// [`to_json`](Self::to_json) writes, counted without writing it.
    pub fn encoded_len(&self) -> usize {
        struct Count(usize);
        impl std::io::Write for Count {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0 += bytes.len();
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut count = Count(0);
        // Writing to a counter cannot fail, and a signal always serializes.
        let _ = serde_json::to_writer(&mut count, self);
        count.0
    }

    /// A bound on [`encoded_len`](Self::encoded_len) that costs no serialization: every
    /// string counted as if each byte needed escaping. When it is under a limit, the
    /// signal is too; only above it is the exact size worth counting.
    pub fn encoded_len_bound(&self) -> usize {
        self.bound
    }

    /// [`encoded_len_bound`](Self::encoded_len_bound) worked out, given the bound on
    /// the data.
    pub(crate) fn bound_with(&self, data_bound: usize) -> usize {
        let text = |text: &str| text.len() * 6 + 16;
        let optional = |value: &Option<String>| value.as_deref().map_or(0, text);
        let extensions: usize = self
            .extensions
            .iter()
            .map(|(name, value)| {
                name.len()
                    + 8
                    + match value {
                        ExtensionValue::String(value) => text(value),
                        _ => 24,
                    }
            })
            .sum();
        128 + text(&self.id)
            + text(&self.source)
            + text(&self.ty)
            + optional(&self.subject)
            + optional(&self.datacontenttype)
            + optional(&self.dataschema)
            + extensions
            + data_bound
    }

    /// A builder holding this signal's attributes, to derive a changed copy.
    pub fn to_builder(&self) -> SignalBuilder {
        SignalBuilder::from_signal(self.clone())
    }

    /// The event's identifier; unique per `source`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the event happened, as a URI reference.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The event's type, e.g. `user.created` (the `type` attribute).
    pub fn ty(&self) -> &str {
        &self.ty
    }

    /// The CloudEvents version.
    pub fn specversion(&self) -> SpecVersion {
        self.specversion
    }

    /// The subject of the event within its source.
    pub fn subject(&self) -> Option<&str> {
        self.subject.as_deref()
    }

    /// When the event happened.
    pub fn time(&self) -> Option<&DateTime<Utc>> {
        self.time.as_ref()
    }

    /// The media type of [`data`](Self::data).
    pub fn datacontenttype(&self) -> Option<&str> {
        self.datacontenttype.as_deref()
    }

    /// The schema [`data`](Self::data) adheres to, as a URI.
    pub fn dataschema(&self) -> Option<&str> {
        self.dataschema.as_deref()
    }

    /// The payload.
    pub fn data(&self) -> Option<&Data> {
        self.data.as_ref()
    }

    /// The extension attributes, sorted by name.
    pub fn extensions(&self) -> &BTreeMap<String, ExtensionValue> {
        &self.extensions
    }

    /// One extension attribute.
    pub fn extension(&self, name: &str) -> Option<&ExtensionValue> {
        self.extensions.get(name)
    }

    /// When the signal stops being worth delivering: its
    /// [`expirytime`](crate::EXPIRYTIME) extension (checked when the signal was made).
    pub fn expirytime(&self) -> Option<DateTime<Utc>> {
        match self.extensions.get(crate::EXPIRYTIME)? {
            ExtensionValue::String(text) => DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|time| time.with_timezone(&Utc)),
            _ => None,
        }
    }

    /// Whether the signal has expired at `now`: its
    /// [`expirytime`](Self::expirytime) is not after it.
    pub fn expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expirytime().is_some_and(|expiry| expiry <= now)
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Signal");
        s.field("id", &self.id)
            .field("source", &self.source)
            .field("type", &self.ty)
            .field("specversion", &self.specversion);
        if let Some(subject) = &self.subject {
            s.field("subject", subject);
        }
        if let Some(time) = &self.time {
            s.field("time", time);
        }
        if let Some(ct) = &self.datacontenttype {
            s.field("datacontenttype", ct);
        }
        if let Some(schema) = &self.dataschema {
            s.field("dataschema", schema);
        }
        if let Some(data) = &self.data {
            s.field("data", data);
        }
        if !self.extensions.is_empty() {
            s.field("extensions", &self.extensions);
        }
        s.finish()
    }
}
