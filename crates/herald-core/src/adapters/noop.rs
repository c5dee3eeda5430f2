//! `noop`: discards the signal.

use crate::target::ConfigFields;
use crate::{Adapter, Delivery, ErrorKind, Outcome, Placement, Target, TargetError, TargetOptions};

/// The options of a `noop` target (there are none).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct NoopTarget;

impl NoopTarget {
    pub(crate) fn from_fields(fields: ConfigFields) -> Result<Self, TargetError> {
        fields.finish(&[])?;
        Ok(Self)
    }
}

impl TargetOptions for NoopTarget {
    fn describe(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("noop")
    }

    fn to_config(&self, _: crate::Secrets) -> Option<serde_json::Map<String, serde_json::Value>> {
        Some(serde_json::Map::new())
    }
}

impl From<NoopTarget> for Target {
    fn from(options: NoopTarget) -> Self {
        Target::new(super::name::NOOP, options)
    }
}

/// Always succeeds, doing nothing.
pub(crate) struct NoopAdapter;

impl Adapter for NoopAdapter {
    type Options = NoopTarget;
    const KIND: &'static str = "noop";
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &serde_json::Value) -> Result<NoopTarget, TargetError> {
        NoopTarget::from_fields(ConfigFields::from_config(config)?)
    }

    fn deliver_now(&self, _: Delivery<'_, NoopTarget>) -> Option<Result<Outcome, ErrorKind>> {
        Some(Ok(Outcome::Discarded))
    }

    fn may_deliver_now(&self, _: &NoopTarget) -> bool {
        true
    }

    async fn deliver(&self, _: Delivery<'_, NoopTarget>) -> Result<Outcome, ErrorKind> {
        Ok(Outcome::Discarded)
    }
}
