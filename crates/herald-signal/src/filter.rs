//! Subscription filters in the CloudEvents Subscriptions API's dialects: `exact`,
//! `prefix`, `suffix` over any attribute (extensions included), composed with `all`,
//! `any` and `not`.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;
use thiserror::Error;

use crate::{ExtensionValue, Signal};

/// A filter over a signal's attributes, as the CloudEvents Subscriptions API writes
/// one. Matching is linear in the filter's size and the compared values' lengths;
/// filters are bounded when read ([`MAX_NODES`](Self::MAX_NODES), [`MAX_DEPTH`](Self::MAX_DEPTH),
/// [`MAX_VALUE_LEN`](Self::MAX_VALUE_LEN)), so a filter from data cannot make a
/// signal slow to route. A comparison with an attribute the signal lacks is false
/// (so `not` of it is true); values are compared case-sensitively, as the signal's
/// JSON form writes them (`time` in RFC 3339 UTC, integer and boolean extensions as
/// their text).
///
/// ```
/// use herald_signal::{Filter, Signal};
///
/// let filter = Filter::from_json(&serde_json::json!({"all": [
///     {"prefix": {"type": "com.shop.order."}},
///     {"not": {"exact": {"tenant": "test"}}}
/// ]}))?;
/// let order = Signal::builder("com.shop.order.paid").extension("tenant", "acme").build()?;
/// assert!(filter.matches(&order));
/// let test = Signal::builder("com.shop.order.paid").extension("tenant", "test").build()?;
/// assert!(!filter.matches(&test));
/// assert_eq!(Filter::prefix("type", "com.")?.to_json()["prefix"]["type"], "com.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// The attribute equals the value.
    Exact(Comparison),
    /// The attribute starts with the value.
    Prefix(Comparison),
    /// The attribute ends with the value.
    Suffix(Comparison),
    /// Every filter matches (at least one).
    All(Vec<Filter>),
    /// At least one filter matches.
    Any(Vec<Filter>),
    /// The filter does not match.
    Not(Box<Filter>),
}

/// One attribute compared with one value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    attribute: String,
    value: String,
}

impl Comparison {
    /// The attribute's name.
    pub fn attribute(&self) -> &str {
        &self.attribute
    }

    /// The value it is compared with.
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Why a filter could not be read. Its message names where, as a path through the
/// filter (`all[1].not.exact`), and never repeats the input's values.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("filter {path}: {problem}")]
pub struct FilterError {
    path: String,
    problem: String,
}

impl FilterError {
    fn at(path: &str, problem: impl Into<String>) -> Self {
        Self {
            path: if path.is_empty() {
                "(top)".to_owned()
            } else {
                path.to_owned()
            },
            problem: problem.into(),
        }
    }

    /// Where in the filter the problem is.
    pub fn path(&self) -> &str {
        &self.path
    }
}

impl Filter {
    /// The most nodes (dialects and comparisons) a filter has.
    pub const MAX_NODES: usize = 256;
    /// The deepest a filter nests (`all` in `not` in `any`…).
    pub const MAX_DEPTH: usize = 16;
    /// The longest value a comparison holds, in bytes.
    pub const MAX_VALUE_LEN: usize = 1024;

    /// An `exact` filter.
    ///
    /// # Errors
    ///
    /// An attribute name that is not 1–20 lowercase letters and digits, or a value
    /// over [`MAX_VALUE_LEN`](Self::MAX_VALUE_LEN).
    pub fn exact(attribute: &str, value: impl Into<String>) -> Result<Self, FilterError> {
        comparison("exact", attribute, value.into()).map(Self::Exact)
    }

    /// A `prefix` filter (errors as [`exact`](Self::exact)).
    ///
    /// # Errors
    ///
    /// As [`exact`](Self::exact).
    pub fn prefix(attribute: &str, value: impl Into<String>) -> Result<Self, FilterError> {
        comparison("prefix", attribute, value.into()).map(Self::Prefix)
    }

    /// A `suffix` filter (errors as [`exact`](Self::exact)).
    ///
    /// # Errors
    ///
    /// As [`exact`](Self::exact).
    pub fn suffix(attribute: &str, value: impl Into<String>) -> Result<Self, FilterError> {
        comparison("suffix", attribute, value.into()).map(Self::Suffix)
    }

    /// Whether `signal` matches.
    pub fn matches(&self, signal: &Signal) -> bool {
        match self {
            Self::Exact(c) => attribute(signal, &c.attribute).is_some_and(|v| v == c.value),
            Self::Prefix(c) => {
                attribute(signal, &c.attribute).is_some_and(|v| v.starts_with(&c.value))
            }
            Self::Suffix(c) => {
                attribute(signal, &c.attribute).is_some_and(|v| v.ends_with(&c.value))
            }
            Self::All(filters) => filters.iter().all(|f| f.matches(signal)),
            Self::Any(filters) => filters.iter().any(|f| f.matches(signal)),
            Self::Not(filter) => !filter.matches(signal),
        }
    }

