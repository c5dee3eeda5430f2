//! A ready-made dead-letter queue, and redrive: an actor above the dispatcher, which
//! it dispatches through again. Re-exported from [`resilience`](crate::resilience).

use std::collections::VecDeque;
use std::sync::Arc;

use actix::{
    Actor, ActorFutureExt, Addr, Context, Handler, Message, ResponseActFuture, WrapFuture,
};

use crate::resilience::{DeadLetter, dead_letter_signal};
use crate::telemetry::meter::QueueMeter;
use crate::{Dispatch, Dispatcher, Rejection, SignalMessage, Target};

impl DeadLetter {
    /// A dispatch of the original signal to its original target, found among
    /// `targets` (the application's own, secrets and all: a dead letter carries only
    /// the redacted description and the fingerprint); `None` when none matches
    /// exactly. The dispatch does not
    /// dead-letter again: a redrive that fails is the caller's to keep.
    pub fn redrive(&self, targets: &[Target]) -> Option<Dispatch> {
        let target = targets.iter().find(|target| self.failed_at(target))?;
        Some(Dispatch::new(Arc::clone(&self.original), target.clone()).no_dead_letter())
    }
}

/// A dead-letter target that keeps what it gets, for inspection and redrive: an actor;
/// target it with `Target::pid(queue.recipient())`.
///
/// It keeps at most `capacity` dead letters; when full, the oldest goes, counted in
/// [`dropped`](Self::dropped) (read it from a running queue with [`QueueStats`]) and
/// logged at `WARN` on the first drop and every 1,000th after. A signal that carries
/// no failure is rejected. It is memory only: a crash or a restart loses what it
/// holds.
#[derive(Debug)]
pub struct DeadLetterQueue {
    letters: VecDeque<DeadLetter>,
    capacity: usize,
    dropped: u64,
    meter: QueueMeter,
}

impl DeadLetterQueue {
    /// A queue of at most `capacity` dead letters (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            letters: VecDeque::new(),
            capacity: capacity.max(1),
            dropped: 0,
            meter: QueueMeter::new(),
        }
    }

    /// Dead letters dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn keep(&mut self, letter: DeadLetter) {
        if self.letters.len() == self.capacity {
            self.letters.pop_front();
            self.dropped += 1;
            self.meter.dropped();
            self.meter.depth(0, 1);
            if self.dropped % 1_000 == 1 {
                tracing::warn!(
                    dropped = self.dropped,
                    capacity = self.capacity,
                    "dead-letter queue full: its oldest dead letters are dropped"
                );
            }
        }
        self.letters.push_back(letter);
        self.meter.depth(1, 0);
    }

    /// Takes every dead letter out.
    fn drain(&mut self) -> Vec<DeadLetter> {
        self.meter.depth(0, self.letters.len());
        self.letters.drain(..).collect()
    }

    /// Takes out the dead letters `filter` selects, keeping the others in order.
    fn drain_matching(&mut self, filter: &DeadLetterFilter) -> Vec<DeadLetter> {
        let (taken, kept) = self.letters.drain(..).partition(|l| filter.matches(l));
        self.letters = kept;
        let taken: Vec<_> = taken.into();
        self.meter.depth(0, taken.len());
        taken
    }

    fn snapshot(&self) -> QueueStatsSnapshot {
        QueueStatsSnapshot {
            len: self.letters.len(),
            capacity: self.capacity,
            dropped: self.dropped,
        }
    }
}

/// Asks a running [`DeadLetterQueue`] for its counters; answered with a
/// [`QueueStatsSnapshot`].
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats;

impl Message for QueueStats {
    type Result = QueueStatsSnapshot;
}

/// A [`DeadLetterQueue`]'s counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueueStatsSnapshot {
    /// Dead letters held now.
    pub len: usize,
    /// The most it holds.
    pub capacity: usize,
    /// Dead letters dropped because it was full, since it started.
    pub dropped: u64,
}

