use std::sync::OnceLock;

use crate::SignalError;

/// The `source` of signals built without one, until [`set_default_source`] is called.
pub const DEFAULT_SOURCE: &str = "herald";

static SOURCE: OnceLock<String> = OnceLock::new();

/// Sets the `source` given to signals built without one, once per process.
///
/// Call it at start-up, before building signals. It returns an error when `source` is
/// empty or when a default was already set (the first one stays).
///
/// ```
/// herald_signal::set_default_source("/billing-service")?;
/// let signal = herald_signal::Signal::new("invoice.paid", serde_json::json!({}))?;
/// assert_eq!(signal.source(), "/billing-service");
/// # Ok::<(), herald_signal::SignalError>(())
/// ```
pub fn set_default_source(source: impl Into<String>) -> Result<(), SignalError> {
    let source = source.into();
    if source.is_empty() {
        return Err(SignalError::EmptyAttribute { name: "source" });
    }
    SOURCE
        .set(source)
        .map_err(|_| SignalError::DefaultSourceAlreadySet {
            current: default_source().to_owned(),
        })
}

/// The `source` given to signals built without one.
///
/// It is [`DEFAULT_SOURCE`] until [`set_default_source`] is called.
pub fn default_source() -> &'static str {
    SOURCE.get().map_or(DEFAULT_SOURCE, String::as_str)
}
