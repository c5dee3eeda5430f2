//! One delivery under its policies, in their order: expiry, dedupe, breaker, rate
//! limit, concurrency, then the adapter's attempt. [`guarded`] waits where a policy says so;
//! [`guarded_now`] is the same without waiting, for deliveries made at once.

use std::borrow::Cow;
use std::cell::Cell;
use std::future::{Future, poll_fn, ready};
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use herald_signal::Signal;
use tokio::time::Instant;

use super::breaker::{Admit, Verdict, verdict};
use super::concurrency::Permit;
use super::dedupe::{Claim, Flight, Key as DedupeKey, Reservation};
use super::endpoints::Endpoint;
use super::expiry::{Expiry, passed};
use super::{Breaker, Dedupe, Effective, Policies};
use crate::{ErrorKind, Fingerprint, Outcome, TargetOptions};

/// Delivers through `effective`'s policies; `attempt` makes the adapter's delivery.
/// Waits for a rate limit's turn or a concurrency cap's room take at most `budget`.
///
/// Dedupe and the breaker are checked here, when the future is made: what only they
/// need (the options, the signal, the adapter's name) is then not kept in the future
/// for the whole delivery. A delivery of an id the target has in flight waits, within
/// `budget`, for that one to end, and is checked again.
#[allow(clippy::too_many_arguments)]
pub(crate) fn guarded<'a, F, A>(
    policies: &'a Policies,
    effective: Effective<'a>,
    adapter: &str,
    options: &'a dyn TargetOptions,
    signal: Expiring<'_>,
    budget: Duration,
    attempt: F,
) -> impl Future<Output = Result<Outcome, ErrorKind>> + 'a
where
    F: FnOnce() -> A + 'a,
    A: Future<Output = Result<Outcome, ErrorKind>> + 'a,
{
    let entry = Entry::new(policies, effective, adapter, options, signal);
    let expires = entry.expires;
    let first = entry.admit();
    if let Admission::Settled(settled) = first {
        return Either::Left(ready(settled));
    }
    let Effective {
        rate_limit,
        concurrency,
        ..
    } = effective;
    Either::Right(async move {
        let admitted = match first {
            Admission::Admitted(admitted) => admitted,
            Admission::Busy(entry, flight) => match entry.admit_after(flight, budget).await {
                Ok(admitted) => admitted,
                Err(settled) => return settled,
            },
            Admission::Settled(settled) => return settled,
        };
        if let (Some(limit), Some(endpoint)) = (rate_limit, &admitted.endpoint) {
            while let Some(wait) = endpoint.rate_check(limit) {
                let late = admitted.started.elapsed() + wait > budget;
                if limit.fails_fast() || late {
                    endpoint.rate_limited();
                    policies.endpoints.meter.rate_limited();
                    return Err(ErrorKind::RateLimited);
                }
                tokio::time::sleep(wait).await;
            }
        }

        let permit = match (concurrency, &admitted.endpoint) {
            (Some(concurrency), Some(endpoint)) => match endpoint.gate.try_enter(*concurrency) {
                Some(permit) => Some(permit),
                None => {
                    let left = budget.saturating_sub(admitted.started.elapsed());
                    let room = tokio::time::timeout(left, endpoint.gate.enter(*concurrency));
                    Some(room.await.map_err(|_| ErrorKind::Timeout(budget))?)
                }
            },
            _ => None,
        };

        // Checked again: the waits above may have outlasted the signal.
        if passed(expires) {
            return Err(ErrorKind::Expired);
        }
        let sent = adaptive_start(permit.as_ref());
        let mut attempt = pin!(attempt());
        let result = poll_fn(|cx| {
            admitted.stage.set(Stage::Polling);
            let poll = attempt.as_mut().poll(cx);
            admitted.stage.set(Stage::Pending);
            poll
        })
        .await;
        admitted.finish(permit, sent, &result);
        result
    })
}

