//! `bus`: a named [`Bus`], which routes by signal type.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use actix::{Addr, MailboxError};

use crate::bus::{Bus, BusError, Publish};
use crate::registry::validate_name;
use crate::target::ConfigFields;
use crate::{Adapter, Delivery, ErrorKind, Outcome, Placement, Target, TargetError, TargetOptions};

/// A target that publishes to a bus by name: build with
/// [`Target::bus`](crate::Target::bus), or from data as `{"adapter": "bus", "bus": "main"}`.
///
/// The outcome is [`Outcome::Routed`] with how many subscriptions matched; the
/// subscribers' deliveries run on their own. A name the dispatcher was not given with
/// [`DispatcherBuilder::bus`](crate::DispatcherBuilder::bus) fails with
/// [`ErrorKind::BusNotFound`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a target does nothing until it is dispatched to"]
pub struct BusTarget {
    bus: String,
}

impl BusTarget {
    pub(crate) fn new(bus: impl Into<String>) -> Result<Self, TargetError> {
        let bus = bus.into();
        validate_name(&bus).map_err(|_| {
            TargetError::invalid_field("bus", "must be a non-empty name without whitespace")
        })?;
        Ok(Self { bus })
    }

    /// The bus's name.
    pub fn bus(&self) -> &str {
        &self.bus
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let bus = fields.required_string("bus")?;
        fields.finish(&["bus"])?;
        Self::new(bus)
    }
}

impl TargetOptions for BusTarget {
    /// A publish waits for the bus's answer.
    fn waits(&self) -> bool {
        true
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bus({})", self.bus)
    }

    fn to_config(&self, _: crate::Secrets) -> Option<serde_json::Map<String, serde_json::Value>> {
        Some(serde_json::Map::from_iter([(
            "bus".to_owned(),
            self.bus.clone().into(),
        )]))
    }
}

impl From<BusTarget> for Target {
    fn from(options: BusTarget) -> Self {
        Target::new(super::name::BUS, options)
    }
}

/// Publishes to the buses the dispatcher was given.
pub(crate) struct BusAdapter(pub(crate) Arc<HashMap<String, Addr<Bus>>>);

impl Adapter for BusAdapter {
    type Options = BusTarget;
    const KIND: &'static str = "topic";
    const PLACEMENT: Placement = Placement::Local;

    fn validate(&self, config: &serde_json::Value) -> Result<BusTarget, TargetError> {
        BusTarget::from_fields(ConfigFields::from_config(config)?)
    }

    async fn deliver(&self, delivery: Delivery<'_, BusTarget>) -> Result<Outcome, ErrorKind> {
        let bus = self
            .0
            .get(&delivery.options.bus)
            .ok_or(ErrorKind::BusNotFound)?;
        let publish = Publish::new(delivery.signal.clone()).after(delivery.hops);
        match bus.send(publish).await {
            Ok(Ok(subscriptions)) => Ok(Outcome::Routed { subscriptions }),
            Ok(Err(BusError::Overloaded)) => Err(ErrorKind::Overloaded),
            Ok(Err(error)) => Err(ErrorKind::custom(error)),
            Err(MailboxError::Closed) => Err(ErrorKind::NotAlive),
            Err(MailboxError::Timeout) => Err(ErrorKind::Timeout(std::time::Duration::ZERO)),
        }
    }
}
