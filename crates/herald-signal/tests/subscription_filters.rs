//! Subscription filters from generated JSON trees (well-formed and not): reading never
//! panics, whatever reads round-trips through its JSON, and matching agrees with a
//! plain evaluation over the same tree. The fuzz target `subscription_filters` does the
//! same with any bytes.

use herald_signal::{Filter, Signal};
use proptest::prelude::*;
use serde_json::{Value, json};

fn signal() -> Signal {
    Signal::builder("com.example.order")
        .source("/shop")
        .extension("tenant", "acme")
        .build()
        .unwrap()
}

/// A JSON tree shaped like a filter, sometimes wrongly.
fn tree() -> impl Strategy<Value = Value> {
    let attribute = prop_oneof![
        Just("type"),
        Just("source"),
        Just("tenant"),
        Just("missing"),
        Just("Bad"),
    ];
    let text = prop_oneof![
        Just(""),
        Just("com."),
        Just("acme"),
        Just("/shop"),
        Just("order")
    ];
    let dialect = prop_oneof![Just("exact"), Just("prefix"), Just("suffix"), Just("sql")];
    let leaf = (dialect, attribute, text).prop_map(|(d, a, t)| json!({ d: { a: t } }));
    leaf.prop_recursive(5, 64, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({ "all": v })),
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| json!({ "any": v })),
            inner.clone().prop_map(|f| json!({ "not": f })),
            Just(json!({"all": 3})),
        ]
    })
}

/// The plainest evaluation of a well-formed tree.
fn reference(tree: &Value, signal: &Signal) -> bool {
    let (dialect, inner) = tree.as_object().unwrap().iter().next().unwrap();
    let compare = |test: fn(&str, &str) -> bool| {
        let (attribute, value) = inner.as_object().unwrap().iter().next().unwrap();
        let actual = match attribute.as_str() {
            "type" => Some(signal.ty().to_owned()),
            "source" => Some(signal.source().to_owned()),
            other => signal.extension(other).map(|v| v.to_string()),
        };
        actual.is_some_and(|actual| test(&actual, value.as_str().unwrap()))
    };
    match dialect.as_str() {
        "exact" => compare(|a, v| a == v),
        "prefix" => compare(|a, v| a.starts_with(v)),
        "suffix" => compare(|a, v| a.ends_with(v)),
        "all" => inner
            .as_array()
            .unwrap()
            .iter()
            .all(|f| reference(f, signal)),
        "any" => inner
            .as_array()
            .unwrap()
            .iter()
            .any(|f| reference(f, signal)),
        "not" => !reference(inner, signal),
        other => unreachable!("{other}"),
    }
}

proptest! {
    #[test]
    fn filters_read_round_trip_and_match_as_the_reference(tree in tree()) {
        let signal = signal();
        match Filter::from_json(&tree) {
            Ok(filter) => {
                prop_assert_eq!(filter.to_json(), tree.clone());
                prop_assert_eq!(filter.matches(&signal), reference(&tree, &signal));
            }
            Err(error) => prop_assert!(error.to_string().starts_with("filter ")),
        }
    }
}