/// [`guarded`] without waiting, for a delivery made at once: `attempt` makes it, or
/// returns `None` when it cannot be made without waiting, as this does when a
/// concurrency cap has no room. `None` leaves no trace: the delivery is then made by
/// [`guarded`], from the start; so does a delivery of an id the target has in flight.
/// Not for a rate limit, whose turn, once taken, cannot be given back.
// Inlined into its one caller, whose arguments it mostly passes on (measured: 30
// instructions a delivery when LLVM chose not to).
#[inline]
pub(crate) fn guarded_now(
    policies: &Policies,
    effective: Effective<'_>,
    adapter: &str,
    options: &dyn TargetOptions,
    signal: Expiring<'_>,
    attempt: impl FnOnce() -> Option<Result<Outcome, ErrorKind>>,
) -> Option<Result<Outcome, ErrorKind>> {
    debug_assert!(
        effective.rate_limit.is_none(),
        "a rate limit waits in the fan-out"
    );
    let admitted = match Entry::new(policies, effective, adapter, options, signal).admit() {
        Admission::Admitted(admitted) => admitted,
        Admission::Settled(settled) => return Some(settled),
        Admission::Busy(..) => return None,
    };
    let permit = match (effective.concurrency, &admitted.endpoint) {
        (Some(concurrency), Some(endpoint)) => Some(endpoint.gate.try_enter(*concurrency)?),
        _ => None,
    };
    let sent = adaptive_start(permit.as_ref());
    admitted.stage.set(Stage::Polling);
    let Some(result) = attempt() else {
        admitted.stage.set(Stage::Waiting);
        return None;
    };
    admitted.finish(permit, sent, &result);
    Some(result)
}

/// The signal, and its `expirytime` (read once by its fan-out).
pub(crate) type Expiring<'s> = (&'s Signal, Option<chrono::DateTime<chrono::Utc>>);

/// When a delivery under an adaptive cap began: the clock is read for an adaptive cap
/// only, which learns from latency.
fn adaptive_start(permit: Option<&Permit>) -> Option<Instant> {
    permit.filter(|p| p.adaptive()).map(|_| Instant::now())
}

/// A delivery before its policies are checked: what they need of it, and no more.
struct Entry<'a> {
    policies: &'a Policies,
    effective: Effective<'a>,
    /// The endpoint's key.
    key: Cow<'a, str>,
    /// When the delivery began.
    started: Instant,
    /// The dedupe policy and the delivery's id in its window.
    dedupe: Option<(&'a Dedupe, DedupeKey)>,
    /// When the signal expires for this target.
    expires: Option<chrono::DateTime<chrono::Utc>>,
}

