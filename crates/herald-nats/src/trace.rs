//! Trace context across nodes: the CloudEvents distributed tracing extension
//! (`traceparent`, `tracestate`), read where a signal arrives.

use herald_signal::{ExtensionValue, Signal};
use tracing::Span;

/// The span a signal that arrived from another node is dispatched under: `name`, with
/// the W3C trace context the signal carries (`trace_id`, `parent_id`, `tracestate`), so
/// that every dispatch and delivery span on this node hangs under it. A `traceparent`
/// that is not W3C-shaped is ignored.
pub(crate) fn arrival_span(signal: &Signal, subject: &str) -> Span {
    let text = |name| match signal.extension(name) {
        Some(ExtensionValue::String(text)) => Some(text.as_str()),
        _ => None,
    };
    let parent = text("traceparent").and_then(parse);
    let span = tracing::info_span!(
        "herald.arrive",
        nats.subject = subject,
        signal.id = signal.id(),
        trace_id = tracing::field::Empty,
        parent_id = tracing::field::Empty,
        tracestate = tracing::field::Empty,
    );
    if let Some((trace_id, parent_id)) = parent {
        span.record("trace_id", trace_id);
        span.record("parent_id", parent_id);
        if let Some(state) = text("tracestate") {
            span.record("tracestate", state);
        }
    }
    span
}

/// The trace id and parent id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
pub(crate) fn parse(traceparent: &str) -> Option<(&str, &str)> {
    let mut parts = traceparent.split('-');
    let (version, trace, parent, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let valid = hex(version, 2)
        && hex(trace, 32)
        && hex(parent, 16)
        && hex(flags, 2)
        && trace.bytes().any(|b| b != b'0')
        && parent.bytes().any(|b| b != b'0');
    valid.then_some((trace, parent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparents_are_read_or_ignored() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        assert_eq!(
            parse(good),
            Some(("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"))
        );
        for bad in [
            "",
            "00-xyz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}
