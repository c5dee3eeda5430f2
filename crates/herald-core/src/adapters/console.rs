//! `console`: a readable block on stdout per signal.

use std::fmt::{self, Write as _};
use std::io::Write as _;

use herald_signal::Signal;

use super::DataView;
use crate::target::ConfigFields;
use crate::text::Escaped;
use crate::{Adapter, Delivery, ErrorKind, Outcome, Target, TargetError, TargetOptions};

/// A target that prints each signal to stdout as a readable block (time, id, type,
/// source, pretty redacted data): build with [`Target::console`](crate::Target::console),
/// or from data as `{"adapter": "console", "include_data": false}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct ConsoleTarget {
    data: DataView,
}

impl ConsoleTarget {
    /// The default cap on printed data.
    pub const DEFAULT_MAX_DATA_BYTES: usize = DataView::DEFAULT_MAX_BYTES;

    super::data_setters!();

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let data = DataView::from_fields(&mut fields)?;
        fields.finish(&DataView::FIELDS)?;
        Ok(Self { data })
    }

    /// The block printed for `signal`.
    pub fn render(&self, signal: &Signal) -> String {
        let mut block = String::new();
        let time = signal
            .time()
            .map_or_else(|| "-".to_owned(), |time| time.to_rfc3339());
        // Writing to a String cannot fail.
        // The signal's text is escaped: one field, one line.
        let _ = writeln!(block, "── signal {} ──", Escaped(signal.ty()));
        let _ = writeln!(block, "  time    {time}");
        let _ = writeln!(block, "  id      {}", Escaped(signal.id()));
        let _ = writeln!(block, "  type    {}", Escaped(signal.ty()));
        let _ = writeln!(block, "  source  {}", Escaped(signal.source()));
        if let Some(subject) = signal.subject() {
            let _ = writeln!(block, "  subject {}", Escaped(subject));
        }
        if let Some(data) = self.data.render(signal, true) {
            let _ = writeln!(block, "  data    {}", data.replace('\n', "\n          "));
        }
        block
    }
}

impl TargetOptions for ConsoleTarget {
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("console")
    }

    fn to_config(&self, _: crate::Secrets) -> Option<serde_json::Map<String, serde_json::Value>> {
        Some(self.data.to_config())
    }
}

impl From<ConsoleTarget> for Target {
    fn from(options: ConsoleTarget) -> Self {
        Target::new(super::name::CONSOLE, options)
    }
}

/// Prints signals to stdout.
pub(crate) struct ConsoleAdapter;

impl Adapter for ConsoleAdapter {
    type Options = ConsoleTarget;
    const KIND: &'static str = "log";

    fn validate(&self, config: &serde_json::Value) -> Result<ConsoleTarget, TargetError> {
        ConsoleTarget::from_fields(ConfigFields::from_config(config)?)
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
