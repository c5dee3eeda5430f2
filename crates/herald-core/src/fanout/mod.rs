//! Scheduling one dispatch: deliver what can be delivered at once (`at_once`), then
//! fan the rest out under the concurrency limit (`awaited`) — inline for local
//! adapters, one `Addr::send` batch per pool adapter per launch — collect every answer
//! in one join set (`join`), send the dead letters (`dead_letters`), and account for
//! every target (`answer`). The dispatcher's one task polls every fan-out that had to
//! wait (`driver`); `lifecycle` says when a shutdown cuts them off.

mod answer;
mod at_once;
mod awaited;
mod dead_letters;
mod driver;
mod join;
mod lifecycle;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

pub(crate) use answer::Answer;
pub(crate) use at_once::{DoneAtOnce, at_once};
pub(crate) use awaited::{Slots, fan_out};
pub(crate) use driver::FanOuts;
pub(crate) use lifecycle::{Lifecycle, Phase, Running};

use crate::delivery::{Arbiters, StartedAdapter};
use crate::dispatch::{Admission, Counters, Overload};
use crate::resilience::Policies;

/// What a dispatcher and its fan-outs share (all on its arbiter): the started
/// adapters, the limits, the counters and the shutdown state.
pub(crate) struct Shared {
    /// Sorted by name.
    pub(crate) adapters: Vec<StartedAdapter>,
    pub(crate) max_concurrency: usize,
    pub(crate) telemetry: bool,
    pub(crate) delivery_timeout: Duration,
    pub(crate) max_signal_size: usize,
    pub(crate) counters: Counters,
    pub(crate) lifecycle: Rc<Lifecycle>,
    pub(crate) admission: Arc<Admission>,
    pub(crate) max_in_flight: usize,
    pub(crate) overload: Overload,
    pub(crate) permits: Arc<Semaphore>,
    /// The default resilience policies, and the endpoints' state (shared by shards).
    pub(crate) policies: Arc<Policies>,
    /// Where the fan-outs of dispatches that did not finish at once are polled.
    pub(crate) fan_outs: FanOuts,
    /// The pool's arbiters (and a shard's own): they stop when the dispatcher and
    /// every dispatch still running have let go of them.
    pub(crate) arbiters: Arbiters,
}

impl Shared {
    /// The adapter registered as `name`, with its index. A scan: there are a handful,
    /// and comparing a few short names is cheaper than hashing one.
    pub(crate) fn adapter(&self, name: &str) -> Option<(usize, &StartedAdapter)> {
        // The same text at the same place (built-in targets share their adapter's
        // static name), then any equal text.
        let found = |same: fn(&str, &str) -> bool| {
            self.adapters
                .iter()
                .enumerate()
                .find(|(_, started)| same(&started.name, name))
        };
        found(|a, b| std::ptr::eq(a, b)).or_else(|| found(|a, b| a == b))
    }

    /// Every adapter name, sorted, for "unknown adapter" errors.
    pub(crate) fn known_adapters(&self) -> Vec<String> {
        self.adapters
            .iter()
            .map(|pool| pool.name.to_string())
            .collect()
    }
}

/// Finds targets' adapters, remembering the last one by its name's string: a fan-out's
/// targets are usually clones naming one adapter with one string, found again without
/// a scan.
#[derive(Default)]
pub(crate) struct Lookup<'a> {
    last: Option<(&'a str, Option<(usize, &'a StartedAdapter)>)>,
}

impl<'a> Lookup<'a> {
    pub(crate) fn find(
        &mut self,
        inner: &'a Shared,
        name: &'a str,
    ) -> Option<(usize, &'a StartedAdapter)> {
        match self.last {
            Some((last, found)) if std::ptr::eq(last, name) => found,
            _ => {
                let found = inner.adapter(name);
                self.last = Some((name, found));
                found
            }
        }
    }
}

/// The signal's encoded size when it is over `limit`. The bound noted when the signal
/// was made settles most signals without counting.
pub(crate) fn oversized(signal: &herald_signal::Signal, limit: usize) -> Option<usize> {
    if signal.encoded_len_bound() <= limit {
        return None;
    }
    Some(signal.encoded_len()).filter(|size| *size > limit)
}
