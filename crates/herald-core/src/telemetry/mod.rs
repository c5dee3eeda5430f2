//! Spans for dispatches and deliveries, in OpenTelemetry's messaging conventions.
//!
//! One `herald.dispatch` span per dispatch, child of the caller's span; one
//! `herald.deliver` span per target, child of the dispatch span, on whichever arbiter
//! runs the delivery. With telemetry off none of this runs. Their fields are the
//! conventions' attributes (`messaging.*`, `cloudevents.event_type`, `error.type`;
//! `otel.name` and `otel.kind` for `tracing-opentelemetry`) beside Herald's own where
//! those add something (the redacted `target`, `outcome`, `latency_us`, `attempts`,
//! `retryable`): docs/OBSERVABILITY.md maps every one.

use std::time::Duration;

use herald_signal::Signal;
use tracing::Span;
use tracing::field::{Empty, display};

use crate::{DeliveryError, Outcome, Target};

pub(crate) mod meter;
pub(crate) mod otel;

pub(crate) fn dispatch_span(parent: &Span, signal: &Signal, targets: usize) -> Span {
    tracing::info_span!(
        parent: parent,
        "herald.dispatch",
        otel.name = "dispatch",
        otel.kind = "producer",
        messaging.system = "herald",
        messaging.operation.type = "send",
        messaging.operation.name = "dispatch",
        messaging.message.id = signal.id(),
        messaging.batch.message_count = targets,
        cloudevents.event_type = signal.ty(),
        delivered = Empty,
        failed = Empty,
    )
}

pub(crate) fn delivery_span(parent: &Span, target: &Target, kind: &str, signal: &Signal) -> Span {
    let adapter = target.adapter();
    tracing::info_span!(
        parent: parent,
        "herald.deliver",
        otel.name = format_args!("send {adapter}").to_string(),
        otel.kind = "producer",
        otel.status_code = Empty,
        messaging.system = "herald",
        messaging.operation.type = "send",
        messaging.operation.name = "send",
        messaging.destination.name = adapter,
        messaging.message.id = signal.id(),
        cloudevents.event_type = signal.ty(),
        adapter,
        target = %target.describe(),
        target.kind = kind,
        outcome = Empty,
        latency_us = Empty,
        attempts = Empty,
        retryable = Empty,
        error.r#type = Empty,
        error = Empty,
    )
}

/// Records how a delivery ended on its span, each field once (a subscriber that
/// prints fields as recorded would print a field recorded twice twice). `attempts` is
/// what a success took; a failure's come from its error. (The failure's `WARN` event
/// is the dispatch's, once it has its answer: `dispatch::warn_failures`.)
pub(crate) fn record(
    span: &Span,
    result: &Result<Outcome, DeliveryError>,
    attempts: u32,
    latency: Duration,
) {
    span.record("latency_us", latency.as_micros() as u64);
    match result {
        Ok(outcome) => {
            span.record("outcome", outcome.name());
            span.record("attempts", attempts);
        }
        Err(error) => {
            span.record("otel.status_code", "error");
            span.record("outcome", "failed");
            span.record("attempts", error.attempts());
            span.record("retryable", error.retryable());
            span.record("error.type", error.kind().name());
            span.record("error", display(error));
        }
    }
}

/// Whether any subscriber could want Herald's spans (they are at `INFO`): one atomic
/// load of the most verbose level any installed subscriber enables, which is `OFF`
/// until an application installs one.
pub(crate) fn spans_wanted() -> bool {
    tracing::level_enabled!(tracing::Level::INFO)
}

/// The caller's span, parent of a dispatch's span: none when there is none, or no
/// subscriber could want the dispatch span (which spares the look-up).
pub(crate) fn parent() -> Option<Span> {
    if !spans_wanted() {
        return None;
    }
    Some(Span::current()).filter(|span| !span.is_none())
}

/// A disabled span, for a dispatch with no parent.
pub(crate) static NO_SPAN: Span = Span::none();
