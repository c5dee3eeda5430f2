//! Trace context across nodes: the CloudEvents distributed tracing extension
//! (`traceparent`, `tracestate`), read where a signal arrives.

use herald_signal::Signal;
use tracing::Span;

/// The span a signal that arrived from another node is dispatched under, in
/// OpenTelemetry's messaging conventions (a `process` span, `group` the consumer's
/// name): with the W3C trace context the signal carries as fields (`trace_id`,
/// `parent_id`, `tracestate`) and, with feature `opentelemetry`, as its parent and
/// link, so that every dispatch and delivery span on this node continues the
/// producer's trace. A `traceparent` that is not W3C-shaped is ignored.
pub(crate) fn arrival_span(signal: &Signal, subject: &str, group: Option<&str>) -> Span {
    let parent = signal.trace_context();
    let span = tracing::info_span!(
        "herald.arrive",
        otel.name = format_args!("process {subject}").to_string(),
        otel.kind = "consumer",
        messaging.system = "nats",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = subject,
        messaging.consumer.group.name = group,
        messaging.message.id = signal.id(),
        cloudevents.event_type = signal.ty(),
        trace_id = tracing::field::Empty,
        parent_id = tracing::field::Empty,
        tracestate = tracing::field::Empty,
    );
    if let Some(parent) = parent {
        span.record("trace_id", parent.trace_id);
        span.record("parent_id", parent.parent_id);
        if let Some(state) = parent.tracestate {
            span.record("tracestate", state);
        }
        herald_core::continue_trace(&span, signal);
    }
    span
}