/// How checking a delivery's dedupe and breaker ended.
enum Admission<'a> {
    /// Let through.
    Admitted(Admitted<'a>),
    /// Ended without an attempt: a duplicate, or refused.
    Settled(Result<Outcome, ErrorKind>),
    /// Its id is in flight to the same target: to be checked again once that ends.
    Busy(Entry<'a>, Arc<Flight>),
}

impl<'a> Entry<'a> {
    fn new(
        policies: &'a Policies,
        effective: Effective<'a>,
        adapter: &str,
        options: &'a dyn TargetOptions,
        (signal, expires): Expiring<'_>,
    ) -> Self {
        let key = endpoint_key(adapter, options, effective.endpoint);
        let dedupe = effective.dedupe.map(|dedupe| {
            // The target's whole identity, not its redacted description: two targets
            // that differ only in a URL's query or a secret keep apart.
            let id = policies.endpoints.window.key(
                |hasher| {
                    Fingerprint::field(hasher, adapter.as_bytes());
                    Fingerprint::field(hasher, key.as_bytes());
                    options.identity(hasher);
                },
                |hasher| Fingerprint::field(hasher, signal.id().as_bytes()),
            );
            (dedupe, id)
        });
        Self {
            policies,
            effective,
            key,
            started: Instant::now(),
            dedupe,
            expires: Expiry::deadline(effective.expiry, expires, signal),
        }
    }

    /// Checks expiry, dedupe, then the breaker.
    fn admit(self) -> Admission<'a> {
        let started = self.started;
        self.admit_at(started)
    }

    /// [`admit`](Self::admit) each time the delivery it waits for ends, until it is
    /// admitted or settled, within `budget` of its start.
    async fn admit_after(
        mut self,
        mut flight: Arc<Flight>,
        budget: Duration,
    ) -> Result<Admitted<'a>, Result<Outcome, ErrorKind>> {
        loop {
            let left = budget.saturating_sub(self.started.elapsed());
            if tokio::time::timeout(left, flight.ended()).await.is_err() {
                return Err(Err(ErrorKind::Timeout(budget)));
            }
            match self.admit_at(Instant::now()) {
                Admission::Admitted(admitted) => return Ok(admitted),
                Admission::Settled(settled) => return Err(settled),
                Admission::Busy(entry, next) => (self, flight) = (entry, next),
            }
        }
    }

    fn admit_at(self, now: Instant) -> Admission<'a> {
        if passed(self.expires) {
            return Admission::Settled(Err(ErrorKind::Expired));
        }
        let endpoints = &self.policies.endpoints;
        let dedupe = match self.dedupe {
            None => None,
            Some((dedupe, id)) => match endpoints.window.claim(id, now) {
                Claim::Seen => {
                    endpoints.duplicate();
                    return Admission::Settled(Ok(Outcome::Duplicate));
                }
                Claim::Busy(flight) => return Admission::Busy(self, flight),
                Claim::Mine(reservation) => Some((dedupe, reservation)),
            },
        };
        match Admitted::new(self, dedupe) {
            Ok(admitted) => Admission::Admitted(admitted),
            Err(settled) => Admission::Settled(settled),
        }
    }
}

/// A delivery its policies let through, until its end is recorded. Dropped before
/// that, a delivery cut off while its attempt was pending (by the dispatch's deadline)
/// counts as a failure; one that made no attempt (refused by a later policy, declined
/// at once) or whose attempt panicked gives its probe back and counts for nothing, as
/// a `Panicked` result would. Either way its hold on its id (dedupe) is let go.
struct Admitted<'a> {
    policies: &'a Policies,
    /// The endpoint's key.
    key: Cow<'a, str>,
    /// When the delivery began.
    started: Instant,
    /// The dedupe policy and the delivery's hold on its id.
    dedupe: Option<(&'a Dedupe, Reservation<'a>)>,
    /// The endpoint's state, when a policy needs it.
    endpoint: Option<Active>,
    /// The breaker that let the delivery through, and whether as its probe.
    breaker: Option<(&'a Breaker, bool)>,
    stage: Cell<Stage>,
}

/// How far an admitted delivery got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Its attempt has not begun.
    Waiting,
    /// Inside a call or poll of its attempt: dropped here, the attempt panicked.
    Polling,
    /// Its attempt is pending: dropped here, it was cut off.
    Pending,
    /// Recorded.
    Done,
}

