//! The receiving side of W3C trace context: a span per signal that arrives over HTTP,
//! continuing the sender's trace.

use herald_signal::Signal;
use tracing::Span;

/// The span a signal that arrived at `path` is dispatched under, in OpenTelemetry's
/// messaging conventions (a `process` span): with the W3C trace context the signal
/// carries (its own extension, or the request's `traceparent` header, which
/// [`SignalBody`](crate::SignalBody) folds in) as fields and, with feature
/// `opentelemetry`, as its parent and link — so the dispatch and delivery spans
/// continue the sender's trace.
pub fn receive_span(signal: &Signal, path: &str) -> Span {
    let span = tracing::info_span!(
        "herald.receive",
        otel.name = format_args!("process {path}").to_string(),
        otel.kind = "consumer",
        messaging.system = "herald",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = path,
        messaging.message.id = signal.id(),
        cloudevents.event_type = signal.ty(),
        trace_id = tracing::field::Empty,
        parent_id = tracing::field::Empty,
    );
    if let Some(parent) = signal.trace_context() {
        span.record("trace_id", parent.trace_id);
        span.record("parent_id", parent.parent_id);
        herald_core::continue_trace(&span, signal);
    }
    span
}
