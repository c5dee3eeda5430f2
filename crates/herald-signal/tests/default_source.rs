//! The process-wide default source. Its own test binary: it changes global state.

use herald_signal::{DEFAULT_SOURCE, Signal, SignalError, default_source};

#[test]
fn default_source_is_set_once_and_never_empty() {
    assert_eq!(default_source(), DEFAULT_SOURCE);
    assert!(matches!(
        herald_signal::set_default_source(""),
        Err(SignalError::EmptyAttribute { name: "source" })
    ));
    herald_signal::set_default_source("/app").unwrap();
    let again = herald_signal::set_default_source("/other").unwrap_err();
    assert!(
        matches!(again, SignalError::DefaultSourceAlreadySet { ref current } if current == "/app")
    );
    assert_eq!(default_source(), "/app");
    let signal = Signal::new("t", serde_json::json!(null)).unwrap();
    assert_eq!(signal.source(), "/app");
}
