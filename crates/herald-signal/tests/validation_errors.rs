//! Every way a signal can be invalid yields its own typed error, never a panic.

use herald_signal::{Signal, SignalError};
use serde_json::json;

#[test]
fn empty_required_attributes_are_rejected() {
    let cases = [
        (Signal::builder("").build(), "type"),
        (Signal::builder("t").id("").build(), "id"),
        (Signal::builder("t").source("").build(), "source"),
        (Signal::builder("t").subject("").build(), "subject"),
        (
            Signal::builder("t").datacontenttype("").build(),
            "datacontenttype",
        ),
    ];
    for (result, attribute) in cases {
        match result {
            Err(SignalError::EmptyAttribute { name }) => assert_eq!(name, attribute),
            other => panic!("expected empty `{attribute}`, got {other:?}"),
        }
    }
}

#[test]
fn extension_names_follow_the_cloudevents_rule() {
    for bad in ["", "Tenant", "tenant_id", "tenant-id", "trace.id", "ünï"] {
        let err = Signal::builder("t")
            .extension(bad, "x")
            .build()
            .unwrap_err();
        assert!(
            matches!(err, SignalError::InvalidExtensionName { ref name } if name == bad),
            "{bad:?} gave {err:?}"
        );
    }
    for good in ["tenant", "traceparent", "a1", "9"] {
        Signal::builder("t").extension(good, "x").build().unwrap();
    }
}

#[test]
fn extension_names_may_not_shadow_core_attributes() {
    for reserved in [
        "id",
        "source",
        "specversion",
        "type",
        "subject",
        "time",
        "data",
    ] {
        let err = Signal::builder("t")
            .extension(reserved, "x")
            .build()
            .unwrap_err();
        assert!(
            matches!(err, SignalError::ReservedExtensionName { .. }),
            "{err:?}"
        );
    }
}

fn parse(value: serde_json::Value) -> Result<Signal, SignalError> {
    Signal::from_json(&value.to_string())
}

fn base() -> serde_json::Value {
    json!({"specversion": "1.0", "id": "1", "source": "/s", "type": "t"})
}

fn with(key: &str, value: serde_json::Value) -> serde_json::Value {
    let mut object = base();
    object[key] = value;
    object
}

fn without(key: &str) -> serde_json::Value {
    let mut object = base();
    object.as_object_mut().unwrap().remove(key);
    object
}

#[test]
fn missing_required_attributes_are_named() {
    for attribute in ["id", "source", "type", "specversion"] {
        match parse(without(attribute)) {
            Err(SignalError::MissingAttribute { name }) => assert_eq!(name, attribute),
            other => panic!("expected missing `{attribute}`, got {other:?}"),
        }
    }
}

#[test]
fn wrong_types_name_the_attribute() {
    let err = parse(with("id", json!(5))).unwrap_err();
    assert!(matches!(err, SignalError::InvalidAttributeType { ref name, .. } if name == "id"));
    assert_eq!(err.to_string(), "signal attribute `id` must be a string");
}

#[test]
fn bad_time_is_rejected() {
    for bad in [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-11-26 12:00:00",
        "",
    ] {
        let err = parse(with("time", json!(bad))).unwrap_err();
        assert!(
            matches!(err, SignalError::InvalidTime { ref value } if value == bad),
            "{err:?}"
        );
    }
}

#[test]
fn unknown_spec_versions_are_rejected() {
    for bad in ["0.3", "2.0", "1", "1.0.", "1.0.x", "1.01"] {
        let err = parse(with("specversion", json!(bad))).unwrap_err();
        assert!(
            matches!(err, SignalError::UnsupportedSpecVersion { .. }),
            "{bad}: {err:?}"
        );
    }
}

#[test]
fn extension_values_must_be_string_bool_or_integer() {
    for bad in [json!(1.5), json!([1]), json!({"a": 1})] {
        let err = parse(with("tenant", bad)).unwrap_err();
        assert!(
            matches!(err, SignalError::InvalidExtensionValue { .. }),
            "{err:?}"
        );
    }
    let err = parse(with("Tenant", json!("x"))).unwrap_err();
    assert!(matches!(err, SignalError::InvalidExtensionName { .. }));
}

#[test]
fn expirytime_must_be_an_rfc3339_string() {
    for bad in [
        json!("tomorrow"),
        json!(1_700_000_000),
        json!(true),
        json!(""),
    ] {
        let err = parse(with("expirytime", bad.clone())).unwrap_err();
        assert!(
            matches!(&err, SignalError::InvalidExtensionTimestamp { name } if name == "expirytime"),
            "{bad}: {err:?}"
        );
    }
    let err = Signal::builder("t")
        .extension("expirytime", "soon")
        .build()
        .unwrap_err();
    assert!(matches!(err, SignalError::InvalidExtensionTimestamp { .. }));

    let signal = parse(with("expirytime", json!("2030-01-02T03:04:05+01:00"))).unwrap();
    let expiry = signal.expirytime().unwrap();
    assert_eq!(expiry.to_rfc3339(), "2030-01-02T02:04:05+00:00");
    assert!(!signal.expired_at(expiry - std::time::Duration::from_millis(1)));
    assert!(signal.expired_at(expiry));
    let back = Signal::from_json(&signal.to_json()).unwrap();
    assert_eq!(back.expirytime(), Some(expiry));
}

#[test]
fn data_and_data_base64_are_exclusive_and_base64_is_checked() {
    let mut both = with("data", json!(1));
    both["data_base64"] = json!("AAEC");
    assert!(matches!(parse(both), Err(SignalError::ConflictingData)));
    assert!(matches!(
        parse(with("data_base64", json!("not base64!"))),
        Err(SignalError::InvalidBase64 { .. })
    ));
}

#[test]
fn malformed_json_is_an_error_not_a_panic() {
    for bad in ["", "{", "[]", "null", "42", "{\"id\":", "\u{0}"] {
        let err = Signal::from_json(bad).unwrap_err();
        assert!(
            matches!(err, SignalError::Json { .. }),
            "{bad:?} gave {err:?}"
        );
    }
    let deep = "[".repeat(100_000);
    assert!(Signal::from_json(&deep).is_err());
}

#[test]
fn duplicate_attributes_are_rejected() {
    let text = r#"{"specversion":"1.0","id":"1","id":"2","source":"/s","type":"t"}"#;
    let err = Signal::from_json(text).unwrap_err();
    assert!(
        err.to_string().contains("`id` appears more than once"),
        "{err}"
    );
}

#[test]
fn size_limit_is_checked_before_parsing() {
    let text = base().to_string();
    let err = Signal::from_json_slice_limited(text.as_bytes(), 10).unwrap_err();
    assert!(matches!(err, SignalError::TooLarge { limit: 10, .. }));
    Signal::from_json_slice_limited(text.as_bytes(), text.len()).unwrap();
}

#[test]
fn messages_are_lower_case_without_trailing_period() {
    let errors = [
        parse(without("id")).unwrap_err(),
        parse(with("time", json!("x"))).unwrap_err(),
        Signal::builder("").build().unwrap_err(),
        Signal::from_json("{").unwrap_err(),
    ];
    for err in errors {
        let message = err.to_string();
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
}
