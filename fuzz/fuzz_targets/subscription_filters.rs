//! Subscription filters from hostile JSON: reading never panics and stays within its
//! bounds, a filter read back from its own JSON is the same, and matching a signal
//! with long attributes stays linear (libFuzzer's `-timeout` bounds each input).
#![no_main]

use herald_signal::{Filter, Signal};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return;
    };
    let filters = match Filter::list_from_json(&value) {
        Ok(filters) => filters,
        Err(_) => match Filter::from_json(&value) {
            Ok(filter) => vec![filter],
            Err(error) => {
                assert!(!error.to_string().is_empty());
                return;
            }
        },
    };
    let long = "a".repeat(64 * 1024);
    let signal = Signal::builder("com.example.a")
        .source(format!("/{long}"))
        .subject(long.as_str())
        .extension("tenant", long.as_str())
        .extension("n", 7)
        .build()
        .expect("a valid signal");
    for filter in &filters {
        assert_eq!(Filter::from_json(&filter.to_json()).as_ref(), Ok(filter));
        let _ = filter.matches(&signal);
    }
});
