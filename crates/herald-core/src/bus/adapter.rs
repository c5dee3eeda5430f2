//! The `bus` adapter: publishes a delivery's signal to the bus its target names.

use std::collections::HashMap;
use std::sync::Arc;

use actix::{Addr, MailboxError};

use super::{Bus, BusError, Publish};
use crate::target::ConfigFields;
use crate::{Adapter, BusTarget, Delivery, ErrorKind, Outcome, Placement, TargetError};

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
            .get(delivery.options.bus())
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
