//! `bus` targets: a named [`Bus`](crate::Bus), which routes by signal type. (The
//! adapter that publishes is the bus's own: `bus::adapter`.)

use std::fmt;

use crate::registry::validate_name;
use crate::target::ConfigFields;
use crate::{Target, TargetError, TargetOptions};

/// A target that publishes to a bus by name: build with
/// [`Target::bus`](crate::Target::bus), or from data as `{"adapter": "bus", "bus": "main"}`.
///
/// The outcome is [`Outcome::Routed`](crate::Outcome::Routed) with how many subscriptions matched; the
/// subscribers' deliveries run on their own. A name the dispatcher was not given with
/// [`DispatcherBuilder::bus`](crate::DispatcherBuilder::bus) fails with
/// [`ErrorKind::BusNotFound`](crate::ErrorKind::BusNotFound).
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
