//! The CloudEvents JSON event format, structured mode.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::builder::seal;
use crate::extension::validate_name;
use crate::{Data, ExtensionValue, Signal, SignalError, SpecVersion};

impl Signal {
    /// Writes the signal in the CloudEvents JSON format.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a signal always serializes: its data is a JSON value")
    }

    /// Writes the signal in the CloudEvents JSON format, as bytes.
    pub fn to_json_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a signal always serializes: its data is a JSON value")
    }

    /// Reads a signal from the CloudEvents JSON format.
    ///
    /// # Errors
    ///
    /// [`SignalError::Json`] for malformed JSON, and the attribute errors of
    /// [`SignalError`] for a well-formed object that is not a valid event.
    pub fn from_json(json: &str) -> Result<Self, SignalError> {
        Self::from_json_slice(json.as_bytes())
    }

    /// Reads a signal from CloudEvents JSON bytes. See [`Signal::from_json`].
    pub fn from_json_slice(json: &[u8]) -> Result<Self, SignalError> {
        let raw: RawSignal =
            serde_json::from_slice(json).map_err(|error| SignalError::Json { error })?;
        raw.into_signal()
    }

    /// Reads a signal from CloudEvents JSON bytes, refusing input over `limit` bytes
    /// before parsing any of it.
    ///
    /// # Errors
    ///
    /// [`SignalError::TooLarge`] when `json` is longer than `limit`; otherwise as
    /// [`Signal::from_json`].
    pub fn from_json_slice_limited(json: &[u8], limit: usize) -> Result<Self, SignalError> {
        check_size(json, limit)?;
        Self::from_json_slice(json)
    }

    /// Writes signals in the CloudEvents JSON batch format (a JSON array).
    pub fn batch_to_json(signals: &[Signal]) -> String {
        serde_json::to_string(signals)
            .expect("a signal always serializes: its data is a JSON value")
    }

    /// Reads signals from the CloudEvents JSON batch format (a JSON array).
    ///
    /// # Errors
    ///
    /// [`SignalError::Json`] for malformed JSON or a value that is not an array, and
    /// [`SignalError::InBatch`] naming the first invalid signal.
    pub fn batch_from_json(json: &str) -> Result<Vec<Self>, SignalError> {
        Self::batch_from_json_slice(json.as_bytes())
    }

    /// Reads signals from batch JSON bytes. See [`Signal::batch_from_json`].
    pub fn batch_from_json_slice(json: &[u8]) -> Result<Vec<Self>, SignalError> {
        let raws: Vec<RawSignal> =
            serde_json::from_slice(json).map_err(|error| SignalError::Json { error })?;
        raws.into_iter()
            .enumerate()
            .map(|(index, raw)| {
                raw.into_signal().map_err(|error| SignalError::InBatch {
                    index,
                    error: Box::new(error),
                })
            })
            .collect()
    }

    /// Reads batch JSON bytes, refusing input over `limit` bytes before parsing any
    /// of it. See [`Signal::batch_from_json`].
    pub fn batch_from_json_slice_limited(
        json: &[u8],
        limit: usize,
    ) -> Result<Vec<Self>, SignalError> {
        check_size(json, limit)?;
        Self::batch_from_json_slice(json)
    }
}

/// Reads a signal from a JSON value holding an event in the JSON format.
pub(crate) fn from_json_value(value: Value) -> Result<Signal, SignalError> {
    let raw = RawSignal::deserialize(value).map_err(|error| SignalError::Json { error })?;
    raw.into_signal()
}

fn check_size(json: &[u8], limit: usize) -> Result<(), SignalError> {
    if json.len() > limit {
        return Err(SignalError::TooLarge {
            size: json.len(),
            limit,
        });
    }
    Ok(())
}

/// Formats a timestamp as CloudEvents writes it: RFC 3339, UTC, `Z` suffix.
pub(crate) fn format_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("specversion", self.specversion.as_str())?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("source", &self.source)?;
        map.serialize_entry("type", &self.ty)?;
        if let Some(subject) = &self.subject {
            map.serialize_entry("subject", subject)?;
        }
        if let Some(time) = &self.time {
            map.serialize_entry("time", &format_time(time))?;
        }
        if let Some(ct) = &self.datacontenttype {
            map.serialize_entry("datacontenttype", ct)?;
        }
        if let Some(schema) = &self.dataschema {
            map.serialize_entry("dataschema", schema)?;
        }
        for (name, value) in &self.extensions {
            match value {
                ExtensionValue::String(s) => map.serialize_entry(name, s)?,
                ExtensionValue::Bool(b) => map.serialize_entry(name, b)?,
                ExtensionValue::Integer(i) => map.serialize_entry(name, i)?,
            }
        }
        match &self.data {
            Some(Data::Json(value)) => map.serialize_entry("data", value)?,
            Some(Data::Binary(bytes)) => {
                map.serialize_entry("data_base64", &Data::to_base64(bytes))?;
            }
            None => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawSignal::deserialize(deserializer)?
            .into_signal()
            .map_err(de::Error::custom)
    }
}

