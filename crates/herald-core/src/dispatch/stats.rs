//! Counters the dispatcher keeps, and the `Stats` message that reads them.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use actix::Message;

use super::Results;
use crate::resilience::EndpointStats;
use crate::telemetry::meter::{self, DispatcherMeter};
use crate::{DeliveryError, Outcome};

/// Asks a dispatcher for its counters; answered with a [`StatsSnapshot`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats;

impl Message for Stats {
    type Result = StatsSnapshot;
}

/// A dispatcher's counters since it started.
///
/// Every target of every dispatch the dispatcher took is counted once, in `delivered`
/// or `failed`, when it ends; `in_flight` counts those started and not yet ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Dispatches handled (each may have many targets).
    pub dispatched: u64,
    /// Target deliveries that succeeded.
    pub delivered: u64,
    /// Target deliveries that failed (those in `unknown_adapter` included).
    pub failed: u64,
    /// Target deliveries started and not yet finished: the in-flight slots in use
    /// (see [`max_in_flight`](crate::DispatcherBuilder::max_in_flight)).
    pub in_flight: u64,
    /// Dispatches refused whole before they ran: detached dispatches
    /// ([`dispatch_async`](crate::DispatchExt::dispatch_async), bus publishes) that found
    /// no admission permit free, and dispatches that came after
    /// [`Shutdown`](crate::Shutdown). Their targets are not counted in `failed`.
    pub refused: u64,
    /// Failed deliveries to targets naming an adapter this dispatcher does not have.
    /// Counted here rather than per name, so that names from untrusted data cannot
    /// grow the table.
    pub unknown_adapter: u64,
    /// Per adapter the dispatcher has: deliveries that succeeded and failed.
    pub per_adapter: BTreeMap<String, AdapterStats>,
    /// Deliveries skipped as duplicates ([`Outcome::Duplicate`](crate::Outcome::Duplicate));
    /// they count in `delivered` too.
    pub duplicates: u64,
    /// Per endpoint a pool adapter delivered to (`http`, `webhook`, `nats`, custom
    /// adapters), and per endpoint under a breaker, rate limit or concurrency cap: its
    /// outcomes, latency and policy state (see [`resilience`](crate::resilience)). Shared by the shards of a
    /// [`Sharded`](crate::Sharded) dispatcher; at most
    /// [`max_endpoints`](crate::DispatcherBuilder::max_endpoints) are kept, idle ones
    /// forgotten first, pinned ones never.
    pub endpoints: BTreeMap<String, EndpointStats>,
    /// Deliveries refused (as `Overloaded`) because their endpoint was new and every
    /// kept endpoint was pinned (see
    /// [`max_endpoints`](crate::DispatcherBuilder::max_endpoints)).
    pub endpoints_refused: u64,
    /// Dead letters their dead-letter target took (see
    /// [`Resilience::dead_letter`](crate::resilience::Resilience::dead_letter)).
    pub dead_lettered: u64,
    /// Dead letters that failed too: their signal was kept nowhere (each is also in its
    /// failure's [`dead_letter`](crate::DeliveryError::dead_letter), and logged).
    pub dead_letters_failed: u64,
    /// Ordering lanes kept now: one per ordering key and endpoint with deliveries under
    /// way, waiting or blocked (see [`Dispatch::ordering_key`](crate::Dispatch::ordering_key)).
    /// Shared by the shards of a [`Sharded`](crate::Sharded) dispatcher.
    pub lanes: usize,
    /// Deliveries in those lanes: under way or waiting for their turn.
    pub lane_deliveries: usize,
    /// Lanes blocked by a failure (see
    /// [`Ordering::block`](crate::resilience::Ordering::block)), until
    /// [`ResumeLanes`](crate::resilience::ResumeLanes).
    pub lanes_blocked: usize,
    /// Paused endpoints and targets (see
    /// [`PauseEndpoint`](crate::resilience::PauseEndpoint)), each with how many
    /// deliveries it holds. Shared by the shards of a [`Sharded`](crate::Sharded)
    /// dispatcher.
    pub paused: BTreeMap<String, usize>,
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

impl StatsSnapshot {
    /// Adds `other`'s counters to these (for several dispatchers, e.g. shards).
    pub fn add(&mut self, other: &StatsSnapshot) {
        self.dispatched += other.dispatched;
        self.delivered += other.delivered;
        self.failed += other.failed;
        self.in_flight += other.in_flight;
        self.refused += other.refused;
        self.unknown_adapter += other.unknown_adapter;
        self.dead_lettered += other.dead_lettered;
        self.dead_letters_failed += other.dead_letters_failed;
        for (name, stats) in &other.per_adapter {
            let total = self.per_adapter.entry(name.clone()).or_default();
            total.delivered += stats.delivered;
            total.failed += stats.failed;
        }
        // Endpoint state is shared by the shards of one start: the same in each.
        self.duplicates = self.duplicates.max(other.duplicates);
        self.endpoints_refused = self.endpoints_refused.max(other.endpoints_refused);
        self.lanes = self.lanes.max(other.lanes);
        self.lane_deliveries = self.lane_deliveries.max(other.lane_deliveries);
        self.lanes_blocked = self.lanes_blocked.max(other.lanes_blocked);
        for (key, held) in &other.paused {
            self.paused.entry(key.clone()).or_insert(*held);
        }
        for (endpoint, stats) in &other.endpoints {
            self.endpoints.entry(endpoint.clone()).or_insert(*stats);
        }
    }
}

