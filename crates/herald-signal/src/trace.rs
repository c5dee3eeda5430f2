//! W3C trace context in a signal: the CloudEvents distributed tracing extension
//! (`traceparent`, `tracestate`), read the same way wherever a signal travels.

use crate::{ExtensionValue, Signal};

/// The CloudEvents distributed tracing extension holding a W3C `traceparent`.
pub const TRACEPARENT: &str = "traceparent";
/// The CloudEvents distributed tracing extension holding a W3C `tracestate`.
pub const TRACESTATE: &str = "tracestate";

/// The longest `tracestate` carried on (W3C: at least 512 characters must be kept; a
/// longer one may be dropped whole).
const MAX_TRACESTATE: usize = 512;

/// A signal's W3C trace context, well formed: what its `traceparent` (and
/// `tracestate`) extensions say.
///
/// ```
/// use herald_signal::Signal;
///
/// let signal = Signal::builder("order.placed")
///     .extension("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .build()?;
/// let context = signal.trace_context().unwrap();
/// assert_eq!(context.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(context.parent_id, "00f067aa0ba902b7");
/// assert!(context.sampled());
/// # Ok::<(), herald_signal::SignalError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceContext<'a> {
    /// The whole `traceparent`.
    pub traceparent: &'a str,
    /// Its trace id: 32 lowercase hex digits, not all zero.
    pub trace_id: &'a str,
    /// Its parent (span) id: 16 lowercase hex digits, not all zero.
    pub parent_id: &'a str,
    /// Its trace flags: 2 hex digits.
    pub flags: &'a str,
    /// The `tracestate`, when there is one of printable ASCII and at most 512 bytes.
    pub tracestate: Option<&'a str>,
}

impl TraceContext<'_> {
    /// Whether the trace is sampled (flag `01`).
    pub fn sampled(&self) -> bool {
        u8::from_str_radix(self.flags, 16).is_ok_and(|flags| flags & 1 == 1)
    }
}

impl Signal {
    /// The W3C trace context the signal carries, when its `traceparent` extension is
    /// well formed (version `00`, or a later version's first four fields); `None`
    /// otherwise, so a malformed one is never carried on.
    pub fn trace_context(&self) -> Option<TraceContext<'_>> {
        let text = |name| match self.extension(name) {
            Some(ExtensionValue::String(text)) => Some(text.as_str()),
            _ => None,
        };
        let traceparent = text(TRACEPARENT)?;
        let (trace_id, parent_id, flags) = parse(traceparent)?;
        let tracestate = text(TRACESTATE).filter(|state| {
            state.len() <= MAX_TRACESTATE && state.bytes().all(|b| (0x20..0x7f).contains(&b))
        });
        Some(TraceContext {
            traceparent,
            trace_id,
            parent_id,
            flags,
            tracestate,
        })
    }
}

/// The trace id, parent id and flags of a W3C `traceparent`.
fn parse(traceparent: &str) -> Option<(&str, &str, &str)> {
    let hex = |part: &str, len: usize| {
        part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    };
    let nonzero = |part: &str| part.bytes().any(|b| b != b'0');
    let mut parts = traceparent.split('-');
    let version = parts.next()?;
    let trace_id = parts.next()?;
    let parent_id = parts.next()?;
    let flags = parts.next()?;
    let rest = parts.next();
    let shaped = hex(version, 2)
        && version != "ff"
        && hex(trace_id, 32)
        && nonzero(trace_id)
        && hex(parent_id, 16)
        && nonzero(parent_id)
        && hex(flags, 2)
        // Version 00 has exactly four fields; a later one may add more.
        && (rest.is_none() || version != "00");
    shaped.then_some((trace_id, parent_id, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(traceparent: &str, tracestate: Option<&str>) -> Signal {
        let mut builder = Signal::builder("t").extension(TRACEPARENT, traceparent);
        if let Some(state) = tracestate {
            builder = builder.extension(TRACESTATE, state);
        }
        builder.build().unwrap()
    }

    #[test]
    fn well_formed_traceparents_are_read_and_others_ignored() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let signal = with(good, Some("congo=t61rcWkgMzE"));
        let context = signal.trace_context().unwrap();
        assert_eq!(context.traceparent, good);
        assert_eq!(context.flags, "01");
        assert_eq!(context.tracestate, Some("congo=t61rcWkgMzE"));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
        ] {
            assert_eq!(with(bad, None).trace_context(), None, "{bad:?}");
        }
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
        let signal = with(later, None);
        assert!(!signal.trace_context().unwrap().sampled());
    }

    #[test]
    fn a_tracestate_too_long_or_not_printable_is_dropped() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let long = "a".repeat(513);
        for state in [long.as_str(), "a=b\r\nx: y"] {
            let signal = with(good, Some(state));
            assert_eq!(signal.trace_context().unwrap().tracestate, None);
        }
    }
}
