//! The adapters built into the core: `pid`, `logger`, `console`, `noop`.

mod console;
mod logger;
mod noop;
mod pid;

pub use console::ConsoleTarget;
pub use logger::{LogFormat, LogLevel, LoggerTarget};
pub(crate) use noop::NoopTarget;
pub use pid::{Mode, PidTarget};

pub(crate) use console::ConsoleAdapter;
pub(crate) use logger::LoggerAdapter;
pub(crate) use noop::NoopAdapter;
pub(crate) use pid::PidAdapter;

/// Renders a signal's data for people: redacted, pretty or compact, size-capped.
pub(crate) fn render_data(signal: &herald_signal::Signal, pretty: bool, limit: usize) -> String {
    use herald_signal::Data;
    match signal.data() {
        None => "none".to_owned(),
        Some(Data::Json(value)) if pretty => crate::redact::pretty(value, limit),
        Some(Data::Json(value)) => crate::redact::compact(value, limit),
        Some(Data::Binary(bytes)) => format!("<{} bytes>", bytes.len()),
        Some(_) => "<data>".to_owned(),
    }
}
