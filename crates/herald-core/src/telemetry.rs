//! Spans for dispatches and deliveries.
//!
//! One `herald.dispatch` span per dispatch, child of the caller's span; one
//! `herald.deliver` span per target, child of the dispatch span, on whichever arbiter
//! runs the delivery. With telemetry off none of this runs.

use std::time::Duration;

use herald_signal::Signal;
use tracing::Span;
use tracing::field::{Empty, display};

use crate::{DeliveryError, Outcome, Target};

pub(crate) fn dispatch_span(parent: &Span, signal: &Signal, targets: usize) -> Span {
    tracing::info_span!(
        parent: parent,
        "herald.dispatch",
        signal.r#type = signal.ty(),
        signal.id = signal.id(),
        targets,
        delivered = Empty,
        failed = Empty,
    )
}

pub(crate) fn delivery_span(parent: &Span, target: &Target, kind: &str, signal: &Signal) -> Span {
    tracing::info_span!(
        parent: parent,
        "herald.deliver",
        adapter = target.adapter(),
        signal.r#type = signal.ty(),
        signal.id = signal.id(),
        target = %target.describe(),
        target.kind = kind,
        outcome = Empty,
        latency_us = Empty,
        attempts = Empty,
        retryable = Empty,
        error.kind = Empty,
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
            span.record("outcome", "failed");
            span.record("attempts", error.attempts());
            span.record("retryable", error.retryable());
            span.record("error.kind", error.kind().name());
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