    /// Reads a filter from its JSON form: an object with one of `exact`, `prefix`,
    /// `suffix` (an object of one attribute and its string value), `all`, `any` (a
    /// non-empty array of filters) or `not` (a filter).
    ///
    /// # Errors
    ///
    /// A [`FilterError`] naming where: an unknown dialect, a comparison of other than one
    /// attribute, a value that is not a string, an empty `all`/`any`, an attribute name
    /// that is not 1–20 lowercase letters and digits, or a filter past the bounds.
    pub fn from_json(value: &Value) -> Result<Self, FilterError> {
        let mut nodes = 0;
        read(value, "", 0, &mut nodes)
    }

    /// Reads a list of filters, as a subscription's `filters` holds them: all must
    /// match. Errors name the index (`[2].exact`).
    ///
    /// # Errors
    ///
    /// As [`from_json`](Self::from_json), or a value that is not an array.
    pub fn list_from_json(value: &Value) -> Result<Vec<Self>, FilterError> {
        let Value::Array(items) = value else {
            return Err(FilterError::at("", "must be an array of filters"));
        };
        let mut nodes = 0;
        items
            .iter()
            .enumerate()
            .map(|(index, item)| read(item, &format!("[{index}]"), 0, &mut nodes))
            .collect()
    }

    /// The filter's JSON form, what [`from_json`](Self::from_json) reads.
    pub fn to_json(&self) -> Value {
        let compared = |c: &Comparison| serde_json::json!({ c.attribute.clone(): c.value.clone() });
        match self {
            Self::Exact(c) => serde_json::json!({ "exact": compared(c) }),
            Self::Prefix(c) => serde_json::json!({ "prefix": compared(c) }),
            Self::Suffix(c) => serde_json::json!({ "suffix": compared(c) }),
            Self::All(filters) => {
                serde_json::json!({ "all": filters.iter().map(Self::to_json).collect::<Vec<_>>() })
            }
            Self::Any(filters) => {
                serde_json::json!({ "any": filters.iter().map(Self::to_json).collect::<Vec<_>>() })
            }
            Self::Not(filter) => serde_json::json!({ "not": filter.to_json() }),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

/// The text of `signal`'s attribute `name`, as its JSON form writes it.
fn attribute<'s>(signal: &'s Signal, name: &str) -> Option<Cow<'s, str>> {
    let borrowed = |text: &'s str| Some(Cow::Borrowed(text));
    match name {
        "id" => borrowed(signal.id()),
        "source" => borrowed(signal.source()),
        "type" => borrowed(signal.ty()),
        "specversion" => borrowed(signal.specversion().as_str()),
        "subject" => signal.subject().and_then(borrowed),
        "datacontenttype" => signal.datacontenttype().and_then(borrowed),
        "dataschema" => signal.dataschema().and_then(borrowed),
        "time" => signal
            .time()
            .map(|time| Cow::Owned(crate::json::format_time(time))),
        extension => match signal.extension(extension)? {
            ExtensionValue::String(text) => borrowed(text),
            other => Some(Cow::Owned(other.to_string())),
        },
    }
}

/// Whether `name` is a CloudEvents attribute name: 1–20 lowercase letters and digits.
fn valid_name(name: &str) -> bool {
    (1..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn comparison(path: &str, attribute: &str, value: String) -> Result<Comparison, FilterError> {
    if !valid_name(attribute) {
        let problem = "must name an attribute: 1 to 20 lowercase letters and digits";
        return Err(FilterError::at(path, problem));
    }
    if value.len() > Filter::MAX_VALUE_LEN {
        let problem = format!(
            "value is {} bytes, over {}",
            value.len(),
            Filter::MAX_VALUE_LEN
        );
        return Err(FilterError::at(path, problem));
    }
    Ok(Comparison {
        attribute: attribute.to_owned(),
        value,
    })
}

fn read(value: &Value, path: &str, depth: usize, nodes: &mut usize) -> Result<Filter, FilterError> {
    *nodes += 1;
    if *nodes > Filter::MAX_NODES {
        return Err(FilterError::at(
            path,
            format!("more than {} nodes", Filter::MAX_NODES),
        ));
    }
    if depth >= Filter::MAX_DEPTH {
        return Err(FilterError::at(
            path,
            format!("nested deeper than {}", Filter::MAX_DEPTH),
        ));
    }
    let Value::Object(map) = value else {
        return Err(FilterError::at(path, "must be an object with one dialect"));
    };
    let mut entries = map.iter();
    let (Some((dialect, inner)), None) = (entries.next(), entries.next()) else {
        return Err(FilterError::at(path, "must have exactly one dialect"));
    };
    let here = if path.is_empty() {
        dialect.clone()
    } else {
        format!("{path}.{dialect}")
    };
    let list = |inner: &Value, nodes: &mut usize| -> Result<Vec<Filter>, FilterError> {
        match inner {
            Value::Array(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .map(|(i, item)| read(item, &format!("{here}[{i}]"), depth + 1, nodes))
                .collect(),
            _ => Err(FilterError::at(
                &here,
                "must be a non-empty array of filters",
            )),
        }
    };
    let compared = |inner: &Value| -> Result<Comparison, FilterError> {
        let Value::Object(map) = inner else {
            return Err(FilterError::at(&here, "must be an object of one attribute"));
        };
        let mut entries = map.iter();
        let (Some((attribute, value)), None) = (entries.next(), entries.next()) else {
            return Err(FilterError::at(&here, "must compare exactly one attribute"));
        };
        let Value::String(value) = value else {
            return Err(FilterError::at(&here, "must compare with a string"));
        };
        comparison(&here, attribute, value.clone())
    };
    match dialect.as_str() {
        "exact" => compared(inner).map(Filter::Exact),
        "prefix" => compared(inner).map(Filter::Prefix),
        "suffix" => compared(inner).map(Filter::Suffix),
        "all" => list(inner, nodes).map(Filter::All),
        "any" => list(inner, nodes).map(Filter::Any),
        "not" => read(inner, &here, depth + 1, nodes).map(|f| Filter::Not(Box::new(f))),
        _ => Err(FilterError::at(
            path,
            "unknown dialect; expected one of: exact, prefix, suffix, all, any, not",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signal() -> Signal {
        Signal::builder("com.shop.order.paid")
            .source("/shop")
            .subject("order-7")
            .extension("tenant", "acme")
            .extension("priority", 3)
            .build()
            .unwrap()
    }

    #[test]
    fn each_dialect_matches_as_the_subscriptions_api_says() {
        let signal = signal();
        let yes = [
            json!({"exact": {"type": "com.shop.order.paid"}}),
            json!({"prefix": {"source": "/sh"}}),
            json!({"suffix": {"subject": "-7"}}),
            json!({"exact": {"priority": "3"}}),
            json!({"exact": {"specversion": "1.0"}}),
            json!({"all": [{"exact": {"tenant": "acme"}}, {"prefix": {"type": "com."}}]}),
            json!({"any": [{"exact": {"tenant": "other"}}, {"suffix": {"type": ".paid"}}]}),
            json!({"not": {"exact": {"dataschema": "x"}}}),
        ];
        for filter in yes {
            assert!(
                Filter::from_json(&filter).unwrap().matches(&signal),
                "{filter}"
            );
        }
        let no = [
            json!({"exact": {"type": "com.shop.order"}}),
            json!({"exact": {"tenant": "ACME"}}),
            json!({"prefix": {"missing": ""}}),
            json!({"all": [{"exact": {"tenant": "acme"}}, {"prefix": {"type": "org."}}]}),
            json!({"not": {"prefix": {"type": ""}}}),
        ];
        for filter in no {
            assert!(
                !Filter::from_json(&filter).unwrap().matches(&signal),
                "{filter}"
            );
        }
    }

    #[test]
    fn bad_filters_are_errors_that_name_where() {
        let cases = [
            (json!(3), "filter (top): must be an object with one dialect"),
            (json!({}), "filter (top): must have exactly one dialect"),
            (
                json!({"sql": "x"}),
                "filter (top): unknown dialect; expected one of: exact, prefix, suffix, all, any, not",
            ),
            (
                json!({"exact": {"a": "1", "b": "2"}}),
                "filter exact: must compare exactly one attribute",
            ),
            (
                json!({"exact": {"Type": "x"}}),
                "filter exact: must name an attribute: 1 to 20 lowercase letters and digits",
            ),
            (
                json!({"prefix": {"type": 1}}),
                "filter prefix: must compare with a string",
            ),
            (
                json!({"all": []}),
                "filter all: must be a non-empty array of filters",
            ),
            (
                json!({"any": [{"not": {"nope": {}}}]}),
                "filter any[0].not: unknown dialect; expected one of: exact, prefix, suffix, all, any, not",
            ),
        ];
        for (filter, message) in cases {
            assert_eq!(Filter::from_json(&filter).unwrap_err().to_string(), message);
        }
        let mut deep = json!({"exact": {"type": "x"}});
        for _ in 0..Filter::MAX_DEPTH {
            deep = json!({ "not": deep });
        }
        assert!(
            Filter::from_json(&deep)
                .unwrap_err()
                .to_string()
                .contains("nested deeper")
        );
        let wide: Vec<Value> = (0..300).map(|_| json!({"exact": {"type": "x"}})).collect();
        let error = Filter::from_json(&json!({ "any": wide })).unwrap_err();
        assert!(error.to_string().contains("more than 256 nodes"), "{error}");
        let long = "x".repeat(Filter::MAX_VALUE_LEN + 1);
        assert!(Filter::exact("type", long).is_err());
        assert_eq!(
            Filter::list_from_json(&json!([{"exact": {"type": "a"}}, {"all": 1}]))
                .unwrap_err()
                .path(),
            "[1].all"
        );
    }

    #[test]
    fn a_filter_round_trips_through_json() {
        let filter = json!({"all": [
            {"exact": {"type": "a"}},
            {"any": [{"prefix": {"source": "/"}}, {"not": {"suffix": {"id": "z"}}}]}
        ]});
        let read = Filter::from_json(&filter).unwrap();
        assert_eq!(read.to_json(), filter);
        assert_eq!(Filter::from_json(&read.to_json()).unwrap(), read);
    }
}
