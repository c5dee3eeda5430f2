//! Ordering: what a target does with a keyed dispatch's deliveries when one finally
//! fails. (How they are kept in order is `lanes`.)

use crate::{ConfigFields, TargetError};

/// How a target takes the deliveries of dispatches with an
/// [ordering key](crate::Dispatch::ordering_key) (or a signal with a `partitionkey`):
/// deliveries with one key to one endpoint are made one at a time, in the order the
/// dispatcher admitted them, and a retry holds its lane. This policy says what a
/// delivery that **finally fails** does to its lane:
///
/// - [`skip`](Self::skip) (the default): it ends as any failure does (dead-lettered
///   when the target has a dead letter) and the next one goes;
/// - [`block`](Self::block): the lane stops. Every delivery in it, and every one that
///   comes to it, fails with [`ErrorKind::LaneBlocked`](crate::ErrorKind::LaneBlocked)
///   (dead-lettered like any failure, so nothing is lost and a redrive keeps their order)
///   until [`ResumeLanes`](crate::resilience::ResumeLanes) opens it again.
///
/// Set off ([`Resilience::no_ordering`](crate::resilience::Resilience::no_ordering)), a
/// target ignores the key: its deliveries run in parallel as any others do.
///
/// ```
/// use herald_core::resilience::{Ordering, Resilience};
/// use herald_core::Target;
///
/// let target = Target::noop().with_resilience(Resilience::new().ordering(Ordering::block()));
/// assert!(Ordering::block().blocks());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[must_use]
pub struct Ordering {
    block: bool,
}

impl Ordering {
    /// A final failure is skipped: the lane goes on. The default.
    pub const fn skip() -> Self {
        Self { block: false }
    }

    /// A final failure blocks the lane until it is resumed.
    pub const fn block() -> Self {
        Self { block: true }
    }

    /// Whether a final failure blocks the lane.
    pub fn blocks(&self) -> bool {
        self.block
    }

    pub(crate) fn from_fields(mut fields: ConfigFields) -> Result<Self, TargetError> {
        let choices = [("skip", Self::skip()), ("block", Self::block())];
        let ordering = fields.one_of("on_failure", &choices)?.unwrap_or_default();
        fields.finish(&["on_failure"])?;
        Ok(ordering)
    }

    pub(crate) fn to_config(self) -> serde_json::Value {
        let on_failure = if self.block { "block" } else { "skip" };
        serde_json::json!({ "on_failure": on_failure })
    }
}
