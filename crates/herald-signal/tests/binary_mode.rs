//! The protocol bindings' binary content mode: `ce-` headers and the data as the body,
//! shared by the HTTP and NATS bindings.

use herald_signal::{BinaryError, Data, ExtensionValue, Signal};
use proptest::prelude::*;
use serde_json::{Value, json};

fn pairs(headers: &[(String, String)]) -> impl Iterator<Item = (&str, &str)> {
    headers.iter().map(|(n, v)| (n.as_str(), v.as_str()))
}

/// What a signal reads back as: binary mode carries every extension as a string, and
/// an empty body is no data.
fn as_read_back(signal: &Signal) -> Signal {
    let mut builder = Signal::builder(signal.ty())
        .id(signal.id())
        .source(signal.source());
    if let Some(subject) = signal.subject() {
        builder = builder.subject(subject);
    }
    if let Some(time) = signal.time() {
        builder = builder.time(*time);
    }
    let empty = signal
        .binary_body()
        .is_some_and(|(_, body)| body.is_empty());
    builder = match signal.data() {
        _ if empty => builder,
        Some(Data::Binary(bytes)) => builder.data_binary(bytes.clone()),
        Some(Data::Json(value)) => builder.data(value.clone()),
        _ => builder,
    };
    if let Some(content_type) = signal.datacontenttype() {
        builder = builder.datacontenttype(content_type);
    }
    for (name, value) in signal.extensions() {
        builder = builder.extension(name.as_str(), value.to_string());
    }
    builder.build().unwrap()
}

