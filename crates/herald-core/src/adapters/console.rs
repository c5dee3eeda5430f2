//! `console`: a readable block on stdout per signal.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use herald_signal::Signal;

use super::render_data;
use crate::target::Fields;
use crate::{Adapter, Delivery, ErrorKind, Outcome, Target, TargetError, TargetOptions};

/// A target that prints each signal to stdout as a readable block (time, id, type,
/// source, pretty redacted data): build with [`Target::console`](crate::Target::console),
/// or from data as `{"adapter": "console", "include_data": false}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct ConsoleTarget {
    include_data: bool,
    max_data_bytes: usize,
}

impl Default for ConsoleTarget {
    fn default() -> Self {
        Self {
            include_data: true,
            max_data_bytes: Self::DEFAULT_MAX_DATA_BYTES,
        }
    }
}

impl ConsoleTarget {
    /// The default cap on printed data.
    pub const DEFAULT_MAX_DATA_BYTES: usize = 4096;

    const FIELDS: [&'static str; 2] = ["include_data", "max_data_bytes"];

    /// Sets whether the (redacted, truncated) data is printed. Default is `true`.
    pub fn include_data(mut self, include: bool) -> Self {
        self.include_data = include;
        self
    }

    /// Sets the cap on printed data, in bytes. Default is 4096.
    pub fn max_data_bytes(mut self, bytes: usize) -> Self {
        self.max_data_bytes = bytes;
        self
    }

    pub(crate) fn from_fields(mut fields: Fields) -> Result<Self, TargetError> {
        let default = Self::default();
        let target = Self {
            include_data: fields.bool("include_data")?.unwrap_or(default.include_data),
            max_data_bytes: fields
                .usize("max_data_bytes")?
                .unwrap_or(default.max_data_bytes),
        };
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }

    /// The block printed for `signal`.
    pub fn render(&self, signal: &Signal) -> String {
        let mut block = String::new();
        let time = signal
            .time()
            .map_or_else(|| "-".to_owned(), |time| time.to_rfc3339());
        // Writing to a String cannot fail.
        let _ = writeln!(block, "── signal {} ──", signal.ty());
        let _ = writeln!(block, "  time    {time}");
        let _ = writeln!(block, "  id      {}", signal.id());
        let _ = writeln!(block, "  type    {}", signal.ty());
        let _ = writeln!(block, "  source  {}", signal.source());
        if let Some(subject) = signal.subject() {
            let _ = writeln!(block, "  subject {subject}");
        }
        if self.include_data {
            let data = render_data(signal, true, self.max_data_bytes);
            let _ = writeln!(block, "  data    {}", data.replace('\n', "\n          "));
        }
        block
    }
}

impl TargetOptions for ConsoleTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("console")
    }
}

impl From<ConsoleTarget> for Target {
    fn from(options: ConsoleTarget) -> Self {
        Target::new("console", options)
    }
}

/// Prints signals to stdout.
pub(crate) struct ConsoleAdapter;

impl Adapter for ConsoleAdapter {
    type Options = ConsoleTarget;
    const KIND: &'static str = "log";

    fn validate(&self, config: &serde_json::Value) -> Result<ConsoleTarget, TargetError> {
        ConsoleTarget::from_fields(Fields::from_config(config)?)
    }

    async fn deliver(&self, delivery: Delivery<'_, ConsoleTarget>) -> Result<Outcome, ErrorKind> {
        let block = delivery.options.render(delivery.signal);
        // One write of the whole block, so blocks from parallel deliveries never mix.
        std::io::stdout()
            .lock()
            .write_all(block.as_bytes())
            .map_err(ErrorKind::custom)?;
        Ok(Outcome::Delivered)
    }
}
