use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::extension::validate_name;
use crate::{Data, ExtensionValue, Signal, SignalError, SpecVersion, default_source};

/// Builds a [`Signal`], checking every CloudEvents rule in [`build`](Self::build).
///
/// Setters take and return the builder by value; nothing is checked until `build`.
///
/// ```
/// use herald_signal::Signal;
///
/// let signal = Signal::builder("order.shipped")
///     .source("/orders")
///     .subject("order-17")
///     .extension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .data(serde_json::json!({"carrier": "dhl"}))
///     .build()?;
/// assert_eq!(signal.subject(), Some("order-17"));
/// # Ok::<(), herald_signal::SignalError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SignalBuilder {
    id: Option<String>,
    source: Option<String>,
    ty: String,
    subject: Option<String>,
    time: Option<Option<DateTime<Utc>>>,
    datacontenttype: Option<String>,
    dataschema: Option<String>,
    data: Option<Data>,
    extensions: Vec<(String, ExtensionValue)>,
}

impl SignalBuilder {
    pub(crate) fn new(ty: impl Into<String>) -> Self {
        Self {
            id: None,
            source: None,
            ty: ty.into(),
            subject: None,
            time: None,
            datacontenttype: None,
            dataschema: None,
            data: None,
            extensions: Vec::new(),
        }
    }

    pub(crate) fn from_signal(signal: Signal) -> Self {
        Self {
            id: Some(signal.id),
            source: Some(signal.source),
            ty: signal.ty,
            subject: signal.subject,
            time: Some(signal.time),
            datacontenttype: signal.datacontenttype,
            dataschema: signal.dataschema,
            data: signal.data,
            extensions: signal.extensions.into_iter().collect(),
        }
    }

    /// Sets the identifier. Default is a fresh UUIDv7.
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the source. Default is [`default_source`](crate::default_source).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sets the subject. Default is none.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Sets the time. Default is the moment `build` runs.
    pub fn time(mut self, time: DateTime<Utc>) -> Self {
        self.time = Some(Some(time));
        self
    }

    /// Leaves `time` unset. Default is the moment `build` runs.
    pub fn without_time(mut self) -> Self {
        self.time = Some(None);
        self
    }

    /// Sets the media type of the data. Default is `application/json` for JSON data,
    /// none otherwise.
    pub fn datacontenttype(mut self, content_type: impl Into<String>) -> Self {
        self.datacontenttype = Some(content_type.into());
        self
    }

    /// Sets the data schema URI. Default is none.
    pub fn dataschema(mut self, schema: impl Into<String>) -> Self {
        self.dataschema = Some(schema.into());
        self
    }

    /// Sets JSON data. Default is no data.
    pub fn data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(Data::Json(data));
        self
    }

    /// Sets binary data, carried as `data_base64` in JSON. Default is no data.
    pub fn data_binary(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.data = Some(Data::Binary(bytes.into()));
        self
    }

    /// Adds an extension attribute; a later value for the same name replaces an earlier
    /// one. Default is no extensions.
    pub fn extension(mut self, name: impl Into<String>, value: impl Into<ExtensionValue>) -> Self {
        self.extensions.push((name.into(), value.into()));
        self
    }

    /// Sets when the signal stops being worth delivering: the CloudEvents
    /// [`expirytime`](crate::EXPIRYTIME) extension. Dispatchers do not deliver it after
    /// then. Default is none (it never expires).
    ///
    /// ```
    /// use herald_signal::{Signal, Utc};
    /// use std::time::Duration;
    ///
    /// let soon = Utc::now() + Duration::from_secs(60);
    /// let signal = Signal::builder("quote.offered").expirytime(soon).build()?;
    /// assert!(!signal.expired_at(Utc::now()));
    /// assert!(signal.expired_at(soon));
    /// # Ok::<_, herald_signal::SignalError>(())
    /// ```
    pub fn expirytime(self, at: DateTime<Utc>) -> Self {
        let at = at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        self.extension(crate::EXPIRYTIME, at)
    }

    /// Removes extension attribute `name`, whichever way it was added.
    ///
    /// ```
    /// use herald_signal::Signal;
    ///
    /// let signal = Signal::builder("t").extension("tenant", "acme").build()?;
    /// let plain = signal.to_builder().without_extension("tenant").build()?;
    /// assert!(plain.extension("tenant").is_none());
    /// # Ok::<(), herald_signal::SignalError>(())
    /// ```
    pub fn without_extension(mut self, name: &str) -> Self {
        self.extensions.retain(|(existing, _)| existing != name);
        self
    }

    /// Checks every attribute and builds the signal.
    ///
    /// # Errors
    ///
    /// [`SignalError::EmptyAttribute`] for an empty `type`, `id` or `source`;
    /// [`SignalError::InvalidExtensionName`] and [`SignalError::ReservedExtensionName`]
    /// for extension names outside the CloudEvents rule.
    pub fn build(self) -> Result<Signal, SignalError> {
        let id = match self.id {
            Some(id) => id,
            None => uuid::Uuid::now_v7().to_string(),
        };
        let source = self.source.unwrap_or_else(|| default_source().to_owned());
        let time = self.time.unwrap_or_else(|| Some(Utc::now()));
        let datacontenttype = match (&self.data, self.datacontenttype) {
            (_, Some(ct)) => Some(ct),
            (Some(Data::Json(_)), None) => Some("application/json".to_owned()),
            _ => None,
        };
        let mut extensions = BTreeMap::new();
        for (name, value) in self.extensions {
            validate_name(&name)?;
            extensions.insert(name, value);
        }
        let signal = Signal {
            id,
            source,
            ty: self.ty,
            specversion: SpecVersion::V1_0,
            subject: self.subject,
            time,
            datacontenttype,
            dataschema: self.dataschema,
            data: self.data,
            extensions,
            bound: 0,
        };
        seal(signal)
    }
}

