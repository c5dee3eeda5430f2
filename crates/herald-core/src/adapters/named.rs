//! `named`: an in-process actor, by its name in the [`Registry`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use actix::Recipient;

use super::mailbox::{self, mode_setters};
use crate::registry::validate_name;
use crate::target::ConfigFields;
use crate::{
    Adapter, Delivery, ErrorKind, Mode, Outcome, Placement, Registry, RegistryError, SignalMessage,
    Target, TargetError, TargetOptions,
};

/// A target that delivers to the actor registered under a name: build with
/// [`Target::named`](crate::Target::named), or from data as
/// `{"adapter": "named", "name": "audit", "mode": "sync", "timeout_ms": 1000}`.
///
/// The name is resolved at each delivery, so it follows re-registrations. Every delivery
/// to a name goes through the one sender the registry holds for it, so a full mailbox
/// is seen (and waited on, or refused in [`Mode::BestEffort`]) exactly as for a `pid`
/// target. Modes and errors are those of [`PidTarget`](crate::PidTarget), plus "not
/// found" for a name nobody holds and "not alive" for one whose actor stopped.
#[derive(Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct NamedTarget {
    /// `named:` and the name: the endpoint's key, asked for on every delivery under a
    /// policy, made once; the name is its tail.
    key: String,
    mode: Mode,
    timeout: Duration,
}

/// What a named target's endpoint key starts with.
const KEY_PREFIX: &str = "named:";

impl fmt::Debug for NamedTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamedTarget")
            .field("name", &self.name())
            .field("mode", &self.mode)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl NamedTarget {
    const FIELDS: [&'static str; 3] = ["name", "mode", "timeout_ms"];

    pub(crate) fn new(name: impl Into<String>) -> Result<Self, TargetError> {
        let name = name.into();
        validate_name(&name).map_err(|error| match error {
            RegistryError::InvalidName { reason, .. } => TargetError::invalid_field("name", reason),
            other => TargetError::Invalid(other.to_string()),
        })?;
        Ok(Self {
            key: [KEY_PREFIX, &name].concat(),
            mode: Mode::Async,
            timeout: mailbox::DEFAULT_TIMEOUT,
        })
    }

    mode_setters!();

    /// The name.
    pub fn name(&self) -> &str {
        &self.key[KEY_PREFIX.len()..]
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let name = fields.required_string("name")?;
        let mut target = Self::new(name)?;
        if let Some(mode) = fields.one_of("mode", &Mode::CHOICES)? {
            target.mode = mode;
        }
        if let Some(timeout) = fields.millis("timeout_ms", mailbox::MAX_TIMEOUT)? {
            target = target.timeout(timeout);
        }
        fields.finish(&Self::FIELDS)?;
        Ok(target)
    }
}

impl TargetOptions for NamedTarget {
    /// The name.
    fn endpoint(&self) -> Option<Cow<'_, str>> {
        Some(Cow::Borrowed(&self.key))
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::Async => write!(f, "named({})", self.name()),
            mode => write!(
                f,
                "named({}, {}, timeout {:?})",
                self.name(),
                mode.as_str(),
                self.timeout
            ),
        }
    }

    fn to_config(&self, _: crate::Secrets) -> Option<serde_json::Map<String, serde_json::Value>> {
        Some(serde_json::Map::from_iter([
            ("name".to_owned(), self.name().into()),
            ("mode".to_owned(), self.mode.as_str().into()),
            (
                "timeout_ms".to_owned(),
                (self.timeout.as_millis() as u64).into(),
            ),
        ]))
    }

    /// A sync call waits for its answer.
    fn waits(&self) -> bool {
        self.mode == Mode::Sync
    }
}

impl From<NamedTarget> for Target {
    fn from(options: NamedTarget) -> Self {
        Target::new(super::name::NAMED, options)
    }
}

/// Resolves names through a registry, then delivers as `pid` does.
pub(crate) struct NamedAdapter(pub(crate) Registry);

impl NamedAdapter {
    /// The actor registered under the target's name.
    fn resolve(&self, target: &NamedTarget) -> Result<Arc<Recipient<SignalMessage>>, ErrorKind> {
        self.0.resolve(target.name()).map_err(|error| match error {
            RegistryError::NotAlive { .. } => ErrorKind::NotAlive,
            _ => ErrorKind::NotFound,
        })
    }
}

impl Adapter for NamedAdapter {
    type Options = NamedTarget;
    const KIND: &'static str = "process";
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &serde_json::Value) -> Result<NamedTarget, TargetError> {
        NamedTarget::from_fields(ConfigFields::from_config(config)?)
    }

    fn timeout(&self, options: &NamedTarget) -> Option<Duration> {
        Some(options.timeout)
    }

    fn deliver_now(
        &self,
        delivery: Delivery<'_, NamedTarget>,
    ) -> Option<Result<Outcome, ErrorKind>> {
        let target = delivery.options;
        if target.mode == Mode::Sync {
            return None;
        }
        let recipient = match self.resolve(target) {
            Ok(recipient) => recipient,
            Err(kind) => return Some(Err(kind)),
        };
        let message = SignalMessage::new(delivery.signal.clone());
        mailbox::deliver_now(&recipient, message, target.mode)
    }

    fn may_deliver_now(&self, target: &NamedTarget) -> bool {
        !target.waits()
    }

    async fn deliver(&self, delivery: Delivery<'_, NamedTarget>) -> Result<Outcome, ErrorKind> {
        let target = delivery.options;
        let recipient = self.resolve(target)?;
        let message = SignalMessage::new(delivery.signal.clone());
        mailbox::deliver(
            &recipient,
            message,
            target.mode,
            target.timeout,
            delivery.caller,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_the_prefix_and_the_name() {
        let target = NamedTarget::new("audit.log").unwrap().sync();
        assert_eq!(target.name(), "audit.log");
        assert_eq!(target.endpoint().as_deref(), Some("named:audit.log"));
        let debug = format!("{target:?}");
        assert!(debug.contains(r#"name: "audit.log""#), "{debug}");
        assert!(!debug.contains("named:"), "{debug}");
        let described = Target::from(target).describe().to_string();
        assert_eq!(described, "named(audit.log, sync, timeout 5s)");
    }
}
