//! `logger`: one `tracing` event per signal.

use std::fmt;

use tracing::Level;

use super::DataView;
use crate::target::ConfigFields;
use crate::text::Escaped;
use crate::{Adapter, Delivery, ErrorKind, Outcome, Placement, Target, TargetError, TargetOptions};

/// The level of a `logger` target's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogLevel {
    /// `DEBUG`.
    Debug,
    /// `INFO`.
    #[default]
    Info,
    /// `WARN`.
    Warn,
    /// `ERROR`.
    Error,
}

impl LogLevel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }

    const CHOICES: [(&'static str, Self); 4] = [
        ("debug", Self::Debug),
        ("info", Self::Info),
        ("warn", Self::Warn),
        ("error", Self::Error),
    ];
}

/// How a `logger` target writes a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum LogFormat {
    /// One event with the attributes as fields (`signal.id`, `signal.type`, …).
    #[default]
    Structured,
    /// One event whose message is a single readable line.
    Line,
}

impl LogFormat {
    const CHOICES: [(&'static str, Self); 2] =
        [("structured", Self::Structured), ("line", Self::Line)];
}

/// A target that writes each signal as a `tracing` event (target `herald::logger`):
/// build with [`Target::logger`](crate::Target::logger), or from data as
/// `{"adapter": "logger", "level": "warn", "format": "line", "include_data": true,
/// "max_data_bytes": 1024}`.
///
/// Data is redacted (values under keys such as `password`, `token`, `secret`,
/// `authorization` become `[REDACTED]`) and cut to `max_data_bytes`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct LoggerTarget {
    level: LogLevel,
    format: LogFormat,
    data: DataView,
}

impl Default for LoggerTarget {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            format: LogFormat::Structured,
            data: DataView::default(),
        }
    }
}

impl LoggerTarget {
    /// The default cap on logged data.
    pub const DEFAULT_MAX_DATA_BYTES: usize = DataView::DEFAULT_MAX_BYTES;

    const FIELDS: [&'static str; 4] = ["level", "format", DataView::FIELDS[0], DataView::FIELDS[1]];

    /// Sets the event level. Default is [`LogLevel::Info`].
    pub fn level(mut self, level: LogLevel) -> Self {
        self.level = level;
        self
    }

    /// Sets the event shape. Default is [`LogFormat::Structured`].
    pub fn format(mut self, format: LogFormat) -> Self {
        self.format = format;
        self
    }

    super::data_setters!();

    /// The event level.
    pub fn level_value(&self) -> LogLevel {
        self.level
    }

    /// The event shape.
    pub fn format_value(&self) -> LogFormat {
        self.format
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let default = Self::default();
        let target = Self {
            level: fields
                .one_of("level", &LogLevel::CHOICES)?
                .unwrap_or(default.level),
            format: fields
                .one_of("format", &LogFormat::CHOICES)?
                .unwrap_or(default.format),
            data: DataView::from_fields(&mut fields)?,
        };
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }
}

impl TargetOptions for LoggerTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "logger({})", self.level.as_str())
    }

    fn to_config(&self, _: crate::Secrets) -> Option<serde_json::Map<String, serde_json::Value>> {
        let mut config = self.data.to_config();
        config.insert("level".to_owned(), self.level.as_str().into());
        let format = LogFormat::CHOICES
            .iter()
            .find(|(_, format)| *format == self.format)
            .map_or("structured", |(name, _)| name);
        config.insert("format".to_owned(), format.into());
        Some(config)
    }
}

impl From<LoggerTarget> for Target {
    fn from(options: LoggerTarget) -> Self {
        Target::new(super::name::LOGGER, options)
    }
}

/// Emits an event at a level chosen at run time (tracing's macros want a constant).
macro_rules! event_at {
    ($level:expr, $($rest:tt)+) => {
        match $level {
            Level::DEBUG => tracing::event!(target: "herald::logger", Level::DEBUG, $($rest)+),
            Level::INFO => tracing::event!(target: "herald::logger", Level::INFO, $($rest)+),
            Level::WARN => tracing::event!(target: "herald::logger", Level::WARN, $($rest)+),
            _ => tracing::event!(target: "herald::logger", Level::ERROR, $($rest)+),
        }
    };
}

/// Writes signals as `tracing` events.
pub(crate) struct LoggerAdapter;

impl Adapter for LoggerAdapter {
    type Options = LoggerTarget;
    const KIND: &'static str = "log";
    /// A `tracing` event, emitted where the dispatch runs: under the caller's
    /// subscriber, which does the writing.
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &serde_json::Value) -> Result<LoggerTarget, TargetError> {
        LoggerTarget::from_fields(ConfigFields::from_config(config)?)
    }

    fn deliver_now(
        &self,
        delivery: Delivery<'_, LoggerTarget>,
    ) -> Option<Result<Outcome, ErrorKind>> {
        Some(log(delivery))
    }

    fn may_deliver_now(&self, _: &LoggerTarget) -> bool {
        true
    }

    async fn deliver(&self, delivery: Delivery<'_, LoggerTarget>) -> Result<Outcome, ErrorKind> {
        log(delivery)
    }
}

/// Emits the signal as one `tracing` event.
fn log(delivery: Delivery<'_, LoggerTarget>) -> Result<Outcome, ErrorKind> {
    let options = delivery.options;
    let signal = delivery.signal;
    let level = match options.level {
        LogLevel::Debug => Level::DEBUG,
        LogLevel::Info => Level::INFO,
        LogLevel::Warn => Level::WARN,
        LogLevel::Error => Level::ERROR,
    };
    let data = options.data.render(signal, false);
    match options.format {
        LogFormat::Structured => event_at!(
            level,
            signal.id = signal.id(),
            signal.r#type = signal.ty(),
            signal.source = signal.source(),
            signal.subject = signal.subject(),
            data = data.as_deref(),
            "signal"
        ),
        // One line, whatever the signal holds: its text is escaped.
        LogFormat::Line => event_at!(
            level,
            "signal {} {} from {}{}{}",
            Escaped(signal.ty()),
            Escaped(signal.id()),
            Escaped(signal.source()),
            if data.is_some() { ": " } else { "" },
            data.as_deref().unwrap_or("")
        ),
    }
    Ok(Outcome::Delivered)
}
