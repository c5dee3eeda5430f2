//! The result of a dispatch: every target accounted for.

use std::fmt;

use herald_signal::Signal;

use crate::{DeliveryError, Outcome};

/// Every target succeeded: their outcomes, in target order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DispatchReport {
    outcomes: Vec<Outcome>,
}

impl DispatchReport {
    pub(crate) fn new(outcomes: Vec<Outcome>) -> Self {
        Self { outcomes }
    }

    /// One outcome per target, in the order the targets were given.
    pub fn outcomes(&self) -> &[Outcome] {
        &self.outcomes
    }

    /// How many targets were delivered to.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether the dispatch had no targets.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// Every target's result, in target order: `(index, Ok(outcome))` for each, as
    /// [`DispatchError::results`] gives them when some failed.
    pub fn results(
        &self,
    ) -> impl ExactSizeIterator<Item = (usize, Result<&Outcome, &DeliveryError>)> {
        self.outcomes.iter().map(Ok).enumerate()
    }
}

/// One failed target of a dispatch. Its message includes the [`DeliveryError`]'s, and
/// `source()` goes on below that.
#[derive(Debug)]
pub struct TargetFailure {
    /// The target's position in the dispatch, from 0.
    pub index: usize,
    /// What went wrong.
    pub error: DeliveryError,
}

impl fmt::Display for TargetFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target {}: {}", self.index, self.error)
    }
}

impl std::error::Error for TargetFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// At least one target failed. Holds **every** failure, sorted by target index, and
/// the outcomes of the targets that succeeded: together they account for every target.
///
/// ```
/// # use herald_core::DispatchError;
/// fn report(error: &DispatchError) {
///     for failure in error.failures() {
///         eprintln!("target {} failed: {}", failure.index, failure.error);
///     }
///     let first = error.first(); // for fail-fast callers
///     # let _ = first;
/// }
/// ```
#[derive(Debug)]
pub struct DispatchError {
    failures: Vec<TargetFailure>,
    delivered: Vec<(usize, Outcome)>,
}

impl DispatchError {
    /// Built from failures and successes in any order; sorts both by index.
    ///
    /// # Panics
    ///
    /// When `failures` is empty: a dispatch error has at least one failure.
    #[track_caller]
    pub(crate) fn new(
        mut failures: Vec<TargetFailure>,
        mut delivered: Vec<(usize, Outcome)>,
    ) -> Self {
        assert!(
            !failures.is_empty(),
            "a DispatchError needs at least one failure"
        );
        failures.sort_by_key(|failure| failure.index);
        delivered.sort_by_key(|(index, _)| *index);
        Self {
            failures,
            delivered,
        }
    }

    /// Every failure, sorted by target index.
    pub fn failures(&self) -> &[TargetFailure] {
        &self.failures
    }

    pub(crate) fn failures_mut(&mut self) -> &mut [TargetFailure] {
        &mut self.failures
    }

    /// Takes the failures out.
    pub fn into_failures(self) -> Vec<TargetFailure> {
        self.failures
    }

    /// The failure with the lowest index.
    pub fn first(&self) -> &TargetFailure {
        &self.failures[0]
    }

    /// The targets that succeeded, with their outcomes, sorted by index.
    pub fn delivered(&self) -> &[(usize, Outcome)] {
        &self.delivered
    }

    /// How many targets the dispatch had.
    pub fn total(&self) -> usize {
        self.failures.len() + self.delivered.len()
    }

