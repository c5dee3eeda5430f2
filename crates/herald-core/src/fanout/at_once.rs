//! A dispatch delivered at once: while every target's delivery can be made without
//! waiting, no future, task or span is made for it.

use super::{Lookup, Shared, dead_letters, oversized};
use std::num::NonZeroU64;

use crate::delivery::{AtOnce, Keyed, Via};
use crate::dispatch::{DispatchResult, Results};
use crate::{Dispatch, telemetry};

/// What a dispatch did at once, before it had to wait: the results of targets
/// `..next`.
#[derive(Debug)]
pub(crate) struct DoneAtOnce {
    pub(super) results: Results,
    pub(super) next: usize,
    /// Target `next` was offered a delivery at once and needs a future: the fan-out need
    /// not offer it again.
    pub(super) declined: bool,
}

impl DoneAtOnce {
    /// Nothing done yet, of `total` targets.
    pub(crate) fn new(total: usize) -> Self {
        Self {
            results: Results::new(total),
            next: 0,
            declined: false,
        }
    }

    /// How many targets are done.
    pub(crate) fn done(&self) -> usize {
        self.next
    }
}

/// Delivers a dispatch at once, target by target, while each delivery can be made
/// without waiting ([`Adapter::deliver_now`](crate::Adapter::deliver_now) of a local
/// adapter, under policies that need not wait) and nothing else is needed: no
/// subscriber to want spans, a free in-flight slot, a signal within its size and not
/// expired. Then no
/// future, task or span is made for it. `Ok` when that finished the dispatch; else
/// what was done, for [`fan_out`](super::fan_out) to go on from (also when all is done but a failure may
/// have a dead letter to send: the fan-out sends those).
///
/// A dispatch with ordering `key` goes at once to targets whose lane is empty.
pub(crate) fn at_once(
    inner: &Shared,
    dispatch: &Dispatch,
    key: Option<NonZeroU64>,
) -> Result<DispatchResult, DoneAtOnce> {
    let total = dispatch.targets.len();
    let mut head = DoneAtOnce::new(total);
    let eligible = total > 0
        && !(inner.telemetry && telemetry::spans_wanted())
        && inner.permits.available_permits() > 0
        && oversized(&dispatch.signal, inner.max_signal_size).is_none();
    if !eligible {
        return Err(head);
    }
    let expires = dispatch.signal.expirytime();
    // An expired signal fails in the fan-out, which checks it once for all targets.
    if crate::resilience::expiry_passed(expires) {
        return Err(head);
    }
    let now = AtOnce {
        signal: &dispatch.signal,
        caller: dispatch.caller_id(),
        hops: dispatch.hops(),
        policies: &inner.policies,
        expires,
        keyed: match key {
            Some(key) => Keyed::Free(key),
            None => Keyed::No,
        },
    };
    let targets = &dispatch.targets[..];
    let mut lookup = Lookup::default();
    let mut failed = 0;
    while head.next < total {
        let target = &targets[head.next];
        // Checked before its adapter is found: a dispatch to one sync target costs
        // no more than its fan-out.
        if !target.may_be_at_once() {
            return Err(head);
        }
        let Some((adapter, started)) = lookup.find(inner, target.adapter()) else {
            return Err(head);
        };
        let Via::Inline(inline) = started.placed() else {
            return Err(head);
        };
        let from = head.next;
        let progress = inline.deliver_now(now, targets, from..total, &mut head.results);
        inner.counters.delivered_at_once(
            adapter,
            &head.results,
            from..progress.end,
            progress.failed,
        );
        head.next = progress.end;
        failed += progress.failed;
        if progress.end == from {
            // This target needs the fan-out.
            head.declined = true;
            return Err(head);
        }
    }
    if failed > 0 && dead_letters::possible(inner, dispatch) {
        return Err(head);
    }
    Ok(head.results.conclude())
}
