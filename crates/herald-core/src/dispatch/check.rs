//! Checking targets against a dispatcher's adapters before the first signal.

use std::fmt;
use std::sync::Arc;

use actix::Message;

use crate::{IntoTargets, Target, TargetError};

/// Asks a dispatcher whether it can deliver to `targets`: each names an adapter it
/// has, and its options are what that adapter takes (a raw config goes through the
/// adapter's own `validate`). Answered with every problem, by target index.
///
/// ```
/// use herald_core::{CheckTargets, Dispatcher, Target};
/// use serde_json::json;
///
/// # actix::System::new().block_on(async {
/// let dispatcher = Dispatcher::builder().start();
/// let targets = Target::list_from_config(json!([
///     {"adapter": "logger"},
///     {"adapter": "slakc", "channel": "#ops"},
/// ]))
/// .unwrap();
/// let problems = dispatcher.send(CheckTargets::new(targets)).await.unwrap().unwrap_err();
/// assert_eq!(problems[0].index, 1);
/// assert!(problems[0].error.to_string().starts_with("unknown adapter `slakc`"));
/// # });
/// ```
#[derive(Debug)]
#[must_use = "a check does nothing until it is sent to a dispatcher"]
pub struct CheckTargets {
    pub(crate) targets: Arc<[Target]>,
}

impl CheckTargets {
    /// A check of `targets` (any list [`Dispatch::new`](crate::Dispatch::new) takes).
    pub fn new(targets: impl IntoTargets) -> Self {
        Self {
            targets: targets.into_targets(),
        }
    }
}

impl Message for CheckTargets {
    type Result = Result<(), Vec<TargetProblem>>;
}

/// What is wrong with one target of a list, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TargetProblem {
    /// The target's position in the list, from 0.
    pub index: usize,
    /// What is wrong.
    pub error: TargetError,
}

impl TargetProblem {
    pub(crate) fn new(index: usize, error: TargetError) -> Self {
        Self { index, error }
    }
}

impl fmt::Display for TargetProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "target {}: {}", self.index, self.error)
    }
}

impl std::error::Error for TargetProblem {}
