//! Dead letters: after a dispatch's fan-out, each target that finally failed and has a
//! dead letter sends its signal there, and its failure says how that went.

use std::sync::Arc;

use futures_util::future::join_all;

use super::awaited::fan_out_admitted;
use super::{DoneAtOnce, Phase, Shared};
use crate::Dispatch;
use crate::dispatch::{DispatchError, DispatchResult, Overload};
use crate::resilience::{DeadLettered, dead_letter_of, dead_letter_signal, dead_letters_kind};
use crate::{DeliveryError, ErrorKind, Outcome, Target, TargetFailure};

/// Whether any failed target of `dispatch` has a dead letter.
pub(super) fn wanted(inner: &Shared, dispatch: &Dispatch, result: &DispatchResult) -> bool {
    let Err(error) = result else {
        return false;
    };
    error
        .failures()
        .iter()
        .any(|failure| letter_for(inner, dispatch, failure).is_some())
}

/// Where `failure`'s dead letter goes, if anywhere: an expired delivery only when its
/// target's `Expiry` asks.
fn letter_for<'d>(
    inner: &'d Shared,
    dispatch: &'d Dispatch,
    failure: &TargetFailure,
) -> Option<&'d Target> {
    let target = &dispatch.targets[failure.index];
    let defaults = &inner.policies.defaults;
    dead_letter_of(target, dispatch.own_dead_letter(), defaults)
        .filter(|_| dead_letters_kind(target, defaults, failure.error.kind()))
}

/// Whether any target of `dispatch` has a dead letter (whichever fails).
pub(super) fn possible(inner: &Shared, dispatch: &Dispatch) -> bool {
    let own = dispatch.own_dead_letter();
    let defaults = &inner.policies.defaults;
    dispatch
        .targets
        .iter()
        .any(|target| dead_letter_of(target, own, defaults).is_some())
}

/// `result`, once the dead letters of its failures that have one are sent.
pub(super) async fn sent(
    inner: &Shared,
    dispatch: &Dispatch,
    result: DispatchResult,
) -> DispatchResult {
    let Err(mut error) = result else {
        return result;
    };
    deliver(inner, dispatch, &mut error).await;
    Err(error)
}

/// Delivers the dead letters of `error`'s failures, at once, each as a one-target
/// dispatch that does not dead-letter again, within the dispatch's deadline; and
/// records in each failure where its dead letter went.
async fn deliver(inner: &Shared, dispatch: &Dispatch, error: &mut DispatchError) {
    let mut letters = Vec::new();
    for (position, failure) in error.failures_mut().iter_mut().enumerate() {
        let target = &dispatch.targets[failure.index];
        let Some(dead_letter) = letter_for(inner, dispatch, failure) else {
            continue;
        };
        let signal =
            match dead_letter_signal(&dispatch.signal, &failure.error, target.fingerprint()) {
                Ok(signal) => signal,
                Err(cause) => {
                    inner.counters.dead_letter_sent(false);
                    tracing::error!(
                        signal.id = dispatch.signal.id(),
                        %cause,
                        "dead letter could not be built: the signal is kept nowhere"
                    );
                    let kind =
                        ErrorKind::custom(format!("dead letter could not be built: {cause}"));
                    failure.error.set_dead_letter(DeadLettered {
                        target: dead_letter.describe().to_string(),
                        result: Err(dead_letter.error(kind)),
                    });
                    continue;
                }
            };
        let letter = dispatch
            .on_behalf(signal, [dead_letter.clone()])
            .no_dead_letter();
        letters.push((position, letter));
    }
    let results = join_all(
        letters
            .iter()
            .map(|(_, letter)| Box::pin(one(inner, letter))),
    )
    .await;
    let failures = error.failures_mut();
    for ((position, letter), result) in letters.iter().zip(results) {
        inner.counters.dead_letter_sent(result.is_ok());
        if let Err(error) = &result {
            tracing::error!(
                signal.id = dispatch.signal.id(),
                %error,
                "dead letter failed: the signal is kept nowhere"
            );
        }
        failures[*position].error.set_dead_letter(DeadLettered {
            target: letter.targets[0].describe().to_string(),
            result,
        });
    }
}

/// Delivers a one-target dispatch under the dispatcher's in-flight bound.
async fn one(inner: &Shared, letter: &Dispatch) -> Result<Outcome, DeliveryError> {
    let permits = Arc::clone(&inner.permits);
    let mut permit = match permits.clone().try_acquire_owned() {
        Ok(permit) => Some(permit),
        Err(_) if inner.overload == Overload::Fail => None,
        Err(_) => match letter.deadline_at() {
            Some(deadline) => tokio::time::timeout_at(deadline, permits.acquire_owned())
                .await
                .ok()
                .and_then(Result::ok),
            None => permits.acquire_owned().await.ok(),
        },
    };
    let mut head = DoneAtOnce::new(1);
    match fan_out_admitted(inner, letter, &mut permit, &mut head, Phase::DeadLetters).await {
        Ok(report) => Ok(report.outcomes()[0].clone()),
        Err(error) => Err(error.into_failures().remove(0).error),
    }
}
