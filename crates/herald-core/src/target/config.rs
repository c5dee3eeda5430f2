//! Reading adapter options from a JSON object, with errors that name the field.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::TargetError;

/// The fields of one target config, taken one by one; [`Fields::finish`] rejects any
/// left over.
#[derive(Debug)]
pub(crate) struct Fields {
    map: Map<String, Value>,
}

impl Fields {
    pub(crate) fn new(map: Map<String, Value>) -> Self {
        Self { map }
    }

    /// The fields of a raw config, which must be a JSON object.
    pub(crate) fn from_config(config: &Value) -> Result<Self, TargetError> {
        match config {
            Value::Object(map) => Ok(Self::new(map.clone())),
            _ => Err(TargetError::Invalid(
                "a target config must be a JSON object".to_owned(),
            )),
        }
    }

    pub(crate) fn into_map(self) -> Map<String, Value> {
        self.map
    }

    fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|value| !value.is_null())
    }

    pub(crate) fn bool(&mut self, name: &str) -> Result<Option<bool>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(TargetError::invalid_field(name, "must be true or false")),
        }
    }

    pub(crate) fn string(&mut self, name: &str) -> Result<Option<String>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(TargetError::invalid_field(name, "must be a string")),
        }
    }

    pub(crate) fn usize(&mut self, name: &str) -> Result<Option<usize>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| TargetError::invalid_field(name, "must be a whole number")),
            Some(_) => Err(TargetError::invalid_field(name, "must be a whole number")),
        }
    }

    /// A duration given in milliseconds, as `timeout_ms` fields are, of at most `max`.
    pub(crate) fn millis(
        &mut self,
        name: &str,
        max: Duration,
    ) -> Result<Option<Duration>, TargetError> {
        let Some(ms) = self.usize(name)? else {
            return Ok(None);
        };
        let duration = Duration::from_millis(ms as u64);
        if duration > max {
            return Err(TargetError::invalid_field(
                name,
                format!("must be at most {} ms", max.as_millis()),
            ));
        }
        Ok(Some(duration))
    }

    /// One of a fixed set of words.
    pub(crate) fn one_of<T: Copy>(
        &mut self,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, TargetError> {
        let Some(word) = self.string(name)? else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|(choice, _)| *choice == word)
            .map(|(_, value)| Some(*value))
            .ok_or_else(|| {
                let names: Vec<_> = choices.iter().map(|(choice, _)| *choice).collect();
                TargetError::invalid_field(name, format!("must be one of {}", names.join(", ")))
            })
    }

    /// Fails on the first field nobody took.
    pub(crate) fn finish(self, expected: &[&'static str]) -> Result<(), TargetError> {
        match self.map.into_iter().next() {
            None => Ok(()),
            Some((field, _)) => Err(TargetError::UnknownField {
                field,
                expected: expected.to_vec(),
            }),
        }
    }
}
