//! The CloudEvents JSON event format: exact shape, round trip, batches.

use herald_signal::{Data, ExtensionValue, Signal, SignalError};
use proptest::prelude::*;
use serde_json::{Value, json};

#[test]
fn writes_the_structured_format_with_flattened_extensions() {
    let signal = Signal::builder("invoice.paid")
        .id("1")
        .source("/billing")
        .time("2026-11-26T12:00:00Z".parse().unwrap())
        .extension("tenant", "acme")
        .extension("attempt", 2)
        .data(json!({"amount": 42}))
        .build()
        .unwrap();
    let value: Value = serde_json::from_str(&signal.to_json()).unwrap();
    assert_eq!(
        value,
        json!({
            "specversion": "1.0",
            "id": "1",
            "source": "/billing",
            "type": "invoice.paid",
            "time": "2026-11-26T12:00:00Z",
            "datacontenttype": "application/json",
            "tenant": "acme",
            "attempt": 2,
            "data": {"amount": 42}
        })
    );
}

#[test]
fn binary_data_travels_as_data_base64() {
    let signal = Signal::builder("blob")
        .datacontenttype("application/octet-stream")
        .data_binary(vec![0, 1, 2, 255])
        .build()
        .unwrap();
    let value: Value = serde_json::from_str(&signal.to_json()).unwrap();
    assert_eq!(value["data_base64"], json!("AAEC/w=="));
    assert!(value.get("data").is_none());
    assert_eq!(Signal::from_json(&signal.to_json()).unwrap(), signal);
}

#[test]
fn reads_jido_signal_output_with_patch_specversion() {
    let text = r#"{"specversion":"1.0.2","id":"0192f5a0-0000-7000-8000-000000000001",
        "source":"/billing","type":"invoice.paid","time":"2026-11-26T12:00:00.123456Z",
        "datacontenttype":"application/json","data":{"amount":42},"subject":null}"#;
    let signal = Signal::from_json(text).unwrap();
    assert_eq!(signal.ty(), "invoice.paid");
    assert_eq!(signal.data(), Some(&Data::Json(json!({"amount": 42}))));
    assert_eq!(signal.subject(), None, "null attributes count as absent");
    assert!(signal.to_json().contains(r#""specversion":"1.0""#));
}

#[test]
fn reads_the_shared_test_vector_body() {
    let text = include_str!("../../../vectors/jido-body.json");
    let signal = Signal::from_json(text).unwrap();
    assert_eq!(signal.source(), "/billing");
}

#[test]
fn time_offsets_are_normalised_to_utc() {
    let text = r#"{"specversion":"1.0","id":"1","source":"/s","type":"t","time":"2026-11-26T14:00:00+02:00"}"#;
    let signal = Signal::from_json(text).unwrap();
    assert!(
        signal
            .to_json()
            .contains(r#""time":"2026-11-26T12:00:00Z""#)
    );
}

#[test]
fn batches_read_and_write_as_arrays() {
    let signals: Vec<_> = (0..3)
        .map(|i| Signal::new(format!("t.{i}"), json!(i)).unwrap())
        .collect();
    let text = Signal::batch_to_json(&signals);
    assert!(text.starts_with('['));
    assert_eq!(Signal::batch_from_json(&text).unwrap(), signals);
    assert_eq!(Signal::batch_from_json("[]").unwrap(), vec![]);

    let bad = r#"[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"id":"2"}]"#;
    match Signal::batch_from_json(bad).unwrap_err() {
        SignalError::InBatch { index, error } => {
            assert_eq!(index, 1);
            assert!(matches!(*error, SignalError::MissingAttribute { .. }));
        }
        other => panic!("expected InBatch, got {other:?}"),
    }
    assert!(matches!(
        Signal::batch_from_json("{}"),
        Err(SignalError::Json { .. })
    ));
}

#[test]
fn signal_is_a_serde_type_inside_user_structs() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Envelope {
        signal: Signal,
    }
    let envelope = Envelope {
        signal: Signal::new("t", json!([1, 2])).unwrap(),
    };
    let text = serde_json::to_string(&envelope).unwrap();
    let back: Envelope = serde_json::from_str(&text).unwrap();
    assert_eq!(back.signal, envelope.signal);

    let bad = r#"{"signal":{"specversion":"9","id":"1","source":"/s","type":"t"}}"#;
    let err = serde_json::from_str::<Envelope>(bad).err().unwrap();
    assert!(err.to_string().contains("unsupported specversion"), "{err}");
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    json_leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn extension_value() -> impl Strategy<Value = ExtensionValue> {
    prop_oneof![
        ".{0,10}".prop_map(ExtensionValue::from),
        any::<bool>().prop_map(ExtensionValue::from),
        any::<i64>().prop_map(ExtensionValue::from),
    ]
}

prop_compose! {
    fn arb_signal()(
        ty in "[a-z]{1,8}(\\.[a-z]{1,8}){0,3}",
        id in "[ -~]{1,20}",
        source in "/[a-z/]{0,12}",
        subject in proptest::option::of("[a-z0-9/]{1,10}"),
        secs in 0i64..4_000_000_000,
        nanos in 0u32..1_000_000_000,
        json in proptest::option::of(json_value()),
        bytes in proptest::option::of(prop::collection::vec(any::<u8>(), 0..40)),
        extensions in prop::collection::btree_map("[a-z0-9]{1,8}", extension_value(), 0..4),
    ) -> Signal {
        let mut builder = Signal::builder(ty)
            .id(id)
            .source(source)
            .time(herald_signal::DateTime::from_timestamp(secs, nanos).unwrap());
        if let Some(subject) = subject {
            builder = builder.subject(subject);
        }
        builder = match (json, bytes) {
            (Some(json), _) => builder.data(json),
            (None, Some(bytes)) => builder.data_binary(bytes),
            (None, None) => builder,
        };
        for (name, value) in extensions {
            if !["id", "source", "specversion", "type", "subject", "time", "data", "datacontenttype", "dataschema"].contains(&name.as_str()) {
                builder = builder.extension(name, value);
            }
        }
        builder.build().unwrap()
    }
}

proptest! {
    #[test]
    fn json_round_trip_is_lossless(signal in arb_signal()) {
        let text = signal.to_json();
        prop_assert_eq!(Signal::from_json(&text).unwrap(), signal.clone());
        let bytes = signal.to_json_vec();
        prop_assert_eq!(Signal::from_json_slice(&bytes).unwrap(), signal);
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,200}") {
        let _ = Signal::from_json(&text);
        let _ = Signal::batch_from_json(&text);
    }
}
