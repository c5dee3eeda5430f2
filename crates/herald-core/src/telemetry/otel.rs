//! W3C trace context between Herald's spans and OpenTelemetry (feature
//! `opentelemetry`, for applications that export their `tracing` spans with
//! `tracing-opentelemetry`). Without the feature, nothing here does anything: a
//! signal's own `traceparent` still travels, and arrival spans record it as fields.

use std::sync::Arc;

use herald_signal::Signal;
use tracing::Span;

/// `signal`, carrying the trace context of `span` when it has none of its own and
/// `span` is part of an OpenTelemetry trace: so a receiver (over HTTP, webhooks or
/// NATS) continues the dispatching code's trace. Otherwise `signal` itself.
#[cfg_attr(not(feature = "opentelemetry"), allow(unused_variables))]
pub(crate) fn carry(signal: Arc<Signal>, span: Option<&Span>) -> Arc<Signal> {
    #[cfg(feature = "opentelemetry")]
    if signal.extension(herald_signal::TRACEPARENT).is_none()
        && let Some((traceparent, tracestate)) = span.and_then(on::traceparent)
    {
        let mut builder = signal
            .to_builder()
            .extension(herald_signal::TRACEPARENT, traceparent);
        if let Some(state) = tracestate {
            builder = builder.extension(herald_signal::TRACESTATE, state);
        }
        match builder.build() {
            Ok(traced) => return Arc::new(traced),
            Err(error) => tracing::debug!(%error, "trace context not added to the signal"),
        }
    }
    signal
}

/// Continues on `span` the trace `signal` carries (its `traceparent` and
/// `tracestate` extensions), as the OpenTelemetry messaging conventions ask of a
/// span that processes a message: the producer's context is the span's parent and
/// its link. Does nothing without feature `opentelemetry`, or when the signal carries
/// no well-formed trace context.
///
/// Herald's receiving sides (bridges, durable consumers) do this themselves; call it
/// on a span of your own where signals arrive another way.
#[cfg_attr(not(feature = "opentelemetry"), allow(unused_variables))]
pub fn continue_trace(span: &Span, signal: &Signal) {
    #[cfg(feature = "opentelemetry")]
    on::continue_trace(span, signal);
}

#[cfg(feature = "opentelemetry")]
mod on {
    use herald_signal::Signal;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing::Span;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    /// `span`'s W3C `traceparent` and `tracestate`, when it is in a valid trace.
    pub(super) fn traceparent(span: &Span) -> Option<(String, Option<String>)> {
        let context = span.context();
        let span = context.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return None;
        }
        let traceparent = format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        );
        let state = span_context.trace_state().header();
        Some((traceparent, (!state.is_empty()).then_some(state)))
    }

    pub(super) fn continue_trace(span: &Span, signal: &Signal) {
        let Some(trace) = signal.trace_context() else {
            return;
        };
        let (Ok(trace_id), Ok(span_id), Ok(flags)) = (
            TraceId::from_hex(trace.trace_id),
            SpanId::from_hex(trace.parent_id),
            u8::from_str_radix(trace.flags, 16),
        ) else {
            return;
        };
        let state = trace
            .tracestate
            .and_then(|state| state.parse::<TraceState>().ok())
            .unwrap_or_default();
        let remote = SpanContext::new(trace_id, span_id, TraceFlags::new(flags), true, state);
        let parent = opentelemetry::Context::new().with_remote_span_context(remote.clone());
        // Refused only when the span is not one `tracing-opentelemetry` tracks.
        let _ = span.set_parent(parent);
        span.add_link(remote);
    }
}