impl Handler<QueueStats> for DeadLetterQueue {
    type Result = actix::MessageResult<QueueStats>;

    fn handle(&mut self, _: QueueStats, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.snapshot())
    }
}

impl Default for DeadLetterQueue {
    /// Room for 10,000 dead letters.
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl Actor for DeadLetterQueue {
    type Context = Context<Self>;
}

impl Drop for DeadLetterQueue {
    fn drop(&mut self) {
        self.meter.depth(0, self.letters.len());
    }
}

impl Handler<SignalMessage> for DeadLetterQueue {
    type Result = Result<(), Rejection>;

    fn handle(&mut self, message: SignalMessage, _: &mut Context<Self>) -> Self::Result {
        let letter = DeadLetter::from_signal(message.signal())
            .ok_or_else(|| Rejection::new("not a dead letter: it carries no failure"))?;
        self.keep(letter);
        Ok(())
    }
}

/// Takes every dead letter out of a [`DeadLetterQueue`], oldest first.
#[derive(Debug, Clone, Copy, Default)]
pub struct TakeDeadLetters;

impl Message for TakeDeadLetters {
    type Result = Vec<DeadLetter>;
}

impl Handler<TakeDeadLetters> for DeadLetterQueue {
    type Result = actix::MessageResult<TakeDeadLetters>;

    fn handle(&mut self, _: TakeDeadLetters, _: &mut Context<Self>) -> Self::Result {
        actix::MessageResult(self.drain())
    }
}

/// Which dead letters a [`ListDeadLetters`] or a [`Redrive`] takes: every one by
/// default; each condition set narrows it (all must hold). Conditions compare the dead
/// letter's redacted fields, so a filter read from an operator's request never needs
/// a secret.
///
/// ```
/// use herald_core::resilience::DeadLetterFilter;
///
/// let filter = DeadLetterFilter::all().kind("timeout").adapter("webhook");
/// assert!(!filter.is_all());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct DeadLetterFilter {
    /// Only these signal ids (empty: any).
    pub ids: Vec<String>,
    /// Only failures of this kind (`timeout`, `http_status`, ...).
    pub kind: Option<String>,
    /// Only failures at targets of this adapter.
    pub adapter: Option<String>,
    /// Only failures at targets whose redacted description contains this.
    pub target: Option<String>,
    /// Only signals of this type.
    pub signal_type: Option<String>,
}

impl DeadLetterFilter {
    /// Every dead letter.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only the dead letters of signal `id` (add several for several signals).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.ids.push(id.into());
        self
    }

    /// Only failures of kind `kind`, as [`DeadLetter::kind`] names it.
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = Some(kind.into());
        self
    }

    /// Only failures at targets of `adapter`.
    pub fn adapter(mut self, adapter: impl Into<String>) -> Self {
        self.adapter = Some(adapter.into());
        self
    }

    /// Only failures at targets whose redacted description contains `text`.
    pub fn target(mut self, text: impl Into<String>) -> Self {
        self.target = Some(text.into());
        self
    }

    /// Only signals of type `ty`.
    pub fn signal_type(mut self, ty: impl Into<String>) -> Self {
        self.signal_type = Some(ty.into());
        self
    }

    /// Whether it selects every dead letter.
    pub fn is_all(&self) -> bool {
        *self == Self::default()
    }

    /// Whether it selects `letter`.
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        let signal = letter.original();
        (self.ids.is_empty() || self.ids.iter().any(|id| id == signal.id()))
            && self
                .kind
                .as_deref()
                .is_none_or(|kind| kind == letter.kind())
            && (self.adapter.as_deref()).is_none_or(|adapter| adapter == letter.adapter())
            && (self.target.as_deref()).is_none_or(|text| letter.target().contains(text))
            && (self.signal_type.as_deref()).is_none_or(|ty| ty == signal.ty())
    }
}

