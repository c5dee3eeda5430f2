//! Counters the dispatcher keeps, and the `Stats` message that reads them.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use actix::Message;

/// Asks a dispatcher for its counters; answered with a [`StatsSnapshot`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats;

impl Message for Stats {
    type Result = StatsSnapshot;
}

/// A dispatcher's counters since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Dispatches handled (each may have many targets).
    pub dispatched: u64,
    /// Target deliveries that succeeded.
    pub delivered: u64,
    /// Target deliveries that failed.
    pub failed: u64,
    /// Target deliveries started and not yet finished.
    pub in_flight: u64,
    /// Per adapter name: deliveries that succeeded and failed.
    pub per_adapter: BTreeMap<String, AdapterStats>,
}

/// One adapter's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdapterStats {
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Deliveries that failed.
    pub failed: u64,
}

/// The live counters. Only the dispatcher's own arbiter touches them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    dispatched: Cell<u64>,
    in_flight: Cell<u64>,
    per_adapter: RefCell<BTreeMap<String, AdapterStats>>,
}

impl Counters {
    pub(crate) fn dispatch_started(&self) {
        self.dispatched.set(self.dispatched.get() + 1);
    }

    pub(crate) fn deliveries_started(&self, count: usize) {
        self.in_flight.set(self.in_flight.get() + count as u64);
    }

    pub(crate) fn delivery_finished(&self, adapter: &str, ok: bool, was_in_flight: bool) {
        if was_in_flight {
            self.in_flight.set(self.in_flight.get() - 1);
        }
        let mut per_adapter = self.per_adapter.borrow_mut();
        let stats = match per_adapter.get_mut(adapter) {
            Some(stats) => stats,
            None => per_adapter.entry(adapter.to_owned()).or_default(),
        };
        if ok {
            stats.delivered += 1;
        } else {
            stats.failed += 1;
        }
    }

    pub(crate) fn snapshot(&self) -> StatsSnapshot {
        let per_adapter = self.per_adapter.borrow().clone();
        StatsSnapshot {
            dispatched: self.dispatched.get(),
            delivered: per_adapter.values().map(|s| s.delivered).sum(),
            failed: per_adapter.values().map(|s| s.failed).sum(),
            in_flight: self.in_flight.get(),
            per_adapter,
        }
    }
}