impl<'a> Admitted<'a> {
    /// Checks the breaker of `entry`, whose id (if deduped) is held: the delivery
    /// admitted, or refused by an open circuit.
    fn new(
        entry: Entry<'a>,
        dedupe: Option<(&'a Dedupe, Reservation<'a>)>,
    ) -> Result<Self, Result<Outcome, ErrorKind>> {
        let Entry {
            policies,
            effective,
            key,
            started,
            ..
        } = entry;
        let endpoints = &policies.endpoints;
        let endpoint = match effective.per_endpoint() {
            // A new endpoint the map has no room for: refused, never state forgotten.
            true => Some(endpoints.get(&key).ok_or(Err(ErrorKind::Overloaded))?),
            false => None,
        };
        // Pinned until the delivery ends (the `Drop` below), whatever its policies.
        let endpoint = endpoint.map(Active::new);

        let mut breaker = None;
        if let (Some(policy), Some(endpoint)) = (effective.breaker, &endpoint) {
            let (admit, transition) = endpoint.admit(policy, started);
            if let Some(transition) = transition {
                endpoints.report(&key, transition, policy);
            }
            if let Admit::Refuse(retry_in) = admit {
                endpoint.short_circuited();
                endpoints.meter.short_circuited();
                return Err(Err(ErrorKind::CircuitOpen { retry_in }));
            }
            breaker = Some((policy, admit == Admit::Probe));
        }
        Ok(Self {
            policies,
            key,
            started,
            dedupe,
            endpoint,
            breaker,
            stage: Cell::new(Stage::Waiting),
        })
    }

    /// Records the attempt's `result` (made under `permit`, begun at `sent` when the
    /// cap is adaptive) with every policy that learns from it.
    fn finish(
        mut self,
        permit: Option<Permit>,
        sent: Option<Instant>,
        result: &Result<Outcome, ErrorKind>,
    ) {
        if let (Some(permit), Some(sent)) = (permit, sent) {
            permit.finish(sent.elapsed(), result.as_ref().map(|_| ()));
        }
        if let Some(endpoint) = &self.endpoint {
            endpoint.count(result.is_ok());
        }
        self.stage.set(Stage::Done);
        self.record(result.as_ref().err());
        if let (Ok(_), Some((dedupe, held))) = (result, self.dedupe.take()) {
            held.delivered(self.started, dedupe.ttl());
        }
    }

    /// Tells the breaker, if any, how the attempt went.
    fn record(&self, error: Option<&ErrorKind>) {
        let (Some((breaker, probe)), Some(endpoint)) = (self.breaker, &self.endpoint) else {
            return;
        };
        let failed = match verdict(error) {
            Verdict::Up => false,
            Verdict::Down => true,
            Verdict::Untried => {
                self.untried();
                return;
            }
        };
        // The time only matters when the record opens the circuit (a failure).
        let now = if failed { Instant::now() } else { self.started };
        let transition = endpoint.record(breaker, probe, failed, now);
        if let Some(transition) = transition {
            self.policies
                .endpoints
                .report(&self.key, transition, breaker);
        }
    }

    /// Gives back a probe that made no attempt.
    fn untried(&self) {
        if let (Some((_, true)), Some(endpoint)) = (self.breaker, &self.endpoint) {
            endpoint.release_probe();
        }
    }
}

/// An endpoint with a delivery under way: kept in the endpoint map until it ends.
struct Active(Arc<Endpoint>);

impl Active {
    fn new(endpoint: Arc<Endpoint>) -> Self {
        endpoint.begin();
        Self(endpoint)
    }
}

impl std::ops::Deref for Active {
    type Target = Endpoint;

    fn deref(&self) -> &Endpoint {
        &self.0
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        match self.stage.replace(Stage::Done) {
            Stage::Done => {}
            Stage::Pending => self.record(Some(&ErrorKind::Timeout(Duration::ZERO))),
            Stage::Waiting | Stage::Polling => self.untried(),
        }
    }
}

/// The endpoint a target reaches: as its policies name it, else as its options say,
/// else its adapter and description.
pub(super) fn endpoint_key<'a>(
    adapter: &str,
    options: &'a dyn TargetOptions,
    named: Option<&'a str>,
) -> Cow<'a, str> {
    match named {
        Some(endpoint) => Cow::Borrowed(endpoint),
        None => options
            .endpoint()
            .unwrap_or_else(|| format!("{adapter}:{}", Described(options)).into()),
    }
}

/// The options' redacted description.
struct Described<'a>(&'a dyn TargetOptions);

impl std::fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.describe(f)
    }
}