    /// Every target's result, in target order, each index once: the outcome of those
    /// that succeeded and the error of those that failed.
    ///
    /// ```
    /// # use herald_core::DispatchError;
    /// fn print(error: &DispatchError) {
    ///     for (index, result) in error.results() {
    ///         match result {
    ///             Ok(outcome) => println!("target {index}: {outcome:?}"),
    ///             Err(error) => println!("target {index}: {error}"),
    ///         }
    ///     }
    /// }
    /// ```
    pub fn results(&self) -> impl Iterator<Item = (usize, Result<&Outcome, &DeliveryError>)> {
        let mut delivered = self.delivered.iter().peekable();
        let mut failures = self.failures.iter().peekable();
        std::iter::from_fn(move || {
            // Both lists are sorted by index: merge them.
            let take_delivered = match (delivered.peek(), failures.peek()) {
                (Some((d, _)), Some(f)) => *d < f.index,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            if take_delivered {
                delivered
                    .next()
                    .map(|(index, outcome)| (*index, Ok(outcome)))
            } else {
                failures.next().map(|f| (f.index, Err(&f.error)))
            }
        })
    }
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} targets failed; first: {}",
            self.failures.len(),
            self.total(),
            self.first()
        )
    }
}

impl std::error::Error for DispatchError {
    /// Below the first failure, which this error's message already shows.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.first().error.source()
    }
}

/// The answer to a [`Dispatch`](crate::Dispatch).
pub type DispatchResult = Result<DispatchReport, DispatchError>;

/// Walking a [`DispatchResult`] target by target, whichever way it went.
pub trait DispatchResultExt {
    /// Every target's result, in target order, each index once (see
    /// [`DispatchReport::results`] and [`DispatchError::results`]).
    fn results(&self) -> Box<dyn Iterator<Item = (usize, Result<&Outcome, &DeliveryError>)> + '_>;
}

impl DispatchResultExt for DispatchResult {
    fn results(&self) -> Box<dyn Iterator<Item = (usize, Result<&Outcome, &DeliveryError>)> + '_> {
        match self {
            Ok(report) => Box::new(report.results()),
            Err(error) => Box::new(error.results()),
        }
    }
}

/// Every target's result as it settles, kept in the shape the answer takes: when all
/// succeed, the outcomes become the report as they are.
#[derive(Debug)]
pub(crate) struct Results {
    outcomes: Vec<Outcome>,
    failures: Vec<TargetFailure>,
    /// Targets `..in_order` are settled, while results come in target order (as they
    /// do when every delivery is made at once).
    in_order: usize,
    /// Which targets are settled, once results stop coming in order (empty until then).
    settled: Vec<bool>,
}

impl Results {
    pub(crate) fn new(total: usize) -> Self {
        Self {
            outcomes: vec![Outcome::default(); total],
            failures: Vec::new(),
            in_order: 0,
            settled: Vec::new(),
        }
    }

    /// Whether target `index` still waits for its result.
    pub(crate) fn is_open(&self, index: usize) -> bool {
        if self.settled.is_empty() {
            (self.in_order..self.outcomes.len()).contains(&index)
        } else {
            self.settled.get(index) == Some(&false)
        }
    }

    /// Records target `index`'s result; it must be open.
    pub(crate) fn set(&mut self, index: usize, result: Result<Outcome, DeliveryError>) {
        match result {
            Ok(outcome) => self.set_ok(index, outcome),
            Err(error) => {
                self.failures.push(TargetFailure { index, error });
                self.mark(index);
            }
        }
    }

    /// Records target `index`'s success; it must be open. (Apart from [`set`](Self::set)
    /// and inlined: a fan-out's targets mostly succeed, and a `Result` holding a
    /// `DeliveryError` is a large value to move for each.)
    #[inline]
    pub(crate) fn set_ok(&mut self, index: usize, outcome: Outcome) {
        self.outcomes[index] = outcome;
        // The in-order check is written out here, not left to `mark`: going through
        // `mark` (even inlined, with a cold slow path) changed what LLVM inlined into
        // the at-once path and cost the fan-out 93 instructions a delivery (600 -> 693).
        if self.settled.is_empty() && index == self.in_order {
            self.in_order += 1;
        } else {
            self.mark(index);
        }
    }

    /// Marks target `index` settled.
    fn mark(&mut self, index: usize) {
        if self.settled.is_empty() {
            if index == self.in_order {
                self.in_order += 1;
                return;
            }
            let in_order = self.in_order;
            self.settled = (0..self.outcomes.len()).map(|i| i < in_order).collect();
        }
        self.settled[index] = true;
    }

