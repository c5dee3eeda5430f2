//! Telemetry: one span per dispatch and per delivery, under the caller's span, with
//! the promised fields; nothing at all when switched off.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use herald_core::{Dispatch, Dispatcher, Target};
use serde_json::json;
use support::{Probe, signal, within};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Instrument, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Default)]
struct Captured {
    name: String,
    parent: Option<String>,
    fields: HashMap<String, String>,
    /// How many times each field was given a value: a subscriber that prints fields as
    /// they come prints a field given two values twice.
    recorded: HashMap<String, usize>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

struct Fields<'a>(&'a mut Captured);

impl Fields<'_> {
    fn keep(&mut self, field: &Field, value: String) {
        let name = field.name().to_owned();
        *self.0.recorded.entry(name.clone()).or_default() += 1;
        self.0.fields.insert(name, value);
    }
}

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.keep(field, format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.keep(field, value.to_owned());
    }
}

/// Keeps every span's fields in its extensions; copies them out when it closes.
impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("span exists");
        let mut captured = Captured {
            name: attrs.metadata().name().to_owned(),
            parent: span.parent().map(|parent| parent.name().to_owned()),
            ..Captured::default()
        };
        attrs.record(&mut Fields(&mut captured));
        span.extensions_mut().insert(captured);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).expect("span exists");
        if let Some(captured) = span.extensions_mut().get_mut::<Captured>() {
            values.record(&mut Fields(captured));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).expect("span exists");
        if let Some(captured) = span.extensions_mut().remove::<Captured>() {
            self.0.lock().unwrap().push(captured);
        }
    }
}

/// One global subscriber for the binary: deliveries run on other arbiters' threads.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::registry().with(capture.clone());
        tracing::subscriber::set_global_default(subscriber).expect("first and only subscriber");
        capture
    })
}

fn spans_of(signal_id: &str) -> Vec<Captured> {
    capture()
        .0
        .lock()
        .unwrap()
        .iter()
        .filter(|span| {
            span.fields.get("messaging.message.id").map(String::as_str) == Some(signal_id)
        })
        .cloned()
        .collect()
}

#[actix_rt::test]
async fn each_delivery_has_a_span_under_the_dispatch_under_the_caller() {
    capture();
    let probe = Probe::default();
    let dispatcher = Dispatcher::builder()
        .pool_size(2)
        .adapter("probe", probe.factory())
        .start();
    let signal = signal();
    let id = signal.id().to_owned();
    let request = tracing::info_span!("request");
    let targets = vec![
        Target::noop(),
        Target::custom("probe", json!({"fail": true})),
        Target::custom("probe", json!({"delay_ms": 1})),
    ];
    let dispatch = request.in_scope(|| Dispatch::new(signal, targets));
    within(
        "dispatch",
        dispatcher.send(dispatch).instrument(request.clone()),
    )
    .await
    .unwrap()
    .unwrap_err();
    drop(request);
    // Spans close when their last handle drops; the adapters' threads may still be
    // letting go of theirs, so wait (bounded) until all four are in.
    let spans = within("spans closed", async {
        loop {
            let spans = spans_of(&id);
            if spans.len() >= 4 {
                return spans;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    })
    .await;

    let dispatch: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "herald.dispatch")
        .collect();
    assert_eq!(dispatch.len(), 1);
    assert_eq!(dispatch[0].parent.as_deref(), Some("request"));
    assert_eq!(dispatch[0].fields["messaging.batch.message_count"], "3");
    assert_eq!(dispatch[0].fields["messaging.operation.type"], "send");
    assert_eq!(dispatch[0].fields["messaging.system"], "herald");
    assert_eq!(dispatch[0].fields["otel.kind"], "producer");
    assert_eq!(dispatch[0].fields["failed"], "1");

    let mut deliveries: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "herald.deliver")
        .collect();
    assert_eq!(deliveries.len(), 3, "one span per target");
    deliveries.sort_by_key(|s| s.fields["adapter"].clone() + &s.fields["outcome"]);
    for span in &deliveries {
        assert_eq!(span.parent.as_deref(), Some("herald.dispatch"));
        let twice: Vec<_> = span.recorded.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "fields given two values: {twice:?}");
        assert_eq!(span.fields["cloudevents.event_type"], "test.signal");
        assert_eq!(span.fields["messaging.operation.type"], "send");
        let adapter = &span.fields["adapter"];
        assert_eq!(span.fields["otel.name"], format!("send {adapter}"));
        assert_eq!(&span.fields["messaging.destination.name"], adapter);
        assert!(span.fields.contains_key("messaging.message.id"));
        for field in [
            "adapter",
            "target",
            "target.kind",
            "outcome",
            "latency_us",
            "attempts",
        ] {
            assert!(
                span.fields.contains_key(field),
                "{field} missing from {span:?}"
            );
        }
    }
    let noop = deliveries
        .iter()
        .find(|s| s.fields["adapter"] == "noop")
        .unwrap();
    assert_eq!(noop.fields["outcome"], "discarded");
    assert_eq!(noop.fields["target.kind"], "noop");
    let failed = deliveries
        .iter()
        .find(|s| s.fields["outcome"] == "failed")
        .unwrap();
    assert_eq!(failed.fields["adapter"], "probe");
    assert_eq!(failed.fields["target.kind"], "custom");
    assert_eq!(failed.fields["error.type"], "custom");
    assert_eq!(failed.fields["otel.status_code"], "error");
    assert_eq!(failed.fields["retryable"], "false");
    let slow = deliveries
        .iter()
        .find(|s| s.fields["adapter"] == "probe" && s.fields["outcome"] == "delivered")
        .unwrap();
    let latency: u64 = slow.fields["latency_us"].parse().unwrap();
    assert!(latency >= 1000, "slept 1 ms, latency {latency} µs");
}

#[actix_rt::test]
async fn telemetry_off_makes_no_spans() {
    capture();
    let dispatcher = Dispatcher::builder().pool_size(1).telemetry(false).start();
    let signal = signal();
    let id = signal.id().to_owned();
    within(
        "dispatch",
        dispatcher.send(Dispatch::new(signal, [Target::noop(), Target::noop()])),
    )
    .await
    .unwrap()
    .unwrap();
    // A second dispatch with telemetry on, through the same arbiters, proves spans
    // from this binary do get captured (so the silence above is not an accident).
    let on = Dispatcher::builder().pool_size(1).start();
    let witness = support::signal();
    let witness_id = witness.id().to_owned();
    within("witness", on.send(Dispatch::new(witness, [Target::noop()])))
        .await
        .unwrap()
        .unwrap();
    within("witness spans", async {
        while spans_of(&witness_id).len() < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(spans_of(&id).is_empty());
}
