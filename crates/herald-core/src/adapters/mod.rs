//! The adapters built into the core: `pid`, `logger`, `console`, `noop`.

/// The `include_data` and `max_data_bytes` setters of targets that show data to people
/// (`logger`, `console`); the type needs a `data: DataView` field.
macro_rules! data_setters {
    () => {
        /// Sets whether the (redacted, truncated) data is shown. Default is `true`.
        pub fn include_data(mut self, include: bool) -> Self {
            self.data.include = include;
            self
        }

        /// Sets the cap on shown data, in bytes. Default is 4096.
        pub fn max_data_bytes(mut self, bytes: usize) -> Self {
            self.data.max_bytes = bytes;
            self
        }

        /// Whether the data is shown.
        pub fn includes_data(&self) -> bool {
            self.data.include
        }

        /// The cap on shown data, in bytes.
        pub fn max_data_bytes_value(&self) -> usize {
            self.data.max_bytes
        }
    };
}
use data_setters;

/// The built-in adapters' names: statics, so that a target and the adapter's
/// registration hold one pointer, and the dispatcher finds the adapter without
/// comparing text (see `Inner::adapter`).
pub(crate) mod name {
    pub(crate) static PID: &str = "pid";
    pub(crate) static NAMED: &str = "named";
    pub(crate) static PUBSUB: &str = "pubsub";
    pub(crate) static BUS: &str = "bus";
    pub(crate) static NOOP: &str = "noop";
    pub(crate) static LOGGER: &str = "logger";
    pub(crate) static CONSOLE: &str = "console";
    pub(crate) static HTTP: &str = "http";
    pub(crate) static WEBHOOK: &str = "webhook";
}

mod bus;
mod console;
mod logger;
mod mailbox;
mod named;
mod noop;
mod pid;
mod pubsub;

pub use bus::BusTarget;
pub use console::ConsoleTarget;
pub use logger::{LogFormat, LogLevel, LoggerTarget};
pub(crate) use mailbox::MAX_TIMEOUT;
pub use mailbox::Mode;
pub use named::NamedTarget;
pub(crate) use noop::NoopTarget;
pub use pid::PidTarget;
pub use pubsub::PubSubTarget;

pub(crate) use console::ConsoleAdapter;
pub(crate) use logger::LoggerAdapter;
pub(crate) use named::NamedAdapter;
pub(crate) use noop::NoopAdapter;
pub(crate) use pid::PidAdapter;
pub(crate) use pubsub::PubSubAdapter;

/// Whether and how much of a signal's data a person-facing adapter shows: redacted,
/// pretty or compact, cut to a size. Shared by `logger` and `console`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataView {
    pub(crate) include: bool,
    pub(crate) max_bytes: usize,
}

impl DataView {
    /// The default cap on shown data.
    pub(crate) const DEFAULT_MAX_BYTES: usize = 4096;
    /// The config fields this reads.
    pub(crate) const FIELDS: [&'static str; 2] = ["include_data", "max_data_bytes"];

    pub(crate) fn from_fields(
        fields: &mut crate::target::ConfigFields,
    ) -> Result<Self, crate::TargetError> {
        let default = Self::default();
        Ok(Self {
            include: fields.bool("include_data")?.unwrap_or(default.include),
            max_bytes: fields.usize("max_data_bytes")?.unwrap_or(default.max_bytes),
        })
    }

    /// The config fields this writes.
    pub(crate) fn to_config(self) -> serde_json::Map<String, serde_json::Value> {
        serde_json::Map::from_iter([
            ("include_data".to_owned(), self.include.into()),
            ("max_data_bytes".to_owned(), self.max_bytes.into()),
        ])
    }

    /// The data as shown, or `None` when data is left out.
    pub(crate) fn render(&self, signal: &herald_signal::Signal, pretty: bool) -> Option<String> {
        use herald_signal::Data;
        if !self.include {
            return None;
        }
        Some(match signal.data() {
            None => "none".to_owned(),
            Some(Data::Json(value)) if pretty => crate::redact::pretty(value, self.max_bytes),
            Some(Data::Json(value)) => crate::redact::compact(value, self.max_bytes),
            Some(Data::Binary(bytes)) => format!("<{} bytes>", bytes.len()),
            Some(_) => "<data>".to_owned(),
        })
    }
}

impl Default for DataView {
    fn default() -> Self {
        Self {
            include: true,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}