/// The live counters. Only the dispatcher's own arbiter touches the cells; `refused`
/// is shared with the buses that publish through this dispatcher. Each count is also
/// the metrics' (feature `metrics`): one call counts both.
#[derive(Debug)]
pub(crate) struct Counters {
    dispatched: Cell<u64>,
    in_flight: Cell<u64>,
    /// Indexed like the dispatcher's adapters.
    per_adapter: Box<[Cell<AdapterStats>]>,
    unknown_adapter: Cell<u64>,
    dead_lettered: Cell<u64>,
    dead_letters_failed: Cell<u64>,
    meter: DispatcherMeter,
}

impl Counters {
    /// Counters for adapters named `adapters`, in index order.
    pub(crate) fn new<'a>(adapters: impl ExactSizeIterator<Item = &'a str> + Clone) -> Self {
        Self {
            dispatched: Cell::new(0),
            in_flight: Cell::new(0),
            per_adapter: (0..adapters.len()).map(|_| Cell::default()).collect(),
            unknown_adapter: Cell::new(0),
            dead_lettered: Cell::new(0),
            dead_letters_failed: Cell::new(0),
            meter: DispatcherMeter::new(adapters),
        }
    }

    /// The metrics beside the counters.
    pub(crate) fn meter(&self) -> &DispatcherMeter {
        &self.meter
    }

    /// One dead letter ended: `kept` by its target, or not.
    pub(crate) fn dead_letter_sent(&self, kept: bool) {
        let cell = match kept {
            true => &self.dead_lettered,
            false => &self.dead_letters_failed,
        };
        cell.set(cell.get() + 1);
        self.meter.dead_letter(kept);
    }

    pub(crate) fn dispatch_started(&self) {
        self.dispatched.set(self.dispatched.get() + 1);
        self.meter.dispatch_started();
    }

    pub(crate) fn deliveries_started(&self, count: usize) {
        self.in_flight.set(self.in_flight.get() + count as u64);
        self.meter.in_flight(count as u64, 0);
    }

    /// One target ended; `adapter` is its index, `None` for an unknown adapter.
    pub(crate) fn delivery_finished(
        &self,
        adapter: Option<usize>,
        result: &Result<Outcome, DeliveryError>,
        was_in_flight: bool,
    ) {
        if was_in_flight {
            self.in_flight.set(self.in_flight.get() - 1);
            self.meter.in_flight(0, 1);
        }
        let ok = result.is_ok();
        if meter::on() {
            let outcome = match result {
                Ok(outcome) => outcome.name(),
                Err(error) => error.kind().name(),
            };
            self.meter.delivered(adapter, outcome, ok, 1);
        }
        let Some(cell) = adapter.and_then(|index| self.per_adapter.get(index)) else {
            self.unknown_adapter.set(self.unknown_adapter.get() + 1);
            return;
        };
        let mut stats = cell.get();
        if ok {
            stats.delivered += 1;
        } else {
            stats.failed += 1;
        }
        cell.set(stats);
    }

    /// Targets `range` delivered at once by adapter `adapter` into `results` (they
    /// never counted as in flight), `failed` of them with an error.
    pub(crate) fn delivered_at_once(
        &self,
        adapter: usize,
        results: &Results,
        range: Range<usize>,
        failed: usize,
    ) {
        if let Some(cell) = self.per_adapter.get(adapter) {
            let mut stats = cell.get();
            stats.delivered += (range.len() - failed) as u64;
            stats.failed += failed as u64;
            cell.set(stats);
        }
        if meter::on() {
            results.count_outcomes(range, failed, |outcome, ok, count| {
                self.meter.delivered(Some(adapter), outcome, ok, count);
            });
        }
    }

    /// The counters, with the adapters' names in index order.
    pub(crate) fn snapshot<'a>(
        &self,
        names: impl Iterator<Item = &'a str>,
        refused: &AtomicU64,
    ) -> StatsSnapshot {
        let per_adapter: BTreeMap<String, AdapterStats> = names
            .zip(self.per_adapter.iter())
            .map(|(name, cell)| (name.to_owned(), cell.get()))
            .collect();
        let unknown_adapter = self.unknown_adapter.get();
        StatsSnapshot {
            dispatched: self.dispatched.get(),
            delivered: per_adapter.values().map(|s| s.delivered).sum(),
            failed: per_adapter.values().map(|s| s.failed).sum::<u64>() + unknown_adapter,
            in_flight: self.in_flight.get(),
            refused: refused.load(Ordering::Relaxed),
            unknown_adapter,
            per_adapter,
            duplicates: 0,
            endpoints: BTreeMap::new(),
            endpoints_refused: 0,
            dead_lettered: self.dead_lettered.get(),
            dead_letters_failed: self.dead_letters_failed.get(),
            lanes: 0,
            lane_deliveries: 0,
            lanes_blocked: 0,
            paused: BTreeMap::new(),
        }
    }
}
