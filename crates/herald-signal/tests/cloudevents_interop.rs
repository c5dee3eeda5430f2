//! Herald's JSON is read by the `cloudevents-sdk` crate, and the other way round.

use cloudevents::{AttributesReader, EventBuilder, EventBuilderV10};
use herald_signal::{Data, ExtensionValue, Signal};
use serde_json::json;

#[test]
fn a_herald_signal_parses_with_cloudevents_sdk() {
    let signal = Signal::builder("user.created")
        .source("/users")
        .subject("user/7")
        .dataschema("https://example.com/user.json")
        .extension("tenant", "acme")
        .extension("attempt", 2)
        .extension("replay", true)
        .data(json!({"id": 7, "name": "Ada"}))
        .build()
        .unwrap();

    let event: cloudevents::Event = serde_json::from_str(&signal.to_json()).unwrap();

    assert_eq!(event.id(), signal.id());
    assert_eq!(event.source().to_string(), signal.source());
    assert_eq!(event.ty(), signal.ty());
    assert_eq!(event.subject(), signal.subject());
    assert_eq!(event.time(), signal.time());
    assert_eq!(event.datacontenttype(), signal.datacontenttype());
    assert_eq!(event.dataschema().map(|u| u.as_str()), signal.dataschema());
    assert_eq!(
        event.data(),
        Some(&cloudevents::Data::Json(json!({"id": 7, "name": "Ada"})))
    );
    assert_eq!(
        event.extension("tenant"),
        Some(&cloudevents::event::ExtensionValue::String("acme".into()))
    );
    assert_eq!(
        event.extension("attempt"),
        Some(&cloudevents::event::ExtensionValue::Integer(2))
    );
    assert_eq!(
        event.extension("replay"),
        Some(&cloudevents::event::ExtensionValue::Boolean(true))
    );
}

#[test]
fn binary_herald_data_parses_with_cloudevents_sdk() {
    let signal = Signal::builder("blob")
        .datacontenttype("application/octet-stream")
        .data_binary(vec![1, 2, 3])
        .build()
        .unwrap();
    let event: cloudevents::Event = serde_json::from_str(&signal.to_json()).unwrap();
    assert_eq!(
        event.data(),
        Some(&cloudevents::Data::Binary(vec![1, 2, 3]))
    );
}

#[test]
fn a_cloudevents_sdk_event_parses_into_a_signal() {
    let event = EventBuilderV10::new()
        .id("evt-1")
        .source("http://example.com/orders")
        .ty("order.shipped")
        .subject("order/9")
        .time("2026-11-26T12:00:00.5Z")
        .extension("tenant", "acme")
        .extension("priority", 5i64)
        .data("application/json", json!({"carrier": "dhl"}))
        .build()
        .unwrap();

    let signal = Signal::from_json(&serde_json::to_string(&event).unwrap()).unwrap();

    assert_eq!(signal.id(), "evt-1");
    assert_eq!(signal.source(), "http://example.com/orders");
    assert_eq!(signal.ty(), "order.shipped");
    assert_eq!(signal.subject(), Some("order/9"));
    assert_eq!(signal.time(), event.time());
    assert_eq!(signal.datacontenttype(), Some("application/json"));
    assert_eq!(signal.data(), Some(&Data::Json(json!({"carrier": "dhl"}))));
    assert_eq!(
        signal.extension("tenant"),
        Some(&ExtensionValue::from("acme"))
    );
    assert_eq!(
        signal.extension("priority"),
        Some(&ExtensionValue::Integer(5))
    );
}

#[test]
fn cloudevents_sdk_binary_data_parses_into_bytes() {
    let event = EventBuilderV10::new()
        .id("b")
        .source("/s")
        .ty("blob")
        .data("application/octet-stream", vec![9u8, 8, 7])
        .build()
        .unwrap();
    let signal = Signal::from_json(&serde_json::to_string(&event).unwrap()).unwrap();
    assert_eq!(signal.data(), Some(&Data::Binary(vec![9, 8, 7])));
}