/// The attributes of one JSON event object, before validation.
///
/// Values stay as JSON so that a wrong type becomes a [`SignalError`] naming the
/// attribute, not a bare serde message.
#[derive(Default)]
struct RawSignal {
    core: [Option<Value>; 8],
    data: Option<Value>,
    data_base64: Option<Value>,
    extensions: BTreeMap<String, Value>,
}

/// Indices into [`RawSignal::core`].
const CORE: [&str; 8] = [
    "id",
    "source",
    "specversion",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
];

impl RawSignal {
    fn into_signal(self) -> Result<Signal, SignalError> {
        let [
            id,
            source,
            specversion,
            ty,
            subject,
            time,
            datacontenttype,
            dataschema,
        ] = self.core;
        let required = |value: Option<String>, name: &'static str| {
            value.ok_or(SignalError::MissingAttribute { name })
        };
        let specversion = required(string(specversion, "specversion")?, "specversion")?;
        let specversion = SpecVersion::parse(&specversion)?;
        let time = match string(time, "time")? {
            Some(text) => Some(parse_time(&text)?),
            None => None,
        };
        let data = match (self.data, self.data_base64) {
            (Some(_), Some(_)) => return Err(SignalError::ConflictingData),
            (Some(value), None) => Some(Data::Json(value)),
            (None, Some(encoded)) => {
                let encoded = string(Some(encoded), "data_base64")?.unwrap_or_default();
                let bytes = Data::from_base64(&encoded)
                    .map_err(|source| SignalError::InvalidBase64 { source })?;
                Some(Data::Binary(bytes))
            }
            (None, None) => None,
        };
        let mut extensions = BTreeMap::new();
        for (name, value) in self.extensions {
            validate_name(&name)?;
            if !value.is_null() {
                let value = ExtensionValue::from_json(&name, value)?;
                extensions.insert(name, value);
            }
        }
        let signal = Signal {
            id: required(string(id, "id")?, "id")?,
            source: required(string(source, "source")?, "source")?,
            ty: required(string(ty, "type")?, "type")?,
            specversion,
            subject: string(subject, "subject")?,
            time,
            datacontenttype: string(datacontenttype, "datacontenttype")?,
            dataschema: string(dataschema, "dataschema")?,
            data,
            extensions,
            bound: 0,
        };
        seal(signal)
    }
}

/// A string attribute; JSON `null` counts as absent.
fn string(value: Option<Value>, name: &str) -> Result<Option<String>, SignalError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(SignalError::InvalidAttributeType {
            name: name.to_owned(),
            expected: "a string",
        }),
    }
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, SignalError> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|_| SignalError::InvalidTime {
            value: text.to_owned(),
        })
}

impl<'de> Deserialize<'de> for RawSignal {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(RawSignalVisitor)
    }
}

struct RawSignalVisitor;

impl<'de> Visitor<'de> for RawSignalVisitor {
    type Value = RawSignal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudEvents JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSignal, A::Error> {
        let mut raw = RawSignal::default();
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "data" => &mut raw.data,
                "data_base64" => &mut raw.data_base64,
                other => match CORE.iter().position(|name| *name == other) {
                    Some(index) => &mut raw.core[index],
                    None => {
                        // A map, not a scan: a duplicate check must not be quadratic.
                        match raw.extensions.entry(key) {
                            Entry::Occupied(taken) => {
                                return Err(de::Error::custom(SignalError::DuplicateAttribute {
                                    name: taken.key().clone(),
                                }));
                            }
                            Entry::Vacant(free) => {
                                free.insert(map.next_value()?);
                            }
                        }
                        continue;
                    }
                },
            };
            if slot.is_some() {
                return Err(de::Error::custom(SignalError::DuplicateAttribute {
                    name: key,
                }));
            }
            *slot = Some(map.next_value()?);
        }
        Ok(raw)
    }
}