/// Reads the dead letters in a [`DeadLetterQueue`] without taking them out, oldest
/// first: those `filter` selects, at most `limit` (an operator's view). Answered with
/// the page and how many matched in all.
#[derive(Debug, Clone)]
pub struct ListDeadLetters {
    /// Which to list.
    pub filter: DeadLetterFilter,
    /// The most to answer with.
    pub limit: usize,
}

/// What a [`ListDeadLetters`] found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DeadLetterPage {
    /// The first `limit` matching dead letters, oldest first.
    pub letters: Vec<DeadLetter>,
    /// How many matched in all.
    pub matched: usize,
}

impl Message for ListDeadLetters {
    type Result = DeadLetterPage;
}

impl Handler<ListDeadLetters> for DeadLetterQueue {
    type Result = actix::MessageResult<ListDeadLetters>;

    fn handle(&mut self, list: ListDeadLetters, _: &mut Context<Self>) -> Self::Result {
        let mut page = DeadLetterPage::default();
        for letter in self.letters.iter().filter(|l| list.filter.matches(l)) {
            if page.letters.len() < list.limit {
                page.letters.push(letter.clone());
            }
            page.matched += 1;
        }
        actix::MessageResult(page)
    }
}

/// Dispatches the dead letters in a [`DeadLetterQueue`] again — every one, or those
/// its [`filter`](Self::filter) selects — to its original target among `targets`, one
/// at a time; those that fail again (or match no target) stay in the queue, the
/// failed ones with their new failure.
#[derive(Debug)]
pub struct Redrive {
    /// The dispatcher to deliver through.
    pub dispatcher: Addr<Dispatcher>,
    /// The original targets (dead letters carry only redacted descriptions).
    pub targets: Vec<Target>,
    /// Which dead letters to redrive.
    pub filter: DeadLetterFilter,
}

impl Redrive {
    /// Redrives every dead letter through `dispatcher` to its original target among
    /// `targets`.
    pub fn new(dispatcher: Addr<Dispatcher>, targets: Vec<Target>) -> Self {
        Self {
            dispatcher,
            targets,
            filter: DeadLetterFilter::all(),
        }
    }

    /// Only the dead letters `filter` selects.
    pub fn only(mut self, filter: DeadLetterFilter) -> Self {
        self.filter = filter;
        self
    }
}

/// What a [`Redrive`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RedriveReport {
    /// Delivered to their original target, and gone from the queue.
    pub redriven: usize,
    /// Failed again; kept.
    pub failed: usize,
    /// Matching none of the targets; kept.
    pub unmatched: usize,
}

impl Message for Redrive {
    type Result = RedriveReport;
}

impl Handler<Redrive> for DeadLetterQueue {
    type Result = ResponseActFuture<Self, RedriveReport>;

    fn handle(&mut self, redrive: Redrive, _: &mut Context<Self>) -> Self::Result {
        let letters = self.drain_matching(&redrive.filter);
        let work = async move {
            let mut report = RedriveReport::default();
            let mut kept = Vec::new();
            for letter in letters {
                let Some(dispatch) = letter.redrive(&redrive.targets) else {
                    report.unmatched += 1;
                    kept.push(letter);
                    continue;
                };
                match redrive.dispatcher.send(dispatch).await {
                    Ok(Ok(_)) => report.redriven += 1,
                    Ok(Err(error)) => {
                        report.failed += 1;
                        let again = error
                            .failures()
                            .first()
                            .zip(letter.destination)
                            .and_then(|(failure, destination)| {
                                dead_letter_signal(letter.original(), &failure.error, destination)
                                    .ok()
                            })
                            .and_then(|signal| DeadLetter::from_signal(&signal));
                        kept.push(again.unwrap_or(letter));
                    }
                    Err(_) => {
                        report.failed += 1;
                        kept.push(letter);
                    }
                }
            }
            (report, kept)
        };
        Box::pin(work.into_actor(self).map(|(report, kept), queue, _| {
            let failed = report.failed as u64;
            queue.meter.redriven(report.redriven as u64, failed);
            for letter in kept {
                queue.keep(letter);
            }
            report
        }))
    }
}
