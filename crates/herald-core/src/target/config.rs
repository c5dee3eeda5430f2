//! Reading adapter options from a JSON object, with errors that name the field.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::TargetError;

/// The fields of one target config, taken one by one, with errors that name each field
/// by its path (`retry.max_attempts`); [`finish`](Self::finish) rejects any left over.
/// Every built-in adapter reads its config with it; a custom adapter's
/// [`validate`](crate::Adapter::validate) can too.
///
/// ```
/// use std::time::Duration;
/// use herald_core::{ConfigFields, TargetError};
/// use serde_json::json;
///
/// let config = json!({"channel": "#ops", "retry": {"attempts": "many"}});
/// let mut fields = ConfigFields::from_config(&config)?;
/// assert_eq!(fields.required_string("channel")?, "#ops");
/// let mut retry = fields.object("retry")?.expect("present");
/// let error = retry.usize("attempts").unwrap_err();
/// assert_eq!(error.to_string(), "field `retry.attempts` must be a whole number");
/// # Ok::<(), TargetError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConfigFields {
    map: Map<String, Value>,
    /// Where these fields are: `""` at the top, `"retry."` inside `retry`.
    prefix: String,
}

impl ConfigFields {
    /// The fields of a config object.
    pub fn new(map: Map<String, Value>) -> Self {
        Self {
            map,
            prefix: String::new(),
        }
    }

    /// The fields of a raw config, which must be a JSON object.
    ///
    /// # Errors
    ///
    /// When `config` is not an object.
    pub fn from_config(config: &Value) -> Result<Self, TargetError> {
        match config {
            Value::Object(map) => Ok(Self::new(map.clone())),
            _ => Err(TargetError::Invalid(
                "a target config must be a JSON object".to_owned(),
            )),
        }
    }

    /// The same fields, inside object `path`: their errors name `path.field`.
    pub(crate) fn within(mut self, path: &str) -> Self {
        self.prefix = format!("{path}.");
        self
    }

    /// The fields not taken yet.
    pub fn into_map(self) -> Map<String, Value> {
        self.map
    }

    /// The path of field `name`, for errors.
    pub fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// An error saying field `name` breaks `rule`.
    pub fn invalid(&self, name: &str, rule: impl Into<String>) -> TargetError {
        TargetError::invalid_field(self.path(name), rule)
    }

    /// Takes field `name` as it is; JSON `null` counts as absent.
    pub fn take(&mut self, name: &str) -> Option<Value> {
        self.map.remove(name).filter(|value| !value.is_null())
    }

    /// A boolean field.
    ///
    /// # Errors
    ///
    /// A field that is not `true` or `false`.
    pub fn bool(&mut self, name: &str) -> Result<Option<bool>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(_) => Err(self.invalid(name, "must be true or false")),
        }
    }

    /// A string field.
    ///
    /// # Errors
    ///
    /// A field that is not a string.
    pub fn string(&mut self, name: &str) -> Result<Option<String>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.invalid(name, "must be a string")),
        }
    }

    /// A string field that must be present.
    ///
    /// # Errors
    ///
    /// A missing field, or one that is not a string.
    pub fn required_string(&mut self, name: &str) -> Result<String, TargetError> {
        self.string(name)?.ok_or_else(|| self.missing(name))
    }

    /// An error saying field `name` is missing, naming a field not taken yet whose
    /// name is close to it (`nme` for `name`, `Name`), if there is one.
    pub fn missing(&self, name: &str) -> TargetError {
        let found = self
            .map
            .keys()
            .find(|key| key.as_str() != name && close(key, name))
            .map(|key| self.path(key));
        TargetError::MissingField {
            field: self.path(name),
            found,
        }
    }

    /// A whole-number field.
    ///
    /// # Errors
    ///
    /// A field that is not a whole number (or too large for `usize`).
    pub fn usize(&mut self, name: &str) -> Result<Option<usize>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| self.invalid(name, "must be a whole number")),
            Some(_) => Err(self.invalid(name, "must be a whole number")),
        }
    }

    /// A duration given in milliseconds, as `timeout_ms` fields are, of at most `max`.
    ///
    /// # Errors
    ///
    /// A field that is not a whole number, or more than `max`.
    pub fn millis(&mut self, name: &str, max: Duration) -> Result<Option<Duration>, TargetError> {
        let Some(ms) = self.usize(name)? else {
            return Ok(None);
        };
        let duration = Duration::from_millis(ms as u64);
        if duration > max {
            return Err(self.invalid(name, format!("must be at most {} ms", max.as_millis())));
        }
        Ok(Some(duration))
    }

    /// A list of durations in milliseconds, each at most `max`.
    ///
    /// # Errors
    ///
    /// A field that is not an array of whole numbers, or one over `max`.
    pub fn millis_list(
        &mut self,
        name: &str,
        max: Duration,
    ) -> Result<Option<Vec<Duration>>, TargetError> {
        let Some(value) = self.take(name) else {
            return Ok(None);
        };
        let rule = || {
            format!(
                "must be a list of whole numbers of ms, each at most {}",
                max.as_millis()
            )
        };
        let Value::Array(items) = value else {
            return Err(self.invalid(name, rule()));
        };
        items
            .iter()
            .map(|item| {
                item.as_u64()
                    .map(Duration::from_millis)
                    .filter(|duration| *duration <= max)
                    .ok_or_else(|| self.invalid(name, rule()))
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// One of a fixed set of words.
    ///
    /// # Errors
    ///
    /// A field that is not one of `choices`; the error lists them.
    pub fn one_of<T: Copy>(
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
                self.invalid(name, format!("must be one of {}", names.join(", ")))
            })
    }

    /// A nested object's fields, whose errors name their path through this one.
    ///
    /// # Errors
    ///
    /// A field that is not an object.
    pub fn object(&mut self, name: &str) -> Result<Option<ConfigFields>, TargetError> {
        match self.take(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(ConfigFields {
                map,
                prefix: format!("{}.", self.path(name)),
            })),
            Some(_) => Err(self.invalid(name, "must be an object")),
        }
    }

    /// A nested object of strings, as `headers` are.
    ///
    /// # Errors
    ///
    /// A field that is not an object, or a value that is not a string.
    pub fn strings(&mut self, name: &str) -> Result<Option<Vec<(String, String)>>, TargetError> {
        let Some(fields) = self.object(name)? else {
            return Ok(None);
        };
        fields
            .map
            .into_iter()
            .map(|(key, value)| match value {
                Value::String(value) => Ok((key, value)),
                _ => Err(TargetError::invalid_field(
                    self.path(name),
                    "values must be strings",
                )),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// Fails on the first field nobody took, listing the `expected` ones.
    ///
    /// # Errors
    ///
    /// [`TargetError::UnknownField`].
    pub fn finish(self, expected: &[&'static str]) -> Result<(), TargetError> {
        match self.map.into_iter().next() {
            None => Ok(()),
            Some((field, _)) => Err(TargetError::UnknownField {
                field: format!("{}{field}", self.prefix),
                expected: expected.to_vec(),
            }),
        }
    }
}

/// Whether `key` looks like a misspelling of `name`: the same but for case, or at most
/// one edit in three characters apart, where an edit is a letter added, dropped,
/// changed, or two neighbours swapped (optimal string alignment). Names over 64 bytes
/// are not compared.
fn close(key: &str, name: &str) -> bool {
    if key.len() > 64 || name.len() > 64 {
        return false;
    }
    if key.eq_ignore_ascii_case(name) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (key.chars().collect(), name.chars().collect());
    // d[i][j]: the distance between a[..i] and b[..j].
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()] <= (b.len() / 3).max(1)
}
