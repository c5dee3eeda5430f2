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

/// Dispatches every dead letter in a [`DeadLetterQueue`] again, to its original target
/// among `targets`, one at a time; those that fail again (or match no target) stay in
/// the queue, the failed ones with their new failure.
#[derive(Debug)]
pub struct Redrive {
    /// The dispatcher to deliver through.
    pub dispatcher: Addr<Dispatcher>,
    /// The original targets (dead letters carry only redacted descriptions).
    pub targets: Vec<Target>,
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
        let letters = self.drain();
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
