//! Hostile input gets an error, in bounded time, and whatever is built round-trips.

use herald_signal::{DateTime, MAX_DATA_DEPTH, Signal, SignalError, Utc};
use serde_json::{Value, json};

fn nested(depth: usize) -> Value {
    let mut value = json!(1);
    for _ in 0..depth {
        value = Value::Array(vec![value]);
    }
    value
}

#[test]
fn data_at_the_depth_limit_round_trips_alone_and_in_a_batch() {
    let signal = Signal::new("deep", nested(MAX_DATA_DEPTH)).unwrap();
    let single = Signal::from_json(&signal.to_json());
    assert_eq!(single.as_ref().ok(), Some(&signal), "{single:?}");
    let batch = Signal::batch_to_json(std::slice::from_ref(&signal));
    let batch = Signal::batch_from_json(&batch);
    assert_eq!(batch.as_deref().ok(), Some(&[signal][..]), "{batch:?}");
}

#[test]
fn data_past_the_depth_limit_is_refused_at_build() {
    for depth in [MAX_DATA_DEPTH + 1, 10_000] {
        let error = Signal::new("deep", nested(depth)).unwrap_err();
        assert!(
            matches!(error, SignalError::DataTooDeep { limit } if limit == MAX_DATA_DEPTH),
            "{error}"
        );
    }
}

#[test]
fn times_outside_years_0000_to_9999_are_refused_both_ways() {
    let error = Signal::from_json(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"9999-12-31T23:59:59-01:00"}"#,
    )
    .unwrap_err();
    assert!(matches!(error, SignalError::InvalidTime { .. }), "{error}");
    let at_the_edge = Signal::from_json(
        r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"9999-12-31T23:59:59Z"}"#,
    )
    .unwrap();
    assert_eq!(
        Signal::from_json(&at_the_edge.to_json()).unwrap(),
        at_the_edge
    );

    for year in [-1, 10_000] {
        let time: DateTime<Utc> = format!("{year:+07}-06-01T00:00:00Z").parse().unwrap();
        let error = Signal::builder("t").time(time).build().unwrap_err();
        assert!(matches!(error, SignalError::InvalidTime { .. }), "{error}");
    }
}

#[test]
fn a_hundred_thousand_extensions_parse_in_linear_time() {
    let mut text = String::from(r#"{"specversion":"1.0","id":"1","source":"/s","type":"t""#);
    for i in 0..100_000 {
        text.push_str(&format!(r#","x{i}":"v""#));
    }
    text.push('}');
    let started = std::time::Instant::now();
    let signal = Signal::from_json(&text).unwrap();
    assert_eq!(signal.extensions().len(), 100_000);
    // Quadratic checking took minutes here; linear takes well under a second. A
    // generous bound, for a busy machine.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));

    text.truncate(text.len() - 1);
    text.push_str(r#","x7":"again"}"#);
    let error = Signal::from_json(&text).unwrap_err();
    assert!(error.to_string().contains("x7"), "{error}");
}

mod sizes {
    use herald_signal::Signal;
    use proptest::prelude::*;
    use serde_json::Value;

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(".{0,12}", inner, 0..8)
                    .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_size_is_exact_and_the_bound_holds(data in value(), ty in ".{1,30}", subject in ".{0,30}") {
            let mut builder = Signal::builder(ty).data(data).extension("tenant", "acme\u{1}");
            if !subject.is_empty() {
                builder = builder.subject(subject);
            }
            let signal = builder.build().unwrap();
            let text = signal.to_json();
            prop_assert_eq!(signal.encoded_len(), text.len());
            prop_assert!(signal.encoded_len_bound() >= text.len());
            let parsed = Signal::from_json(&text).unwrap();
            prop_assert_eq!(parsed.encoded_len_bound(), signal.encoded_len_bound());
        }
    }
}