    pub(crate) fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Counts how targets `range`, just settled in order, ended: `count(outcome, ok, n)`
    /// for each run of `n` alike, the `failed` failures among them (the last ones
    /// recorded) by their error kind.
    pub(crate) fn count_outcomes(
        &self,
        range: std::ops::Range<usize>,
        failed: usize,
        mut count: impl FnMut(&'static str, bool, u64),
    ) {
        let failures = &self.failures[self.failures.len().saturating_sub(failed)..];
        for failure in failures {
            count(failure.error.kind().name(), false, 1);
        }
        let mut run: Option<(&'static str, u64)> = None;
        for index in range {
            if failures.iter().any(|failure| failure.index == index) {
                continue;
            }
            let name = self.outcomes[index].name();
            match &mut run {
                Some((same, n)) if *same == name => *n += 1,
                _ => {
                    if let Some((outcome, n)) = run.replace((name, 1)) {
                        count(outcome, true, n);
                    }
                }
            }
        }
        if let Some((outcome, n)) = run {
            count(outcome, true, n);
        }
    }

    pub(crate) fn failed(&self) -> usize {
        self.failures.len()
    }

    /// The answer: every target settled, failures in index order.
    pub(crate) fn conclude(self) -> DispatchResult {
        let Self {
            outcomes,
            mut failures,
            ..
        } = self;
        if failures.is_empty() {
            return Ok(DispatchReport::new(outcomes));
        }
        failures.sort_unstable_by_key(|failure| failure.index);
        let delivered = outcomes
            .into_iter()
            .enumerate()
            .filter(|(index, _)| {
                failures
                    .binary_search_by_key(index, |failure| failure.index)
                    .is_err()
            })
            .collect();
        Err(DispatchError::new(failures, delivered))
    }
}

/// One `WARN` event per failed delivery of a finished dispatch, answered or not, with
/// its signal, target (redacted), kind, attempts and where its dead letter went: a
/// failure is never lost silently, and the default `INFO` level shows it.
pub(crate) fn warn_failures(signal: &Signal, result: &DispatchResult) {
    let Err(error) = result else {
        return;
    };
    for failure in error.failures() {
        let error = &failure.error;
        tracing::warn!(
            cloudevents.event_type = signal.ty(),
            messaging.message.id = signal.id(),
            index = failure.index,
            adapter = error.adapter(),
            target = error.target(),
            error.r#type = error.kind().name(),
            attempts = error.attempts(),
            retryable = error.retryable(),
            error = %error,
            "delivery failed"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorKind, Target};

    fn failed() -> Result<Outcome, DeliveryError> {
        Err(Target::noop().error(ErrorKind::NotAlive))
    }

    #[test]
    fn results_in_order_and_out_of_order_settle_each_target_once() {
        let mut results = Results::new(5);
        results.set_ok(0, Outcome::Discarded);
        results.set(1, failed());
        assert!(!results.is_open(0) && !results.is_open(1) && results.is_open(2));
        // Out of order from here on.
        results.set_ok(3, Outcome::Delivered);
        assert!(results.is_open(2) && !results.is_open(3) && results.is_open(4));
        results.set(4, failed());
        results.set_ok(2, Outcome::Duplicate);
        assert!((0..5).all(|index| !results.is_open(index)));
        assert_eq!(results.failed(), 2);

        let error = results.conclude().unwrap_err();
        let failed: Vec<usize> = error.failures().iter().map(|f| f.index).collect();
        assert_eq!(failed, [1, 4]);
        assert_eq!(
            error.delivered(),
            [
                (0, Outcome::Discarded),
                (2, Outcome::Duplicate),
                (3, Outcome::Delivered)
            ]
        );
    }

    #[test]
    fn results_all_in_order_become_the_report() {
        let mut results = Results::new(2);
        results.set_ok(0, Outcome::Delivered);
        results.set(1, Ok(Outcome::Discarded));
        let report = results.conclude().unwrap();
        assert_eq!(report.outcomes(), [Outcome::Delivered, Outcome::Discarded]);
    }
}