#[test]
fn headers_are_the_attributes_percent_encoded() {
    let signal = Signal::builder("order.placed")
        .id("1")
        .source("/shop")
        .subject("order 17 — ü \"x\" 100%")
        .time("2026-11-26T12:00:00Z".parse().unwrap())
        .extension("tenant", "acme")
        .extension("priority", 3)
        .data(json!({"total": 12.5}))
        .build()
        .unwrap();
    let headers = signal.binary_headers();
    let expected = [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/shop"),
        ("ce-type", "order.placed"),
        (
            "ce-subject",
            "order%2017%20%E2%80%94%20%C3%BC%20%22x%22%20100%25",
        ),
        ("ce-time", "2026-11-26T12:00:00Z"),
        ("ce-datacontenttype", "application/json"),
        ("ce-priority", "3"),
        ("ce-tenant", "acme"),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(headers, expected);
    assert_eq!(
        signal.binary_body(),
        Some(("application/json", br#"{"total":12.5}"#.to_vec()))
    );
}

#[test]
fn bytes_without_a_content_type_read_as_octets() {
    let signal = Signal::builder("blob")
        .data_binary(vec![0, 159, 146, 150])
        .build()
        .unwrap();
    let (content_type, body) = signal.binary_body().unwrap();
    assert_eq!(content_type, "application/octet-stream");
    let mut headers = signal.binary_headers();
    headers.push(("ce-datacontenttype".into(), content_type.into()));
    let back = Signal::from_binary(pairs(&headers), &body).unwrap();
    assert_eq!(back.data(), signal.data());
}

#[test]
fn header_names_are_read_in_any_case_and_others_ignored() {
    let headers = [
        ("CE-SpecVersion", "1.0"),
        ("Ce-Id", "7"),
        ("ce-source", "/x"),
        ("ce-type", "t"),
        ("content-length", "2"),
        ("ce-datacontenttype", "text/plain"),
    ];
    let signal = Signal::from_binary(headers, b"hi").unwrap();
    assert_eq!(signal.id(), "7");
    assert_eq!(signal.data(), Some(&Data::Json(json!("hi"))));
}

#[test]
fn bad_input_is_an_error_saying_what() {
    let base = [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
    ];
    let error = Signal::from_binary(base, b"{oops").unwrap_err();
    assert!(matches!(error, BinaryError::BadData(_)), "{error}");
    let bad = base.into_iter().chain([("ce-subject", "%FF")]);
    let error = Signal::from_binary(bad, b"").unwrap_err();
    assert!(
        matches!(&error, BinaryError::BadHeader(name) if name == "ce-subject"),
        "{error}"
    );
    let error = Signal::from_binary([("ce-specversion", "1.0")], b"").unwrap_err();
    assert!(matches!(error, BinaryError::Signal(_)), "{error}");
    let text = base
        .into_iter()
        .chain([("ce-datacontenttype", "text/plain")]);
    let error = Signal::from_binary(text, &[0xff, 0xfe]).unwrap_err();
    assert!(matches!(error, BinaryError::BadData(_)), "{error}");
}

#[test]
fn a_data_header_does_not_become_the_data() {
    let headers = [
        ("ce-specversion", "1.0"),
        ("ce-id", "1"),
        ("ce-source", "/s"),
        ("ce-type", "t"),
        ("ce-data", "injected"),
        ("ce-data_base64", "aW5qZWN0ZWQ="),
    ];
    let signal = Signal::from_binary(headers, b"").unwrap();
    assert_eq!(signal.data(), None);
}

fn extension_value() -> impl Strategy<Value = ExtensionValue> {
    prop_oneof![
        ".{0,10}".prop_map(ExtensionValue::from),
        any::<bool>().prop_map(ExtensionValue::from),
        any::<i64>().prop_map(ExtensionValue::from),
    ]
}

fn data() -> impl Strategy<Value = Option<(Option<&'static str>, Data)>> {
    let json = prop_oneof![
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
        prop::collection::btree_map("[a-z]{1,6}", ".{0,8}", 0..4).prop_map(|m| json!(m)),
    ];
    proptest::option::of(prop_oneof![
        json.prop_map(|value| (None, Data::Json(value))),
        ".{0,16}".prop_map(|text| (Some("text/plain; charset=utf-8"), Data::Json(json!(text)))),
        prop::collection::vec(any::<u8>(), 1..40)
            .prop_map(|bytes| (Some("image/png"), Data::Binary(bytes))),
    ])
}

prop_compose! {
    fn arb_signal()(
        ty in "[a-z]{1,8}(\\.[a-z]{1,8}){0,3}",
        id in ".{1,20}",
        source in "/[a-z/ %]{0,12}",
        subject in proptest::option::of(".{1,10}"),
        secs in 0i64..4_000_000_000,
        nanos in 0u32..1_000_000_000,
        data in data(),
        extensions in prop::collection::btree_map("x[a-z0-9]{1,7}", extension_value(), 0..4),
    ) -> Signal {
        let mut builder = Signal::builder(ty)
            .id(id)
            .source(source)
            .time(herald_signal::DateTime::from_timestamp(secs, nanos).unwrap());
        if let Some(subject) = subject {
            builder = builder.subject(subject);
        }
        builder = match data {
            Some((content_type, Data::Json(value))) => {
                let builder = builder.data(value);
                match content_type {
                    Some(content_type) => builder.datacontenttype(content_type),
                    None => builder,
                }
            }
            Some((content_type, Data::Binary(bytes))) => {
                builder.data_binary(bytes).datacontenttype(content_type.unwrap_or("application/octet-stream"))
            }
            _ => builder,
        };
        for (name, value) in extensions {
            builder = builder.extension(name, value);
        }
        builder.build().unwrap()
    }
}

proptest! {
    #[test]
    fn binary_round_trip_keeps_every_attribute_and_the_data(signal in arb_signal()) {
        let headers = signal.binary_headers();
        let body = signal.binary_body().map(|(_, body)| body).unwrap_or_default();
        let back = Signal::from_binary(pairs(&headers), &body).unwrap();
        prop_assert_eq!(back, as_read_back(&signal));
    }

    #[test]
    fn arbitrary_headers_and_bodies_never_panic(
        headers in prop::collection::vec(("(ce-)?[a-z]{0,12}", ".{0,20}"), 0..12),
        body in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let _ = Signal::from_binary(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())), &body);
    }
}