/// The deepest nesting of JSON data (arrays and objects inside each other) a signal
/// may hold: what `serde_json`'s parser accepts inside a signal inside a batch (its
/// recursion limit, 128, less the batch array and the event object, less one), so that
/// every signal built in code also parses back from its JSON, alone or in a batch.
pub const MAX_DATA_DEPTH: usize = 125;

/// Drops `value` without recursion: `serde_json` drops nested values recursively, which
/// on the very data refused for its depth could overflow the stack.
fn dismantle(value: serde_json::Value) {
    use serde_json::Value;
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Array(items) => stack.extend(items),
            Value::Object(map) => stack.extend(map.into_iter().map(|(_, item)| item)),
            _ => {}
        }
    }
}

/// Checks a signal made by the builder or the parser — one rule, whichever way a
/// signal is made — and notes the bound on its encoded size.
pub(crate) fn seal(mut signal: Signal) -> Result<Signal, SignalError> {
    let data_bound = match &signal.data {
        None => 0,
        Some(Data::Binary(bytes)) => bytes.len().div_ceil(3) * 4 + 2,
        Some(Data::Json(value)) => match measure(value) {
            Ok(bound) => bound,
            Err(error) => {
                if let Some(Data::Json(value)) = signal.data.take() {
                    dismantle(value);
                }
                return Err(error);
            }
        },
    };
    check_required(&signal)?;
    signal.bound = signal.bound_with(data_bound);
    Ok(signal)
}

/// Checks that `value` nests no deeper than [`MAX_DATA_DEPTH`], and returns a bound on
/// its encoded size (every string as if each byte needed escaping). Walks with an
/// explicit stack: a recursive walk could overflow on the very input it rejects.
fn measure(value: &serde_json::Value) -> Result<usize, SignalError> {
    use serde_json::Value;
    let mut bound = 0usize;
    let mut stack = vec![(value, 1usize)];
    while let Some((value, depth)) = stack.pop() {
        // A comma or colon after each value, and the value itself.
        bound = bound.saturating_add(1);
        match value {
            Value::Null | Value::Bool(_) => bound = bound.saturating_add(5),
            Value::Number(_) => bound = bound.saturating_add(24),
            Value::String(text) => bound = bound.saturating_add(text.len() * 6 + 2),
            Value::Array(_) | Value::Object(_) if depth > MAX_DATA_DEPTH => {
                return Err(SignalError::DataTooDeep {
                    limit: MAX_DATA_DEPTH,
                });
            }
            Value::Array(items) => {
                bound = bound.saturating_add(2);
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(map) => {
                bound = bound.saturating_add(2);
                for (key, item) in map {
                    bound = bound.saturating_add(key.len() * 6 + 3);
                    stack.push((item, depth + 1));
                }
            }
        }
    }
    Ok(bound)
}

/// Checks the attributes every signal needs, whether built or parsed.
pub(crate) fn check_required(signal: &Signal) -> Result<(), SignalError> {
    if let Some(time) = &signal.time {
        check_time(time)?;
    }
    if let Some(value) = signal.extension(crate::EXPIRYTIME) {
        let time = match value {
            ExtensionValue::String(text) => DateTime::parse_from_rfc3339(text).ok(),
            _ => None,
        };
        if time.is_none() {
            return Err(SignalError::InvalidExtensionTimestamp {
                name: crate::EXPIRYTIME.to_owned(),
            });
        }
    }
    for (name, value) in [
        ("id", &signal.id),
        ("source", &signal.source),
        ("type", &signal.ty),
    ] {
        if value.is_empty() {
            return Err(SignalError::EmptyAttribute { name });
        }
    }
    for (name, value) in [
        ("subject", &signal.subject),
        ("datacontenttype", &signal.datacontenttype),
        ("dataschema", &signal.dataschema),
    ] {
        if value.as_deref() == Some("") {
            return Err(SignalError::EmptyAttribute { name });
        }
    }
    Ok(())
}

/// Times are years 0000 to 9999: what RFC 3339 can write, and so what a signal's JSON
/// can carry and read back.
fn check_time(time: &DateTime<Utc>) -> Result<(), SignalError> {
    use chrono::Datelike;
    if (0..=9999).contains(&time.year()) {
        Ok(())
    } else {
        Err(SignalError::InvalidTime {
            value: time.to_rfc3339(),
        })
    }
}
