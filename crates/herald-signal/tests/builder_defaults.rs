//! What a signal gets when the caller gives only its type.

use herald_signal::{Data, DateTime, Signal, SpecVersion, Utc, default_source};
use serde_json::json;

#[test]
fn short_form_fills_every_default() {
    let before = chrono_now();
    let signal = Signal::new("user.created", json!({"id": 1})).unwrap();
    let after = chrono_now();

    assert_eq!(signal.ty(), "user.created");
    assert_eq!(signal.source(), default_source());
    assert_eq!(signal.specversion(), SpecVersion::V1_0);
    assert_eq!(signal.datacontenttype(), Some("application/json"));
    assert_eq!(signal.data(), Some(&Data::Json(json!({"id": 1}))));
    let time = *signal.time().expect("time defaults to now");
    assert!(
        before <= time && time <= after,
        "time {time} not between {before} and {after}"
    );

    let id = uuid_of(signal.id());
    assert_eq!(id.get_version_num(), 7, "id is a UUIDv7");
}

#[test]
fn ids_are_fresh_and_ordered() {
    let ids: Vec<_> = (0..100)
        .map(|_| uuid_of(Signal::new("t", json!(null)).unwrap().id()))
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "every id is unique");
}

#[test]
fn explicit_attributes_win_over_defaults() {
    let time: DateTime<Utc> = "2026-11-26T12:00:00Z".parse().unwrap();
    let signal = Signal::builder("invoice.paid")
        .id("inv-1")
        .source("/billing")
        .subject("invoice/1")
        .time(time)
        .datacontenttype("application/vnd.billing+json")
        .dataschema("https://example.com/schemas/invoice.json")
        .extension("tenant", "acme")
        .extension("attempt", 3)
        .extension("replay", false)
        .data(json!({"amount": 42}))
        .build()
        .unwrap();
    assert_eq!(signal.id(), "inv-1");
    assert_eq!(signal.source(), "/billing");
    assert_eq!(signal.subject(), Some("invoice/1"));
    assert_eq!(signal.time(), Some(&time));
    assert_eq!(
        signal.datacontenttype(),
        Some("application/vnd.billing+json")
    );
    assert_eq!(
        signal.dataschema(),
        Some("https://example.com/schemas/invoice.json")
    );
    assert_eq!(signal.extensions().len(), 3);
    assert_eq!(signal.extension("attempt"), Some(&3.into()));
}

#[test]
fn binary_data_has_no_default_content_type() {
    let signal = Signal::builder("blob")
        .data_binary(vec![0, 1, 2])
        .build()
        .unwrap();
    assert_eq!(signal.datacontenttype(), None);
    assert_eq!(
        signal.data().and_then(Data::as_bytes),
        Some(&[0u8, 1, 2][..])
    );
}

#[test]
fn no_data_means_no_content_type_and_time_can_be_left_out() {
    let signal = Signal::builder("ping").without_time().build().unwrap();
    assert_eq!(signal.data(), None);
    assert_eq!(signal.datacontenttype(), None);
    assert_eq!(signal.time(), None);
}

#[test]
fn to_builder_derives_a_changed_copy() {
    let original = Signal::new("a.b", json!(1)).unwrap();
    let changed = original.to_builder().subject("s").build().unwrap();
    assert_eq!(changed.id(), original.id());
    assert_eq!(changed.time(), original.time());
    assert_eq!(changed.subject(), Some("s"));
}

fn chrono_now() -> DateTime<Utc> {
    Utc::now()
}

fn uuid_of(id: &str) -> uuid::Uuid {
    uuid::Uuid::parse_str(id).expect("default id is a UUID")
}
